import type { HostSnapshot, JobStore, Logger } from '@anklet/core';
import type { CompactFamilies } from './compact-families.js';
import { ownFamilies } from './families.js';
import { GO_ZERO_TIME, unixSeconds, type GoHostSnapshot, type GoPluginRecord, type PromFamilyJson, type SnapshotTemplate } from './go-model.js';

/** One host's snapshot, read and checked, with the key it was stored under. */
export interface FleetEntry {
  /** `<owner>/<name>` (the key after `anklet/metrics/`); the `host` label of the aggregator. */
  readonly key: string;
  readonly snapshot: GoHostSnapshot;
  /** Seconds since the host last wrote it (null: unknown); unset: judged from `last_update`. */
  readonly ageSeconds?: number | null;
  /** Silent for longer than the stale mark: shown apart and left out of sums. */
  readonly stale?: boolean;
}

/**
 * A host that has not written for this long is marked stale (default 60 s: six missed exports,
 * longer than a Redis retry cycle, so one slow write does not flag a host).
 */
export const STALE_AFTER_SECONDS = 60;
/** A host that has not written for this long is dropped from the fleet view (default 10 min). */
export const DROP_AFTER_SECONDS = 600;

/** How {@link readFleet} reads and judges the store's snapshots. */
export interface FleetReadOptions {
  /** `metrics.stale_after_seconds` (default {@link STALE_AFTER_SECONDS}). */
  readonly staleAfterSeconds?: number | undefined;
  /** `metrics.drop_after_seconds` (default {@link DROP_AFTER_SECONDS}; 0 keeps every host). */
  readonly dropAfterSeconds?: number | undefined;
  /** `metrics.include_unindexed_hosts`: also find Go hosts' snapshots with a (rate-limited) SCAN. */
  readonly includeUnindexed?: boolean | undefined;
  readonly now?: Date | undefined;
}

/** Why a stored record could not be read. */
export class BrokenSnapshotError extends Error {
  override readonly name = 'BrokenSnapshotError';
}

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

const PLUGIN_STRING_FIELDS = ['PluginName', 'RepoName', 'OwnerName', 'LastSuccessfulRunJobUrl', 'LastFailedRunJobUrl', 'LastCanceledRunJobUrl'] as const;
const PLUGIN_TIME_FIELDS = ['StatusSince', 'LastSuccessfulRun', 'LastFailedRun', 'LastCanceledRun'] as const;
const PLUGIN_COUNT_FIELDS = ['TotalRanVMs', 'TotalSuccessfulRunsSinceStart', 'TotalFailedRunsSinceStart', 'TotalCanceledRunsSinceStart'] as const;
const HOST_NUMBER_FIELDS = [
  'total_running_vms',
  'total_successful_runs_since_start',
  'total_failed_runs_since_start',
  'total_canceled_runs_since_start',
  'host_cpu_count',
  'host_cpu_used_count',
  'host_cpu_usage_percentage',
  'host_memory_total_bytes',
  'host_memory_used_bytes',
  'host_memory_available_bytes',
  'host_memory_usage_percentage',
  'host_disk_total_bytes',
  'host_disk_used_bytes',
  'host_disk_available_bytes',
  'host_disk_usage_percentage',
] as const;

/** One entry of a snapshot's `anklet.templates`, or nothing when it is not one. */
function templateOf(value: unknown): SnapshotTemplate[] {
  if (value === null || typeof value !== 'object') return [];
  const t = value as Record<string, unknown>;
  if (typeof t.uuid !== 'string' || t.uuid === '') return [];
  const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const cpu = count(t.cpu_cores);
  const ram = count(t.ram_bytes);
  return [
    {
      uuid: t.uuid,
      name: str(t.name),
      ...(typeof t.tag === 'string' && t.tag !== '' ? { tag: t.tag } : {}),
      size_bytes: count(t.size_bytes) ?? 0,
      ...(cpu !== undefined ? { cpu_cores: cpu } : {}),
      ...(ram !== undefined ? { ram_bytes: ram } : {}),
      pulling: t.pulling === true,
    },
  ];
}

