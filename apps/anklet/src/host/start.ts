import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCodes, isAnkletError, type JobStore, type Logger, type WorkerContext } from '@anklet/core';
import { ankaSettingsFromConfig, createAnkaHost, type AnkaHost, type AnkaPluginSettings } from '@anklet/anka';
import { SECRET_CONFIG_KEYS, dumpConfig } from '../config/dump-config.js';
import { describeIssues, loadConfig, UNREADABLE_MESSAGE, type LoadedConfig } from '../config/load-config.js';
import { preparePlugins, type PreparedPlugin } from '../config/prepare-plugins.js';
import { createLogger, logModeFromEnv, type HostLogger } from '../logging/create-logger.js';
import { SecretRegistry } from '../logging/redact.js';
import { declaredNeedsAnka } from '../plugins/load-plugin.js';
import { needsAnka } from '../plugins/manifest.js';
import { createCoordination } from './coordination.js';
import { hostIdentity } from './host-identity.js';
import { InstanceNames } from './instance-names.js';
import { refusingAnka } from './no-anka.js';
import { ExitCode } from './exit-codes.js';
import { writePidFile } from './pid-file.js';
import { Supervisor, type SupervisedPlugin } from './supervisor.js';
import { ANKLET_VERSION } from '../version.js';

export interface StartOptions {
  readonly configPath?: string | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where people-facing error summaries go (default stderr). */
  readonly errorStream?: NodeJS.WritableStream;
}

/** Registers every secret value of the config so no log line can carry it. */
function registerConfigSecrets(value: unknown, secrets: SecretRegistry): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_CONFIG_KEYS.has(key)) secrets.add(child === null || child === undefined ? undefined : String(child));
    else registerConfigSecrets(child, secrets);
  }
}

/**
 * The host's heavier modules (metrics server, stores), imported while the Anka checks and the
 * plugins load rather than before anything starts.
 */
async function hostModules() {
  const [metrics, service, stores] = await Promise.all([import('@anklet/metrics'), import('./metrics.js'), import('./stores.js')]);
  return { exportKeyOf: metrics.exportKeyOf, HostMetrics: metrics.HostMetrics, ...service, HostStores: stores.HostStores, timelineHistoryOf: stores.timelineHistoryOf };
}

/**
 * Loads, validates and reports. Returns the config and plugins, or an exit code after logging why.
 * `onLoaded` runs once the config file is read, before the plugins are imported.
 */
