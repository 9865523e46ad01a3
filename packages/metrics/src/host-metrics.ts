import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger, MetricLabels, PluginKind, PluginMetrics, PluginStatus, RunOutcome } from '@anklet/core';
import { COUNTERS, GAUGES, HISTOGRAMS, type FamilySpec } from './catalogue.js';
import { compactFamilies } from './compact-families.js';
import { renderExposition } from './exposition.js';
import { familiesFromSnapshot, SNAPSHOT_FAMILY_NAMES } from './families.js';
import { GO_ZERO_TIME, sortKeys, type GoHostSnapshot, type GoPluginRecord, type PromFamilyJson, type SnapshotTemplate } from './go-model.js';
import { EMPTY_HOST_FIGURES, type HostFigures } from './host-sampler.js';

/** What the host knows about one plugin instance when it registers it. */
export interface PluginMeta {
  /** Instance name (`plugins[].name`). */
  readonly name: string;
  /** The `plugin:` value (short id or package name). */
  readonly plugin: string;
  /** `owner`, else `enterprise` (Go's metrics owner). */
  readonly owner: string;
  readonly repo: string;
  readonly kind?: PluginKind | undefined;
}

/** Live host state the registry reads when it builds a snapshot. */
export interface HostState {
  readonly vmSlotsTotal: number;
  readonly vmSlotsUsed: number;
  readonly draining: boolean;
  /** The host identity (see {@link AnkletSnapshotExtension.host_id}). */
  readonly hostId?: string | undefined;
  /** CPU cores and memory VMs are sized against (see {@link AnkletSnapshotExtension.cpu_count}). */
  readonly cpuCount?: number | undefined;
  readonly memoryBytes?: number | undefined;
  /** The Anka templates on the host (see {@link AnkletSnapshotExtension.templates}). */
  readonly templates?: ReadonlyArray<SnapshotTemplate> | undefined;
}

export interface HostMetricsOptions {
  readonly version?: string;
  readonly hostName?: string;
  readonly logger?: Logger | undefined;
  /** The latest host figures (a {@link HostSampler}'s `figures`). */
  readonly figures?: () => HostFigures;
  readonly hostState?: () => HostState;
}

type Kind = 'counter' | 'gauge' | 'histogram';
type Instrument = { kind: Kind; labels: ReadonlySet<string>; metric: Counter | Gauge | Histogram };

const NAME = /^[a-z_][a-z0-9_]*$/;
/** Label values are cut here: a long value is a sign of an id or URL slipping into a label. */
const MAX_LABEL_VALUE = 128;

/**
 * One host's metrics: the Go per-plugin and per-host fields (kept for the JSON and the store), and
 * a prom-client registry for the counters, gauges and histograms plugins report. Plugins get a
 * {@link PluginMetrics} handle from {@link HostMetrics.forPlugin}; every call on it is cheap and never
 * throws, because metrics must not be able to break a job.
 */
export class HostMetrics {
  readonly registry = new Registry();
  readonly #records = new Map<string, GoPluginRecord>();
  readonly #instruments = new Map<string, Instrument>();
  readonly #warned = new Set<string>();
  readonly #options: HostMetricsOptions;
  readonly #totals = { running: 0, success: 0, failure: 0, canceled: 0 };
  #figures: (() => HostFigures) | undefined;
  #changeListeners: Array<() => void> = [];
  /** When every VM slot became taken (ms), while they all are. */
  #slotsFullSince: number | undefined;

  constructor(options: HostMetricsOptions = {}) {
    this.#options = options;
    this.#figures = options.figures;
    for (const [name, spec] of Object.entries(COUNTERS)) this.#declare('counter', name, spec);
    for (const [name, spec] of Object.entries(GAUGES)) this.#declare('gauge', name, spec);
    for (const [name, spec] of Object.entries(HISTOGRAMS)) this.#declare('histogram', name, spec);
  }

  /** Sets where host figures come from (the sampler, once it exists). */
  useFigures(figures: () => HostFigures): void {
    this.#figures = figures;
  }

  /**
   * Calls `listener` when what a status view shows changes: a plugin's status, a finished run, a VM
   * started or stopped. The exporter uses it to write the snapshot soon after a job ends instead of
   * at the next 10 s tick (else `anklet status` showed a handler in progress after its job ended).
   * Returns the function that removes the listener.
   */
  onChange(listener: () => void): () => void {
    this.#changeListeners.push(listener);
    return () => {
      this.#changeListeners = this.#changeListeners.filter((l) => l !== listener);
    };
  }

