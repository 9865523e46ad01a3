import type { HandlerContext } from '@anklet/core';
import { backoffDelayMs, sleep } from './backoff.js';
import type { HandlerConfig } from './config.js';
import { HEALTH_STATES, type HostFault } from './host-faults.js';

/** First re-check after a host fault, then doubling up to {@link MAX_CHECK_MS}. */
const FIRST_CHECK_MS = 2_000;
const MAX_CHECK_MS = 60_000;

/**
 * Whether GitHub accepts this handler (its credentials, installation, runner group, rate limit).
 * A fault puts the plugin in a named status (`auth_failed`, `config_failed`, `limit_paused`),
 * sets `plugin_health{state}`, and is logged at ERROR once with its fix, however many claims or
 * re-checks see it again; the handler claims nothing until {@link PluginHealth.recovered}.
 */
export class PluginHealth {
  #fault: HostFault | null = null;
  #checks = 0;

  constructor(private readonly ctx: HandlerContext<HandlerConfig>) {
    this.#publish();
  }

  get fault(): HostFault | null {
    return this.#fault;
  }

  /** Records a fault (a new one, or a different one, is logged; the same one again is not). */
  report(fault: HostFault): void {
    const same = this.#fault?.state === fault.state && this.#fault.reason === fault.reason;
    this.#fault = fault;
    this.ctx.metrics.setStatus(fault.state);
    this.#publish();
    if (same) return;
    this.#checks = 0;
    this.ctx.metrics.count('host_faults', { state: fault.state, reason: fault.reason });
    this.ctx.logger.error('GitHub refuses this plugin; not claiming jobs until it works again', { state: fault.state, reason: fault.reason, fix: fault.fix });
  }

  /** GitHub accepts the plugin again. */
  recovered(): void {
    if (!this.#fault) return;
    this.ctx.logger.info('GitHub accepts this plugin again; claiming jobs', { previousState: this.#fault.state, reason: this.#fault.reason });
    this.#fault = null;
    this.#checks = 0;
    this.ctx.metrics.setStatus('idle');
    this.#publish();
  }

  /**
   * Waits out the back-off before the next re-check (2 s, doubling to 60 s). Returns false when the
   * host is shutting down meanwhile (the wait ends at once on an interrupt, within a second on a
   * graceful stop).
   */
  async waitForCheck(): Promise<boolean> {
    this.#checks += 1;
    const until = Date.now() + backoffDelayMs(this.#checks, FIRST_CHECK_MS, MAX_CHECK_MS);
    while (Date.now() < until) {
      if (this.ctx.signal.aborted || this.ctx.host.shutdownMode() !== 'none') return false;
      if (this.#fault) this.ctx.metrics.setStatus(this.#fault.state);
      await sleep(Math.min(1_000, until - Date.now()), this.ctx.signal);
    }
    return !this.ctx.signal.aborted && this.ctx.host.shutdownMode() === 'none';
  }

  #publish(): void {
    const current = this.#fault?.state ?? 'ok';
    for (const state of HEALTH_STATES) this.ctx.metrics.gauge('plugin_health', state === current ? 1 : 0, { state });
  }
}