export async function loadAndValidate(
  root: HostLogger,
  secrets: SecretRegistry,
  options: StartOptions,
  onLoaded?: (config: LoadedConfig) => void,
): Promise<{ config: LoadedConfig; plugins: PreparedPlugin[] } | { exit: number }> {
  const errorStream = options.errorStream ?? process.stderr;
  let config: LoadedConfig;
  try {
    config = loadConfig({ configPath: options.configPath, ...(options.env ? { env: options.env } : {}) });
  } catch (err) {
    if (!isAnkletError(err) || !err.operator) throw err;
    const message = err.code === ErrorCodes.CONFIG_ENV ? 'unable to load config.yml from environment variables' : UNREADABLE_MESSAGE;
    root.error(message, { error: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    errorStream.write(`anklet: ${err.message}${err.hint ? `\n  ${err.hint}` : ''}\n`);
    return { exit: ExitCode.Config };
  }
  registerConfigSecrets(config.document, secrets);
  root.info('loaded config', { config: dumpConfig(config.document), file: config.file });
  onLoaded?.(config);
  const plugins = await preparePlugins(config);
  for (const line of describeIssues(config, config.warnings)) root.warn('config warning', { warning: line });
  if (config.issues.length > 0) {
    const errors = describeIssues(config, config.issues);
    // The Go text for a missing log folder is kept as its own line; operators grep for it.
    if (config.issues.some((i) => i.message.startsWith('log directory does not exist'))) {
      root.error('log directory does not exist', { directory: `${config.logFileDir}/` });
    }
    root.error('invalid config', { file: config.file, errors });
    const located = describeIssues(config, config.issues, { locate: true });
    errorStream.write(`anklet: ${config.file} has ${errors.length} problem${errors.length === 1 ? '' : 's'}:\n${located.map((e) => `  ${e}`).join('\n')}\n  fix each (anklet -c ${config.file} config validate shows them all)\n`);
    return { exit: ExitCode.Config };
  }
  return { config, plugins };
}

/**
 * `anklet start`: loads the config, loads every plugin, runs them under the supervisor until a
 * signal stops it, and returns the exit code (see exit-codes.ts).
 */
export async function startAnklet(options: StartOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const secrets = new SecretRegistry();
  let root = createLogger({ mode: logModeFromEnv(env.LOG_LEVEL), secrets });
  const loggers: HostLogger[] = [root];
  const closeAll = () => Promise.all(loggers.map((l) => l.close()));
  const cpuCount = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const memoryBytes = os.totalmem();
  // The supervisor is made after the contexts that read its mode, hence the holder.
  const running: { supervisor?: Supervisor } = {};
  // The host's other modules load while the config is read and the plugins are imported.
  const modules = hostModules();
  modules.catch(() => undefined); // awaited below; not unhandled when the start ends early
  let early: { coordination: ReturnType<typeof createCoordination>; anka: Promise<AnkaHost> | undefined; names: InstanceNames } | undefined;
  /**
   * Once per start, as soon as the config is read (while the plugins load): the coordination, and
   * the Anka checks with the template discovery's listing when a configured plugin's package.json
   * declares a handler that needs Anka (the same fields the plugin loader checks, so the two agree;
   * `"anklet": { "anka": false }` declares a handler that never calls Anka).
   */
  const beginStart = (config: LoadedConfig) => {
    if (early) return early;
    // Who this process is in the fleet: handlers register their names with it and qualify their leases by its host id.
    const identity = hostIdentity(config.workDir ?? config.configDir);
    const coordination = createCoordination({
      hostId: identity.hostId,
      configDir: config.configDir,
      cpuCount,
      memoryBytes,
      shutdownMode: () => running.supervisor?.mode ?? 'none',
    });
    const top = config.raw as Record<string, unknown>;
    const handlers = config.plugins
      .filter((entry) => entry.plugin !== '' && declaredNeedsAnka(entry.plugin, config.pluginsPath))
      .map((entry) => ankaSettingsFromConfig(entry.block, top));
    let anka: Promise<AnkaHost> | undefined;
    if (handlers.length > 0) {
      const mountsConfigured = handlers.some((s) => (s.globalMounts?.length ?? 0) + (s.mounts?.length ?? 0) > 0);
      const logger = root.extend({ version: ANKLET_VERSION, hostCPUCount: cpuCount, hostMemoryBytes: memoryBytes });
      anka = createAnkaHost({ coordination, logger, env: env as NodeJS.ProcessEnv, mountsConfigured, discover: true });
      anka.catch(() => undefined); // reported below, once the config is known to be valid
    }
    return (early = { coordination, anka, names: new InstanceNames(identity) });
  };
  try {
    const loaded = await loadAndValidate(root, secrets, options, (config) => {
      if (config.issues.length === 0 && config.raw.metrics?.aggregator !== true) beginStart(config);
    });
    if ('exit' in loaded) return loaded.exit;
    const { config, plugins } = loaded;
    const { exportKeyOf, HostMetrics, jobsSourcesOf, metricsHostNameOf, metricsListenOptions, runAggregator, startMetricsService, HostStores, timelineHistoryOf } =
      await modules;
    root = root.extend({ version: ANKLET_VERSION });
    // Go's aggregator mode: no plugins, only the fleet's metrics from the store.
    if (config.raw.metrics?.aggregator === true) return await runAggregator(config, root);
    root.info('plugins path', { pluginsPath: config.pluginsPath });

    let removePid = () => {};
    if (config.pidFileDir) {
      try {
        removePid = writePidFile(config.pidFileDir).remove;
      } catch (err) {
        if (!isAnkletError(err) || !err.operator) throw err;
        root.error(err.message, { hint: err.hint });
        return ExitCode.Config;
      }
    }

    root = root.extend({ hostCPUCount: cpuCount, hostMemoryBytes: memoryBytes });

    const { coordination, anka: ankaChecks, names } = beginStart(config);
    root.info('host identity', { hostId: names.holder.hostId, hostName: names.holder.hostName, workDir: names.holder.workDir });
    // The host's name in the fleet view (its metrics key, the aggregator's `host` label, the status page).
    const hostName = metricsHostNameOf(config) ?? coordination.hostName;
    // VM slots are a handler host's: a receiver-only host runs no VMs and reports none.
    const runsVms = plugins.some((p) => p.kind === 'handler');
    // One Anka client per process, only when a handler needs it (a receiver-only host may be Linux).
    let ankaHost: AnkaHost | undefined;
    const metrics = new HostMetrics({
      version: ANKLET_VERSION,
      hostName,
      logger: root,
      hostState: () => ({
        vmSlotsTotal: runsVms ? coordination.vmSlots.total : 0,
        vmSlotsUsed: runsVms ? coordination.vmSlots.used : 0,
        draining: coordination.isDraining(),
        hostId: names.holder.hostId,
        ...(runsVms ? { cpuCount: coordination.cpuCount, memoryBytes: coordination.memoryBytes } : {}),
        // What `anklet explain` tells a waiting job: which host has its template, and what it needs.
        templates: ankaHost?.tracker.all().map((t) => ({
          uuid: t.uuid,
          name: t.name,
          ...(t.tag ? { tag: t.tag } : {}),
          size_bytes: t.imageSizeBytes,
          ...(t.cpuCores !== undefined ? { cpu_cores: t.cpuCores } : {}),
          ...(t.ramBytes !== undefined ? { ram_bytes: t.ramBytes } : {}),
          pulling: t.pulling,
        })),
      }),
    });
    const ankaSettings = new Map<string, AnkaPluginSettings>();
    for (const { entry, manifest } of plugins) {
      if (needsAnka(manifest)) ankaSettings.set(entry.name, ankaSettingsFromConfig(entry.block, config.raw as Record<string, unknown>));
    }
    if (ankaChecks) {
      try {
        ankaHost = await ankaChecks;
        // Checks every handler's mount entries now rather than at its first job.
        for (const settings of ankaSettings.values()) ankaHost.forPlugin(settings);
      } catch (err) {
        // The Go text, so existing alerts keep matching.
        root.error('unable to create anka cli', { error: (err as Error).message, ...(isAnkletError(err) && err.hint ? { hint: err.hint } : {}) });
        removePid();
        return ExitCode.Config;
      }
      root.info('anka cli ready', { ankaVersion: ankaHost.version, licenseType: ankaHost.license.licenseType });
      // Started with the checks and not awaited: the plugins start meanwhile, and every Anka call
      // that reads the template record waits for it (AnkaHost.discovered). This only reports its end.
      void ankaHost.discoverTemplates().catch((err: unknown) => root.warn('failed to discover existing templates', { error: String(err) }));
    }
    const dataRoot = config.workDir ?? config.configDir;
    const stores = new HostStores(dataRoot, root, timelineHistoryOf(config.raw));
    const storeOf = new Map<string, JobStore>();
    try {
      for (const { entry } of plugins) storeOf.set(entry.name, await stores.open(entry.database, entry.name));
    } catch (err) {
      if (!isAnkletError(err) || !err.operator) throw err;
      // The Go text, so existing alerts keep matching.
      root.error('unable to access database', { error: err.message, hint: err.hint });
      await stores.close();
      removePid();
      // Redis may come up later (a host that boots first): not a config error, so services retry.
      return ExitCode.Unavailable;
    }

    const supervised: SupervisedPlugin[] = plugins.map((prepared) => {
      const { entry } = prepared;
      const block = entry.block;
      const attributes = {
        name: entry.name,
        plugin: entry.plugin,
        owner: String(block.owner ?? ''),
        repo: String(block.repo ?? ''),
        enterprise: String(block.enterprise ?? ''),
      };
      let logger: Logger = root.child({ attributes });
      if (config.splitByPlugin) {
        const file = path.join(config.logFileDir ?? process.cwd(), `anklet-${entry.name}.log`);
        root.info(`writing ${entry.name} logs to ${file}`);
        const fileLogger = createLogger({ mode: { level: 'debug', pretty: false }, secrets, file, context: { attributes } });
        loggers.push(fileLogger);
        logger = fileLogger;
      }
      const pluginMetrics = metrics.forPlugin({
        name: entry.name,
        plugin: entry.plugin,
        owner: attributes.owner || attributes.enterprise,
        repo: attributes.repo,
        kind: prepared.kind,
      });
      const dataDir = path.join(dataRoot, 'data', entry.name);
      const store = storeOf.get(entry.name)!;
      const settings = ankaSettings.get(entry.name);
      const anka = settings && ankaHost ? ankaHost.forPlugin(settings, { logger, metrics: pluginMetrics }) : refusingAnka(entry.plugin);
      return {
        name: entry.name,
        onFailure: entry.onFailure,
        kind: prepared.kind,
        // A handler's name is its identity in the fleet (its leases, VMs, runners, metrics key):
        // one live host at a time. Receivers may run as replicas under one name.
        claimName:
          prepared.kind === 'handler'
            ? (signal: AbortSignal, onRefused: () => void) => names.acquire(entry.name, store, { signal, logger, metrics: pluginMetrics, onRefused })
            : undefined,
        sleepIntervalSeconds: entry.sleepIntervalSeconds,
        logger,
        metrics: pluginMetrics,
        create: (ctx) => prepared.plugin.create(ctx as never),
        makeContext: (signal) => {
          mkdirSync(dataDir, { recursive: true });
          const base = {
            name: entry.name,
            plugin: entry.plugin,
            kind: prepared.kind,
            config: prepared.config,
            logger,
            signal,
            store,
            metrics: pluginMetrics,
            host: coordination,
            paths: { pluginsPath: config.pluginsPath, packageDir: prepared.manifest.dir, dataDir, configDir: config.configDir, workDir: dataRoot },
          };
          return (prepared.kind === 'handler' ? { ...base, anka } : base) as WorkerContext;
        },
      };
    });

    const started = new Set<string>();
    let allStarted: () => void = () => {};
    const pluginsStarted = new Promise<void>((resolve) => (allStarted = resolve));
    const onStarted = (name: string) => {
      started.add(name);
      if (started.size !== supervised.length) return;
      allStarted();
      // The first export ran before the plugins started; the fleet view should not wait 10 s to see them.
      if ('exportNow' in service) void service.exportNow();
    };
    const sup = new Supervisor(supervised, { logger: root, isDraining: coordination.isDraining, onStarted });
    running.supervisor = sup;

    // Exported under `anklet/metrics/<host name>` (Go's key ending is `<owner>/<first plugin>`:
    // a host with several owners or a renamed plugin then showed under a name that was not its own),
    // in the store of the first plugin.
    const first = supervised[0] && plugins[0];
    const service = await startMetricsService(metrics, {
      ...metricsListenOptions(config),
      hostName,
      logger: root,
      // The host sample (a CPU measurement, a `df`) would compete with the plugins' start and
      // their first moments (the sampler takes it a second after the service started at the latest).
      firstSampleAfter: pluginsStarted.then(() => delay(300)),
      readiness: () =>
        sup.mode !== 'none'
          ? { ready: false, waiting: ['shutting down'] }
          : { ready: started.size === supervised.length, waiting: supervised.map((p) => p.name).filter((n) => !started.has(n)) },
      jobs: jobsSourcesOf(plugins.map(({ entry }) => ({ block: entry.block, store: storeOf.get(entry.name)! }))),
      export: first
        ? {
            store: storeOf.get(first.entry.name)!,
            key: exportKeyOf('', hostName),
          }
        : undefined,
    });
    if ('exit' in service) {
      await names.releaseAll();
      await stores.close();
      removePid();
      return service.exit;
    }
    let interrupts = 0;
    const onInterrupt = (signal: NodeJS.Signals) => {
      interrupts += 1;
      if (interrupts === 1) {
        root.warn('best effort graceful shutdown, interrupting the job as soon as possible...', { signal });
        sup.requestShutdown('interrupt');
        return;
      }
      root.warn('forceful shutdown after second interrupt... be sure to clean up any self-hosted runners and VMs!', { signal });
      removePid();
      void closeAll().finally(() => process.exit(ExitCode.Forced));
    };
    const onQuit = () => {
      root.warn('graceful shutdown, waiting for jobs to finish...', { signal: 'SIGQUIT' });
      sup.requestShutdown('graceful');
    };
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onInterrupt);
    process.on('SIGQUIT', onQuit);

    root.info('starting anklet', { plugins: plugins.length });
    const result = await sup.run();
    process.off('SIGQUIT', onQuit);
    await service.stop({ clean: true });
    await names.releaseAll();
    await stores.close();
    removePid();
    root.warn('anklet (and all plugins) shut down', { exitCode: result.pluginFailed ? ExitCode.PluginFailed : ExitCode.Ok });
    return result.pluginFailed ? ExitCode.PluginFailed : ExitCode.Ok;
  } finally {
    await closeAll();
  }
}
