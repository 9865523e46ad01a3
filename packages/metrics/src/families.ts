import type { PluginStatus } from '@anklet/core';
import { familiesFromCompact, type FamilyFilter } from './compact-families.js';
import { familiesFromPromJson, type Family, type Labels, type Sample } from './exposition.js';
import { unixSeconds, type GoHostSnapshot } from './go-model.js';

/** Every status value, so `anklet_plugin_status` has one 0/1 series per value as Prometheus expects. */
export const PLUGIN_STATUSES: ReadonlyArray<PluginStatus> = [
  'idle',
  'running',
  'in_progress',
  'pulling',
  'paused',
  'limit_paused',
  'auth_failed',
  'config_failed',
  'draining',
  'name_taken',
  'stopped',
  'failed',
];

/** Names of the families derived from the Go fields; a host's own registry never repeats them. */
export const SNAPSHOT_FAMILY_NAMES = new Set<string>();

function family(name: string, type: Family['type'], help: string): Family {
  SNAPSHOT_FAMILY_NAMES.add(name);
  return { name, type, help, samples: [] };
}

/** A ratio 0..1 from Go's percentage, which is what Prometheus naming asks for. */
const ratio = (percentage: number) => (Number.isFinite(percentage) ? percentage / 100 : 0);

/**
 * The Prometheus families of one host, built from its Go JSON. The aggregator uses the same function
 * for every host in the store (Go hosts included), adding a `host` label; the per-host endpoint calls
 * it with no extra label. Job URLs stay out: they are unbounded and live in the JSON only.
 */
export function familiesFromSnapshot(snapshot: GoHostSnapshot, extra: Labels = {}, only?: FamilyFilter): Family[] {
  const f = {
    info: family('anklet_plugin_info', 'gauge', 'Plugin instances of this host (always 1), with their type, owner and repository.'),
    status: family('anklet_plugin_status', 'gauge', 'Current status of a plugin instance (1 for the current status, 0 otherwise).'),
    since: family('anklet_plugin_status_since_timestamp_seconds', 'gauge', 'Unix time when the plugin entered its current status.'),
    lastRun: family('anklet_plugin_last_run_timestamp_seconds', 'gauge', 'Unix time of the last finished job of a plugin, by conclusion.'),
    completed: family('anklet_jobs_completed_total', 'counter', 'Jobs finished since the host started, by conclusion.'),
    vms: family('anklet_vms_started_total', 'counter', 'VMs started since the host started.'),
    running: family('anklet_running_vms', 'gauge', 'VMs running on the host now.'),
    cpuCount: family('anklet_host_cpu_cores', 'gauge', 'CPU cores of the host.'),
    cpuRatio: family('anklet_host_cpu_usage_ratio', 'gauge', 'Host CPU busy time since the previous sample (0 to 1).'),
    memTotal: family('anklet_host_memory_total_bytes', 'gauge', 'Host memory.'),
    memUsed: family('anklet_host_memory_used_bytes', 'gauge', 'Host memory in use.'),
    memAvail: family('anklet_host_memory_available_bytes', 'gauge', 'Host memory available.'),
    memRatio: family('anklet_host_memory_usage_ratio', 'gauge', 'Host memory in use (0 to 1).'),
    diskTotal: family('anklet_host_disk_total_bytes', 'gauge', 'Size of the host root file system.'),
    diskUsed: family('anklet_host_disk_used_bytes', 'gauge', 'Space used on the host root file system.'),
    diskAvail: family('anklet_host_disk_available_bytes', 'gauge', 'Space available to unprivileged users on the host root file system.'),
    diskRatio: family('anklet_host_disk_usage_ratio', 'gauge', 'Space used on the host root file system (0 to 1).'),
    slotsTotal: family('anklet_vm_slots_capacity', 'gauge', 'VM slots of the host (Apple allows two macOS guests).'),
    slotsUsed: family('anklet_vm_slots_used', 'gauge', 'VM slots in use.'),
    draining: family('anklet_draining', 'gauge', '1 while the host is draining (takes no new jobs), else 0.'),
    build: family('anklet_build_info', 'gauge', 'anklet version of the host (always 1).'),
    updated: family('anklet_last_update_timestamp_seconds', 'gauge', 'Unix time of the metrics snapshot; alert when it falls behind.'),
  };
  const add = (target: Family, labels: Labels, value: number | undefined) => {
    if (value === undefined || typeof value !== 'number' || Number.isNaN(value)) return;
    (target.samples as Sample[]).push({ labels: { ...labels, ...extra }, value });
  };

  for (const p of snapshot.plugins) {
    const plugin = { plugin: p.Name };
    add(f.info, { ...plugin, plugin_type: p.PluginName, owner: p.OwnerName, repo: p.RepoName }, 1);
    const statuses = PLUGIN_STATUSES.includes(p.Status as PluginStatus) ? PLUGIN_STATUSES : [...PLUGIN_STATUSES, p.Status];
    for (const status of statuses) add(f.status, { ...plugin, status }, status === p.Status ? 1 : 0);
    add(f.since, plugin, unixSeconds(p.StatusSince));
    add(f.lastRun, { ...plugin, conclusion: 'success' }, unixSeconds(p.LastSuccessfulRun));
    add(f.lastRun, { ...plugin, conclusion: 'failure' }, unixSeconds(p.LastFailedRun));
    add(f.lastRun, { ...plugin, conclusion: 'canceled' }, unixSeconds(p.LastCanceledRun));
    add(f.completed, { ...plugin, conclusion: 'success' }, p.TotalSuccessfulRunsSinceStart);
    add(f.completed, { ...plugin, conclusion: 'failure' }, p.TotalFailedRunsSinceStart);
    add(f.completed, { ...plugin, conclusion: 'canceled' }, p.TotalCanceledRunsSinceStart);
    add(f.vms, plugin, p.TotalRanVMs);
  }
  const s = snapshot;
  add(f.running, {}, s.total_running_vms);
  add(f.cpuCount, {}, s.host_cpu_count);
  add(f.cpuRatio, {}, ratio(s.host_cpu_usage_percentage));
  add(f.memTotal, {}, s.host_memory_total_bytes);
  add(f.memUsed, {}, s.host_memory_used_bytes);
  add(f.memAvail, {}, s.host_memory_available_bytes);
  add(f.memRatio, {}, ratio(s.host_memory_usage_percentage));
  add(f.diskTotal, {}, s.host_disk_total_bytes);
  add(f.diskUsed, {}, s.host_disk_used_bytes);
  add(f.diskAvail, {}, s.host_disk_available_bytes);
  add(f.diskRatio, {}, ratio(s.host_disk_usage_percentage));
  add(f.updated, {}, unixSeconds(s.last_update));
  const ext = s.anklet;
  if (ext) {
    add(f.slotsTotal, {}, ext.vm_slots_total);
    add(f.slotsUsed, {}, ext.vm_slots_used);
    add(f.draining, {}, ext.draining ? 1 : 0);
    if (typeof ext.version === 'string') add(f.build, { version: ext.version }, 1);
  }
  const families = Object.values(f).filter((x) => x.samples.length > 0);
  return [...families, ...ownFamilies(snapshot, extra, only)];
}