/**
 * Reads one stored snapshot. It must be a JSON object whose `plugins` is a list of objects with a
 * `Name` and a `Status`; anything else it lacks takes its Go zero value, so records written by
 * older Go versions still read. Throws {@link BrokenSnapshotError} when it cannot be used at all.
 */
export function parseSnapshot(json: string): GoHostSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new BrokenSnapshotError(`not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BrokenSnapshotError('not a JSON object');
  const raw = value as Record<string, unknown>;
  if (!Array.isArray(raw.plugins)) throw new BrokenSnapshotError('"plugins" is not a list');
  const plugins = raw.plugins.map((p: unknown, i): GoPluginRecord => {
    if (p === null || typeof p !== 'object') throw new BrokenSnapshotError(`plugins[${i}] is not an object`);
    const e = p as Record<string, unknown>;
    if (typeof e.Name !== 'string' || e.Name === '') throw new BrokenSnapshotError(`plugins[${i}].Name is missing`);
    if (typeof e.Status !== 'string') throw new BrokenSnapshotError(`plugins[${i}].Status is missing`);
    const record = { Name: e.Name, Status: e.Status } as GoPluginRecord;
    for (const f of PLUGIN_STRING_FIELDS) record[f] = str(e[f]);
    for (const f of PLUGIN_TIME_FIELDS) record[f] = str(e[f], GO_ZERO_TIME);
    for (const f of PLUGIN_COUNT_FIELDS) record[f] = num(e[f]);
    return record;
  });
  const snapshot = { last_update: str(raw.last_update, GO_ZERO_TIME), plugins } as GoHostSnapshot;
  for (const f of HOST_NUMBER_FIELDS) snapshot[f] = num(raw[f]);
  if (raw.anklet !== null && typeof raw.anklet === 'object' && !Array.isArray(raw.anklet)) {
    const a = raw.anklet as Record<string, unknown>;
    snapshot.anklet = {
      version: str(a.version),
      host_name: str(a.host_name),
      vm_slots_total: num(a.vm_slots_total),
      vm_slots_used: num(a.vm_slots_used),
      draining: a.draining === true,
      ...(typeof a.host_id === 'string' && a.host_id !== '' ? { host_id: a.host_id } : {}),
      ...(typeof a.cpu_count === 'number' && a.cpu_count > 0 ? { cpu_count: a.cpu_count } : {}),
      ...(typeof a.memory_bytes === 'number' && a.memory_bytes > 0 ? { memory_bytes: a.memory_bytes } : {}),
      ...(typeof a.vm_slots_full_since === 'string' ? { vm_slots_full_since: a.vm_slots_full_since } : {}),
      ...(Array.isArray(a.templates) ? { templates: a.templates.flatMap(templateOf) } : {}),
      ...(a.families !== null && typeof a.families === 'object' ? { families: a.families as CompactFamilies } : {}),
      ...(Array.isArray(a.metrics) ? { metrics: a.metrics as PromFamilyJson[] } : {}),
    };
  }
  return snapshot;
}

/**
 * Reads the hosts' snapshots from the store's host index. A record that cannot be read is logged
 * with its key and left out: one broken host must not hide the rest of the fleet. Each entry gets
 * its age (from the store's write time, else the snapshot's `last_update`) and a stale mark; hosts
 * older than the drop time are left out.
 */
export async function readFleet(store: Pick<JobStore, 'listHostSnapshots'>, logger?: Logger, options: FleetReadOptions = {}): Promise<FleetEntry[]> {
  const staleAfter = options.staleAfterSeconds ?? STALE_AFTER_SECONDS;
  const dropAfter = options.dropAfterSeconds ?? DROP_AFTER_SECONDS;
  const stored: ReadonlyArray<HostSnapshot> = await store.listHostSnapshots({
    ...(dropAfter > 0 ? { maxAgeMs: dropAfter * 1000 } : {}),
    ...(options.includeUnindexed ? { includeUnindexed: true } : {}),
  });
  const now = (options.now ?? new Date()).getTime();
  const fleet: FleetEntry[] = [];
  for (const { key, json, updatedAt } of stored) {
    let snapshot: GoHostSnapshot;
    try {
      snapshot = parseSnapshot(json);
    } catch (error) {
      if (!(error instanceof BrokenSnapshotError)) throw error;
      logger?.warn('skipping unreadable metrics record', { key: `anklet/metrics/${key}`, error: error.message });
      continue;
    }
    const written = updatedAt ?? (unixSeconds(snapshot.last_update) ?? NaN) * 1000;
    const ageSeconds = Number.isNaN(written) ? null : Math.max(0, Math.round((now - written) / 1000));
    // The store drops indexed hosts itself; a Go host's snapshot lives 7 days, so judge it here.
    if (ageSeconds !== null && dropAfter > 0 && ageSeconds > dropAfter) continue;
    fleet.push({ key, snapshot, ageSeconds, stale: ageSeconds === null || ageSeconds > staleAfter });
  }
  return fleet;
}

/** Go writes times back as RFC3339 without fractions, keeping the offset; so do we. */
function secondsPrecision(time: string): string {
  return time.replace(/\.\d+(?=(Z|[+-]\d\d:\d\d)$)/, '');
}

/** One record of the aggregator's JSON, in the Go field order. */
export type AggregatorRecord = Record<string, string | number>;

/** The Go aggregator's records: one per plugin of every host. */
export function aggregatorRecords(fleet: ReadonlyArray<FleetEntry>): AggregatorRecord[] {
  const records: AggregatorRecord[] = [];
  for (const { snapshot: s } of fleet) {
    for (const p of s.plugins) {
      records.push({
        repo_name: p.RepoName,
        plugin_name: p.PluginName,
        custom_name: p.Name,
        owner_name: p.OwnerName,
        last_update: secondsPrecision(s.last_update),
        plugin_status: p.Status,
        plugin_last_successful_run: secondsPrecision(p.LastSuccessfulRun),
        plugin_last_failed_run: secondsPrecision(p.LastFailedRun),
        plugin_last_canceled_run: secondsPrecision(p.LastCanceledRun),
        plugin_status_since: secondsPrecision(p.StatusSince),
        plugin_total_ran_vms: p.TotalRanVMs,
        plugin_total_successful_runs_since_start: p.TotalSuccessfulRunsSinceStart,
        plugin_total_failed_runs_since_start: p.TotalFailedRunsSinceStart,
        plugin_total_canceled_runs_since_start: p.TotalCanceledRunsSinceStart,
        plugin_last_successful_run_job_url: p.LastSuccessfulRunJobUrl,
        plugin_last_failed_run_job_url: p.LastFailedRunJobUrl,
        plugin_last_canceled_run_job_url: p.LastCanceledRunJobUrl,
        host_cpu_count: s.host_cpu_count,
        host_cpu_used_count: s.host_cpu_used_count,
        host_cpu_usage_percentage: s.host_cpu_usage_percentage,
        host_memory_total_bytes: s.host_memory_total_bytes,
        host_memory_used_bytes: s.host_memory_used_bytes,
        host_memory_available_bytes: s.host_memory_available_bytes,
        host_memory_usage_percentage: s.host_memory_usage_percentage,
        host_disk_total_bytes: s.host_disk_total_bytes,
        host_disk_used_bytes: s.host_disk_used_bytes,
        host_disk_available_bytes: s.host_disk_available_bytes,
        host_disk_usage_percentage: s.host_disk_usage_percentage,
      });
    }
  }
  return records;
}

/** Go's v1 shape: an object keyed by plugin name, keys sorted; a name seen twice keeps the last. */
export function aggregatorRecordsByName(fleet: ReadonlyArray<FleetEntry>): Record<string, AggregatorRecord> {
  const byName = new Map<string, AggregatorRecord>();
  for (const record of aggregatorRecords(fleet)) byName.set(String(record.custom_name), record);
  return Object.fromEntries([...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** One host on the status page. */
export type StatusHost = StatusView['hosts'][number];

/**
 * What the status page shows; served at `/status.json`. `hosts` are the hosts that report; hosts
 * silent for longer than the stale mark are listed apart in `stale_hosts` (and left out of the
 * page's totals) until the drop time removes them.
 */
export interface StatusView {
  readonly generated_at: string;
  readonly stale_hosts: StatusView['hosts'];
  readonly hosts: ReadonlyArray<{
    key: string;
    host_name: string;
    version: string;
    last_update: string;
    age_seconds: number | null;
    stale: boolean;
    running_vms: number;
    vm_slots_used: number | null;
    vm_slots_total: number | null;
    draining: boolean;
    cpu_usage_percentage: number;
    memory_usage_percentage: number;
    disk_usage_percentage: number;
    plugins: ReadonlyArray<{
      name: string;
      plugin: string;
      owner: string;
      repo: string;
      status: string;
      status_since: string;
      last_success: string | null;
      last_success_url: string;
      last_failure: string | null;
      last_failure_url: string;
      successes: number;
      failures: number;
      canceled: number;
    }>;
    queues: ReadonlyArray<{ queue: string; depth: number; oldest_age_seconds: number }>;
  }>;
}

function queuesOf(snapshot: GoHostSnapshot): Array<{ queue: string; depth: number; oldest_age_seconds: number }> {
  const byQueue = new Map<string, { queue: string; depth: number; oldest_age_seconds: number }>();
  for (const family of ownFamilies(snapshot, {}, (name) => name === 'anklet_queue_depth' || name === 'anklet_queue_oldest_job_age_seconds')) {
    const field = family.name === 'anklet_queue_depth' ? 'depth' : family.name === 'anklet_queue_oldest_job_age_seconds' ? 'oldest_age_seconds' : undefined;
    if (!field) continue;
    for (const v of family.samples) {
      const queue = String(v.labels.queue ?? '');
      if (!queue) continue;
      const entry = byQueue.get(queue) ?? { queue, depth: 0, oldest_age_seconds: 0 };
      // Several plugins may watch one queue; they all see the same store, so take the largest.
      entry[field] = Math.max(entry[field], Number(v.value) || 0);
      byQueue.set(queue, entry);
    }
  }
  return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
}

const timeOrNull = (time: string) => (unixSeconds(time) === undefined ? null : time);

/** Builds the status page's view of a fleet (one entry for a single host). */
export function statusView(fleet: ReadonlyArray<FleetEntry>, now: Date = new Date()): StatusView {
  const hosts = fleet.map(({ key, snapshot: s, ageSeconds, stale }): StatusHost => {
    const updated = unixSeconds(s.last_update);
    const age = ageSeconds !== undefined ? ageSeconds : updated === undefined ? null : Math.max(0, Math.round(now.getTime() / 1000 - updated));
    return {
      key,
      host_name: s.anklet?.host_name ?? '',
      version: s.anklet?.version ?? '',
      last_update: s.last_update,
      age_seconds: age,
      stale: stale ?? (age === null || age > STALE_AFTER_SECONDS),
      running_vms: s.total_running_vms,
      vm_slots_used: s.anklet ? s.anklet.vm_slots_used : null,
      vm_slots_total: s.anklet ? s.anklet.vm_slots_total : null,
      draining: s.anklet?.draining ?? false,
      cpu_usage_percentage: s.host_cpu_usage_percentage,
      memory_usage_percentage: s.host_memory_usage_percentage,
      disk_usage_percentage: s.host_disk_usage_percentage,
      plugins: s.plugins.map((p) => ({
        name: p.Name,
        plugin: p.PluginName,
        owner: p.OwnerName,
        repo: p.RepoName,
        status: p.Status,
        status_since: p.StatusSince,
        last_success: timeOrNull(p.LastSuccessfulRun),
        last_success_url: p.LastSuccessfulRunJobUrl,
        last_failure: timeOrNull(p.LastFailedRun),
        last_failure_url: p.LastFailedRunJobUrl,
        successes: p.TotalSuccessfulRunsSinceStart,
        failures: p.TotalFailedRunsSinceStart,
        canceled: p.TotalCanceledRunsSinceStart,
      })),
      queues: queuesOf(s),
    };
  });
  return { generated_at: now.toISOString(), hosts: hosts.filter((h) => !h.stale), stale_hosts: hosts.filter((h) => h.stale) };
}
