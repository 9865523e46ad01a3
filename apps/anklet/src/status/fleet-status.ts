import { AnkletError, ErrorCodes, type JobStore } from '@anklet/core';
import { queueNameOf } from '@anklet/github';
import { readFleet, statusView, type StatusView } from '@anklet/metrics';
import type { DatabaseConfig } from '@anklet/redis';
import { effectiveDatabase, type LoadedConfig } from '../config/load-config.js';
import { fleetReadOptionsOf } from '../host/metrics.js';

/** One queue's counts, read live from the store (the snapshots' figures can be 10 s old). */
export interface QueueStatus {
  readonly queue: string;
  readonly queued: number;
  readonly handed_off: number;
  /** Jobs waiting out their back-off after a failed attempt (not counted in `queued`). */
  readonly delayed: number;
  readonly claimed: number;
  readonly quarantined: number;
  /** Age of the oldest waiting job in whole seconds, 0 when none waits. */
  readonly oldest_queued_age_seconds: number;
  /** The newest records set aside as unreadable (at most {@link QUARANTINE_SHOWN}); only when there are some. */
  readonly recent_quarantined?: ReadonlyArray<{ readonly key: string; readonly job_id?: string | undefined; readonly reason: string; readonly at: string }>;
  /**
   * The first delayed jobs (at most {@link QUARANTINE_SHOWN}) with the reason they wait: a failed
   * attempt's back-off, or `cancel_pending: <reason>` for a job given up whose cancel GitHub has
   * not confirmed yet. Only when some job is delayed.
   */
  readonly delayed_jobs?: ReadonlyArray<{ readonly job_id: string; readonly attempts: number; readonly reason: string }>;
}

/** Quarantined records listed per queue by `anklet status`. */
export const QUARANTINE_SHOWN = 5;

/** What `anklet status --json` prints. */
export interface FleetStatus {
  readonly generated_at: string;
  /** Hosts that report; silent ones are in `stale_hosts` (see `metrics.stale_after_seconds`). */
  readonly hosts: StatusView['hosts'];
  readonly stale_hosts: StatusView['stale_hosts'];
  readonly queues: ReadonlyArray<QueueStatus>;
}

/**
 * The Redis `anklet status` reads: the aggregator's (`global_database_*` field by field, else
 * `metrics.database`), else the first plugin's. Without one there is no fleet to read: an embedded
 * store belongs to the one process that runs it.
 */
export function statusDatabaseOf(config: LoadedConfig): DatabaseConfig {
  const database = effectiveDatabase(config.raw, config.raw.metrics?.database) ?? config.plugins.find((p) => p.database)?.database;
  if (!database) {
    throw new AnkletError(ErrorCodes.CONFIG_INVALID, `${config.file} names no Redis, and anklet status reads the fleet from Redis`, {
      operator: true,
      hint: 'set global_database_url (or metrics.database.url) in the config; a host without Redis shows its status page at http://<host>:<metrics.port>/',
    });
  }
  return database;
}

