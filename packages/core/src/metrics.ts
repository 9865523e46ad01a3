/** The status a plugin reports, as in the Go anklet's metrics. */
export type PluginStatus =
  | 'idle'
  | 'running'
  | 'in_progress'
  | 'pulling'
  | 'paused'
  | 'limit_paused'
  /** GitHub refused the plugin's credentials (401, revoked App key): it claims nothing until they work again. */
  | 'auth_failed'
  /** GitHub says the plugin's configuration is wrong (no App installation, no such runner group): it claims nothing until fixed. */
  | 'config_failed'
  | 'draining'
  /** Another live host (or anklet process) holds this handler's instance name: it is not started until the name is free. */
  | 'name_taken'
  | 'stopped'
  | 'failed';

/** The outcome of a job, counted per plugin and per host. */
export type RunOutcome = 'success' | 'failure' | 'canceled';

/** Labels on a metric. Keep them bounded: never a job id or URL. */
export type MetricLabels = Record<string, string>;

/**
 * The counters of anklet's catalogue (name without the `anklet_` prefix and the `_total` suffix).
 * This list, {@link CataloguedGaugeName} and {@link CataloguedHistogramName} are the names of
 * `@anklet/metrics`' catalogue, which gives each its help text and labels (besides `plugin`, which
 * the host adds); the catalogue is checked against them at compile time, and a test checks that
 * every name the first-party packages report is one of them. The package README lists them all.
 */
export type CataloguedCounterName =
  | 'webhooks_received'
  | 'webhooks_rejected'
  | 'jobs_claimed'
  | 'jobs_reaped'
  | 'jobs_left_for_affinity'
  | 'affinity_grace_expired'
  | 'job_retries'
  | 'registration_timeouts'
  | 'runner_diagnostics_kept'
  | 'orphans_cleaned'
  | 'jobs_quarantined'
  | 'step_retries'
  | 'job_errors'
  | 'jobs_given_up'
  | 'cancel_failures'
  | 'job_records_restored'
  | 'host_faults'
  | 'jobs_bad_labels'
  | 'bad_label_cancels'
  | 'github_api_calls'
  | 'github_secondary_rate_limits'
  | 'github_rate_limit_pauses'
  | 'github_reconcile_passes'
  | 'github_reconcile_failures'
  | 'github_reconcile_truncated'
  | 'github_reconcile_api_calls'
  | 'github_reconcile_not_modified'
  | 'github_reconcile_enqueued'
  | 'github_reconcile_finished'
  | 'github_redelivery_passes'
  | 'github_redelivery_failures'
  | 'github_redelivery_api_calls'
  | 'github_webhook_redeliveries'
  | 'template_pulls';

/** The gauges of anklet's catalogue (see {@link CataloguedCounterName}). */
export type CataloguedGaugeName =
  | 'queue_depth'
  | 'queue_oldest_job_age_seconds'
  | 'plugin_health'
  | 'store_quarantined'
  | 'github_rate_limit_remaining'
  | 'github_rate_limit_reset_timestamp_seconds'
  | 'github_reconcile_last_pass_api_calls'
  | 'github_reconcile_last_pass_timestamp_seconds'
  | 'github_reconcile_next_pass_timestamp_seconds'
  | 'github_redelivery_last_pass_api_calls'
  | 'template_pull_progress_percent';

/**
 * The histograms of anklet's catalogue, in seconds: `job_queue_wait_seconds` (webhook queued to VM
 * running; `template`), `job_phase_duration_seconds` (`phase`: one of {@link JobPhaseName}) and
 * `template_pull_duration_seconds`.
 */
export type CataloguedHistogramName = 'job_queue_wait_seconds' | 'job_phase_duration_seconds' | 'template_pull_duration_seconds';

/**
 * A counter name: one of the catalogue's, or a plugin's own. A name outside the catalogue (a
 * third-party plugin's) becomes `anklet_<name>_total` with the label names of its first use and a
 * help text saying it is not catalogued; first-party code uses catalogued names only.
 */
export type CounterName = CataloguedCounterName | (string & {});
/** A gauge name (see {@link CounterName}). */
export type GaugeName = CataloguedGaugeName | (string & {});
/** A histogram name (see {@link CounterName}). */
export type HistogramName = CataloguedHistogramName | (string & {});

/** The phases `job_phase_duration_seconds` is labelled with. */
export type JobPhaseName = 'pull' | 'clone' | 'start' | 'runner_registration' | 'job_run' | 'cleanup';

/** The metrics handle the host injects. Every method is cheap and never throws. */
export interface PluginMetrics {
  /** Sets this plugin's status; `status_since` changes only when the status changes. */
  setStatus(status: PluginStatus): void;
  /** Counts a finished job; `jobUrl` is kept for the JSON view only, never as a label. */
  recordRun(outcome: RunOutcome, jobUrl?: string): void;
  /** A VM of this plugin started (+1) or was removed (-1). */
  vmStarted(): void;
  vmStopped(): void;
  /**
   * Adds to a counter (`name` without the `anklet_` prefix and `_total` suffix).
   *
   * @example
   * ```ts
   * ctx.metrics.count('webhooks_rejected', { reason: 'bad_signature' });
   * ```
   */
  count(name: CounterName, labels?: MetricLabels, by?: number): void;
  /** Sets a gauge. */
  gauge(name: GaugeName, value: number, labels?: MetricLabels): void;
  /**
   * Records one observation of a histogram, in seconds for durations.
   *
   * @example
   * ```ts
   * ctx.metrics.observe('job_phase_duration_seconds', 42.5, { phase: 'pull' });
   * ```
   */
  observe(name: HistogramName, value: number, labels?: MetricLabels): void;
}
