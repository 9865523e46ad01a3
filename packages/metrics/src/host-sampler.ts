import { statfs } from 'node:fs/promises';
import type { OSUtils } from 'node-os-utils';
import type { Logger } from '@anklet/core';

/** The host figures of the Go JSON (CPU, memory and disk of `/`). */
export interface HostFigures {
  host_cpu_count: number;
  host_cpu_used_count: number;
  host_cpu_usage_percentage: number;
  host_memory_total_bytes: number;
  host_memory_used_bytes: number;
  host_memory_available_bytes: number;
  host_memory_usage_percentage: number;
  host_disk_total_bytes: number;
  host_disk_used_bytes: number;
  host_disk_available_bytes: number;
  host_disk_usage_percentage: number;
}

export const EMPTY_HOST_FIGURES: HostFigures = {
  host_cpu_count: 0,
  host_cpu_used_count: 0,
  host_cpu_usage_percentage: 0,
  host_memory_total_bytes: 0,
  host_memory_used_bytes: 0,
  host_memory_available_bytes: 0,
  host_memory_usage_percentage: 0,
  host_disk_total_bytes: 0,
  host_disk_used_bytes: 0,
  host_disk_available_bytes: 0,
  host_disk_usage_percentage: 0,
};

/** The longest a first sample waits for the `after` of {@link HostSampler.start}. */
const FIRST_SAMPLE_MAX_DELAY_MS = 1_000;

export interface HostSamplerOptions {
  /** Time between samples (default 5 s). */
  readonly intervalMs?: number;
  readonly logger?: Logger | undefined;
}

/**
 * Samples the host with node-os-utils in the background and keeps the last figures. Go refreshes
 * them inside every scrape; a CPU sample takes a moment and `df` can hang on a sick disk, so here a
 * scrape only reads the cache and never waits for the machine.
 */
export class HostSampler {
  #figures: HostFigures = { ...EMPTY_HOST_FIGURES };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #first: Promise<void> | undefined;
  // Loaded with the first sample, off the start path.
  #os: Promise<OSUtils> | undefined;
  readonly #intervalMs: number;
  readonly #logger: Logger | undefined;
  #failing = false;

  constructor(options: HostSamplerOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 5_000;
    this.#logger = options.logger;
  }

  /** The latest figures (zeros until the first sample completes). */
  get figures(): HostFigures {
    return this.#figures;
  }

  /**
   * Takes a first sample, then one every interval. Resolves when the first sample is in; callers
   * on a start path need not wait for it (a CPU sample measures over a moment): see {@link firstSample}.
   * `after` delays the first sample (a host starting its plugins is busy; the sample would compete).
   */
  start(after?: Promise<unknown>): Promise<void> {
    if (this.#timer) return this.#first ?? Promise.resolve();
    this.#timer = setInterval(() => void this.sample(), this.#intervalMs);
    // A sampler must never keep the process alive on its own.
    this.#timer.unref();
    if (!after) {
      this.#first = this.sample();
      return this.#first;
    }
    // At most a second late, whatever `after` does.
    this.#first = settledOrAfter(after, FIRST_SAMPLE_MAX_DELAY_MS).then(() => this.sample());
    return this.#first;
  }

  /**
   * Resolves once the first sample is in, or after `timeoutMs` (a `df` stuck on a sick disk must not
   * hold a scrape or an export), or at once when the sampler was never started. Never rejects.
   */
  firstSample(timeoutMs = 2_000): Promise<void> {
    return this.#first ? settledOrAfter(this.#first, timeoutMs) : Promise.resolve();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample now. A sample still running is joined rather than doubled. */
  sample(): Promise<void> {
    this.#running ??= this.#take().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #take(): Promise<void> {
    const diskOfRoot = async () => {
      try {
        const fs = await statfs('/');
        return { total: fs.blocks * fs.bsize, used: (fs.blocks - fs.bfree) * fs.bsize, available: fs.bavail * fs.bsize };
      } catch {
        return undefined;
      }
    };
    try {
      this.#os ??= import('node-os-utils').then(({ OSUtils }) => new OSUtils());
      const utils = await this.#os;
      const [cpuCount, cpuUsage, memory, disk] = await Promise.all([
        utils.cpu.coreCount(),
        utils.cpu.usage(),
        utils.memory.info(),
        // statfs, not node-os-utils' `df`: a child process would inherit anklet's environment.
        diskOfRoot(),
      ]);
      const next = { ...this.#figures };
      if (cpuCount.success) next.host_cpu_count = cpuCount.data.physical || cpuCount.data.logical;
      if (cpuUsage.success) {
        next.host_cpu_usage_percentage = round2(cpuUsage.data);
        next.host_cpu_used_count = Math.trunc((next.host_cpu_count * cpuUsage.data) / 100);
      }
      if (memory.success) {
        const total = memory.data.total.bytes;
        const available = memory.data.available.bytes;
        next.host_memory_total_bytes = total;
        next.host_memory_available_bytes = available;
        next.host_memory_used_bytes = Math.max(0, total - available);
        next.host_memory_usage_percentage = total > 0 ? round2(((total - available) / total) * 100) : 0;
      }
      if (disk) {
        const { used, available } = disk;
        next.host_disk_total_bytes = disk.total;
        next.host_disk_used_bytes = used;
        next.host_disk_available_bytes = available;
        // Go's rule: used / (used + available), so space reserved for root does not count as free.
        next.host_disk_usage_percentage = used + available > 0 ? round2((used / (used + available)) * 100) : 0;
      }
      this.#figures = next;
      if (this.#failing) this.#logger?.info('host metrics sampling recovered');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) this.#logger?.warn('host metrics sampling failed; serving the last figures', { error: (error as Error).message });
      this.#failing = true;
    }
  }
}

/** Resolves when `work` settles (however) or after `ms`, whichever comes first; the timer never holds the process. */
function settledOrAfter(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  const settled = work.then(
    () => undefined,
    () => undefined,
  );
  return Promise.race([settled, limit]).finally(() => clearTimeout(timer));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
