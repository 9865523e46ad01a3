import { AnkletError, ErrorCodes, type JobLease } from '@anklet/core';

/** A refusal of a call on an owned job (see the refusal codes in `JobStore`'s header). */
export function refusal(code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string, lease: JobLease): AnkletError {
  return new AnkletError(code, message, { details: { jobId: lease.job.id, queue: lease.job.queue, owner: lease.owner, token: lease.token } });
}

/** Wraps a SQLite failure (a lock held past `busy_timeout`, a full disk) as a store error; refusals pass through. */
export function unavailable(file: string, error: unknown): Error {
  if (error instanceof AnkletError) return error;
  return new AnkletError(ErrorCodes.STORE_UNAVAILABLE, `embedded job store ${file}: ${(error as Error).message}`, {
    cause: error,
    hint: 'check that the work dir exists, is writable and has free space; another anklet process may hold the database lock',
  });
}
