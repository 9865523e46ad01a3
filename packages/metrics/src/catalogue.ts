/**
 * Every metric family a plugin (or a package a plugin uses: the GitHub client, the Anka client)
 * reports through `ctx.metrics`: the one list. Each has its help text, a fixed set of label names (a
 * label outside it is dropped, which keeps the series count bounded) and, for histograms, buckets
 * that fit anklet's durations. `@anklet/core`'s `CataloguedCounterName`, `CataloguedGaugeName` and
 * `CataloguedHistogramName` are the same names, checked against this list at compile time, and
 * test/catalogue.test.ts checks that every name the first-party packages report is here. A
 * third-party plugin's own name is still served, with a help text saying it is not catalogued.
 * Names here have no `anklet_` prefix and no `_total` suffix; the registry adds both.
 */

import type { CataloguedCounterName, CataloguedGaugeName, CataloguedHistogramName } from '@anklet/core';

export interface FamilySpec {
  readonly help: string;
  /** Labels besides `plugin`, which every family carries. */
  readonly labels: ReadonlyArray<string>;
  readonly buckets?: ReadonlyArray<number>;
}

/** Seconds: from a few seconds (a warm clone) to hours (a long job or a big template pull). */
const DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600];

export const COUNTERS = {
  webhooks_received: {
    help: 'Webhook deliveries with a valid signature and payload, by GitHub event (workflow_job, ping, other).',
    labels: ['event'],
  },
  webhooks_rejected: {
    help: 'Webhook deliveries answered with an error, by reason: bad_signature (401), bad_request (400: no event header, unsupported content type, not JSON, not a workflow_job payload), too_large (413: over body_limit_bytes), store_unavailable (503).',
    labels: ['reason'],
  },
  jobs_claimed: { help: 'Jobs claimed from the queue by a handler.', labels: [] },
  jobs_reaped: { help: 'Jobs of a handler whose lease expired (a dead or stuck host) returned to the queue by the reaper.', labels: [] },
  jobs_left_for_affinity: {
    help: 'Jobs a handler left, for the affinity grace, to a host that holds their template and has a free slot (counted once per job).',
    labels: [],
  },
  affinity_grace_expired: {
    help: 'Jobs a handler had left for a host holding their template and took itself once the grace ran out (that host did not take them).',
    labels: [],
  },
  job_retries: { help: 'Jobs retried on a new VM, by reason.', labels: ['reason'] },
  registration_timeouts: { help: 'Runners that did not pick up their job within registration_timeout_seconds.', labels: [] },
  runner_diagnostics_kept: {
    help: "Failed attempts whose runner logs (_diag, anklet-runner.log) were copied out of the VM and kept under the work dir, by reason: registration_timeout, runner_failed (a runner script or Anka step failed), job_failed (the job's conclusion).",
    labels: ['reason'],
  },
  orphans_cleaned: { help: 'Leftover VMs and runners removed, by kind.', labels: ['kind'] },
  jobs_quarantined: { help: 'Claimed jobs a handler could not read and set aside (quarantined), by reason (unreadable_payload).', labels: ['reason'] },
  step_retries: {
    help: 'Steps of a job repeated after an Anka failure that may pass (the same VM, not a new attempt), by step.',
    labels: ['step'],
  },
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
  github_api_calls: { help: 'Requests to the GitHub API, retries and repeats after a rate-limit pause included.', labels: [] },
  github_secondary_rate_limits: { help: 'GitHub secondary rate-limit answers; the client waits for retry-after and repeats the request.', labels: [] },
  github_rate_limit_pauses: { help: 'Pauses until the GitHub rate-limit window reset (status limit_paused meanwhile).', labels: [] },
  github_reconcile_passes: { help: 'Sweeps of GitHub for jobs the store and GitHub disagree on (reconcile).', labels: [] },
  github_reconcile_failures: { help: 'Reconcile sweeps that ended with an error (the next sweep tries again).', labels: [] },
  github_reconcile_truncated: { help: 'Reconcile sweeps cut short because they spent their share of the rate limit (reconcile_budget_percent).', labels: [] },
  github_reconcile_api_calls: { help: 'GitHub requests of reconcile sweeps that counted against the rate limit (304 Not Modified answers excluded).', labels: [] },
  github_reconcile_not_modified: { help: 'Reconcile requests GitHub answered 304 Not Modified (free of rate limit).', labels: [] },
  github_reconcile_enqueued: { help: 'Jobs queued on GitHub but unknown to the store (a lost webhook) that a reconcile sweep enqueued.', labels: [] },
  github_reconcile_finished: { help: 'Stored jobs GitHub had already completed (a lost completed webhook) that a reconcile sweep recorded as completed.', labels: [] },
  github_redelivery_passes: { help: 'Passes of the receiver over the hook deliveries GitHub reports as failed.', labels: [] },
  github_redelivery_failures: { help: 'Redelivery passes that ended with an error (the next pass tries again).', labels: [] },
  github_redelivery_api_calls: { help: 'GitHub requests of redelivery passes.', labels: [] },
  github_webhook_redeliveries: { help: 'Failed hook deliveries the receiver asked GitHub to deliver again.', labels: [] },
  template_pulls: { help: 'Anka template pulls from the registry, by result (success, failure).', labels: ['result'] },
} as const satisfies Record<CataloguedCounterName, FamilySpec>;

export const GAUGES = {
  queue_depth: { help: 'Jobs waiting in a queue (queued, handed off and delayed for a retry), read from the store every few seconds.', labels: ['queue'] },
  queue_oldest_job_age_seconds: { help: 'Age of the oldest queued job of a queue, read from the store every few seconds (0 when none waits).', labels: ['queue'] },
  plugin_health: {
    help: 'Whether the plugin can work with GitHub: 1 for its current state (ok, auth_failed, config_failed, limit_paused), 0 for the others.',
    labels: ['state'],
  },
  store_quarantined: { help: 'Job records of a queue the store set aside as unreadable, counted since the queue began.', labels: ['queue'] },
  github_rate_limit_remaining: {
    help: 'GitHub API requests left in the current rate-limit window, from the last answer of GitHub (x-ratelimit-remaining), by resource (x-ratelimit-resource: core, graphql, ...).',
    labels: ['resource'],
  },
  github_rate_limit_reset_timestamp_seconds: { help: 'Unix time when the GitHub rate-limit window resets, from the last answer of GitHub, by resource.', labels: ['resource'] },
  github_reconcile_last_pass_api_calls: { help: 'GitHub requests the last reconcile sweep spent against the rate limit.', labels: [] },
  github_reconcile_last_pass_timestamp_seconds: {
    help: 'Unix time when the last reconcile sweep of a queue started, on the handler that leads the sweeps (anklet explain reads it).',
    labels: ['queue'],
  },
  github_reconcile_next_pass_timestamp_seconds: {
    help: 'Unix time when the next reconcile sweep of a queue is due on this handler (the leader sweeps then; the others only ask for the leadership).',
    labels: ['queue'],
  },
  github_redelivery_last_pass_api_calls: { help: 'GitHub requests the last redelivery pass made.', labels: [] },
  template_pull_progress_percent: { help: 'Progress of the running (or last) pull of a template, in percent.', labels: ['template'] },
} as const satisfies Record<CataloguedGaugeName, FamilySpec>;

export const HISTOGRAMS = {
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
  template_pull_duration_seconds: { help: 'Duration of an Anka template pull, successful or not.', labels: [], buckets: DURATION_BUCKETS },
} as const satisfies Record<CataloguedHistogramName, FamilySpec>;
