/**
 * The parts of GitHub's `workflow_job` webhook that anklet reads. Every field GitHub may omit or
 * null is optional here: old payloads lack `workflow_name`, `run_attempt` and `created_at`, and a
 * `queued` payload may carry a runner (see the `@octokit/webhooks-examples` fixtures).
 */
export type WorkflowJobAction = 'queued' | 'waiting' | 'in_progress' | 'completed';

/** `workflow_job` inside the webhook (and the REST `job` object, which has the same fields). */
export interface WorkflowJob {
  readonly id: number;
  readonly run_id?: number | null;
  readonly run_attempt?: number | null;
  readonly name?: string | null;
  readonly status?: string | null;
  readonly conclusion?: string | null;
  readonly started_at?: string | null;
  readonly completed_at?: string | null;
  readonly labels?: ReadonlyArray<string> | null;
  readonly html_url?: string | null;
  readonly workflow_name?: string | null;
  readonly head_branch?: string | null;
  readonly runner_id?: number | null;
  readonly runner_name?: string | null;
  readonly runner_group_id?: number | null;
  readonly runner_group_name?: string | null;
}

/** The repository of a webhook. `owner` is an object in webhooks (a string in Go queue records). */
export interface WebhookRepository {
  readonly id?: number;
  readonly name?: string | null;
  readonly full_name?: string | null;
  readonly owner?: { readonly login?: string | null } | string | null;
  readonly visibility?: string | null;
  readonly private?: boolean | null;
}

/** A `workflow_job` webhook payload. */
export interface WorkflowJobEvent {
  readonly action: WorkflowJobAction | (string & {});
  readonly workflow_job: WorkflowJob;
  readonly repository: WebhookRepository;
  readonly organization?: { readonly login?: string | null } | null;
  readonly enterprise?: { readonly slug?: string | null } | null;
  readonly installation?: { readonly id?: number | null } | null;
}

/**
 * The Go anklet's queue record (`QueueJob`), kept as the job payload so Go-compatible tools read
 * the same shape: `type` is always `WorkflowJobPayload` and `repository.owner` is the login string.
 */
export interface QueueJob {
  readonly type: 'WorkflowJobPayload';
  readonly workflow_job: {
    readonly id: number;
    readonly name: string | null;
    readonly run_id: number | null;
    readonly status: string | null;
    readonly conclusion: string | null;
    readonly started_at: string | null;
    readonly completed_at: string | null;
    readonly labels: ReadonlyArray<string> | null;
    readonly html_url: string | null;
    readonly workflow_name: string | null;
  };
  readonly anka_vm: { readonly name: string; readonly cpu_cores: number; readonly ram_size: number };
  readonly repository: {
    readonly name: string | null;
    readonly owner: string | null;
    readonly visibility: string | null;
    readonly private: boolean | null;
  };
  readonly action: string;
  readonly paused_on: string;
  readonly attempts: number;
}

/** One item of `GET …/hooks/{hook_id}/deliveries`. */
export interface HookDelivery {
  readonly id: number;
  readonly guid: string;
  readonly delivered_at: string;
  readonly redelivery: boolean;
  readonly status_code: number | null;
  readonly status?: string;
  readonly event: string;
  readonly action: string | null;
  readonly repository_id: number | null;
  readonly installation_id?: number | null;
}

/** `GET …/hooks/{hook_id}/deliveries/{delivery_id}`: the item plus the original request. */
export interface HookDeliveryDetail extends HookDelivery {
  readonly request: { readonly headers?: Record<string, string>; readonly payload: unknown };
}
