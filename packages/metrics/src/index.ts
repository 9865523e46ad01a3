/**
 * `@anklet/metrics`: what an anklet host and the fleet aggregator serve.
 *
 * - {@link HostMetrics}: the Go per-plugin/per-host fields and a prom-client registry; plugins get
 *   their `ctx.metrics` handle from {@link HostMetrics.forPlugin};
 * - {@link startHostMetrics}: sampler, HTTP endpoints (`/metrics`, `/healthcheck`, `/readyz`, `/`)
 *   and the export to the shared store every 10 s;
 * - {@link readJobsView}: the jobs view (`/jobs.json`, the status page's Jobs section, `anklet jobs`);
 * - {@link startAggregator}: the whole fleet from the store, in the Go JSON (v1, v2) and Prometheus.
 *
 * @packageDocumentation
 */
export { HostMetrics, type HostMetricsOptions, type HostState, type PluginMeta } from './host-metrics.js';
export { HostSampler, EMPTY_HOST_FIGURES, type HostFigures, type HostSamplerOptions } from './host-sampler.js';
export { createMetricsApp, METRICS_FORMATS, type MetricsApp, type MetricsAppOptions, type Readiness, type JobsRequest } from './metrics-app.js';
export { listenMetrics, DEFAULT_METRICS_PORT, type ListenOptions, type MetricsServer } from './listen.js';
export { MetricsExporter, exportKeyOf, EXPORT_INTERVAL_MS, EXPORT_TTL_MS, type MetricsExporterOptions } from './metrics-exporter.js';
export {
  startHostMetrics,
  startAggregator,
  readJobsSources,
  type HostMetricsService,
  type HostMetricsServiceOptions,
  type AggregatorOptions,
  type JobsSource,
} from './services.js';
export {
  readJobsView,
  mergeJobsViews,
  jobsViewQueryOf,
  jobsViewLimitOf,
  phasesOf,
  JobsViewSchema,
  QueuedJobSchema,
  RunningJobSchema,
  FinishedJobSchema,
  JobPhasesSchema,
  JOB_VIEW_STATES,
  JOBS_VIEW_DEFAULT_LIMIT,
  JOBS_VIEW_MAX_LIMIT,
  type JobsView,
  type QueuedJob,
  type RunningJob,
  type FinishedJob,
  type JobPhases,
  type JobViewState,
  type JobsViewStore,
  type JobsViewOptions,
} from './jobs-view.js';
export {
  readFleet,
  parseSnapshot,
  aggregatorRecords,
  aggregatorRecordsByName,
  statusView,
  BrokenSnapshotError,
  STALE_AFTER_SECONDS,
  DROP_AFTER_SECONDS,
  type FleetEntry,
  type FleetReadOptions,
  type StatusHost,
  type AggregatorRecord,
  type StatusView,
} from './fleet.js';
export { renderExposition, familiesFromPromJson, mergeFamilies, PROMETHEUS_CONTENT_TYPE, type Family, type Sample, type Labels } from './exposition.js';
export { familiesFromSnapshot, PLUGIN_STATUSES } from './families.js';
export { compactFamilies, familiesFromCompact, type CompactFamily, type CompactFamilies } from './compact-families.js';
export { GO_ZERO_TIME, type GoHostSnapshot, type GoPluginRecord, type AnkletSnapshotExtension, type PromFamilyJson, type SnapshotTemplate } from './go-model.js';
export { COUNTERS, GAUGES, HISTOGRAMS, type FamilySpec } from './catalogue.js';
