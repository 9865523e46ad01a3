import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';

/**
 * A function the rate limiter leaves on `res.locals` for the request it just counted: a route that
 * answers 304 calls it, because GitHub does not count a conditional request answered
 * `304 Not Modified` against the primary rate limit.
 */
export type RefundRateLimit = () => void;

/** The ETag of a JSON body: weak, like the ones GitHub sends for list endpoints (`W/"<hex>"`). */
export function etagOf(text: string): string {
  return `W/"${createHash('sha256').update(text).digest('hex').slice(0, 40)}"`;
}

/** True when an `If-None-Match` header names `etag` (or is `*`). Weak and strong forms compare equal. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}

/**
 * Sends a JSON body with an `ETag`, or `304 Not Modified` without a body when the request's
 * `If-None-Match` names the same ETag. The ETag is computed from the body (and the `Link` header,
 * so that a page whose neighbours changed is not reported unchanged). A 304 is refunded to the
 * caller's rate-limit bucket, as on GitHub.
 */
export function sendConditional(req: Request, res: Response, body: unknown): void {
  const text = JSON.stringify(body);
  const link = res.getHeader('link');
  const etag = etagOf(`${text}\n${typeof link === 'string' ? link : ''}`);
  res.setHeader('etag', etag);
  res.setHeader('cache-control', 'private, max-age=60, s-maxage=60');
  res.setHeader('vary', 'Accept, Authorization, Cookie, X-GitHub-OTP');
  if (matches(req.headers['if-none-match'], etag)) {
    (res.locals.refundRateLimit as RefundRateLimit | undefined)?.();
    res.status(304).end();
    return;
  }
  res.type('application/json').send(text);
}
