import { setTimeout as sleep } from 'node:timers/promises';
import { AnkletError, ErrorCodes, type InstanceHolder, type JobStore, type Logger, type PluginMetrics } from '@anklet/core';
import { isProcessAlive } from './process-alive.js';

/**
 * How long a handler's instance name stays registered without a heartbeat. A host that stopped
 * without releasing its names (a crash, a power cut) frees them after this long; the heartbeat
 * runs every third of it.
 */
export const INSTANCE_NAME_TTL_MS = 30_000;

/**
 * The refusal of a handler instance name that another live host (or another anklet process of this
 * work dir) holds: it names that process and says how to fix it.
 */
export function nameTakenError(name: string, mine: InstanceHolder, other: InstanceHolder, ttlMs: number): AnkletError {
  const sameHost = other.hostId === mine.hostId;
  const where = sameHost ? `another anklet process of this host (pid ${other.pid}, work dir ${other.workDir})` : `anklet on ${other.hostName} (pid ${other.pid}, work dir ${other.workDir})`;
  return new AnkletError(ErrorCodes.INSTANCE_NAME_TAKEN, `handler instance name "${name}" is held by ${where}; not starting it here`, {
    operator: true,
    hint: sameHost
      ? `stop that process, or give this plugin its own name (plugins[].name in config.yml)`
      : `every handler in the fleet needs its own name: rename this plugin in config.yml (plugins[].name; its VMs, runners and leases go by it), or stop anklet on ${other.hostName}. A host that stopped without a clean exit frees the name ${Math.round(ttlMs / 1000)} s after its last heartbeat, and this host then starts the plugin`,
    details: { name, holder: { ...other } },
  });
}

interface Registered {
  readonly name: string;
  readonly store: JobStore;
  readonly logger: Logger;
  taken: boolean;
}

/**
 * The handler instance names this host holds in the fleet. A handler is started only once its name
 * is registered for this host (see {@link InstanceNames.acquire}); a heartbeat keeps every name
 * registered while the host runs, and a clean exit releases them.
 */
export class InstanceNames {
  readonly #registered: Registered[] = [];
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;

  constructor(
    readonly holder: InstanceHolder,
    private readonly ttlMs: number = INSTANCE_NAME_TTL_MS,
  ) {}

  /**
   * Registers `name` in `store` for this host. When another live holder has it, logs the refusal
   * once (ERROR, with the holder and the fix), shows the plugin as `name_taken`, calls `onRefused`
   * (so the host starts the next plugin meanwhile) and asks again until the name is free (the other
   * host stopped, or its heartbeat ran out). A holder with this host id whose process is gone (this
   * host restarted after a crash) is replaced at once. Resolves true once registered, false when
   * `signal` aborts first.
   */
  async acquire(name: string, store: JobStore, options: { signal: AbortSignal; logger: Logger; metrics: PluginMetrics; onRefused?: () => void }): Promise<boolean> {
    const { signal, logger, metrics } = options;
    let refusedBy: string | undefined;
    while (!signal.aborted) {
      let waitMs = Math.min(5_000, this.ttlMs / 3);
      try {
        let result = await store.registerInstance(name, this.holder, this.ttlMs);
        if (!result.held && result.holder.hostId === this.holder.hostId && result.holder.pid !== this.holder.pid && !isProcessAlive(result.holder.pid)) {
          logger.info('taking over the instance name from an earlier anklet process of this host that is gone', { previousPid: result.holder.pid });
          result = await store.registerInstance(name, this.holder, this.ttlMs, { replace: result.holder });
        }
        if (result.held) {
          if (refusedBy) logger.info('instance name is free again; starting the plugin', { previousHolder: refusedBy });
          // A plugin restarted after a failure registers again: one heartbeat per name.
          if (!this.#registered.some((entry) => entry.name === name && entry.store === store)) this.#registered.push({ name, store, logger, taken: false });
          this.#startHeartbeat();
          return true;
        }
        const key = JSON.stringify(result.holder);
        if (refusedBy !== key) {
          refusedBy = key;
          const error = nameTakenError(name, this.holder, result.holder, this.ttlMs);
          logger.error(error.message, { code: error.code, hint: error.hint, holder: result.holder, expiresInSeconds: Math.ceil(result.expiresInMs / 1000) });
          options.onRefused?.();
        }
        metrics.setStatus('name_taken');
        waitMs = Math.min(waitMs, result.expiresInMs + 100);
      } catch (err) {
        logger.warn('error registering the instance name in the store; asking again', { error: (err as Error).message });
      }
      await sleep(Math.max(100, waitMs), undefined, { signal }).catch(() => undefined);
    }
    return false;
  }

  #startHeartbeat(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    }, this.ttlMs / 3);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    for (const entry of this.#registered) {
      try {
        const result = await entry.store.registerInstance(entry.name, this.holder, this.ttlMs);
        if (result.held) {
          if (entry.taken) entry.logger.info('instance name registered for this host again');
          entry.taken = false;
        } else if (!entry.taken) {
          // Our heartbeat lapsed (the store was out of reach, the machine slept) and another host
          // took the name. Job leases carry the host id, so neither host takes the other's jobs.
          entry.taken = true;
          const error = nameTakenError(entry.name, this.holder, result.holder, this.ttlMs);
          entry.logger.error(`instance name "${entry.name}" was taken over by another holder while this host ran; rename one of them`, { code: error.code, holder: result.holder, hint: error.hint });
        }
      } catch (err) {
        entry.logger.warn('error renewing the instance name registration', { error: (err as Error).message });
      }
    }
  }

  /** Stops the heartbeat and releases every name (a clean exit: another host may take them at once). */
  async releaseAll(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#beating;
    await Promise.allSettled(this.#registered.splice(0).map((entry) => entry.store.releaseInstance(entry.name, this.holder)));
  }
}
