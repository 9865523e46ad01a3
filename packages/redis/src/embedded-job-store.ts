import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import {
  AnkletError,
  ErrorCodes,
  type ClaimRequest,
  type EnqueueResult,
  type HostCapacity,
  type HostSnapshot,
  type InstanceHolder,
  type InstanceRegistration,
  type JobEvent,
  type JobLease,
  type JobPhase,
  type JobSummary,
  type JobTimeline,
  type NewTimelineEvent,
  type RecentJobsOptions,
  type TimelineHistory,
  type TimelineJobState,
  type JobState,
  type JobStore,
  type LeaderLease,
  type Logger,
  type NewJob,
  type QuarantinedRecord,
  type QueueStats,
  type RegisterInstanceOptions,
  type ReapOptions,
  type ReapResult,
  type RequeueOptions,
  type StoredJob,
  timelineEventOf,
} from '@anklet/core';
import { metricsKeyEnding } from './keys.js';
import { GroupCommit } from './sqlite/group-commit.js';
import { ClaimPicker } from './sqlite/claim-pick.js';
import { decodeHostCapacity, encodeHostCapacity, holdersElsewhere, reportLeft, sortCapacity } from './host-capacity.js';
import { importLegacyJsonStore, LEGACY_FILE } from './sqlite/import-json-store.js';
import { decodeJobRow, JOB_STATES, PoisonRowError, type DecodedJob, type JobRow } from './sqlite/job-row.js';
import { wakerFor, type LocalWaker } from './sqlite/local-waker.js';
import { openStoreDatabaseOrSetAside } from './sqlite/schema.js';
import { registerInstance, releaseInstance } from './sqlite/instances.js';
import { acquireLeader, renewLeader } from './sqlite/leadership.js';
import { refusal, unavailable } from './sqlite/store-errors.js';
import { createStatements, type Statements } from './sqlite/statements.js';
import { SqliteTimeline } from './sqlite/timeline.js';

/** Options for {@link createEmbeddedJobStore}. */
export interface EmbeddedJobStoreOptions {
  /** Directory the store keeps its database in (the work dir's `store/`); created when missing. */
  readonly dir: string;
  readonly logger?: Logger | undefined;
  /** How long a finished job id is remembered (default 7 days). */
  readonly finishedTtlMs?: number | undefined;
  /** How long a delivery id is remembered (default 7 days). */
  readonly deliveryTtlMs?: number | undefined;
  /** How long, and how many per queue, finished jobs' timelines are kept (default 24 hours, 1,000 jobs). */
  readonly timelineHistory?: TimelineHistory | undefined;
}

/** The database file in the store directory (with SQLite's `-wal` and `-shm` files beside it). */
export const EMBEDDED_STORE_FILE = 'job-store.sqlite';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Expired finished ids and deliveries dropped per enqueue: more than an enqueue adds, so they never pile up. */
const SWEEP_BATCH = 16;
type Patch = { phase?: JobPhase; vmName?: string | null; runnerId?: string | null };

/**
 * The embedded job store: the same contract as the Redis store on a SQLite database in the work
 * dir, for hosts without a database server. Every call is one transaction, committed (WAL,
 * `synchronous=FULL`) before it resolves, so an acknowledged webhook survives a SIGKILL or a power
 * loss. Several anklet processes may share the directory: SQLite's locks serialise their writes.
 * Wake-ups are in process; a waiter in another process finds new work at its poll timeout.
 */
