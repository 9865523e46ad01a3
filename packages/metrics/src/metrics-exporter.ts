import type { JobStore, Logger } from '@anklet/core';
import type { GoHostSnapshot } from './go-model.js';

/** Go's export period and key expiry. */
export const EXPORT_INTERVAL_MS = 10_000;
export const EXPORT_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** After a change (a status, a finished job), the snapshot is written within this time; changes in between share one write. */
export const EXPORT_SOON_MS = 200;

export interface MetricsExporterOptions {
  readonly store: Pick<JobStore, 'putHostSnapshot' | 'deleteHostSnapshot'>;
  /** `<owner>/<name>` of the host's first plugin (Go's key ending); a leading `/` is dropped. */
  readonly key: string;
  readonly snapshot: () => Promise<GoHostSnapshot>;
  readonly intervalMs?: number | undefined;
  readonly ttlMs?: number | undefined;
  /** Delay of {@link MetricsExporter.exportSoon} (default {@link EXPORT_SOON_MS}). */
  readonly soonMs?: number | undefined;
  readonly logger?: Logger | undefined;
}

/** The key ending Go uses: `<owner>/<name>`, or `<name>` without an owner. */
export function exportKeyOf(owner: string, name: string): string {
  return `${owner}/${name}`.replace(/^\/+/, '');
}

/**
 * Writes this host's snapshot to the shared store every 10 seconds with a 7-day expiry (as Go), so
 * an aggregator can serve the fleet, and removes it on a clean stop. A change of what the fleet
 * view shows ({@link MetricsExporter.exportSoon}) is written at once rather than at the next tick. A failed write is logged and
 * tried again at the next tick; unlike Go it never stops the host, since metrics are not worth a
 * running job.
 */
export class MetricsExporter {
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #stopped = false;
  /** A change came while an export was writing an older snapshot: write again after it. */
  #again = false;
  #inFlight: Promise<void> | undefined;
  #failing = false;
  readonly key: string;

  constructor(private readonly options: MetricsExporterOptions) {
    this.key = options.key.replace(/^\/+/, '');
  }

  /** Exports once now, then every interval. Never rejects. */
  async start(): Promise<void> {
    this.options.logger?.info('starting ExportMetricsToDB', { keyEnding: this.key });
    // The timer first: a stop() during the first export then clears it.
    this.#timer = setInterval(() => void this.exportNow(), this.options.intervalMs ?? EXPORT_INTERVAL_MS);
    this.#timer.unref();
    await this.exportNow();
  }

  /** One export (joins one already running). */
  exportNow(): Promise<void> {
    this.#inFlight ??= this.#export().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  /**
   * Exports within `soonMs` (changes meanwhile share the write). A change that comes while an
   * export is in flight gets its own write after it, since that one may hold the older state.
   */
  exportSoon(): void {
    if (this.#stopped || this.#soon) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      if (this.#inFlight) {
        this.#again = true;
        return;
      }
      void this.exportNow();
    }, this.options.soonMs ?? EXPORT_SOON_MS);
    this.#soon.unref();
  }

  async #export(): Promise<void> {
    try {
      const json = JSON.stringify(await this.options.snapshot());
      await this.options.store.putHostSnapshot(this.key, json, this.options.ttlMs ?? EXPORT_TTL_MS);
      if (this.#failing) this.options.logger?.info('errors resolved with metrics export', { keyEnding: this.key });
      this.#failing = false;
    } catch (error) {
      this.#failing = true;
      this.options.logger?.error('error exporting metrics to the database', { keyEnding: this.key, error: (error as Error).message });
    }
    if (this.#again && !this.#stopped) {
      this.#again = false;
      this.exportSoon();
    }
  }

  /** Stops exporting and (on a clean exit) removes this host's snapshot so the fleet view drops it at once. */
  async stop(options: { remove?: boolean } = { remove: true }): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    this.#timer = undefined;
    this.#soon = undefined;
    await this.#inFlight;
    if (options.remove === false) return;
    try {
      await this.options.store.deleteHostSnapshot(this.key);
    } catch (error) {
      this.options.logger?.warn('could not remove this host from the metrics in the database', { keyEnding: this.key, error: (error as Error).message });
    }
  }
}
