/**
 * The metric families plugins report through `ctx.metrics`, declared up front so that every one has
 * a help text, a fixed set of label names (a label outside it is dropped, which keeps the series
 * count bounded) and, for histograms, buckets that fit anklet's durations. Names here have no
 * `anklet_` prefix and no `_total` suffix; the registry adds both.
 */

export interface FamilySpec {
  readonly help: string;
  /** Labels besides `plugin`, which every family carries. */
  readonly labels: ReadonlyArray<string>;
  readonly buckets?: ReadonlyArray<number>;
}

/** Seconds: from a few seconds (a warm clone) to hours (a long job or a big template pull). */
const DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600];

export const COUNTERS: Readonly<Record<string, FamilySpec>> = {
  webhooks_received: { help: 'Webhook deliveries received.', labels: ['event'] },
  webhooks_rejected: { help: 'Webhook deliveries rejected, by reason.', labels: ['reason'] },
  jobs_claimed: { help: 'Jobs claimed from the queue by a handler.', labels: [] },
  job_retries: { help: 'Jobs retried on a new VM, by reason.', labels: ['reason'] },
  registration_timeouts: { help: 'Runners that did not pick up their job within registration_timeout_seconds.', labels: [] },
  orphans_cleaned: { help: 'Leftover VMs and runners removed, by kind.', labels: ['kind'] },
  jobs_quarantined: { help: 'Claimed jobs a handler could not read and set aside (quarantined), by reason (unreadable_payload).', labels: ['reason'] },
  job_errors: { help: 'Unexpected errors inside one job, counted against that job (never the plugin), by step.', labels: ['step'] },
  jobs_given_up: {
    help: 'Jobs a handler gave up on (its run cancelled on GitHub), by reason: max_attempts_exceeded, job_timed_out, anka_template_label_missing, anka_labels_malformed, anka_template_or_tag_not_found.',
    labels: ['reason'],
  },
  cancel_failures: { help: 'Cancels of a given-up job GitHub refused or did not confirm; the job stays in the store and is tried again.', labels: ['reason'] },
  job_records_restored: {
    help: 'Job records a handler wrote back to the store after the store lost them (a Redis restarted without its data) while it worked on the job.',
    labels: [],
  },
  host_faults: { help: 'Host-level GitHub failures (not counted against any job), by the state they put the plugin in and reason.', labels: ['state', 'reason'] },
  jobs_bad_labels: {
    help: 'Jobs whose labels look like anka labels but do not parse, by what the receiver did (action: cancel or ignore, from on_bad_labels).',
    labels: ['action'],
  },
  bad_label_cancels: {
    help: 'Workflow-run cancels the receiver sent for jobs with bad labels (result: sent, already_completed, failed).',
    labels: ['result'],
  },
};

export const GAUGES: Readonly<Record<string, FamilySpec>> = {
  queue_depth: { help: 'Jobs waiting in a queue.', labels: ['queue'] },
  queue_oldest_job_age_seconds: { help: 'Age of the oldest job waiting in a queue (0 when empty).', labels: ['queue'] },
  plugin_health: {
    help: 'Whether the plugin can work with GitHub: 1 for its current state (ok, auth_failed, config_failed, limit_paused), 0 for the others.',
    labels: ['state'],
  },
  store_quarantined: { help: 'Job records of a queue the store set aside as unreadable, counted since the queue began.', labels: ['queue'] },
  github_rate_limit_remaining: { help: 'GitHub API requests left in the current rate-limit window.', labels: ['resource'] },
  github_rate_limit_reset_timestamp_seconds: { help: 'Unix time when the GitHub rate-limit window resets.', labels: ['resource'] },
};

export const HISTOGRAMS: Readonly<Record<string, FamilySpec>> = {
  job_queue_wait_seconds: {
    help: 'Time from the queued webhook to the job VM running.',
    labels: ['template'],
    buckets: DURATION_BUCKETS,
  },
  job_phase_duration_seconds: {
    help: 'Duration of a job phase (pull, clone, start, runner_registration, job_run, cleanup).',
    labels: ['phase'],
    buckets: DURATION_BUCKETS,
  },
};
