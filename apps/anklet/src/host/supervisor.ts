import { isAnkletError, type Logger, type PluginInstance, type PluginKind, type PluginMetrics, type ShutdownMode, type WorkerContext } from '@anklet/core';
import type { FailurePolicy } from '../config/schema.js';

/** One plugin instance the supervisor runs. */
export interface SupervisedPlugin {
  readonly name: string;
  readonly onFailure: FailurePolicy;
  readonly sleepIntervalSeconds: number;
  readonly logger: Logger;
  readonly metrics: PluginMetrics;
  /** A receiver's steady status is `running` (it serves webhooks between runs); a handler's is `idle`. */
  readonly kind?: PluginKind | undefined;
  /**
   * Registers the plugin's instance name for this host before it is created (handlers: see
   * instance-names.ts). Resolves true once registered, false when `signal` aborts first (the host
   * stops); calls `onRefused` when it has to wait, so the next plugin starts meanwhile.
   */
  readonly claimName?: ((signal: AbortSignal, onRefused: () => void) => Promise<boolean>) | undefined;
  /** Builds a fresh context (a new instance after a restart gets a new AbortSignal). */
  makeContext(signal: AbortSignal): WorkerContext;
  create(ctx: WorkerContext): PluginInstance | Promise<PluginInstance>;
}

export interface SupervisorOptions {
  readonly logger: Logger;
  readonly isDraining: () => boolean;
  /** Restart back-off, for `on_failure: restart`. */
  readonly restartDelayMs?: { readonly initial: number; readonly max: number };
  /** Called each time a plugin instance has started (for the readiness endpoint). */
  readonly onStarted?: (name: string) => void;
}

