import { AnkletError, ErrorCodes, type JobLease } from '@anklet/core';

/** What the Lua scripts answer instead of 1 when they refuse a call on an owned job (see `lua/_lib.lua`). */
export const RefusalCodes = { LEASE_LOST: -1, JOB_FINISHED: -2, JOB_NOT_FOUND: -3, JOB_QUARANTINED: -4 } as const;

const MESSAGES: Record<number, { code: (typeof ErrorCodes)[keyof typeof ErrorCodes]; says: string }> = {
  [RefusalCodes.LEASE_LOST]: { code: ErrorCodes.LEASE_LOST, says: 'is no longer held by' },
  [RefusalCodes.JOB_FINISHED]: { code: ErrorCodes.JOB_FINISHED, says: 'was already finished; refused for' },
  [RefusalCodes.JOB_NOT_FOUND]: { code: ErrorCodes.JOB_NOT_FOUND, says: 'is not in the store; refused for' },
  [RefusalCodes.JOB_QUARANTINED]: { code: ErrorCodes.JOB_QUARANTINED, says: 'was quarantined as unreadable; refused for' },
};

/**
 * The error for a refusal code, or undefined when `reply` is not one. Every store maps its
 * refusals to these codes (see the header of `JobStore` in @anklet/core).
 */
export function refusalError(reply: unknown, lease: JobLease): AnkletError | undefined {
  const found = MESSAGES[Number(reply)];
  if (!found) return undefined;
  return new AnkletError(found.code, `job ${lease.job.id} in queue ${lease.job.queue} ${found.says} ${lease.owner}`, {
    details: { jobId: lease.job.id, queue: lease.job.queue, owner: lease.owner, token: lease.token },
  });
}