/**
 * The aggregator's view of a stale host: only when it last reported and whether it is stale, so
 * fleet sums (`sum by (...)`) leave out figures that may be minutes old, while an alert on
 * `anklet_host_stale == 1` or on the update time still fires.
 */
export function staleHostFamilies(snapshot: GoHostSnapshot, stale: boolean, extra: Labels): Family[] {
  const flag = family('anklet_host_stale', 'gauge', '1 while the aggregator has not heard from the host for longer than metrics.stale_after_seconds, else 0.');
  flag.samples.push({ labels: { ...extra }, value: stale ? 1 : 0 });
  if (!stale) return [flag];
  const updated = family('anklet_last_update_timestamp_seconds', 'gauge', 'Unix time of the metrics snapshot; alert when it falls behind.');
  const at = unixSeconds(snapshot.last_update);
  if (at !== undefined) updated.samples.push({ labels: { ...extra }, value: at });
  return [updated, flag];
}

/**
 * The host's own registry (counters, gauges, histograms from plugins), from the compact form or,
 * for hosts older than it, prom-client's JSON; minus anything that would repeat a Go-field family.
 */
export function ownFamilies(snapshot: GoHostSnapshot, extra: Labels = {}, only?: FamilyFilter): Family[] {
  const ext = snapshot.anklet;
  const own = ext?.families ? familiesFromCompact(ext.families, extra, only) : familiesFromPromJson(ext?.metrics, extra);
  return own.filter((x) => !SNAPSHOT_FAMILY_NAMES.has(x.name) && (!only || only(x.name, x.type)));
}
