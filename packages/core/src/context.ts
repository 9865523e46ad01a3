import type { AnkaClient } from './anka.js';
import type { HostCoordination, PluginPaths } from './host.js';
import type { JobStore } from './job-store.js';
import type { Logger } from './logger.js';
import type { PluginMetrics } from './metrics.js';
import type { PluginKind } from './plugin.js';

/** What every plugin instance receives, whatever its kind. */
export interface BaseWorkerContext<Config> {
  /** The instance name from the config (`plugins[].name`). Unique in the host. */
  readonly name: string;
  /** The `plugin:` value from the config (a short id or a package name). */
  readonly plugin: string;
  /** The plugin's config block, validated by its own schema and frozen. */
  readonly config: Readonly<Config>;
  /** A child logger whose lines carry this plugin's name and scope. */
  readonly logger: Logger;
  /**
   * Aborts when the host wants this plugin to stop as soon as possible (first SIGINT/SIGTERM, or
   * another plugin's failure). Pass it to every wait. Clean-up must not use it: a VM or runner is
   * never left behind because of a signal.
   */
  readonly signal: AbortSignal;
  /** The shared job store. */
  readonly store: JobStore;
  readonly metrics: PluginMetrics;
  readonly host: HostCoordination;
  readonly paths: PluginPaths;
}

/** The context of a handler: it also gets the host's Anka client. */
export interface HandlerContext<Config> extends BaseWorkerContext<Config> {
  readonly kind: 'handler';
  readonly anka: AnkaClient;
}

/** The context of a receiver. */
export interface ReceiverContext<Config> extends BaseWorkerContext<Config> {
  readonly kind: 'receiver';
}

/** The context the host passes to `create`, chosen by the plugin's kind. */
export type WorkerContext<Config = unknown, Kind extends PluginKind = PluginKind> = Kind extends 'handler'
  ? HandlerContext<Config>
  : Kind extends 'receiver'
    ? ReceiverContext<Config>
    : never;