  #changed(): void {
    for (const listener of this.#changeListeners) listener();
  }

  /** Plugin names in registration order. */
  get pluginNames(): string[] {
    return [...this.#records.keys()];
  }

  /** The status a plugin reports now (undefined for an unknown name). */
  statusOf(name: string): string | undefined {
    return this.#records.get(name)?.Status;
  }

  /** Registers a plugin with status `idle` (a second call with the same name keeps the first, as in Go) and returns its handle. */
  forPlugin(meta: PluginMeta): PluginMetrics {
    let record = this.#records.get(meta.name);
    if (!record) {
      record = {
        Name: meta.name,
        PluginName: meta.plugin,
        RepoName: meta.repo,
        OwnerName: meta.owner,
        Status: 'idle',
        StatusSince: new Date().toISOString(),
        LastSuccessfulRun: GO_ZERO_TIME,
        LastFailedRun: GO_ZERO_TIME,
        LastCanceledRun: GO_ZERO_TIME,
        LastSuccessfulRunJobUrl: '',
        LastFailedRunJobUrl: '',
        LastCanceledRunJobUrl: '',
        TotalRanVMs: 0,
        TotalSuccessfulRunsSinceStart: 0,
        TotalFailedRunsSinceStart: 0,
        TotalCanceledRunsSinceStart: 0,
      };
      this.#records.set(meta.name, record);
    }
    const r = record;
    const guard =
      <A extends unknown[]>(what: string, fn: (...args: A) => void) =>
      (...args: A): void => {
        try {
          fn(...args);
        } catch (error) {
          this.#warnOnce(`${meta.name}:${what}`, 'metrics call ignored', { plugin: meta.name, call: what, error: (error as Error).message });
        }
      };
    return {
      setStatus: guard('setStatus', (status: PluginStatus) => {
        // Repeating a status keeps its start time: `status_since` tells how long it has lasted.
        if (r.Status === status) return;
        r.Status = status;
        r.StatusSince = new Date().toISOString();
        this.#changed();
      }),
      recordRun: guard('recordRun', (outcome: RunOutcome, jobUrl = '') => {
        const now = new Date().toISOString();
        if (outcome === 'success') {
          this.#totals.success += 1;
          r.TotalSuccessfulRunsSinceStart += 1;
          r.LastSuccessfulRun = now;
          r.LastSuccessfulRunJobUrl = jobUrl;
        } else if (outcome === 'failure') {
          this.#totals.failure += 1;
          r.TotalFailedRunsSinceStart += 1;
          r.LastFailedRun = now;
          r.LastFailedRunJobUrl = jobUrl;
        } else {
          this.#totals.canceled += 1;
          r.TotalCanceledRunsSinceStart += 1;
          r.LastCanceledRun = now;
          r.LastCanceledRunJobUrl = jobUrl;
        }
        this.#changed();
      }),
      vmStarted: guard('vmStarted', () => {
        this.#totals.running += 1;
        r.TotalRanVMs += 1;
        this.#changed();
      }),
      vmStopped: guard('vmStopped', () => {
        this.#totals.running = Math.max(0, this.#totals.running - 1);
        this.#changed();
      }),
      count: guard('count', (name: string, labels?: MetricLabels, by = 1) => {
        const found = this.#instrument('counter', name.replace(/_total$/, ''), labels, meta.plugin);
        if (found && by >= 0) (found.metric as Counter).inc(this.#labels(found, meta.name, labels), by);
      }),
      gauge: guard('gauge', (name: string, value: number, labels?: MetricLabels) => {
        const found = this.#instrument('gauge', name, labels, meta.plugin);
        if (found) (found.metric as Gauge).set(this.#labels(found, meta.name, labels), value);
      }),
      observe: guard('observe', (name: string, value: number, labels?: MetricLabels) => {
        const found = this.#instrument('histogram', name, labels, meta.plugin);
        if (found && Number.isFinite(value)) (found.metric as Histogram).observe(this.#labels(found, meta.name, labels), value);
      }),
    };
  }

  /** The Go JSON of this host (keys sorted as the Go export writes them), plus the `anklet` extension. */
  async snapshot(now: Date = new Date()): Promise<GoHostSnapshot> {
    const figures = this.#figures?.() ?? EMPTY_HOST_FIGURES;
    const state = this.#options.hostState?.();
    const metrics = (await this.registry.getMetricsAsJSON()) as unknown as PromFamilyJson[];
    // Judged at each snapshot (every few seconds): close enough for "busy for 3m".
    const full = state !== undefined && state.vmSlotsTotal > 0 && state.vmSlotsUsed >= state.vmSlotsTotal;
    this.#slotsFullSince = full ? (this.#slotsFullSince ?? now.getTime()) : undefined;
    const snapshot: GoHostSnapshot = {
      last_update: now.toISOString(),
      total_running_vms: this.#totals.running,
      total_successful_runs_since_start: this.#totals.success,
      total_failed_runs_since_start: this.#totals.failure,
      total_canceled_runs_since_start: this.#totals.canceled,
      ...figures,
      plugins: [...this.#records.values()].map((r) => ({ ...r })),
      anklet: {
        version: this.#options.version ?? '0.0.0',
        host_name: this.#options.hostName ?? '',
        vm_slots_total: state?.vmSlotsTotal ?? 0,
        vm_slots_used: state?.vmSlotsUsed ?? 0,
        draining: state?.draining ?? false,
        ...(state?.hostId ? { host_id: state.hostId } : {}),
        ...(state?.cpuCount !== undefined ? { cpu_count: state.cpuCount } : {}),
        ...(state?.memoryBytes !== undefined ? { memory_bytes: state.memoryBytes } : {}),
        ...(this.#slotsFullSince !== undefined ? { vm_slots_full_since: new Date(this.#slotsFullSince).toISOString() } : {}),
        ...(state?.templates ? { templates: state.templates.map((t) => ({ ...t })) } : {}),
        families: compactFamilies(metrics),
      },
    };
    return sortKeys(snapshot);
  }

  /** This host in the Prometheus text format. */
  async prometheus(): Promise<string> {
    return renderExposition(familiesFromSnapshot(await this.snapshot()));
  }

  #declare(kind: Kind, name: string, spec: FamilySpec): Instrument {
    const labelNames = ['plugin', ...spec.labels];
    const full = `anklet_${name}${kind === 'counter' ? '_total' : ''}`;
    const config = { name: full, help: spec.help, labelNames, registers: [this.registry] };
    const metric =
      kind === 'counter'
        ? new Counter(config)
        : kind === 'gauge'
          ? new Gauge(config)
          : new Histogram({ ...config, buckets: [...(spec.buckets ?? [0.1, 1, 10, 60, 600, 3600])] });
    const instrument = { kind, labels: new Set(labelNames), metric };
    this.#instruments.set(name, instrument);
    return instrument;
  }

  /**
   * Finds a family. A name the catalogue lacks (a third-party plugin's own) is declared at its first
   * use, with the label names of that use and a help text that says so; first-party code reports
   * catalogued names only (test/catalogue.test.ts).
   */
  #instrument(kind: Kind, name: string, labels: MetricLabels | undefined, plugin: string): Instrument | undefined {
    const existing = this.#instruments.get(name);
    if (existing) {
      if (existing.kind === kind) return existing;
      this.#warnOnce(`kind:${name}`, 'metric used as another type; ignored', { metric: name, declared: existing.kind, used: kind });
      return undefined;
    }
    const full = `anklet_${name}${kind === 'counter' ? '_total' : ''}`;
    const labelNames = Object.keys(labels ?? {}).filter((l) => l !== 'plugin');
    if (!NAME.test(name) || SNAPSHOT_FAMILY_NAMES.has(full) || labelNames.some((l) => !NAME.test(l) || l.startsWith('__'))) {
      this.#warnOnce(`name:${name}`, 'invalid metric name or label; ignored', { metric: name });
      return undefined;
    }
    this.#options.logger?.info('serving a metric that is not in anklet\'s catalogue', { metric: full, plugin });
    return this.#declare(kind, name, { help: `${full}: a ${kind} of the plugin that first reported it (${plugin}); not in anklet's metric catalogue.`, labels: labelNames });
  }

  #labels(instrument: Instrument, plugin: string, labels: MetricLabels | undefined): Record<string, string> {
    const out: Record<string, string> = { plugin };
    for (const [key, value] of Object.entries(labels ?? {})) {
      if (key === 'plugin') continue;
      if (!instrument.labels.has(key)) {
        // An undeclared label would change the family's shape; dropping it keeps the series bounded.
        this.#warnOnce(`label:${key}`, 'undeclared metric label dropped', { label: key });
        continue;
      }
      out[key] = String(value).slice(0, MAX_LABEL_VALUE);
    }
    return out;
  }

  #warnOnce(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#options.logger?.warn(message, fields);
  }
}
