import type { JobLease, StoredJob } from '@anklet/core';
import type { QueueJob } from '@anklet/github';
import { z } from 'zod';

const nullableText = z.string().nullable().optional();

/**
 * The part of a queue record (the Go `QueueJob` the receiver writes, see `toQueueJob` in
 * @anklet/github) the handler reads. Keys it does not read may be anything, and extra keys are
 * kept, so records written by the Go anklet or a newer receiver still pass.
 */
const queueJobSchema = z.looseObject({
  workflow_job: z.looseObject({
    id: z.number().int().positive(),
    name: nullableText,
    run_id: z.number().int().positive().nullable().optional(),
    labels: z.array(z.string()).nullable().optional(),
    html_url: nullableText,
    workflow_name: nullableText,
  }),
  repository: z.looseObject({
    name: z.string().min(1, 'repository name is missing'),
    owner: nullableText,
  }),
});

/** What {@link readQueueJob} says about a claimed record. */
export type PayloadCheck = { readonly ok: true; readonly lease: JobLease<QueueJob> } | { readonly ok: false; readonly reason: string };

/**
 * Checks that a claimed job's payload is a queue record the handler can run: a workflow job id,
 * a repository name and an owner (in the payload, or given at enqueue). The reason of a refusal
 * names the fields that are wrong, never their values.
 */
export function readQueueJob(lease: JobLease): PayloadCheck {
  const job: StoredJob = lease.job;
  const parsed = queueJobSchema.safeParse(job.payload);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(payload)'}: ${issue.message}`);
    return { ok: false, reason: `unreadable payload: ${fields.slice(0, 5).join('; ')}` };
  }
  const owner = parsed.data.repository.owner || job.repositoryOwner;
  if (!owner) return { ok: false, reason: 'unreadable payload: repository.owner is missing' };
  if (String(parsed.data.workflow_job.id) !== job.id) return { ok: false, reason: 'unreadable payload: workflow_job.id does not match the job id' };
  return { ok: true, lease: lease as JobLease<QueueJob> };
}
