/**
 * `@anklet/core`: the contract between the anklet host and its plugins.
 *
 * A plugin package default-exports the result of {@link definePlugin}; the host injects every
 * service through the {@link WorkerContext}. This package holds types and a few tiny functions only.
 *
 * @packageDocumentation
 */
export { apiVersion, type ApiVersion } from './api-version.js';
export { AnkletError, ErrorCodes, isAnkletError, isLeaseRefusal, type AnkletErrorOptions, type ErrorCode } from './errors.js';
export type { Logger, LogFields } from './logger.js';
export type { StandardSchemaV1, SchemaIssue, SchemaResult, InferSchemaOutput } from './schema.js';
export { definePlugin, isPlugin, pluginBrand, type Plugin, type PluginDefinition, type PluginInstance, type PluginKind } from './plugin.js';
export type { WorkerContext, BaseWorkerContext, HandlerContext, ReceiverContext } from './context.js';
export type { HostCoordination, HostLock, VmSlots, PluginPaths, Release, ShutdownMode } from './host.js';
export type {
  JobStore,
  StoredJob,
  JobLease,
  JobEvent,
  JobPhase,
  JobState,
  NewJob,
  ClaimRequest,
  ClaimAffinity,
  LeftForAffinity,
  HostCapacity,
  EnqueueResult,
  QueueStats,
  RequeueOptions,
  ReapDecision,
  ReapOptions,
  ReapResult,
  QuarantinedRecord,
  LeaderLease,
  HostSnapshot,
  HostSnapshotListOptions,
  InstanceHolder,
  InstanceRegistration,
  RegisterInstanceOptions,
} from './job-store.js';
export {
  timelineEventOf,
  timelineHistoryOf,
  timelineText,
  TIMELINE_EVENT_TYPES,
  TIMELINE_MAX_EVENTS,
  TIMELINE_MAX_TEXT,
  TIMELINE_DEFAULT_MAX_AGE_MS,
  TIMELINE_DEFAULT_MAX_JOBS,
  type TimelineEvent,
  type TimelineEventType,
  type NewTimelineEvent,
  type TimelineJobState,
  type JobTimeline,
  type JobSummary,
  type RecentJobsOptions,
  type TimelineHistory,
} from './timeline.js';
export { childEnv, looksSecretName, CHILD_ENV_NAMES, CHILD_ENV_PREFIXES, type ChildEnvOptions } from './child-env.js';
export { isAnkaFailure } from './anka.js';
export type {
  AnkaClient,
  HeldTemplate,
  AnkaVm,
  AnkaFailure,
  AnkaFailureReason,
  AnkaCallOptions,
  PullProgress,
  EnsureTemplateOptions,
  EnsureTemplateResult,
  VmRequirements,
  HostUsage,
  Admission,
  VmReservation,
  RunOptions,
  RunResult,
} from './anka.js';
export type {
  PluginMetrics,
  PluginStatus,
  RunOutcome,
  MetricLabels,
  CataloguedCounterName,
  CataloguedGaugeName,
  CataloguedHistogramName,
  CounterName,
  GaugeName,
  HistogramName,
  JobPhaseName,
} from './metrics.js';