export class EmbeddedJobStore implements JobStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly sql: Statements;
  private readonly picker: ClaimPicker;
  private readonly timeline: SqliteTimeline;
  private readonly logger: Logger | undefined;
  private readonly waker: LocalWaker;
  /** Webhook writes (enqueue, record event) share one transaction per event-loop round. */
  private readonly group: GroupCommit;
  private readonly releaseWaker: () => void;
  /** Aborted on close: ends this instance's waits (the waker is shared with other instances). */
  private readonly closing = new AbortController();
  private readonly finishedTtlMs: number;
  private readonly deliveryTtlMs: number;
  /** `<queue>\n<job id>` of jobs left for template affinity -> end of their grace (see `wakeForLeft`). */
  private readonly leftUntil = new Map<string, number>();
  private closed = false;

  /** True after {@link EmbeddedJobStore.close}. */
  get isClosed(): boolean {
    return this.closed;
  }

  constructor(options: EmbeddedJobStoreOptions) {
    mkdirSync(options.dir, { recursive: true });
    this.file = resolve(join(options.dir, EMBEDDED_STORE_FILE));
    this.logger = options.logger;
    this.finishedTtlMs = options.finishedTtlMs ?? 7 * DAY_MS;
    this.deliveryTtlMs = options.deliveryTtlMs ?? 7 * DAY_MS;
    try {
      this.db = openStoreDatabaseOrSetAside(this.file, this.logger);
    } catch (error) {
      throw unavailable(this.file, error);
    }
    try {
      importLegacyJsonStore(this.db, join(options.dir, LEGACY_FILE), this.logger);
      this.sql = createStatements(this.db);
      this.picker = new ClaimPicker(this.db);
      this.timeline = new SqliteTimeline(this.db, options.timelineHistory);
    } catch (error) {
      this.db.close();
      throw unavailable(this.file, error);
    }
    ({ waker: this.waker, release: this.releaseWaker } = wakerFor(this.file));
    // Expired delivery ids and tombstones are swept once per group transaction.
    this.group = new GroupCommit(this.db, (error) => unavailable(this.file, error), () => this.sweepExpired(Date.now()));
  }

  /** Runs `fn` as one write transaction (taken at once: no lock upgrade that could deadlock). */
  private write<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return this.db.transaction(fn).immediate();
    } catch (error) {
      throw unavailable(this.file, error);
    }
  }

  /** Like {@link write}, in the next group transaction (see GroupCommit); settles after the commit. */
  private writeGrouped<T>(fn: () => T): Promise<T> {
    this.assertOpen();
    return this.group.run(fn);
  }

  private read<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return this.db.transaction(fn).deferred();
    } catch (error) {
      throw unavailable(this.file, error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new AnkletError(ErrorCodes.STORE_UNAVAILABLE, 'embedded job store is closed');
  }

  /** Decodes a row; a poison row is quarantined (in the caller's transaction) and yields undefined. */
  private decode<P>(row: JobRow | undefined): DecodedJob<P> | undefined {
    if (!row) return undefined;
    try {
      return decodeJobRow<P>(row);
    } catch (error) {
      if (!(error instanceof PoisonRowError)) throw error;
      this.setAside(row, error.message);
      return undefined;
    }
  }

  /** Moves a row out of the queue into the quarantine, with its key and reason; its id stays known. */
  private setAside(row: { rowid: number; queue: unknown; id: unknown }, reason: string): void {
    const queue = String(row.queue);
    const id = typeof row.id === 'string' ? row.id : null;
    const key = `${queue}/${String(row.id)}`;
    const now = Date.now();
    this.sql.deleteRow.run(row.rowid);
    if (id !== null) this.sql.putDone.run({ queue, id, until: now + this.finishedTtlMs, kind: 'quarantined', owner: null, token: null, outcome: null });
    this.sql.addNote.run(queue, key, id, reason, now);
    if (id !== null) this.timeline.finish(queue, id, { type: 'quarantined', reason }, now);
    this.logger?.error('malformed job record quarantined', { key, file: this.file, reason });
  }

  /** Rows of a state this version does not know can never be claimed: set them aside (a few `job_groups` rows read). */
  private sweepUnknownStates(queue: string): void {
    for (const { state } of this.sql.groupStates.all(queue) as Array<{ state: unknown }>) {
      if (typeof state === 'string' && JOB_STATES.has(state)) continue;
      for (const row of this.sql.rowsInState.all(queue, state) as JobRow[]) this.setAside(row, `unknown state ${JSON.stringify(state).slice(0, 40)}`);
    }
  }

  /** The owned job's row, or the refusal that says why the lease no longer holds. */
  private owned(lease: JobLease, finishing?: string): JobRow | 'repeat' {
    const { queue, id } = lease.job;
    const row = this.sql.jobById.get(queue, id) as JobRow | undefined;
    if (row) {
      if (row.state === 'claimed' && row.owner === lease.owner && row.token === lease.token) return row;
      throw refusal(ErrorCodes.LEASE_LOST, `lease on job ${id} in queue ${queue} is no longer held by ${lease.owner}`, lease);
    }
    const done = this.sql.doneById.get(queue, id, Date.now()) as { kind: string; by_owner: unknown; token: unknown; outcome: unknown } | undefined;
    if (done?.kind === 'quarantined') throw refusal(ErrorCodes.JOB_QUARANTINED, `job ${id} in queue ${queue} was quarantined`, lease);
    if (done) {
      // A finish repeated by the lease that finished the job, with the same outcome, is a retry.
      if (finishing !== undefined && done.by_owner === lease.owner && done.token === lease.token && done.outcome === finishing) return 'repeat';
      throw refusal(ErrorCodes.JOB_FINISHED, `job ${id} in queue ${queue} is finished`, lease);
    }
    throw refusal(ErrorCodes.JOB_NOT_FOUND, `job ${id} is not in queue ${queue}`, lease);
  }

  private sweepExpired(now: number): void {
    this.sql.sweepDone.run(now, SWEEP_BATCH);
    this.sql.sweepDeliveries.run(now, SWEEP_BATCH);
    this.timeline.sweep(now, SWEEP_BATCH);
  }

  async enqueue<P>(job: NewJob<P>): Promise<EnqueueResult> {
    const payload = JSON.stringify(job.payload ?? null);
    const result = await this.writeGrouped((): EnqueueResult => {
      const now = Date.now();
      if (job.deliveryId !== undefined) {
        if (this.sql.deliverySeen.get(job.queue, job.deliveryId, now)) return 'duplicate_delivery';
        this.sql.putDelivery.run(job.queue, job.deliveryId, now + this.deliveryTtlMs);
      }
      if (this.sql.jobExists.get(job.queue, job.id) || this.sql.doneById.get(job.queue, job.id, now)) return 'duplicate_job';
      this.sql.insertJob.run({
        queue: job.queue,
        id: job.id,
        pos: this.sql.tailPos.pluck().get(job.queue, 'queued') as number,
        ownerFilter: job.repositoryOwner ?? '',
        template: job.template ?? '',
        payload,
        enqueuedAt: now,
      });
      this.timeline.append(job.queue, job.id, { type: 'received' }, now, 'queued');
      this.timeline.append(job.queue, job.id, { type: 'queued' }, now, 'queued');
      return 'enqueued';
    });
    if (result === 'enqueued') this.waker.notify(job.queue, 1);
    return result;
  }

  async recordEvent(queue: string, jobId: string, event: JobEvent): Promise<boolean> {
    const recorded = await this.writeGrouped(() => {
      const row = this.sql.eventsOf.get(queue, jobId) as { rowid: number; events: unknown } | undefined;
      if (!row) return false;
      let events: Record<string, unknown> = {};
      try {
        const parsed: unknown = typeof row.events === 'string' ? JSON.parse(row.events) : {};
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) events = parsed as Record<string, unknown>;
      } catch {
        // A broken note is replaced by the events recorded from now on.
      }
      events[event.action] = { ...event };
      this.sql.setEvents.run(JSON.stringify(events), row.rowid);
      const step: NewTimelineEvent =
        event.action === 'completed' ? { type: 'completed', conclusion: event.conclusion ?? 'unknown' } : { type: 'in_progress', detail: event.runnerName ?? undefined };
      this.timeline.append(queue, jobId, step, Date.now());
      return true;
    });
    if (recorded) this.waker.notifyEvent(queue, jobId);
    return recorded;
  }

  async claim<P>(request: ClaimRequest): Promise<JobLease<P> | null> {
    const leaseMs = Math.max(1, Math.round(request.leaseMs));
    return this.write(() => {
      this.promoteDue(request.queue);
      this.sweepUnknownStates(request.queue);
      // Each poison row met on the way is set aside, and the next candidate is looked up.
      const holders = request.affinity && request.affinity.graceMs > 0 ? holdersElsewhere(this.liveCapacity(), request.affinity.hostId) : undefined;
      for (;;) {
        const rowid = this.picker.pick(request, holders);
        this.wakeForLeft(request);
        if (rowid === undefined) {
          reportLeft(request, this.picker.left);
          return null;
        }
        const decoded = this.decode<P>(this.sql.jobByRowid.get(rowid) as JobRow | undefined);
        if (!decoded) continue;
        const token = decoded.token + 1;
        const now = Date.now();
        const leaseExpiresAt = now + leaseMs;
        this.sql.claimRow.run(token, request.owner, leaseExpiresAt, rowid);
        this.timeline.append(request.queue, decoded.job.id, { type: 'claimed', by: request.owner }, now, 'running');
        const job: StoredJob<P> = { ...decoded.job, phase: 'claimed', owner: request.owner, leaseExpiresAt, handedOffBy: undefined };
        reportLeft(request, this.picker.left);
        return { job, owner: request.owner, token };
      }
    });
  }

  /**
   * The first time a job is left for template affinity, every waiting handler of this process is
   * woken once (as the Redis store wakes the fleet): the enqueue's wake-up may have gone to a
   * handler that left it. Other processes sharing the file find it at their poll.
   */
  private wakeForLeft(request: ClaimRequest): void {
    const now = Date.now();
    let wake = false;
    for (const job of this.picker.left) {
      const key = `${request.queue}\n${job.jobId}`;
      if ((this.leftUntil.get(key) ?? 0) > now) continue;
      this.leftUntil.set(key, now + job.remainingMs);
      wake = true;
    }
    if (this.leftUntil.size > 1000) for (const [key, until] of this.leftUntil) if (until <= now) this.leftUntil.delete(key);
    if (wake) this.waker.notifyAll(request.queue);
  }

  /** Puts delayed jobs that are due at the head of the queue, the earliest due first. */
  private promoteDue(queue: string): void {
    const due = this.sql.dueDelayed.all(queue, Date.now()) as Array<{ rowid: number }>;
    // Latest due first, each one in front of the last: the earliest due ends up at the head.
    for (const { rowid } of due) this.sql.toHead.run(this.sql.headPos.pluck().get(queue) as number, rowid);
  }

  async renew<P>(lease: JobLease<P>, leaseMs: number): Promise<JobLease<P>> {
    const leaseExpiresAt = this.write(() => {
      const row = this.owned(lease) as JobRow;
      const until = Date.now() + Math.max(1, Math.round(leaseMs));
      this.sql.setLease.run(until, row.rowid);
      return until;
    });
    return { ...lease, job: { ...lease.job, leaseExpiresAt } };
  }

  async update(lease: JobLease, patch: Patch): Promise<void> {
    this.write(() => {
      const row = this.owned(lease) as JobRow;
      // '' is "no value", like null: the field is removed (the same as the Redis store).
      const field = (value: string | null | undefined, old: unknown): unknown => (value === undefined ? old : value === '' ? null : value);
      this.sql.patchRow.run(patch.phase ?? row.phase, field(patch.vmName, row.vm_name), field(patch.runnerId, row.runner_id), row.rowid);
    });
  }

  async requeue(lease: JobLease, reason: string, options: RequeueOptions = {}): Promise<void> {
    const delayMs = Math.max(0, Math.round(options.delayMs ?? 0));
    this.write(() => {
      const row = this.owned(lease) as JobRow;
      this.backToQueue(row.rowid, lease.job.queue, reason, delayMs, options.countAttempt !== false);
      this.timeline.append(lease.job.queue, lease.job.id, { type: 'handed_back', by: lease.owner, reason, detail: 'requeue' }, Date.now(), 'queued');
    });
    // A delayed job is not claimable yet: waking handlers now would only cost them a claim.
    if (delayMs === 0) this.waker.notify(lease.job.queue, 1);
  }

  private backToQueue(rowid: number, queue: string, reason: string, delayMs: number, countAttempt = true): void {
    const added = countAttempt ? 1 : 0;
    if (delayMs > 0) this.sql.toDelayed.run(added, reason, Date.now() + delayMs, rowid);
    else this.sql.toQueue.run(added, reason, this.sql.headPos.pluck().get(queue) as number, rowid);
  }

  async handOff(lease: JobLease, reason: string): Promise<void> {
    this.write(() => {
      const row = this.owned(lease) as JobRow;
      this.sql.toHandOff.run(this.sql.tailPos.pluck().get(lease.job.queue, 'handed_off') as number, reason, row.rowid);
      this.timeline.append(lease.job.queue, lease.job.id, { type: 'handed_back', by: lease.owner, reason, detail: 'hand_off' }, Date.now(), 'queued');
    });
    this.waker.notify(lease.job.queue, 1);
  }

  async finish(lease: JobLease, outcome: string): Promise<void> {
    this.write(() => {
      const row = this.owned(lease, outcome);
      if (row === 'repeat') return;
      const now = Date.now();
      this.sweepExpired(now);
      this.sql.deleteRow.run(row.rowid);
      this.sql.putDone.run({ queue: lease.job.queue, id: lease.job.id, until: now + this.finishedTtlMs, kind: 'finished', owner: lease.owner, token: lease.token, outcome });
      this.timeline.finish(lease.job.queue, lease.job.id, { type: 'finished', by: lease.owner, conclusion: outcome }, now);
    });
  }

  async quarantine(lease: JobLease, reason: string): Promise<void> {
    this.write(() => {
      const row = this.owned(lease) as JobRow;
      const now = Date.now();
      this.sql.deleteRow.run(row.rowid);
      this.sql.putDone.run({ queue: lease.job.queue, id: lease.job.id, until: now + this.finishedTtlMs, kind: 'quarantined', owner: null, token: null, outcome: null });
      this.sql.addNote.run(lease.job.queue, `${lease.job.queue}/${lease.job.id}`, lease.job.id, reason, now);
      this.timeline.finish(lease.job.queue, lease.job.id, { type: 'quarantined', reason }, now);
    });
  }

  async restore<P>(lease: JobLease<P>, leaseMs: number): Promise<JobLease<P>> {
    const job = lease.job;
    const leaseExpiresAt = this.write(() => {
      const until = Date.now() + Math.max(1, Math.round(leaseMs));
      const row = this.sql.jobById.get(job.queue, job.id) as JobRow | undefined;
      if (!row) {
        // No row: refused when the job is remembered as finished or quarantined, written back otherwise.
        const done = this.sql.doneById.get(job.queue, job.id, Date.now()) as { kind: string } | undefined;
        if (done?.kind === 'quarantined') throw refusal(ErrorCodes.JOB_QUARANTINED, `job ${job.id} in queue ${job.queue} was quarantined`, lease);
        if (done) throw refusal(ErrorCodes.JOB_FINISHED, `job ${job.id} in queue ${job.queue} is finished`, lease);
        this.sql.insertClaimed.run({
          queue: job.queue,
          id: job.id,
          ownerFilter: job.repositoryOwner ?? '',
          template: job.template ?? '',
          payload: JSON.stringify(job.payload ?? null),
          attempts: job.attempts,
          phase: job.phase,
          enqueuedAt: job.enqueuedAt,
          token: lease.token,
          owner: lease.owner,
          leaseUntil: until,
          vmName: job.vmName || null,
          runnerId: job.runnerId || null,
          lastReason: job.lastReason || null,
          events: JSON.stringify(job.events),
        });
        this.timeline.append(job.queue, job.id, { type: 'restored', by: lease.owner }, Date.now(), 'running');
        return until;
      }
      // The row is there: only its holder may go on (a retry after a lost reply renews the lease).
      const held = this.owned(lease) as JobRow;
      this.sql.setLease.run(until, held.rowid);
      return until;
    });
    return { ...lease, job: { ...job, owner: lease.owner, leaseExpiresAt, handedOffBy: undefined, notBefore: undefined } };
  }

  /** Decodes rows in one write transaction (so that poison among them is set aside), dropping poison. */
  private decodeAll<P>(load: () => JobRow[]): Array<DecodedJob<P>> {
    return this.write(() => load().flatMap((row) => this.decode<P>(row) ?? []));
  }

  async listOwned<P>(queue: string, owner: string): Promise<ReadonlyArray<JobLease<P>>> {
    return this.decodeAll<P>(() => this.sql.ownedBy.all(queue, owner) as JobRow[]).map((d) => ({ job: d.job, owner, token: d.token }));
  }

  async get<P>(queue: string, jobId: string): Promise<StoredJob<P> | null> {
    return this.decodeAll<P>(() => [this.sql.jobById.get(queue, jobId) as JobRow | undefined].filter((r): r is JobRow => r !== undefined))[0]?.job ?? null;
  }

  async list<P>(queue: string, state: JobState, page: { offset?: number; limit?: number } = {}): Promise<ReadonlyArray<StoredJob<P>>> {
    const offset = Math.max(0, page.offset ?? 0);
    const limit = Math.min(Math.max(1, page.limit ?? 100), 1000);
    const statement = state === 'claimed' ? this.sql.listClaimed : state === 'delayed' ? this.sql.listDelayed : this.sql.listInOrder;
    const args = state === 'claimed' || state === 'delayed' ? [queue, limit, offset] : [queue, state, limit, offset];
    return this.decodeAll<P>(() => statement.all(...args) as JobRow[]).map((d) => d.job);
  }

  async stats(queue: string): Promise<QueueStats> {
    const now = Date.now();
    return this.write(() => {
      this.sweepUnknownStates(queue);
      // The head may be poison: set it aside and look at the next one.
      let head: DecodedJob | undefined;
      for (let row = this.sql.head.get(queue) as JobRow | undefined; row && !(head = this.decode(row)); row = this.sql.head.get(queue) as JobRow | undefined);
      const counts = new Map((this.sql.counts.all(queue) as Array<{ state: string; n: number }>).map((r) => [r.state, r.n]));
      const soonest = this.sql.soonestDue.pluck().get(queue) as unknown;
      const quarantined = this.sql.countNotes.pluck().get(queue) as number;
      return {
        queued: counts.get('queued') ?? 0,
        handedOff: counts.get('handed_off') ?? 0,
        claimed: counts.get('claimed') ?? 0,
        quarantined,
        oldestQueuedAgeMs: head ? Math.max(0, now - head.job.enqueuedAt) : 0,
        delayed: counts.get('delayed') ?? 0,
        nextDelayedDueMs: typeof soonest === 'number' ? Math.max(0, soonest - now) : null,
      };
    });
  }

  async listQuarantined(queue: string, limit = 100): Promise<ReadonlyArray<QuarantinedRecord>> {
    const rows = this.read(() => this.sql.notes.all(queue, Math.max(1, limit)) as Array<{ key: string; job_id: string | null; reason: string; at: number }>);
    return rows.map((r) => ({ key: r.key, jobId: r.job_id ?? undefined, reason: r.reason, at: r.at }));
  }

  async reapExpired(queue: string, options: ReapOptions = {}): Promise<ReapResult> {
    const result = { requeued: [] as string[], finished: [] as string[], skipped: [] as string[] };
    const expired = this.decodeAll(() => this.sql.expiredLeases.all(queue, Date.now(), Math.max(1, options.limit ?? 100)) as JobRow[]);
    for (const { job, token } of expired) {
      let decision: string = 'requeue';
      if (options.decide) {
        try {
          decision = await options.decide(job);
        } catch (error) {
          this.logger?.warn('reaper callback failed; leaving the job for the next pass', { workflowJobID: job.id, error: (error as Error).message });
          decision = 'skip';
        }
      }
      // The callback may have taken a while: act only if nobody renewed or re-claimed meanwhile.
      const acted = decision !== 'skip' && this.write(() => {
        const row = this.sql.jobById.get(queue, job.id) as JobRow | undefined;
        if (!row || row.state !== 'claimed' || row.token !== token || typeof row.lease_until !== 'number' || row.lease_until > Date.now()) return false;
        const now = Date.now();
        if (decision === 'finish') {
          this.sql.deleteRow.run(row.rowid);
          this.sql.putDone.run({ queue, id: job.id, until: now + this.finishedTtlMs, kind: 'finished', owner: null, token, outcome: 'reaped' });
          this.timeline.finish(queue, job.id, { type: 'finished', conclusion: 'reaped' }, now);
        } else {
          const reason = `lease of ${job.owner ?? '?'} expired`;
          this.backToQueue(row.rowid, queue, reason, 0);
          this.timeline.append(queue, job.id, { type: 'handed_back', by: job.owner, reason, detail: 'reap' }, now, 'queued');
        }
        return true;
      });
      if (!acted) {
        result.skipped.push(job.id);
        continue;
      }
      (decision === 'finish' ? result.finished : result.requeued).push(job.id);
      this.logger?.warn(`expired lease reaped (${decision})`, { workflowJobID: job.id, queue, owner: job.owner });
    }
    if (result.requeued.length > 0) this.waker.notify(queue, result.requeued.length);
    return result;
  }

  async appendTimeline(queue: string, jobId: string, event: NewTimelineEvent): Promise<boolean> {
    if (!timelineEventOf(event)) return false;
    return this.write(() => {
      const known = this.timeline.has(queue, jobId, Date.now());
      const row = known ? undefined : (this.sql.jobById.get(queue, jobId) as JobRow | undefined);
      if (!known && !row) return false;
      // A job from before the timeline gets one, in the state its row says.
      const state: TimelineJobState | undefined = row ? (row.state === 'claimed' ? 'running' : 'queued') : undefined;
      this.timeline.append(queue, jobId, event, Date.now(), state);
      return true;
    });
  }

  async getTimeline(queue: string, jobId: string): Promise<JobTimeline | null> {
    return this.read(() => this.timeline.get(queue, jobId, Date.now()));
  }

  async listRecentJobs(queue: string, state: TimelineJobState, options: RecentJobsOptions = {}): Promise<ReadonlyArray<JobSummary>> {
    const limit = Math.min(Math.max(1, Math.floor(options.limit ?? 50)), 1000);
    return this.read(() => this.timeline.list(queue, state, limit, Date.now()));
  }

  waitForEvent(queue: string, jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.waker.waitEvent(queue, jobId, timeoutMs, [signal, this.closing.signal]);
  }

  waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.waker.wait(queue, timeoutMs, [signal, this.closing.signal]);
  }

  async acquireLeadership(name: string, owner: string, ttlMs: number): Promise<LeaderLease | null> {
    return this.write(() => acquireLeader(this.sql, name, owner, ttlMs));
  }

  async renewLeadership(lease: LeaderLease, ttlMs: number): Promise<void> {
    this.write(() => renewLeader(this.sql, lease, ttlMs));
  }

  async releaseLeadership(lease: LeaderLease): Promise<void> {
    // The token stays: the next leader's is greater (fencing across releases).
    this.write(() => this.sql.releaseLeader.run(lease.name, lease.owner, lease.token));
  }

  async registerInstance(name: string, holder: InstanceHolder, ttlMs: number, options?: RegisterInstanceOptions): Promise<InstanceRegistration> {
    return this.write(() => registerInstance(this.sql, name, holder, ttlMs, options));
  }

  async releaseInstance(name: string, holder: InstanceHolder): Promise<void> {
    this.write(() => releaseInstance(this.sql, name, holder));
  }

  async putHostSnapshot(key: string, json: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    this.write(() => this.sql.putSnapshot.run(metricsKeyEnding(key), json, now + Math.max(1, ttlMs), now));
  }

  /**
   * Host snapshots sorted by key, each with the time it was written (`updatedAt`). With
   * `options.maxAgeMs`, older ones are left out and dropped. Every snapshot is in the table, so
   * `includeUnindexed` (for Go hosts writing to Redis) changes nothing here.
   */
  async listHostSnapshots(options: { readonly maxAgeMs?: number | undefined; readonly includeUnindexed?: boolean | undefined } = {}): Promise<ReadonlyArray<HostSnapshot>> {
    const now = Date.now();
    return this.write(() => {
      this.sql.dropExpiredSnapshots.run(now, options.maxAgeMs === undefined ? -Infinity : now - options.maxAgeMs);
      return (this.sql.snapshots.all() as Array<{ key: string; json: string; updated_at: number }>).map((r) => {
        const snapshot = { key: r.key, json: r.json, updatedAt: r.updated_at };
        return snapshot as HostSnapshot;
      });
    });
  }

  async putHostCapacity(capacity: HostCapacity, ttlMs: number): Promise<void> {
    const now = Date.now();
    this.write(() => {
      this.sql.dropExpiredCapacity.run(now);
      this.sql.putCapacity.run(capacity.hostId, encodeHostCapacity(capacity), now + Math.max(1, Math.round(ttlMs)));
    });
  }

  async listHostCapacity(): Promise<ReadonlyArray<HostCapacity>> {
    return this.write(() => {
      this.sql.dropExpiredCapacity.run(Date.now());
      return this.liveCapacity();
    });
  }

  /** The capacity records not yet past their end, sorted by host id (inside a transaction). */
  private liveCapacity(): HostCapacity[] {
    const rows = this.sql.capacity.all(Date.now()) as Array<{ host_id: unknown; json: unknown }>;
    return sortCapacity(rows.map((r) => decodeHostCapacity(String(r.host_id), String(r.json))).filter((r): r is HostCapacity => r !== null));
  }

  async deleteHostSnapshot(key: string): Promise<void> {
    this.write(() => this.sql.deleteSnapshot.run(metricsKeyEnding(key)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.releaseWaker();
    // Writes already accepted are committed, not dropped.
    this.group.flush();
    this.db.close();
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
