import type { JobStore, Logger } from '@anklet/core';
import { readFleet, type FleetReadOptions } from './fleet.js';
import { HostMetrics, type HostState } from './host-metrics.js';
import { HostSampler } from './host-sampler.js';
import { listenMetrics, type ListenOptions, type MetricsServer } from './listen.js';
import { mergeJobsViews, readJobsView, type JobsView, type JobsViewStore } from './jobs-view.js';
import { createMetricsApp, type JobsRequest, type Readiness } from './metrics-app.js';
import { MetricsExporter } from './metrics-exporter.js';

export interface HostMetricsServiceOptions extends ListenOptions {
  readonly version: string;
  readonly hostName: string;
  readonly logger: Logger;
  readonly hostState?: () => HostState;
  readonly readiness?: () => Readiness;
  /** Where to export and under which key; no export when unset (a host with no plugins). */
  readonly export?: { readonly store: Pick<JobStore, 'putHostSnapshot' | 'deleteHostSnapshot'>; readonly key: string; readonly intervalMs?: number } | undefined;
  /** Time between host samples (default 5 s). */
  readonly sampleIntervalMs?: number;
  /** Where `/jobs.json` reads jobs: each store with the queues this host's plugins use. Unset: no `/jobs.json`. */
  readonly jobs?: ReadonlyArray<JobsSource> | undefined;
  /** Delays the first host sample (at most a second) until this settles, e.g. the plugins have started. */
  readonly firstSampleAfter?: Promise<unknown>;
}

/** A store and the queues of it a jobs view reads. */
export interface JobsSource {
  readonly store: JobsViewStore;
  readonly queues: ReadonlyArray<string>;
}

/**
 * Reads the jobs view of every source (one per store; several only when plugins use different
 * databases) and merges them. `extraQueues` adds queues found elsewhere (the aggregator: the
 * queues the hosts report) to every source.
 */
export async function readJobsSources(sources: ReadonlyArray<JobsSource>, request: JobsRequest, extraQueues: ReadonlyArray<string> = []): Promise<JobsView> {
  const views = await Promise.all(
    sources.map((s) => readJobsView(s.store, { queues: [...s.queues, ...extraQueues], states: request.states, limit: request.limit, hosts: request.hosts })),
  );
  return views.length === 1 ? views[0]! : mergeJobsViews(views);
}

/** A running per-host metrics service: registry, sampler, HTTP server and export. */
export interface HostMetricsService {
  readonly metrics: HostMetrics;
  readonly port: number;
  /** Exports now rather than at the next tick (e.g. once every plugin has started). */
  exportNow(): Promise<void>;
  /** Stops the export (removing this host's snapshot when `clean`), the server and the sampler. */
  stop(options?: { clean?: boolean }): Promise<void>;
}

/**
 * Starts everything a host serves. Throws `ANKLET_ERR_HOST_RESOURCE` when an explicit port is busy.
 * Logs Go's `metrics server started on port <p>`.
 */
export async function startHostMetrics(options: HostMetricsServiceOptions, metrics?: HostMetrics): Promise<HostMetricsService> {
  const sampler = new HostSampler({ intervalMs: options.sampleIntervalMs, logger: options.logger });
  const registry =
    metrics ?? new HostMetrics({ version: options.version, hostName: options.hostName, logger: options.logger, hostState: options.hostState });
  registry.useFigures(() => sampler.figures);
  const key = options.export?.key;
  // The first sample is not waited for at start (it measures the CPU over a moment); what reads
  // the host figures waits for it, a bounded time, so nobody sees the zeros of a host just started.
  const snapshot = async () => {
    await sampler.firstSample();
    return registry.snapshot();
  };
  const app = createMetricsApp({
    mode: 'host',
    logger: options.logger,
    hostSnapshot: snapshot,
    fleet: async () => [{ key: key ?? options.hostName, snapshot: await snapshot() }],
    readiness: options.readiness,
    ...(options.jobs ? { jobs: (request: JobsRequest) => readJobsSources(options.jobs!, request) } : {}),
  });
  let server: MetricsServer;
  try {
    server = await listenMetrics(app, options);
  } catch (error) {
    sampler.stop();
    throw error;
  }
  options.logger.info(`metrics server started on port ${server.port}`, { port: server.port });
  // Neither the first sample nor the first export holds the start: both run in the background
  // (the exporter's first export waits for the first sample).
  void sampler.start(options.firstSampleAfter);
  const exporter = options.export ? new MetricsExporter({ ...options.export, snapshot, logger: options.logger }) : undefined;
  void exporter?.start();
  // A job that ended shows in the fleet view (and `anklet status`) at once, not up to 10 s later.
  const stopListening = exporter ? registry.onChange(() => exporter.exportSoon()) : undefined;
  return {
    metrics: registry,
    port: server.port,
    exportNow: async () => exporter?.exportNow(),
    stop: async ({ clean = true } = {}) => {
      stopListening?.();
      await exporter?.stop({ remove: clean });
      await server.close();
      sampler.stop();
    },
  };
}

export interface AggregatorOptions extends ListenOptions {
  readonly store: Pick<JobStore, 'listHostSnapshots'> & Partial<JobsViewStore>;
  /**
   * Queues `/jobs.json` reads besides those the hosts report (their `anklet_queue_depth` series).
   * `/jobs.json` is served when the store can list jobs.
   */
  readonly queues?: ReadonlyArray<string> | undefined;
  readonly logger: Logger;
  /** Stale mark, drop time and the Go-host fallback (`metrics.*` config keys). */
  readonly fleet?: Omit<FleetReadOptions, 'now'> | undefined;
}

/**
 * The fleet aggregator: serves the snapshots of the hosts in the store's host index, each request
 * read afresh (two round trips to Redis). Logs Go's `metrics aggregator started on port <p>`.
 */
export async function startAggregator(options: AggregatorOptions): Promise<MetricsServer> {
  const { store } = options;
  const jobsStore: JobsViewStore | undefined = store.list && store.get && store.stats ? (store as JobsViewStore) : undefined;
  const app = createMetricsApp({
    mode: 'aggregator',
    logger: options.logger,
    fleet: () => readFleet(store, options.logger, options.fleet),
    ...(jobsStore
      ? {
          // The queues the live and stale hosts report (from their queue series) and the configured ones.
          jobs: (request: JobsRequest) =>
            readJobsSources([{ store: jobsStore, queues: options.queues ?? [] }], request, request.hosts.flatMap((h) => h.queues.map((q) => q.queue))),
        }
      : {}),
  });
  const server = await listenMetrics(app, options);
  options.logger.info(`metrics aggregator started on port ${server.port}`, { port: server.port });
  return server;
}
