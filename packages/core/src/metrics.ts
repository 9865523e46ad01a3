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
 * Counters the host declares (name without the `anklet_` prefix and the `_total` suffix), with the
 * labels each takes besides `plugin`, which the host adds:
 * - `webhooks_received` (`event`), `webhooks_rejected` (`reason`);
 * - `jobs_claimed`, `job_retries` (`reason`), `registration_timeouts`, `orphans_cleaned` (`kind`: `vm` or `runner`).
 *
 * Another name makes a new counter whose label names are fixed by its first use.
 */
export type CounterName =
  | 'webhooks_received'
  | 'webhooks_rejected'
  | 'jobs_claimed'
  | 'job_retries'
  | 'registration_timeouts'
  | 'orphans_cleaned'
  | (string & {});

/**
 * Gauges the host declares: `queue_depth` and `queue_oldest_job_age_seconds` (`queue`),
 * `github_rate_limit_remaining` and `github_rate_limit_reset_timestamp_seconds` (`resource`).
 */
export type GaugeName =
  | 'queue_depth'
  | 'queue_oldest_job_age_seconds'
  | 'github_rate_limit_remaining'
  | 'github_rate_limit_reset_timestamp_seconds'
  | (string & {});

/**
 * Histograms the host declares, in seconds: `job_queue_wait_seconds` (webhook queued to VM running;
 * `template`) and `job_phase_duration_seconds` (`phase`: one of {@link JobPhaseName}).
 */
export type HistogramName = 'job_queue_wait_seconds' | 'job_phase_duration_seconds' | (string & {});

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
