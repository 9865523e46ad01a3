import type { JobStore, Logger, LogFields, PluginMetrics, PluginStatus, ReceiverContext } from '@anklet/core';
import { receiverConfigSchema, type ReceiverConfig } from '../src/config.js';

export interface LogLine extends LogFields {
  level: string;
  msg: string;
}

/** A logger that keeps its lines (and applies addSecret like the host does). */
export function recordingLogger(lines: LogLine[] = [], secrets: string[] = []): Logger & { lines: LogLine[]; secrets: string[] } {
  const write = (level: string, fields: LogFields) => (msg: string, extra?: LogFields) => {
    lines.push({ ...fields, ...extra, level, msg });
  };
  const make = (fields: LogFields): Logger & { lines: LogLine[]; secrets: string[] } => ({
    lines,
    secrets,
    debug: write('DEBUG', fields),
    info: write('INFO', fields),
    warn: write('WARN', fields),
    error: write('ERROR', fields),
    child: (more) => make({ ...fields, ...more }),
    addSecret: (value) => void secrets.push(value),
  });
  return make({});
}

/** Metrics that remember statuses and counters. */
export function recordingMetrics(): PluginMetrics & { statuses: PluginStatus[]; counters: Map<string, number> } {
  const statuses: PluginStatus[] = [];
  const counters = new Map<string, number>();
  return {
    statuses,
    counters,
    setStatus: (s) => void statuses.push(s),
    recordRun: () => undefined,
    vmStarted: () => undefined,
    vmStopped: () => undefined,
    count: (name, labels, by = 1) => {
      const key = labels ? `${name}${JSON.stringify(labels)}` : name;
      counters.set(key, (counters.get(key) ?? 0) + by);
    },
    gauge: (name, value) => void counters.set(name, value),
    observe: () => undefined,
  };
}

/** A receiver context over a real store, with a config block validated by the plugin's own schema. */
export function receiverContext(store: JobStore, block: Record<string, unknown>, name = 'GITHUB_RECEIVER1') {
  const parsed = receiverConfigSchema.safeParse(block);
  if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
  const logger = recordingLogger();
  const metrics = recordingMetrics();
  const controller = new AbortController();
  const ctx: ReceiverContext<ReceiverConfig> = {
    kind: 'receiver',
    name,
    plugin: 'github_receiver',
    config: Object.freeze(parsed.data),
    logger,
    signal: controller.signal,
    store,
    metrics,
    host: {
      hostName: 'test-host',
      cpuCount: 1,
      memoryBytes: 1,
      vmSlots: { total: 0, used: 0, tryAcquire: () => null },
      pullLock: { acquire: async () => () => undefined, tryAcquire: () => () => undefined, held: false },
      preparingLock: { acquire: async () => () => undefined, tryAcquire: () => () => undefined, held: false },
      isDraining: () => false,
      shutdownMode: () => 'none',
    },
    paths: { pluginsPath: '/nonexistent', packageDir: '/nonexistent', dataDir: '/nonexistent', configDir: '/nonexistent' },
  };
  return { ctx, logger, metrics, controller };
}