/** Queues worth counting: those the hosts report, those the config's plugins use, and any asked for. */
export function queuesToCount(config: LoadedConfig, view: StatusView, extra: ReadonlyArray<string>): string[] {
  const names = new Set<string>(extra);
  for (const host of view.hosts) for (const q of host.queues) names.add(q.queue);
  for (const entry of config.plugins) {
    const name = queueNameOf(entry.block as Parameters<typeof queueNameOf>[0]);
    if (name) names.add(name);
  }
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** Reads every host's snapshot and the live counts of every known queue. */
export async function readFleetStatus(
  store: Pick<JobStore, 'listHostSnapshots' | 'stats' | 'listQuarantined' | 'list'>,
  config: LoadedConfig,
  options: { queues?: ReadonlyArray<string>; now?: Date } = {},
): Promise<FleetStatus> {
  const now = options.now ?? new Date();
  const view = statusView(await readFleet(store, undefined, { ...fleetReadOptionsOf(config), now }), now);
  const queues: QueueStatus[] = [];
  for (const queue of queuesToCount(config, view, options.queues ?? [])) {
    const s = await store.stats(queue);
    queues.push({
      queue,
      queued: s.queued,
      handed_off: s.handedOff,
      delayed: s.delayed,
      claimed: s.claimed,
      quarantined: s.quarantined,
      oldest_queued_age_seconds: Math.round(s.oldestQueuedAgeMs / 1000),
      ...(s.quarantined > 0
        ? {
            recent_quarantined: (await store.listQuarantined(queue, QUARANTINE_SHOWN)).map((n) => ({
              key: n.key,
              job_id: n.jobId,
              reason: n.reason,
              at: new Date(n.at).toISOString(),
            })),
          }
        : {}),
      ...(s.delayed > 0
        ? {
            delayed_jobs: (await store.list(queue, 'delayed', { limit: QUARANTINE_SHOWN })).map((j) => ({ job_id: j.id, attempts: j.attempts, reason: j.lastReason ?? '' })),
          }
        : {}),
    });
  }
  const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
  return { generated_at: view.generated_at, hosts: [...view.hosts].sort(byKey), stale_hosts: [...view.stale_hosts].sort(byKey), queues };
}

/** `75` → `1m15s`; `null` → `-`. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60 ? `${seconds % 60}s` : ''}`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86_400)}d${Math.floor((seconds % 86_400) / 3600)}h`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function renderTable(header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function secondsSince(time: string, now: number): number | null {
  const at = Date.parse(time);
  return Number.isNaN(at) || at <= 0 ? null : Math.max(0, Math.round((now - at) / 1000));
}

/** The terminal form: hosts, plugins, queues. */
export function renderFleetStatus(status: FleetStatus, source: string): string[] {
  const now = Date.parse(status.generated_at);
  // Stale hosts are listed after the others (marked STALE) and left out of the counts.
  const hosts = [...status.hosts, ...status.stale_hosts];
  const plugins = hosts.flatMap((h) => h.plugins.map((p) => ({ host: h.key, ...p })));
  const counted = status.hosts.reduce((n, h) => n + h.plugins.length, 0);
  const stale = status.stale_hosts.length > 0 ? ` (and ${status.stale_hosts.length} stale)` : '';
  const out = [`fleet from ${source}: ${status.hosts.length} host${status.hosts.length === 1 ? '' : 's'}${stale}, ${counted} plugin${counted === 1 ? '' : 's'}`, ''];
  if (hosts.length === 0) {
    out.push('no host has reported (hosts write their status every 10 s while anklet runs)');
  } else {
    out.push(
      ...renderTable(
        ['HOST', 'MACHINE', 'VERSION', 'UPDATED', 'VMS', 'DRAINING', 'CPU', 'MEM', 'DISK'],
        hosts.map((h) => [
          h.key,
          h.host_name || '-',
          h.version || '(go)',
          `${formatAge(h.age_seconds)} ago${h.stale ? ' STALE' : ''}`,
          h.vm_slots_total === null ? String(h.running_vms) : `${h.vm_slots_used ?? 0}/${h.vm_slots_total}`,
          h.draining ? 'yes' : 'no',
          `${Math.round(h.cpu_usage_percentage)}%`,
          `${Math.round(h.memory_usage_percentage)}%`,
          `${Math.round(h.disk_usage_percentage)}%`,
        ]),
      ),
      '',
      ...renderTable(
        ['PLUGIN', 'HOST', 'TYPE', 'OWNER/REPO', 'STATUS', 'SINCE', 'OK', 'FAILED', 'CANCELED'],
        plugins.map((p) => [
          p.name,
          p.host,
          p.plugin || '-',
          [p.owner, p.repo].filter(Boolean).join('/') || '-',
          p.status,
          formatAge(secondsSince(p.status_since, now)),
          String(p.successes),
          String(p.failures),
          String(p.canceled),
        ]),
      ),
    );
  }
  out.push('');
  if (status.queues.length === 0) out.push('no queues known (pass --queue <name> to count one)');
  else {
    out.push(
      ...renderTable(
        ['QUEUE', 'QUEUED', 'HANDED OFF', 'DELAYED', 'CLAIMED', 'QUARANTINED', 'OLDEST JOB'],
        status.queues.map((q) => [
          q.queue,
          String(q.queued),
          String(q.handed_off),
          String(q.delayed),
          String(q.claimed),
          String(q.quarantined),
          q.queued + q.handed_off === 0 ? '-' : formatAge(q.oldest_queued_age_seconds),
        ]),
      ),
    );
    const set = status.queues.flatMap((q) => (q.recent_quarantined ?? []).map((n) => [q.queue, n.key, n.reason, n.at]));
    if (set.length > 0) {
      out.push('', `quarantined records (newest first, at most ${QUARANTINE_SHOWN} per queue):`);
      out.push(...renderTable(['QUEUE', 'KEY', 'REASON', 'AT'], set));
    }
    const delayed = status.queues.flatMap((q) => (q.delayed_jobs ?? []).map((j) => [q.queue, j.job_id, String(j.attempts), j.reason]));
    if (delayed.length > 0) {
      out.push('', `delayed jobs (at most ${QUARANTINE_SHOWN} per queue; cancel_pending: given up, waiting for GitHub to confirm the cancel):`);
      out.push(...renderTable(['QUEUE', 'JOB', 'ATTEMPTS', 'REASON'], delayed));
    }
  }
  return out;
}

/** Where the fleet was read from, for people: host and port only, never a password a URL may carry. */
export function describeDatabase(database: DatabaseConfig): string {
  if (database.url.includes('://')) {
    try {
      const url = new URL(database.url);
      return `redis ${url.hostname}:${url.port || database.port || 6379}`;
    } catch {
      return 'redis (unparsable url)';
    }
  }
  return `redis ${database.url}:${database.port ?? 6379}`;
}
