import os from 'node:os';
import { ErrorCodes, isAnkletError, type JobStore, type Logger } from '@anklet/core';
import { queueNameOf } from '@anklet/github';
import { startAggregator, startHostMetrics, type FleetReadOptions, type JobsSource, type HostMetrics, type HostMetricsService, type HostMetricsServiceOptions, type ListenOptions } from '@anklet/metrics';
import { effectiveDatabase, type LoadedConfig } from '../config/load-config.js';
import { ANKLET_VERSION } from '../version.js';
import { ExitCode } from './exit-codes.js';
import { HostStores, timelineHistoryOf } from './stores.js';

/** `metrics.port` and `metrics.address` as listen options (an unset port means: first free from 8080). */
export function metricsListenOptions(config: LoadedConfig): ListenOptions {
  const raw = config.raw.metrics;
  const port = raw?.port === null || raw?.port === undefined || raw.port === '' ? undefined : Number(raw.port);
  const address = raw?.address === null || raw?.address === undefined || raw.address === '' ? undefined : String(raw.address);
  return { port, address };
}

/** `metrics.host_name`: this host's name in the fleet view, or undefined to use the machine's host name. */
export function metricsHostNameOf(config: LoadedConfig): string | undefined {
  const raw = config.raw.metrics?.host_name;
  const name = typeof raw === 'string' ? raw.trim() : '';
  return name === '' ? undefined : name;
}

/** Logs a busy or unusable metrics port with Go's text and turns it into exit code 1. */
function portProblem(root: Logger, err: unknown, port: number | undefined): { exit: number } {
  if (!isAnkletError(err) || err.code !== ErrorCodes.HOST_RESOURCE) throw err;
  root.error('metrics port already in use', { port: port ?? err.details?.port, error: err.message, ...(err.hint ? { hint: err.hint } : {}) });
  // A port held by a host that is still stopping frees itself: the service manager may try again.
  return { exit: ExitCode.Unavailable };
}

/** Starts the host's metrics (server, sampler, export), or returns the exit code after logging why not. */
export async function startMetricsService(
  metrics: HostMetrics,
  options: Omit<HostMetricsServiceOptions, 'version' | 'hostName'> & { readonly hostName?: string | undefined },
): Promise<HostMetricsService | { exit: number }> {
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port > 0 && options.port < 65536)) {
    options.logger.error('metrics port already in use', { port: options.port, error: 'metrics.port must be a port number (1-65535)' });
    return { exit: ExitCode.Config };
  }
  try {
    return await startHostMetrics({ ...options, version: ANKLET_VERSION, hostName: options.hostName ?? os.hostname() }, metrics);
  } catch (err) {
    return portProblem(options.logger, err, options.port);
  }
}

/** The queue of a plugin's config block (`queue_name`, else `enterprise`, else `owner`); empty when none. */
export function queueOfBlock(block: Record<string, unknown>): string {
  return queueNameOf(block as Parameters<typeof queueNameOf>[0]);
}

/** What this host's `/jobs.json` reads: each store its plugins use, with their queues. */
export function jobsSourcesOf(plugins: ReadonlyArray<{ readonly block: Record<string, unknown>; readonly store: JobStore }>): JobsSource[] {
  const byStore = new Map<JobStore, Set<string>>();
  for (const { block, store } of plugins) {
    const queue = queueOfBlock(block);
    if (!queue) continue;
    const queues = byStore.get(store) ?? new Set<string>();
    queues.add(queue);
    byStore.set(store, queues);
  }
  return [...byStore].map(([store, queues]) => ({ store, queues: [...queues] }));
}

/** `metrics.stale_after_seconds`, `drop_after_seconds`, `include_unindexed_hosts`: how the fleet view judges hosts. */
export function fleetReadOptionsOf(config: LoadedConfig): Omit<FleetReadOptions, 'now'> {
  const raw = config.raw.metrics;
  const seconds = (value: number | null | undefined) => (typeof value === 'number' ? Math.max(0, value) : undefined);
  return {
    staleAfterSeconds: seconds(raw?.stale_after_seconds),
    dropAfterSeconds: seconds(raw?.drop_after_seconds),
    includeUnindexed: raw?.include_unindexed_hosts === true,
  };
}

/**
 * `metrics.aggregator: true`: no plugins; serves every host's snapshot from the shared Redis until
 * SIGINT/SIGTERM/SIGQUIT. The database is `global_database_*` field by field, else `metrics.database`.
 */
export async function runAggregator(config: LoadedConfig, root: Logger): Promise<number> {
  root.info('starting anklet-aggregator');
  const database = effectiveDatabase(config.raw, config.raw.metrics?.database);
  if (!database) {
    root.error('unable to access database', {
      error: 'the aggregator reads the fleet from Redis, and no database is configured',
      hint: 'set metrics.database.url (or global_database_url) in the config',
    });
    return ExitCode.Config;
  }
  const stores = new HostStores(config.workDir ?? config.configDir, root, timelineHistoryOf(config.raw));
  let store;
  try {
    store = await stores.open(database, 'aggregator', { checkPersistence: false });
  } catch (err) {
    if (!isAnkletError(err) || !err.operator) throw err;
    root.error('unable to access database', { error: err.message, hint: err.hint });
    return ExitCode.Unavailable;
  }
  const listen = metricsListenOptions(config);
  let server;
  try {
    server = await startAggregator({
      ...listen,
      store,
      logger: root,
      fleet: fleetReadOptionsOf(config),
      queues: config.plugins.map((p) => queueOfBlock(p.block)).filter(Boolean),
    });
  } catch (err) {
    await stores.close();
    return portProblem(root, err, listen.port).exit;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      root.warn('shutting down the aggregator', { signal });
      for (const s of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) process.off(s, stop);
      resolve();
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) process.on(s, stop);
  });
  await server.close();
  await stores.close();
  root.warn('anklet-aggregator shut down', { exitCode: ExitCode.Ok });
  return ExitCode.Ok;
}
