import { setTimeout as sleep } from 'node:timers/promises';
import { AnkletError, ErrorCodes, type Logger } from '@anklet/core';

/** How store operations retry while Redis is unreachable (the Go `max_retries`, `retry_delay`, `retry_backoff_factor`). */
export interface RetryPolicy {
  /** Retries after the first attempt (Go default 5). */
  readonly maxRetries: number;
  /** Delay before the first retry, ms (Go default 1000). */
  readonly retryDelayMs: number;
  /** Each further delay is the previous one times this (Go default 2.0). */
  readonly backoffFactor: number;
}

/** The Go anklet defaults. */
export const defaultRetryPolicy: RetryPolicy = { maxRetries: 5, retryDelayMs: 1000, backoffFactor: 2 };

/**
 * Normalises Go-style values: a negative retry count means none, 0 (unset) means the default, as
 * in the Go client constructor; a delay or factor of 0 means the default.
 */
export function resolveRetryPolicy(input: { max_retries?: number | undefined; retry_delay?: number | undefined; retry_backoff_factor?: number | undefined }): RetryPolicy {
  const maxRetries = input.max_retries === undefined || input.max_retries === 0 ? defaultRetryPolicy.maxRetries : Math.max(0, Math.floor(input.max_retries));
  const retryDelayMs = input.retry_delay && input.retry_delay > 0 ? input.retry_delay : defaultRetryPolicy.retryDelayMs;
  const backoffFactor = input.retry_backoff_factor && input.retry_backoff_factor > 0 ? input.retry_backoff_factor : defaultRetryPolicy.backoffFactor;
  return { maxRetries, retryDelayMs, backoffFactor };
}

/** Delay before retry number `retry` (1-based): `retryDelay * factor^(retry-1)`. */
export function retryDelay(policy: RetryPolicy, retry: number): number {
  return Math.round(policy.retryDelayMs * policy.backoffFactor ** (retry - 1));
}

// Substrings of errors that mean "Redis is not reachable right now" (ioredis, Node sockets, a
// cluster in fail-over). Anything else (a script error, WRONGPASS, NOPERM) is not retried.
const TRANSIENT = [
  'econnrefused', 'econnreset', 'etimedout', 'epipe', 'ehostunreach', 'enetunreach', 'enotfound', 'eai_again',
  'connection is closed', 'connection closed', 'max retries per request', 'command timed out', 'timeout',
  'stream isn\'t writeable', 'clusterdown', 'tryagain', 'loading', 'masterdown', 'failed to refresh slots cache',
  'none of startup nodes is available', 'cluster isn\'t ready', 'socket closed',
];

/** True for errors that mean Redis is unreachable or failing over (worth a retry). */
export function isTransientRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const text = `${error.name} ${error.message} ${(error as { code?: unknown }).code ?? ''}`.toLowerCase();
  return TRANSIENT.some((needle) => text.includes(needle));
}

/**
 * Runs `operation`; on a transient Redis error waits and retries with the policy, then throws
 * `ANKLET_ERR_STORE_UNAVAILABLE`. Other errors are wrapped at once. An {@link AnkletError} thrown by
 * the operation itself (a lost lease) passes through untouched.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  opName: string,
  operation: () => Promise<T>,
  context: { logger?: Logger | undefined; target: string },
): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const result = await operation();
      if (attempt > 0) context.logger?.info(`${opName} succeeded after ${attempt} retries`, { op: opName });
      return result;
    } catch (error) {
      if (error instanceof AnkletError) throw error;
      const transient = isTransientRedisError(error);
      if (!transient) {
        const auth = /WRONGPASS|NOAUTH|NOPERM/.test((error as Error).message);
        throw new AnkletError(ErrorCodes.STORE_UNAVAILABLE, `job store refused ${opName} on ${context.target}: ${(error as Error).message}`, {
          cause: error,
          operator: auth,
          details: { op: opName, target: context.target },
          ...(auth ? { hint: 'check the database user and password (global_database_user / global_database_password or the plugin database block)' } : {}),
        });
      }
      if (attempt >= policy.maxRetries) {
        throw new AnkletError(
          ErrorCodes.STORE_UNAVAILABLE,
          `job store unreachable: ${opName} failed after ${policy.maxRetries} retries on ${context.target}: ${(error as Error).message}`,
          {
            cause: error,
            hint: 'check that Redis is running and reachable (database url/port, TLS settings), or raise database.max_retries / retry_delay',
            details: { op: opName, target: context.target, retries: policy.maxRetries },
          },
        );
      }
      const delay = retryDelay(policy, attempt + 1);
      context.logger?.warn(`retrying ${opName} in ${delay}ms (attempt ${attempt + 1}/${policy.maxRetries})`, {
        op: opName,
        error: (error as Error).message,
      });
      await sleep(delay);
    }
  }
}
