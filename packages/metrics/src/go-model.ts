import type { CompactFamilies } from './compact-families.js';
import type { HostFigures } from './host-sampler.js';

/**
 * The Go anklet's metrics JSON. Every host exports this shape to the store and the aggregator reads
 * it back, so the field names (snake_case for the host, PascalCase for plugins: the Go structs have
 * no JSON tags) must stay exactly as they are for Go and TypeScript hosts to share one fleet.
 */

/** Go's zero `time.Time`, which is what an unset time looks like in the JSON. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** One plugin's entry in {@link GoHostSnapshot.plugins}. Times are RFC3339 strings. */
export interface GoPluginRecord {
  Name: string;
  PluginName: string;
  RepoName: string;
  OwnerName: string;
  Status: string;
  StatusSince: string;
  LastSuccessfulRun: string;
  LastFailedRun: string;
  LastCanceledRun: string;
  LastSuccessfulRunJobUrl: string;
  LastFailedRunJobUrl: string;
  LastCanceledRunJobUrl: string;
  TotalRanVMs: number;
  TotalSuccessfulRunsSinceStart: number;
  TotalFailedRunsSinceStart: number;
  TotalCanceledRunsSinceStart: number;
}

/** What a TypeScript host adds under the `anklet` key; Go readers ignore it. */
export interface AnkletSnapshotExtension {
  version: string;
  host_name: string;
  vm_slots_total: number;
  vm_slots_used: number;
  draining: boolean;
  /**
   * The host identity (stable for one machine and work dir): handlers' lease owners end in
   * `@<host_id>`, so a job's timeline can be matched to the host that claimed it. Absent from
   * hosts older than it.
   */
  host_id?: string;
  /**
   * CPU cores and memory anklet sizes VMs against on this host (what admission compares a
   * template's needs with); absent from hosts older than them and on hosts without handlers.
   */
  cpu_count?: number;
  memory_bytes?: number;
  /** Since when every VM slot is taken (RFC3339), while they all are; absent otherwise. */
  vm_slots_full_since?: string;
  /** The Anka templates on the host as its handlers know them (absent on hosts without handlers). */
  templates?: SnapshotTemplate[];
  /** The host's own counters, gauges and histograms, compact (see {@link CompactFamilies}). */
  families?: CompactFamilies;
  /**
   * The same as prom-client's JSON, as hosts before the compact form wrote it (about 1.4 KB per
   * histogram series). Read for those hosts; never written.
   */
  metrics?: PromFamilyJson[];
}

/** One template in {@link AnkletSnapshotExtension.templates}. */
export interface SnapshotTemplate {
  uuid: string;
  name: string;
  /** The tag on the host, when known. */
  tag?: string;
  /** Size of the template on disk (what a pull of it costs), 0 when unknown. */
  size_bytes: number;
  /** CPU cores and RAM a VM cloned from it gets, once known. */
  cpu_cores?: number;
  ram_bytes?: number;
  /** True while it is being pulled. */
  pulling: boolean;
}

/** One metric family as prom-client's `getMetricsAsJSON()` returns it. */
export interface PromFamilyJson {
  name: string;
  help: string;
  type: string;
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}

/** One host's metrics: the Go in-memory model, and the value stored at `anklet/metrics/<owner>/<name>`. */
export interface GoHostSnapshot extends HostFigures {
  last_update: string;
  total_running_vms: number;
  total_successful_runs_since_start: number;
  total_failed_runs_since_start: number;
  total_canceled_runs_since_start: number;
  plugins: GoPluginRecord[];
  anklet?: AnkletSnapshotExtension;
}

/** Go's JSON encoder sorts map keys, and the Go export goes through a map: sort ours the same way. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out as T;
}

/** Unix seconds of an RFC3339 time, or undefined for Go's zero time and anything unparseable. */
export function unixSeconds(time: string): number | undefined {
  if (!time || time.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}
