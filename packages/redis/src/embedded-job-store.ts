import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AnkletError,
  ErrorCodes,
  type ClaimRequest,
  type EnqueueResult,
  type HostSnapshot,
  type HostSnapshotListOptions,
  type JobEvent,
  type JobLease,
  type JobPhase,
  type JobState,
  type JobStore,
  type LeaderLease,
  type Logger,
  type NewJob,
  type QuarantinedRecord,
  type QueueStats,
  type ReapOptions,
  type ReapResult,
  type RequeueOptions,
  type StoredJob,
} from '@anklet/core';
import { metricsKeyEnding } from './keys.js';
import { Waker } from './wake.js';

/** Options for {@link createEmbeddedJobStore}. */
export interface EmbeddedJobStoreOptions {
  /** Directory the store persists to (the work dir); created when missing. One process per directory. */
  readonly dir: string;
  readonly logger?: Logger | undefined;
  /** How long a finished job id is remembered (default 7 days). */
  readonly finishedTtlMs?: number | undefined;
  /** How long a delivery id is remembered (default 7 days). */
  readonly deliveryTtlMs?: number | undefined;
}

interface JobRecord {
  id: string;
  queue: string;
  payload: unknown;
  attempts: number;
  phase: JobPhase;
  state: JobState;
  enqueuedAt: number;
  token: number;
  owner?: string | undefined;
  leaseUntil?: number | undefined;
  vmName?: string | undefined;
  runnerId?: string | undefined;
  repositoryOwner?: string | undefined;
  template?: string | undefined;
  handedOffBy?: string | undefined;
  lastReason?: string | undefined;
  notBefore?: number | undefined;
  events: Record<string, JobEvent>;
}

interface QueueState {
  /** Job ids, head first. */
  queued: string[];
  handoff: string[];
  /** Job ids requeued with a delay (`notBefore` on the record), in no particular order. */
  delayed: string[];
  jobs: Map<string, JobRecord>;
  /** Finished job id -> tombstone expiry. */
  done: Map<string, number>;
  /** Delivery id -> expiry. */
  deliveries: Map<string, number>;
  quarantine: QuarantinedRecord[];
}

interface Snapshot {
  version: 1;
  queues: Record<string, { queued: string[]; handoff: string[]; delayed?: string[]; jobs: unknown[]; done: [string, number][]; deliveries: [string, number][]; quarantine: QuarantinedRecord[] }>;
  leaders: [string, { owner: string; token: number; until: number }][];
  fences: [string, number][];
}

const FILE = 'job-store.json';
const DAY_MS = 24 * 60 * 60 * 1000;
const CLAIM_SCAN_LIMIT = 1000;

function emptyQueue(): QueueState {
  return { queued: [], handoff: [], delayed: [], jobs: new Map(), done: new Map(), deliveries: new Map(), quarantine: [] };
}

function toStoredJob<P>(record: JobRecord): StoredJob<P> {
  return {
    id: record.id,
    queue: record.queue,
    payload: structuredClone(record.payload) as P,
    attempts: record.attempts,
    phase: record.phase,
    enqueuedAt: record.enqueuedAt,
    owner: record.owner,
    leaseExpiresAt: record.leaseUntil,
    vmName: record.vmName,
    runnerId: record.runnerId,
    repositoryOwner: record.repositoryOwner,
    template: record.template,
    handedOffBy: record.handedOffBy,
    lastReason: record.lastReason,
    notBefore: record.notBefore,
    events: { ...record.events },
  };
}

/**
 * The embedded job store: the same contract as the Redis store, in process, for a single host that
 * runs its receiver and handlers in one process. Every change is written to `<dir>/job-store.json`
 * (write to a temporary file, fsync, rename) before the call resolves, so a restart loses nothing;
 * writes that happen together share one file write.
 */