/** How the supervised run ended. */
export interface SupervisorResult {
  /** A plugin failed and its `on_failure: shutdown` policy stopped the host. */
  readonly pluginFailed: boolean;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Waits `ms`, or less if `until` settles first. Even at 0 it yields to the event loop: a `run` that
 * resolves at once would otherwise spin on microtasks and starve timers, I/O and signal handlers.
 */
function sleep(ms: number, until: Promise<void>): Promise<void> {
  if (ms <= 0) return new Promise((resolve) => setImmediate(resolve));
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), until]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  if (isAnkletError(err)) return `${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

type InstanceOutcome = { kind: 'stopped' } | { kind: 'failed'; phase: 'start' | 'run'; error: unknown };

/**
 * Runs the plugins: starts them one after another in config order, calls `run` in a loop
 * (`sleep_interval` apart), applies each plugin's failure policy, and stops them on request.
 *
 * - `interrupt` (first SIGINT/SIGTERM): every plugin's `AbortSignal` aborts, its current `run`
 *   should return quickly, then `stop` is awaited.
 * - `graceful` (SIGQUIT, or a plugin failure with policy `shutdown`): no signal is aborted; each
 *   plugin finishes its current `run`, then `stop` is awaited.
 */
export class Supervisor {
  #mode: ShutdownMode = 'none';
  #pluginFailed = false;
  readonly #stopRequested = deferred();
  readonly #controllers = new Set<AbortController>();

  constructor(
    private readonly plugins: ReadonlyArray<SupervisedPlugin>,
    private readonly options: SupervisorOptions,
  ) {}

  get mode(): ShutdownMode {
    return this.#mode;
  }

  /** Asks every plugin to stop. An interrupt after a graceful request upgrades it. */
  requestShutdown(mode: 'graceful' | 'interrupt'): void {
    if (this.#mode === 'interrupt' || this.#mode === mode) return;
    this.#mode = mode;
    this.#stopRequested.resolve();
    if (mode === 'interrupt') for (const controller of this.#controllers) controller.abort();
  }

  /** Runs until every plugin has stopped. */
  async run(): Promise<SupervisorResult> {
    // Plugins that only wait (a receiver without run) hold no handle of their own: keep the process alive.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      return await this.#runAll();
    } finally {
      clearInterval(keepAlive);
    }
  }

  async #runAll(): Promise<SupervisorResult> {
    const running: Array<Promise<void>> = [];
    for (const plugin of this.plugins) {
      if (this.#mode !== 'none') break;
      const ready = deferred();
      running.push(this.#supervise(plugin, ready));
      // One after another, as in Go: the next plugin starts when this one is ready (or has failed).
      await Promise.race([ready.promise, this.#stopRequested.promise]);
    }
    await Promise.all(running);
    return { pluginFailed: this.#pluginFailed };
  }

  async #supervise(plugin: SupervisedPlugin, ready: Deferred): Promise<void> {
    const backoff = this.options.restartDelayMs ?? { initial: 1_000, max: 60_000 };
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.#runInstance(plugin, ready);
      ready.resolve();
      if (outcome.kind === 'stopped') return;

      const what = outcome.phase === 'start' ? 'error starting plugin' : 'error running plugin';
      plugin.logger.error(what, { error: errorText(outcome.error), policy: plugin.onFailure });
      plugin.metrics.setStatus('failed');
      if (plugin.onFailure === 'isolate') {
        plugin.logger.warn('plugin isolated after failure; the other plugins keep running');
        return;
      }
      if (plugin.onFailure === 'restart' && this.#mode === 'none') {
        const delay = Math.min(backoff.max, backoff.initial * 2 ** attempt);
        plugin.logger.warn('restarting plugin after failure', { delayMs: delay, attempt: attempt + 1 });
        await sleep(delay, this.#stopRequested.promise);
        if (this.#mode === 'none') continue;
        return;
      }
      if (plugin.onFailure === 'shutdown') {
        // The Go anklet sends itself SIGQUIT here: the others finish their current work and stop.
        this.#pluginFailed = true;
        this.requestShutdown('graceful');
      }
      return;
    }
  }

  async #runInstance(plugin: SupervisedPlugin, ready: Deferred): Promise<InstanceOutcome> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    if (this.#mode === 'interrupt') controller.abort();
    let instance: PluginInstance | undefined;
    if (plugin.claimName && !(await this.#claimName(plugin, controller, ready))) {
      this.#controllers.delete(controller);
      return this.#stopped(plugin);
    }
    try {
      plugin.logger.info('starting plugin');
      instance = await plugin.create(plugin.makeContext(controller.signal));
      await instance.start?.();
      ready.resolve();
      this.options.onStarted?.(plugin.name);
    } catch (error) {
      await this.#stopInstance(plugin, instance);
      this.#controllers.delete(controller);
      if (controller.signal.aborted) return this.#stopped(plugin);
      return { kind: 'failed', phase: 'start', error };
    }

    // The Go anklet reset every plugin to idle here, so a receiver never showed `running`; draining
    // applies to handlers only, as in Go.
    const steady = () => (plugin.kind === 'receiver' ? 'running' : this.options.isDraining() ? 'draining' : 'idle');
    try {
      while (this.#mode === 'none' && !controller.signal.aborted) {
        plugin.metrics.setStatus(steady());
        if (!instance.run) {
          // A plugin without `run` (a receiver) lives until the host stops.
          await this.#stopRequested.promise;
          break;
        }
        const result = await instance.run();
        if (this.#mode !== 'none' || controller.signal.aborted) break;
        plugin.metrics.setStatus(steady());
        if (!(result && result.again)) await sleep(plugin.sleepIntervalSeconds * 1000, this.#stopRequested.promise);
      }
    } catch (error) {
      await this.#stopInstance(plugin, instance);
      this.#controllers.delete(controller);
      // An error caused by our own interrupt is the expected way out, not a failure.
      if (controller.signal.aborted) return this.#stopped(plugin);
      return { kind: 'failed', phase: 'run', error };
    }
    await this.#stopInstance(plugin, instance);
    this.#controllers.delete(controller);
    return this.#stopped(plugin);
  }

  /** Waits for the plugin's instance name; any stop request (graceful too) ends the wait. */
  async #claimName(plugin: SupervisedPlugin, controller: AbortController, ready: Deferred): Promise<boolean> {
    if (this.#mode !== 'none') return false;
    const waiting = new AbortController();
    const stop = () => waiting.abort();
    controller.signal.addEventListener('abort', stop, { once: true });
    void this.#stopRequested.promise.then(stop);
    try {
      return await plugin.claimName!(waiting.signal, () => ready.resolve());
    } finally {
      controller.signal.removeEventListener('abort', stop);
    }
  }

  #stopped(plugin: SupervisedPlugin): InstanceOutcome {
    plugin.metrics.setStatus('stopped');
    plugin.logger.warn('anklet plugin shut down');
    return { kind: 'stopped' };
  }

  /** `stop()` is clean-up: always awaited, its failure logged, never thrown. */
  async #stopInstance(plugin: SupervisedPlugin, instance: PluginInstance | undefined): Promise<void> {
    if (!instance?.stop) return;
    try {
      await instance.stop();
    } catch (error) {
      plugin.logger.error('error stopping plugin', { error: errorText(error) });
    }
  }
}
