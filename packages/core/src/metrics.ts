/** The status a plugin reports, as in the Go anklet's metrics. */
export type PluginStatus =
  | 'idle'
  | 'running'
  | 'in_progress'
  | 'pulling'
  | 'paused'
  | 'limit_paused'
  | 'draining'
  | 'stopped'
  | 'failed';

/** The outcome of a job, counted per plugin and per host. */
export type RunOutcome = 'success' | 'failure' | 'canceled';

/** Labels on a metric. Keep them bounded: never a job id or URL. */
export type MetricLabels = Record<string, string>;

/** The metrics handle the host injects. Every method is cheap and never throws. */
export interface PluginMetrics {
  /** Sets this plugin's status; `status_since` changes only when the status changes. */
  setStatus(status: PluginStatus): void;
  /** Counts a finished job; `jobUrl` is kept for the JSON view only, never as a label. */
  recordRun(outcome: RunOutcome, jobUrl?: string): void;
  /** A VM of this plugin started (+1) or was removed (-1). */
  vmStarted(): void;
  vmStopped(): void;
  /** Adds to a counter (`name` without the `anklet_` prefix and `_total` suffix). */
  count(name: string, labels?: MetricLabels, by?: number): void;
  /** Sets a gauge. */
  gauge(name: string, value: number, labels?: MetricLabels): void;
  /** Records one observation of a histogram, in seconds for durations. */
  observe(name: string, value: number, labels?: MetricLabels): void;
}