export class EmbeddedJobStore implements JobStore {
  private readonly queues = new Map<string, QueueState>();
  private readonly leaders = new Map<string, { owner: string; token: number; until: number }>();
  private readonly fences = new Map<string, number>();
  /**
   * Metrics snapshots, by key. Kept in memory only: one is rewritten every 10 seconds while its host
   * runs, and nothing outside this process could read the embedded store anyway.
   */
  private readonly snapshots = new Map<string, { json: string; until: number; at: number }>();
  private readonly file: string;
  private readonly logger: Logger | undefined;
  private readonly waker: Waker;
  private readonly finishedTtlMs: number;
  private readonly deliveryTtlMs: number;
  private writing: Promise<void> | undefined;
  private queuedWrite: Promise<void> | undefined;
  private closed = false;

  /** True after {@link EmbeddedJobStore.close}. */
  get isClosed(): boolean {
    return this.closed;
  }

  constructor(options: EmbeddedJobStoreOptions) {
    mkdirSync(options.dir, { recursive: true });
    this.file = join(options.dir, FILE);
    this.logger = options.logger;
    this.finishedTtlMs = options.finishedTtlMs ?? 7 * DAY_MS;
    this.deliveryTtlMs = options.deliveryTtlMs ?? 7 * DAY_MS;
    this.waker = new Waker(undefined, this.logger);
    this.load();
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return;
    }
    let snapshot: Snapshot;
    try {
      snapshot = JSON.parse(text) as Snapshot;
      if (snapshot.version !== 1 || typeof snapshot.queues !== 'object') throw new Error('unknown format');
    } catch (error) {
      // Keep the unreadable file for a person to look at; never crash the host on it.
      const aside = `${this.file}.corrupt-${Date.now()}`;
      renameSync(this.file, aside);
      this.logger?.error('embedded job store file unreadable; moved aside, starting empty', { key: this.file, movedTo: aside, reason: (error as Error).message });
      return;
    }
    for (const [name, q] of Object.entries(snapshot.queues)) {
      const state = emptyQueue();
      state.done = new Map(q.done);
      state.deliveries = new Map(q.deliveries);
      state.quarantine = q.quarantine ?? [];
      for (const raw of q.jobs) {
        const record = raw as Partial<JobRecord> | null;
        if (!record || typeof record !== 'object' || typeof record.id !== 'string' || record.id === '') {
          const note = { key: `${this.file}#${name}`, reason: 'job record missing or without id', at: Date.now() };
          state.quarantine.unshift(note);
          this.logger?.error('malformed job record quarantined', { key: note.key, reason: note.reason });
          continue;
        }
        state.jobs.set(record.id, record as JobRecord);
      }
      const known = (id: string): boolean => {
        if (state.jobs.has(id)) return true;
        const note = { key: `${this.file}#${name}/${id}`, jobId: id, reason: 'job record missing', at: Date.now() };
        state.quarantine.unshift(note);
        this.logger?.error('malformed job record quarantined', { key: note.key, reason: note.reason });
        return false;
      };
      state.queued = q.queued.filter(known);
      state.handoff = q.handoff.filter(known);
      state.delayed = (q.delayed ?? []).filter(known);
      this.queues.set(name, state);
    }
    for (const [name, lease] of snapshot.leaders ?? []) this.leaders.set(name, lease);
    for (const [name, fence] of snapshot.fences ?? []) this.fences.set(name, fence);
  }

  private snapshot(): Snapshot {
    const now = Date.now();
    const queues: Snapshot['queues'] = {};
    for (const [name, q] of this.queues) {
      // Expired tombstones and delivery ids are dropped here, the one place that walks them.
      for (const [id, until] of q.done) if (until <= now) q.done.delete(id);
      for (const [id, until] of q.deliveries) if (until <= now) q.deliveries.delete(id);
      queues[name] = { queued: q.queued, handoff: q.handoff, delayed: q.delayed, jobs: [...q.jobs.values()], done: [...q.done], deliveries: [...q.deliveries], quarantine: q.quarantine };
    }
    return { version: 1, queues, leaders: [...this.leaders], fences: [...this.fences] };
  }

  private async writeSnapshot(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(this.snapshot()));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.file);
  }

  /**
   * Resolves once the state as it is now is on disk. Calls that arrive while a write runs share
   * the next write (group commit).
   */
  private persist(): Promise<void> {
    if (this.queuedWrite) return this.queuedWrite;
    const previous = this.writing ?? Promise.resolve();
    const next: Promise<void> = previous
      .catch(() => undefined)
      .then(() => {
        this.queuedWrite = undefined;
        this.writing = next;
        return this.writeSnapshot();
      })
      .catch((error: unknown) => {
        throw new AnkletError(ErrorCodes.STORE_UNAVAILABLE, `embedded job store could not write ${this.file}: ${(error as Error).message}`, {
          cause: error,
          hint: 'check that the work dir exists, is writable and has free space',
        });
      })
      .finally(() => {
        if (this.writing === next) this.writing = undefined;
      });
    this.queuedWrite = next;
    return next;
  }

  private queue(name: string): QueueState {
    let q = this.queues.get(name);
    if (!q) {
      q = emptyQueue();
      this.queues.set(name, q);
    }
    return q;
  }

  private assertOpen(): void {
    if (this.closed) throw new AnkletError(ErrorCodes.STORE_UNAVAILABLE, 'embedded job store is closed');
  }

  private owned(lease: JobLease): JobRecord {
    const record = this.queues.get(lease.job.queue)?.jobs.get(lease.job.id);
    if (!record || record.state !== 'claimed' || record.owner !== lease.owner || record.token !== lease.token) {
      throw new AnkletError(ErrorCodes.LEASE_LOST, `lease on job ${lease.job.id} in queue ${lease.job.queue} is no longer held by ${lease.owner}`, {
        details: { jobId: lease.job.id, queue: lease.job.queue, owner: lease.owner, token: lease.token },
      });
    }
    return record;
  }

  async enqueue<P>(job: NewJob<P>): Promise<EnqueueResult> {
    this.assertOpen();
    const q = this.queue(job.queue);
    const now = Date.now();
    const deliverySeen = job.deliveryId !== undefined && (q.deliveries.get(job.deliveryId) ?? 0) > now;
    if (deliverySeen) return 'duplicate_delivery';
    if (job.deliveryId) q.deliveries.set(job.deliveryId, now + this.deliveryTtlMs);
    if (q.jobs.has(job.id) || (q.done.get(job.id) ?? 0) > now) {
      await this.persist();
      return 'duplicate_job';
    }
    q.jobs.set(job.id, {
      id: job.id,
      queue: job.queue,
      payload: structuredClone(job.payload),
      attempts: 0,
      phase: 'queued',
      state: 'queued',
      enqueuedAt: now,
      token: 0,
      repositoryOwner: job.repositoryOwner,
      template: job.template,
      events: {},
    });
    q.queued.push(job.id);
    await this.persist();
    this.waker.notify(job.queue);
    return 'enqueued';
  }

  async recordEvent(queue: string, jobId: string, event: JobEvent): Promise<boolean> {
    this.assertOpen();
    const record = this.queues.get(queue)?.jobs.get(jobId);
    if (!record) return false;
    record.events[event.action] = { ...event };
    await this.persist();
    this.waker.notifyEvent(queue, jobId);
    return true;
  }

  async claim<P>(request: ClaimRequest): Promise<JobLease<P> | null> {
    this.assertOpen();
    const q = this.queues.get(request.queue);
    if (!q) return null;
    this.promoteDue(q);
    const owners = new Set(request.repositoryOwners ?? []);
    const refused = new Set(request.refusedTemplates ?? []);
    const skip = new Set(request.skipJobIds ?? []);
    const skipHandedOffBy = new Set(request.skipHandedOffBy ?? []);
    let budget = CLAIM_SCAN_LIMIT;
    for (const [list, fromHandoff] of [[q.handoff, true], [q.queued, false]] as const) {
      for (let i = 0; i < list.length && budget > 0; i += 1, budget -= 1) {
        const id = list[i] ?? '';
        const record = q.jobs.get(id);
        if (!record) continue;
        if (skip.has(id)) continue;
        if (owners.size > 0 && record.repositoryOwner !== undefined && !owners.has(record.repositoryOwner)) continue;
        if (record.template !== undefined && refused.has(record.template)) continue;
        if (fromHandoff && record.handedOffBy !== undefined && skipHandedOffBy.has(record.handedOffBy)) continue;
        list.splice(i, 1);
        record.token += 1;
        record.owner = request.owner;
        record.leaseUntil = Date.now() + Math.max(1, Math.round(request.leaseMs));
        record.phase = 'claimed';
        record.state = 'claimed';
        record.handedOffBy = undefined;
        await this.persist();
        return { job: toStoredJob<P>(record), owner: request.owner, token: record.token };
      }
    }
    return null;
  }

  /** Moves delayed jobs that are due to the head of the main queue, the earliest due first. */
  private promoteDue(q: QueueState): void {
    if (q.delayed.length === 0) return;
    const now = Date.now();
    const dueAt = (id: string): number => q.jobs.get(id)?.notBefore ?? 0;
    const due = q.delayed.filter((id) => dueAt(id) <= now).sort((a, b) => dueAt(b) - dueAt(a));
    if (due.length === 0) return;
    q.delayed = q.delayed.filter((id) => dueAt(id) > now);
    for (const id of due) {
      const record = q.jobs.get(id);
      if (!record) continue;
      record.notBefore = undefined;
      q.queued.unshift(id);
    }
  }

  async renew<P>(lease: JobLease<P>, leaseMs: number): Promise<JobLease<P>> {
    this.assertOpen();
    const record = this.owned(lease);
    record.leaseUntil = Date.now() + Math.max(1, Math.round(leaseMs));
    await this.persist();
    return { ...lease, job: { ...lease.job, leaseExpiresAt: record.leaseUntil } };
  }

  async update(lease: JobLease, patch: { phase?: JobPhase; vmName?: string | null; runnerId?: string | null }): Promise<void> {
    this.assertOpen();
    const record = this.owned(lease);
    if (patch.phase !== undefined) record.phase = patch.phase;
    if (patch.vmName !== undefined) record.vmName = patch.vmName ?? undefined;
    if (patch.runnerId !== undefined) record.runnerId = patch.runnerId ?? undefined;
    await this.persist();
  }

  private backToQueue(record: JobRecord, reason: string, delayMs = 0): void {
    const q = this.queue(record.queue);
    record.state = 'queued';
    record.phase = 'queued';
    record.attempts += 1;
    record.lastReason = reason;
    record.owner = undefined;
    record.leaseUntil = undefined;
    record.vmName = undefined;
    record.runnerId = undefined;
    if (delayMs > 0) {
      record.notBefore = Date.now() + delayMs;
      q.delayed.push(record.id);
    } else {
      q.queued.unshift(record.id);
    }
  }

  async requeue(lease: JobLease, reason: string, options: RequeueOptions = {}): Promise<void> {
    this.assertOpen();
    const delayMs = Math.max(0, Math.round(options.delayMs ?? 0));
    this.backToQueue(this.owned(lease), reason, delayMs);
    await this.persist();
    // A delayed job is not claimable yet: waking handlers now would only cost them a claim.
    if (delayMs === 0) this.waker.notify(lease.job.queue);
  }

  async handOff(lease: JobLease, reason: string): Promise<void> {
    this.assertOpen();
    const record = this.owned(lease);
    record.state = 'handed_off';
    record.phase = 'queued';
    record.handedOffBy = record.owner;
    record.lastReason = reason;
    record.owner = undefined;
    record.leaseUntil = undefined;
    this.queue(record.queue).handoff.push(record.id);
    await this.persist();
    this.waker.notify(lease.job.queue);
  }

  async finish(lease: JobLease, _outcome: string): Promise<void> {
    this.assertOpen();
    const q = this.queues.get(lease.job.queue);
    // Finishing twice is fine for the owner that finished (a retry after a lost reply).
    if (q && !q.jobs.has(lease.job.id) && (q.done.get(lease.job.id) ?? 0) > Date.now()) return;
    const record = this.owned(lease);
    this.remove(record);
    await this.persist();
  }

  async quarantine(lease: JobLease, reason: string): Promise<void> {
    this.assertOpen();
    const record = this.owned(lease);
    this.remove(record);
    this.queue(record.queue).quarantine.unshift({ key: `${record.queue}/${record.id}`, jobId: record.id, reason, at: Date.now() });
    await this.persist();
  }

  private remove(record: JobRecord): void {
    const q = this.queue(record.queue);
    q.jobs.delete(record.id);
    q.done.set(record.id, Date.now() + this.finishedTtlMs);
  }

  async listOwned<P>(queue: string, owner: string): Promise<ReadonlyArray<JobLease<P>>> {
    this.assertOpen();
    const q = this.queues.get(queue);
    if (!q) return [];
    return [...q.jobs.values()].filter((r) => r.state === 'claimed' && r.owner === owner).map((r) => ({ job: toStoredJob<P>(r), owner, token: r.token }));
  }

  async get<P>(queue: string, jobId: string): Promise<StoredJob<P> | null> {
    this.assertOpen();
    const record = this.queues.get(queue)?.jobs.get(jobId);
    return record ? toStoredJob<P>(record) : null;
  }

  async list<P>(queue: string, state: JobState, page: { offset?: number; limit?: number } = {}): Promise<ReadonlyArray<StoredJob<P>>> {
    this.assertOpen();
    const q = this.queues.get(queue);
    if (!q) return [];
    const offset = Math.max(0, page.offset ?? 0);
    const limit = Math.min(Math.max(1, page.limit ?? 100), 1000);
    const ids =
      state === 'queued'
        ? q.queued
        : state === 'delayed'
          ? [...q.delayed].sort((a, b) => (q.jobs.get(a)?.notBefore ?? 0) - (q.jobs.get(b)?.notBefore ?? 0))
          : state === 'handed_off'
          ? q.handoff
          : [...q.jobs.values()].filter((r) => r.state === 'claimed').sort((a, b) => (a.leaseUntil ?? 0) - (b.leaseUntil ?? 0)).map((r) => r.id);
    return ids.slice(offset, offset + limit).flatMap((id) => {
      const record = q.jobs.get(id);
      return record ? [toStoredJob<P>(record)] : [];
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    this.assertOpen();
    const q = this.queues.get(queue);
    if (!q) return { queued: 0, handedOff: 0, claimed: 0, quarantined: 0, oldestQueuedAgeMs: 0, delayed: 0, nextDelayedDueMs: null };
    let claimed = 0;
    let soonest: number | undefined;
    for (const id of q.delayed) {
      const at = q.jobs.get(id)?.notBefore ?? 0;
      if (soonest === undefined || at < soonest) soonest = at;
    }
    for (const r of q.jobs.values()) if (r.state === 'claimed') claimed += 1;
    const first = q.queued[0] === undefined ? undefined : q.jobs.get(q.queued[0]);
    return {
      queued: q.queued.length,
      handedOff: q.handoff.length,
      claimed,
      quarantined: q.quarantine.length,
      oldestQueuedAgeMs: first ? Math.max(0, Date.now() - first.enqueuedAt) : 0,
      delayed: q.delayed.length,
      nextDelayedDueMs: soonest === undefined ? null : Math.max(0, soonest - Date.now()),
    };
  }

  async listQuarantined(queue: string, limit = 100): Promise<ReadonlyArray<QuarantinedRecord>> {
    this.assertOpen();
    return (this.queues.get(queue)?.quarantine ?? []).slice(0, limit);
  }

  async reapExpired(queue: string, options: ReapOptions = {}): Promise<ReapResult> {
    this.assertOpen();
    const q = this.queues.get(queue);
    const result = { requeued: [] as string[], finished: [] as string[], skipped: [] as string[] };
    if (!q) return result;
    const expired = [...q.jobs.values()]
      .filter((r) => r.state === 'claimed' && (r.leaseUntil ?? 0) <= Date.now())
      .sort((a, b) => (a.leaseUntil ?? 0) - (b.leaseUntil ?? 0))
      .slice(0, options.limit ?? 100);
    for (const record of expired) {
      const token = record.token;
      let decision: string = 'requeue';
      if (options.decide) {
        try {
          decision = await options.decide(toStoredJob(record));
        } catch (error) {
          this.logger?.warn('reaper callback failed; leaving the job for the next pass', { workflowJobID: record.id, error: (error as Error).message });
          decision = 'skip';
        }
      }
      // The callback may have taken a while: act only if nobody renewed or re-claimed meanwhile.
      const still = record.state === 'claimed' && record.token === token && (record.leaseUntil ?? 0) <= Date.now() && q.jobs.get(record.id) === record;
      if (!still || decision === 'skip') {
        result.skipped.push(record.id);
        continue;
      }
      const owner = record.owner;
      if (decision === 'finish') {
        this.remove(record);
        result.finished.push(record.id);
      } else {
        this.backToQueue(record, `lease of ${owner ?? '?'} expired`);
        result.requeued.push(record.id);
      }
      this.logger?.warn(`expired lease reaped (${decision})`, { workflowJobID: record.id, queue, owner });
    }
    if (result.requeued.length + result.finished.length > 0) {
      await this.persist();
      if (result.requeued.length > 0) this.waker.notify(queue);
    }
    return result;
  }

  waitForEvent(queue: string, jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waker.waitEvent(queue, jobId, timeoutMs, signal);
  }

  waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    // In process the waker is notified directly; it never opens a subscriber.
    return this.waker.wait(queue, timeoutMs, signal);
  }

  async acquireLeadership(name: string, owner: string, ttlMs: number): Promise<LeaderLease | null> {
    this.assertOpen();
    const now = Date.now();
    const current = this.leaders.get(name);
    if (current && current.until > now) {
      if (current.owner !== owner) return null;
      current.until = now + ttlMs;
      return { name, owner, token: current.token };
    }
    const token = (this.fences.get(name) ?? 0) + 1;
    this.fences.set(name, token);
    this.leaders.set(name, { owner, token, until: now + ttlMs });
    await this.persist();
    return { name, owner, token };
  }

  async renewLeadership(lease: LeaderLease, ttlMs: number): Promise<void> {
    this.assertOpen();
    const current = this.leaders.get(lease.name);
    if (!current || current.owner !== lease.owner || current.token !== lease.token || current.until <= Date.now()) {
      throw new AnkletError(ErrorCodes.LEASE_LOST, `leadership ${lease.name} is no longer held by ${lease.owner}`, { details: { ...lease } });
    }
    current.until = Date.now() + ttlMs;
  }

  async releaseLeadership(lease: LeaderLease): Promise<void> {
    this.assertOpen();
    const current = this.leaders.get(lease.name);
    if (current && current.owner === lease.owner && current.token === lease.token) {
      this.leaders.delete(lease.name);
      await this.persist();
    }
  }

  async putHostSnapshot(key: string, json: string, ttlMs: number): Promise<void> {
    this.assertOpen();
    const now = Date.now();
    this.snapshots.set(metricsKeyEnding(key), { json, until: now + Math.max(1, ttlMs), at: now });
  }

  async listHostSnapshots(options: HostSnapshotListOptions = {}): Promise<ReadonlyArray<HostSnapshot>> {
    this.assertOpen();
    const now = Date.now();
    // Every snapshot here is indexed (this one process wrote it): `includeUnindexed` adds nothing.
    const oldest = options.maxAgeMs !== undefined && options.maxAgeMs > 0 ? now - options.maxAgeMs : -Infinity;
    const out: HostSnapshot[] = [];
    for (const [key, entry] of [...this.snapshots].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (entry.until <= now || entry.at < oldest) this.snapshots.delete(key);
      else out.push({ key, json: entry.json, updatedAt: entry.at });
    }
    return out;
  }

  async deleteHostSnapshot(key: string): Promise<void> {
    this.assertOpen();
    this.snapshots.delete(metricsKeyEnding(key));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.waker.close();
    await (this.queuedWrite ?? this.writing)?.catch(() => undefined);
  }
}

/**
 * Creates the embedded store (used when no database is configured).
 *
 * @example
 * ```ts
 * const store = createEmbeddedJobStore({ dir: join(workDir, 'store'), logger });
 * ```
 */
export function createEmbeddedJobStore(options: EmbeddedJobStoreOptions): JobStore {
  return new EmbeddedJobStore(options);
}
