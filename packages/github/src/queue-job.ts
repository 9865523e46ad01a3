import type { QueueJob, WebhookRepository, WorkflowJobEvent } from './types.js';

/** The owner login of a repository, whether the payload holds an object (webhooks) or a string (Go records). */
export function repositoryOwnerLogin(repository: WebhookRepository | null | undefined): string | null {
  const owner = repository?.owner;
  if (typeof owner === 'string') return owner || null;
  return owner?.login ?? null;
}

const orNull = <T>(value: T | null | undefined): T | null => (value === undefined ? null : value);

/**
 * Builds the Go-compatible queue record for a `workflow_job` event: the same keys, in Go's order,
 * with `null` (never omission) for what the payload lacks.
 */
export function toQueueJob(event: WorkflowJobEvent): QueueJob {
  const job = event.workflow_job;
  return {
    type: 'WorkflowJobPayload',
    workflow_job: {
      id: job.id,
      name: orNull(job.name),
      run_id: orNull(job.run_id),
      status: orNull(job.status),
      conclusion: orNull(job.conclusion),
      started_at: orNull(job.started_at),
      completed_at: orNull(job.completed_at),
      labels: job.labels === undefined || job.labels === null ? null : [...job.labels],
      html_url: orNull(job.html_url),
      workflow_name: orNull(job.workflow_name),
    },
    anka_vm: { name: '', cpu_cores: 0, ram_size: 0 },
    repository: {
      name: orNull(event.repository?.name),
      owner: repositoryOwnerLogin(event.repository),
      visibility: orNull(event.repository?.visibility),
      private: orNull(event.repository?.private),
    },
    action: event.action,
    paused_on: '',
    attempts: 0,
  };
}
