import type { NextFunction, Request, Response } from 'express';
import { GitHubApiError } from './errors.js';
import type { RateLimitOptions } from './options.js';
import type { World } from './world.js';
import { callerOf, requestIdOf, type Caller } from './auth.js';

export interface Bucket {
  limit: number;
  used: number;
  /** Epoch ms when the window resets. */
  resetAt: number;
}

/** A rate-limit answer queued by the control API for the next matching requests. */
export interface RateLimitFault {
  kind: 'primary' | 'secondary';
  /** How many requests get this answer. */
  count: number;
  status: 403 | 429;
  /** Seconds for `retry-after` (secondary limits). */
  retryAfter?: number;
  /** Seconds until `x-ratelimit-reset` (primary limits); default: the bucket's window. */
  resetInSeconds?: number;
  /** Only requests whose `METHOD /path` contains this string. */
  match?: string;
}

const PRIMARY_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-rate-limits';
const SECONDARY_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits';

/**
 * Per-credential request budgets with GitHub's `x-ratelimit-*` headers, plus limits injected
 * on demand. Budgets are per user (PATs), per installation and per App, like GitHub's.
 */
export class RateLimiter {
  readonly buckets = new Map<string, Bucket>();
  readonly faults: RateLimitFault[] = [];
  limit: number;
  windowMs: number;
  status: 403 | 429;

  constructor(private readonly world: World, options: RateLimitOptions = {}) {
    this.limit = options.limit ?? 5000;
    this.windowMs = (options.windowSeconds ?? 3600) * 1000;
    this.status = options.status ?? 403;
  }

  private keyOf(caller: Caller, ip: string): { key: string; limit: number; who: string } {
    if (caller.kind === 'pat') return { key: `user:${caller.login}`, limit: this.limit, who: `user ID ${caller.login}` };
    if (caller.kind === 'installation') return { key: `installation:${caller.installation.id}`, limit: this.limit, who: `installation ID ${caller.installation.id}` };
    if (caller.kind === 'app') return { key: 'app', limit: this.limit, who: 'the GitHub App' };
    return { key: `anonymous:${ip}`, limit: 60, who: ip };
  }

  bucket(key: string, limit = this.limit): Bucket {
    const now = this.world.now();
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.resetAt <= now) {
      bucket = { limit, used: 0, resetAt: now + this.windowMs };
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** Sets the budget of every current and future bucket (control API). */
  configure(input: { limit?: number; remaining?: number; resetInSeconds?: number; status?: 403 | 429 }): void {
    if (input.limit !== undefined) this.limit = input.limit;
    if (input.status !== undefined) this.status = input.status;
    const now = this.world.now();
    for (const bucket of this.buckets.values()) {
      if (input.limit !== undefined) bucket.limit = input.limit;
      if (input.remaining !== undefined) bucket.used = Math.max(0, bucket.limit - input.remaining);
      if (input.resetInSeconds !== undefined) bucket.resetAt = now + input.resetInSeconds * 1000;
    }
    this.pending = input.remaining !== undefined || input.resetInSeconds !== undefined ? input : this.pending;
  }

  /** A remaining/reset setting applied to buckets created after `configure`. */
  private pending: { remaining?: number; resetInSeconds?: number } | undefined;

  private headers(res: Response, bucket: Bucket): void {
    res.setHeader('x-ratelimit-limit', String(bucket.limit));
    res.setHeader('x-ratelimit-remaining', String(Math.max(0, bucket.limit - bucket.used)));
    res.setHeader('x-ratelimit-reset', String(Math.ceil(bucket.resetAt / 1000)));
    res.setHeader('x-ratelimit-used', String(bucket.used));
    res.setHeader('x-ratelimit-resource', 'core');
  }

  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const { key, limit, who } = this.keyOf(callerOf(req), req.ip ?? '127.0.0.1');
      const fresh = !this.buckets.has(key);
      const bucket = this.bucket(key, limit);
      if (fresh && this.pending && callerOf(req).kind !== 'anonymous') {
        if (this.pending.remaining !== undefined) bucket.used = Math.max(0, bucket.limit - this.pending.remaining);
        if (this.pending.resetInSeconds !== undefined) bucket.resetAt = this.world.now() + this.pending.resetInSeconds * 1000;
      }
      // GET /rate_limit does not count against the primary limit.
      const counts = req.path !== '/rate_limit';
      const requestLine = `${req.method} ${req.path}`;
      const faultIndex = this.faults.findIndex((f) => f.count > 0 && (!f.match || requestLine.includes(f.match)));
      if (faultIndex >= 0) {
        const fault = this.faults[faultIndex]!;
        fault.count--;
        if (fault.count === 0) this.faults.splice(faultIndex, 1);
        if (fault.kind === 'primary') {
          if (fault.resetInSeconds !== undefined) bucket.resetAt = this.world.now() + fault.resetInSeconds * 1000;
          bucket.used = bucket.limit;
          this.headers(res, bucket);
          return next(this.primaryError(fault.status, who, requestIdOf(req)));
        }
        if (counts) bucket.used = Math.min(bucket.limit, bucket.used + 1);
        this.headers(res, bucket);
        return next(new GitHubApiError(
          fault.status,
          `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestIdOf(req)}.`,
          SECONDARY_DOCS,
          { 'retry-after': String(fault.retryAfter ?? 60) },
        ));
      }
      if (counts && bucket.used >= bucket.limit) {
        this.headers(res, bucket);
        return next(this.primaryError(this.status, who, requestIdOf(req)));
      }
      if (counts) {
        bucket.used++;
        // A route that answers 304 Not Modified gives the request back, as GitHub does.
        res.locals.refundRateLimit = () => {
          bucket.used = Math.max(0, bucket.used - 1);
          this.headers(res, bucket);
        };
      }
      this.headers(res, bucket);
      next();
    };
  }

  private primaryError(status: 403 | 429, who: string, requestId: string): GitHubApiError {
    return new GitHubApiError(
      status,
      `API rate limit exceeded for ${who}. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`,
      PRIMARY_DOCS,
    );
  }
}
