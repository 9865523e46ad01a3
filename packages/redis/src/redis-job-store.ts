import type { Cluster, Redis } from 'ioredis';
import {
  AnkletError,
  ErrorCodes,
  type ClaimRequest,
  type EnqueueResult,
  type HostCapacity,
  type HostSnapshot,
  type HostSnapshotListOptions,
  type InstanceHolder,
  type InstanceRegistration,
  type JobEvent,
  type JobLease,
  type JobSummary,
  type JobTimeline,
  type NewTimelineEvent,
  type RecentJobsOptions,
  type TimelineEvent,
  type TimelineHistory,
  type TimelineJobState,
  type JobPhase,
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
  timelineHistoryOf,
  timelineText,
} from '@anklet/core';
import { closeClient, type RedisConnection } from './connection.js';
import { HostIndex } from './host-index.js';
import { decodeHostCapacity, encodeHostCapacity, holdersElsewhere, hostCapacityKey, readLeft, reportLeft, sortCapacity } from './host-capacity.js';
import { holderJson, readHolder } from './instance-holder.js';
import { instanceKey, leaderKeys, queueKeys, type QueueKeys } from './keys.js';
import { decodeJob, MalformedRecordError, pairsToRecord, payloadPieces, UPDATE_FIELDS } from './record.js';
import { refusalError, RefusalCodes } from './refusals.js';
import { defaultRetryPolicy, withRetry, type RetryPolicy } from './retry.js';
import { createScriptRunner, type ScriptNote, type ScriptRunner } from './scripts.js';
import { Waker } from './wake.js';

/** Options for {@link createRedisJobStore}. */
export interface RedisJobStoreOptions {
  /** A connection from `createRedisConnection` (carries the retry policy), or a bare ioredis client. */
  readonly redis: RedisConnection | Redis | Cluster;
  /** First part of every key (default `anklet`). No braces. */
  readonly prefix?: string | undefined;
  readonly logger?: Logger | undefined;
  /** Overrides the connection's retry policy (bare clients default to 5 / 1000 ms / 2.0). */
  readonly retry?: RetryPolicy | undefined;
  /** How long a finished (or quarantined) job id is remembered so a late redelivery is refused (default 7 days). */
  readonly finishedTtlMs?: number | undefined;
  /** How long a delivery id is remembered (default 7 days; GitHub redelivers for 3). */
  readonly deliveryTtlMs?: number | undefined;
  /** Close the connection in `close()` (default true). */
  readonly closeConnection?: boolean | undefined;
  /** How long, and how many per queue, finished jobs' timelines are kept (default 24 hours, 1,000 jobs). */
  readonly timelineHistory?: TimelineHistory | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Jobs of an older record format moved per script call (each call blocks Redis briefly). */
const MIGRATION_BATCH = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isConnection(value: RedisConnectionOrClient): value is RedisConnection {
  return typeof (value as RedisConnection).retry === 'object' && 'client' in value;
}
type RedisConnectionOrClient = RedisConnection | Redis | Cluster;

/** Jobs per enqueue script call at most (one event-loop round's webhooks usually number far fewer). */
const ENQUEUE_BATCH_MAX = 64;

/** One enqueue waiting for its batch's script call. */
interface PendingEnqueue {
  readonly args: ReadonlyArray<string | Buffer>;
  resolve(result: EnqueueResult): void;
  reject(error: Error): void;
}

/** True when Redis answered the call with an error (not a lost connection or a timeout). */
function isRefusedByServer(error: unknown): boolean {
  return error instanceof AnkletError && error.code === ErrorCodes.STORE_UNAVAILABLE && error.message.startsWith('job store refused');
}

/** Counted list for the claim script's ARGV: n, then n values. */
function counted(values: ReadonlyArray<string> | undefined): string[] {
  const list = values ?? [];
  return [String(list.length), ...list];
}

/** A delivery id as stored: a UUID (GitHub's form) as its 16 bytes, anything else as it is. */
function deliveryArg(id: string | undefined): string | Buffer {
  if (!id) return '';
  return UUID.test(id) ? Buffer.from(id.replace(/-/g, ''), 'hex') : id;
}

/** Throws the refusal a script answered, if it answered one. */
function check(reply: unknown, lease: JobLease): void {
  const error = refusalError(reply, lease);
  if (error) throw error;
}

/** A stored timeline event, or null when it is not one (a hand edit, a newer anklet's field types). */
function readTimelineEvent(text: unknown): TimelineEvent | null {
  try {
    const parsed: unknown = JSON.parse(String(text));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    const event = parsed as Partial<TimelineEvent>;
    if (typeof event.type !== 'string' || typeof event.at !== 'number') return null;
    return event as TimelineEvent;
  } catch {
    return null;
  }
}

const TIMELINE_STATES: ReadonlySet<string> = new Set<TimelineJobState>(['queued', 'running', 'finished']);

/** One row of `read-jobs`: `['id', id, field, value, ...]`. */
type Row = unknown[];

/**
 * The Redis job store. Every multi-key step is one Lua script (see `lua/`), run with EVALSHA, so a
 * claim is one round trip whatever the queue depth; all keys of one queue share a hash tag, so it
 * works the same on Redis Cluster.
 */
export class RedisJobStore implements JobStore {
  private readonly client: Redis | Cluster;
  private readonly run: ScriptRunner;
  private readonly prefix: string;
  private readonly logger: Logger | undefined;
  private readonly retry: RetryPolicy;
  private readonly target: string;
  private readonly waker: Waker;
  private readonly finishedTtlMs: number;
  private readonly deliveryTtlMs: number;
  /** ARGV[2] of every queue script: `<tombstone ms>,<timeline age ms>,<timeline jobs>` (see lua/_lib.lua). */
  private readonly scriptTtls: string;
  private readonly closeConnection: (() => Promise<void>) | undefined;
  private readonly hosts: HostIndex;
  /** Per queue: resolves once the queue is in the current record format (see `ready`). */
  private readonly migrated = new Map<string, Promise<void>>();
  /** Per queue: the enqueues of this event-loop round, sent together (see `enqueue`). */
  private readonly enqueueBatches = new Map<string, PendingEnqueue[]>();
  /** Per queue: the change counter seen by the last claim that found nothing (see `waitForWork`). */
  private readonly seenChanges = new Map<string, string>();
  /** Per queue: claims that found nothing and were not yet followed by a wait (those waits are active). */
  private readonly fruitless = new Map<string, number>();

  constructor(options: RedisJobStoreOptions) {
    const redis = options.redis;
    const connection = isConnection(redis) ? redis : undefined;
    this.client = connection ? connection.client : (redis as Redis | Cluster);
    this.prefix = options.prefix ?? 'anklet';
    if (/[{}]/.test(this.prefix)) throw new TypeError(`prefix must not contain "{" or "}": ${this.prefix}`);
    this.logger = options.logger;
    this.retry = options.retry ?? connection?.retry ?? defaultRetryPolicy;
    this.target = connection?.target ?? describeTarget(this.client);
    this.run = createScriptRunner(this.client, (notes) => this.logNotes(notes));
    const duplicate = connection ? () => connection.duplicate() : () => this.client.duplicate();
    this.waker = new Waker(duplicate, this.logger);
    this.finishedTtlMs = options.finishedTtlMs ?? 7 * DAY_MS;
    this.deliveryTtlMs = options.deliveryTtlMs ?? 7 * DAY_MS;
    const history = timelineHistoryOf(options.timelineHistory);
    this.scriptTtls = `${Math.max(1, Math.round(this.finishedTtlMs))},${history.maxAgeMs},${history.maxJobs}`;
    const close = options.closeConnection ?? true;
    this.closeConnection = close ? (connection ? () => connection.close() : () => closeClient(this.client)) : undefined;
    this.hosts = new HostIndex({ client: this.client, prefix: this.prefix, run: this.run, op: (name, fn) => this.op(name, fn), logger: this.logger });
  }

  /** Wake-ups this store's waits acted on (each resolved one waiting handler). */
  get wakeups(): number {
    return this.waker.wakeups;
  }

  private logNotes(notes: ReadonlyArray<ScriptNote>): void {
    for (const note of notes) this.logger?.error('malformed job record quarantined', { key: note.key, reason: note.reason });
  }

  private keys(queue: string): QueueKeys {
    return queueKeys(this.prefix, queue);
  }

  private op<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(this.retry, name, fn, { logger: this.logger, target: this.target });
  }

  /** Runs a queue script: KEYS = [meta], ARGV = [base, tombstone TTL and timeline bounds, ...args]. */
  private script(name: string, k: QueueKeys, args: ReadonlyArray<string | number | Buffer>): Promise<unknown> {
    return this.run(name, [k.meta], [k.base, this.scriptTtls, ...args]);
  }

  /**
   * Resolves once `queue` is in the current record format. An older anklet's queue is moved over
   * in batches, in queue order, the first time this process uses it (unreadable records are
   * quarantined with their key and reason); afterwards this is one resolved promise.
   */
  private ready(queue: string): Promise<void> {
    let done = this.migrated.get(queue);
    if (!done) {
      const k = this.keys(queue);
      done = (async () => {
        for (;;) {
          const finished = await this.op('migrate queue', () => this.script('migrate-queue', k, [queue, MIGRATION_BATCH]));
          if (Number(finished) === 1) return;
        }
      })();
      done.catch(() => this.migrated.delete(queue));
      this.migrated.set(queue, done);
    }
    return done;
  }

  /**
   * Enqueues go out in batches: the calls of one event-loop round for one queue share one script
   * call (one round trip, one Lua run), each job answered with its own result. The script stores
   * them in call order with the same de-duplication as one by one.
   */
  async enqueue<P>(job: NewJob<P>): Promise<EnqueueResult> {
    await this.ready(job.queue);
    const args: Array<string | Buffer> = [job.id, deliveryArg(job.deliveryId), job.repositoryOwner ?? '', job.template ?? ''];
    const pieces = payloadPieces(JSON.stringify(job.payload) ?? 'null');
    args.push(String(pieces.length), ...pieces);
    return new Promise<EnqueueResult>((resolve, reject) => {
      let batch = this.enqueueBatches.get(job.queue);
      if (!batch || batch.length >= ENQUEUE_BATCH_MAX) {
        const fresh: PendingEnqueue[] = [];
        batch = fresh;
        this.enqueueBatches.set(job.queue, fresh);
        setImmediate(() => {
          if (this.enqueueBatches.get(job.queue) === fresh) this.enqueueBatches.delete(job.queue);
          void this.flushEnqueues(job.queue, fresh);
        });
      }
      batch.push({ args, resolve, reject });
    });
  }

  private async flushEnqueues(queue: string, batch: ReadonlyArray<PendingEnqueue>): Promise<void> {
    const k = this.keys(queue);
    const call = (jobs: ReadonlyArray<PendingEnqueue>) =>
      this.op('enqueue job', () => this.script('enqueue-jobs', k, [this.deliveryTtlMs, ...jobs.flatMap((p) => p.args)])) as Promise<unknown[]>;
    try {
      const results = await call(batch);
      batch.forEach((p, i) => {
        const result = String(results[i]);
        if (!result.startsWith('error')) return p.resolve(result as EnqueueResult);
        p.reject(new AnkletError(ErrorCodes.STORE_UNAVAILABLE, `job store refused enqueue job on ${this.target}: ${result.slice('error: '.length)}`, { details: { op: 'enqueue job', target: this.target } }));
      });
    } catch (error) {
      if (batch.length === 1 || !isRefusedByServer(error)) {
        for (const p of batch) p.reject(error as Error);
        return;
      }
      // The server refused the batch (one job's key of the wrong type, say): one call per job, so
      // only that job's webhook fails.
      await Promise.all(
        batch.map((p) =>
          call([p]).then(
            (results) => p.resolve(results[0] as EnqueueResult),
            (one: unknown) => p.reject(one as Error),
          ),
        ),
      );
    }
  }

  async recordEvent(queue: string, jobId: string, event: JobEvent): Promise<boolean> {
    const k = this.keys(queue);
    await this.ready(queue);
    const timeline = timelineEventOf(
      event.action === 'completed'
        ? { type: 'completed', conclusion: event.conclusion ?? 'unknown' }
        : { type: 'in_progress', detail: event.runnerName ?? undefined },
    );
    const result = await this.op('record event', () => this.script('record-event', k, [event.action, JSON.stringify(event), jobId, timeline ? JSON.stringify(timeline) : '']));
    return Number(result) === 1;
  }

  async claim<P>(request: ClaimRequest): Promise<JobLease<P> | null> {
    const k = this.keys(request.queue);
    await this.ready(request.queue);
    const args = [
      request.owner,
      Math.max(1, Math.round(request.leaseMs)),
      ...counted(request.repositoryOwners),
      ...counted(request.refusedTemplates),
      ...counted(request.skipJobIds),
      ...counted(request.skipHandedOffBy),
      ...(await this.affinityArgs(request)),
    ];
    // A claimed record whose payload turns out unreadable is quarantined and the claim goes on;
    // the loop bound only protects against a queue full of garbage.
    for (let round = 0; round < 20; round += 1) {
      const reply = (await this.op('claim job', () => this.script('claim-job', k, args))) as unknown[];
      if (reply[0] === 'none') {
        reportLeft(request, readLeft(reply[2]));
        this.seenChanges.set(request.queue, String(reply[1]));
        this.fruitless.set(request.queue, (this.fruitless.get(request.queue) ?? 0) + 1);
        return null;
      }
      if (reply[0] === 'again') continue;
      if (reply[reply.length - 2] === '!left') reportLeft(request, readLeft(reply.splice(-2, 2)[1]));
      const token = Number(reply[0]);
      const hash = pairsToRecord(reply, 1);
      const id = hash['id'] ?? '';
      try {
        return { job: decodeJob<P>(k.job(id), id, request.queue, hash), owner: request.owner, token };
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        await this.quarantineRecord(k, id, error, request.owner, token);
      }
    }
    return null;
  }

  /**
   * The claim script's affinity arguments: the grace, what this host holds, and which other live
   * hosts with a free slot hold what (read from the capacity records just before the claim; they
   * are rewritten every second or so, so a read a moment old is as good as one inside the script,
   * and the capacity key may live on another cluster node than the queue).
   */
  private async affinityArgs(request: ClaimRequest): Promise<Array<string | number>> {
    const affinity = request.affinity;
    if (!affinity || !(affinity.graceMs > 0)) return [];
    const holders = holdersElsewhere(await this.listHostCapacity(), affinity.hostId);
    const triples = [...holders].flatMap(([template, h]) => [template, h.hostId, h.hostName]);
    return [Math.round(affinity.graceMs), ...counted(affinity.templates), String(holders.size), ...triples];
  }

  async putHostCapacity(capacity: HostCapacity, ttlMs: number): Promise<void> {
    const json = encodeHostCapacity(capacity);
    await this.op('publish host capacity', () => this.run('put-host-capacity', [hostCapacityKey(this.prefix)], [capacity.hostId, json, Math.max(1, Math.round(ttlMs))]));
  }

  async listHostCapacity(): Promise<ReadonlyArray<HostCapacity>> {
    const flat = (await this.op('read host capacity', () => this.run('read-host-capacity', [hostCapacityKey(this.prefix)], []))) as string[];
    const records: HostCapacity[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const record = decodeHostCapacity(String(flat[i]), String(flat[i + 1]));
      if (record) records.push(record);
    }
    return sortCapacity(records);
  }

  async quarantine(lease: JobLease, reason: string): Promise<void> {
    const k = this.keys(lease.job.queue);
    await this.ready(lease.job.queue);
    const reply = await this.op('quarantine job', () => this.script('quarantine-job', k, [lease.owner, lease.token, lease.job.id, reason, timelineText(reason)]));
    check(reply, lease);
    this.logger?.error('job quarantined by its owner', { key: k.job(lease.job.id), reason });
  }

  /** Sets a record aside that a script returned but this side could not decode. */
  private async quarantineRecord(k: QueueKeys, id: string, error: MalformedRecordError, owner = '', token = 0): Promise<void> {
    await this.op('quarantine job', () => this.script('quarantine-job', k, [owner, owner ? token : '', id, error.reason]));
  }

  async renew<P>(lease: JobLease<P>, leaseMs: number): Promise<JobLease<P>> {
    const k = this.keys(lease.job.queue);
    await this.ready(lease.job.queue);
    const reply = await this.op('renew lease', () => this.script('renew-lease', k, [lease.owner, lease.token, Math.max(1, Math.round(leaseMs)), lease.job.id]));
    check(reply, lease);
    return { ...lease, job: { ...lease.job, leaseExpiresAt: Number(reply) } };
  }

  async update(lease: JobLease, patch: { phase?: JobPhase; vmName?: string | null; runnerId?: string | null }): Promise<void> {
    const k = this.keys(lease.job.queue);
    await this.ready(lease.job.queue);
    const pairs: string[] = [];
    // '' and null both remove the field (the contract: update treats '' like null).
    if (patch.phase !== undefined) pairs.push(UPDATE_FIELDS.phase, patch.phase);
    if (patch.vmName !== undefined) pairs.push(UPDATE_FIELDS.vmName, patch.vmName ?? '');
    if (patch.runnerId !== undefined) pairs.push(UPDATE_FIELDS.runnerId, patch.runnerId ?? '');
    const reply = await this.op('update job', () => this.script('update-job', k, [lease.owner, lease.token, lease.job.id, ...pairs]));
    check(reply, lease);
  }

  private async returnJob(lease: JobLease, mode: 'requeue' | 'handoff', reason: string, delayMs = 0, countAttempt = true): Promise<void> {
    const k = this.keys(lease.job.queue);
    await this.ready(lease.job.queue);
    const reply = await this.op(mode === 'handoff' ? 'hand off job' : 'requeue job', () =>
      this.script('return-job', k, [mode, lease.owner, lease.token, reason, lease.job.id, delayMs, countAttempt ? '1' : '0', timelineText(reason)]),
    );
    check(reply, lease);
  }

  requeue(lease: JobLease, reason: string, options: RequeueOptions = {}): Promise<void> {
    return this.returnJob(lease, 'requeue', reason, Math.max(0, Math.round(options.delayMs ?? 0)), options.countAttempt !== false);
  }

  handOff(lease: JobLease, reason: string): Promise<void> {
    return this.returnJob(lease, 'handoff', reason);
  }

  async finish(lease: JobLease, outcome: string): Promise<void> {
    const k = this.keys(lease.job.queue);
    await this.ready(lease.job.queue);
    const reply = await this.op('finish job', () => this.script('finish-job', k, [lease.owner, lease.token, outcome, lease.job.id, timelineText(outcome)]));
    check(reply, lease);
  }

  async restore<P>(lease: JobLease<P>, leaseMs: number): Promise<JobLease<P>> {
    const k = this.keys(lease.job.queue);
    await this.ready(lease.job.queue);
    const job = lease.job;
    const events = Object.entries(job.events).filter((entry): entry is [string, JobEvent] => entry[1] !== undefined);
    const args = [
      lease.owner,
      lease.token,
      Math.max(1, Math.round(leaseMs)),
      job.id,
      job.enqueuedAt,
      job.attempts,
      job.phase,
      job.vmName ?? '',
      job.runnerId ?? '',
      job.repositoryOwner ?? '',
      job.template ?? '',
      job.lastReason ?? '',
      events.length,
      ...events.flatMap(([action, event]) => [action, JSON.stringify(event)]),
      ...payloadPieces(JSON.stringify(job.payload) ?? 'null'),
    ];
    const reply = await this.op('restore job', () => this.script('restore-job', k, args));
    check(reply, lease);
    return { ...lease, job: { ...job, owner: lease.owner, leaseExpiresAt: Number(reply), handedOffBy: undefined, notBefore: undefined } };
  }

  /** Reads rows of `read-jobs`; records the scripts could not read were quarantined there. */
  private async readJobs<P>(k: QueueKeys, queue: string, what: string, args: ReadonlyArray<string | number>): Promise<Array<{ job: StoredJob<P>; token: number }>> {
    await this.ready(queue);
    const rows = (await this.op('read jobs', () => this.script('read-jobs', k, [what, ...args]))) as Row[];
    const jobs: Array<{ job: StoredJob<P>; token: number }> = [];
    for (const row of rows) {
      const hash = pairsToRecord(row, 0);
      const id = hash['id'] ?? '';
      try {
        jobs.push({ job: decodeJob<P>(k.job(id), id, queue, hash), token: Number(hash['k'] ?? 0) });
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        this.logger?.error('malformed job record quarantined', { key: error.key, reason: error.reason });
        await this.quarantineRecord(k, id, error);
      }
    }
    return jobs;
  }

  async listOwned<P>(queue: string, owner: string): Promise<ReadonlyArray<JobLease<P>>> {
    const k = this.keys(queue);
    // The leases set holds only running jobs (about one per VM slot in the fleet), so reading it
    // whole is cheap; this runs once when a handler starts.
    const rows = await this.readJobs<P>(k, queue, 'claimed', [0, 100_000, owner]);
    return rows.map(({ job, token }) => ({ job, owner, token }));
  }

  async get<P>(queue: string, jobId: string): Promise<StoredJob<P> | null> {
    const rows = await this.readJobs<P>(this.keys(queue), queue, 'ids', [0, 1, jobId]);
    return rows[0]?.job ?? null;
  }

  async list<P>(queue: string, state: JobState, page: { offset?: number; limit?: number } = {}): Promise<ReadonlyArray<StoredJob<P>>> {
    const offset = Math.max(0, page.offset ?? 0);
    const limit = Math.min(Math.max(1, page.limit ?? 100), 1000);
    const rows = await this.readJobs<P>(this.keys(queue), queue, state, [offset, limit, '']);
    return rows.map((row) => row.job);
  }

  async stats(queue: string): Promise<QueueStats> {
    const k = this.keys(queue);
    await this.ready(queue);
    const reply = (await this.op('queue stats', () => this.script('queue-stats', k, []))) as number[];
    const [queued = 0, handedOff = 0, claimed = 0, quarantined = 0, oldestQueuedAgeMs = 0, delayed = 0, nextDue = -1] = reply.map(Number);
    return { queued, handedOff, claimed, quarantined, oldestQueuedAgeMs, delayed, nextDelayedDueMs: nextDue < 0 ? null : nextDue };
  }

  async listQuarantined(queue: string, limit = 100): Promise<ReadonlyArray<QuarantinedRecord>> {
    const k = this.keys(queue);
    const entries = await this.op('list quarantined', () => this.client.lrange(k.quarantine, 0, Math.max(0, limit - 1)));
    return entries.flatMap((entry) => {
      try {
        return [JSON.parse(entry) as QuarantinedRecord];
      } catch {
        return [];
      }
    });
  }

  async reapExpired(queue: string, options: ReapOptions = {}): Promise<ReapResult> {
    const k = this.keys(queue);
    const rows = await this.readJobs(k, queue, 'expired', [0, options.limit ?? 100]);
    const result = { requeued: [] as string[], finished: [] as string[], skipped: [] as string[] };
    for (const { job, token } of rows) {
      let decision: string = 'requeue';
      if (options.decide) {
        try {
          decision = await options.decide(job);
        } catch (error) {
          this.logger?.warn('reaper callback failed; leaving the job for the next pass', { workflowJobID: job.id, error: (error as Error).message });
          decision = 'skip';
        }
      }
      let reply: unknown = RefusalCodes.LEASE_LOST;
      if (decision === 'requeue') {
        const reason = `lease of ${job.owner ?? '?'} expired`;
        reply = await this.op('reap job', () => this.script('return-job', k, ['reap', '', token, reason, job.id, 0, '1', timelineText(reason)]));
      } else if (decision === 'finish') {
        reply = await this.op('reap job', () => this.script('finish-job', k, ['', token, 'reaped', job.id]));
      }
      // A refusal: the owner renewed, or someone re-claimed or finished it, between the listing and now.
      const done = Number(reply) === 1;
      if (!done) result.skipped.push(job.id);
      else if (decision === 'finish') result.finished.push(job.id);
      else result.requeued.push(job.id);
      if (done) this.logger?.warn(`expired lease reaped (${decision})`, { workflowJobID: job.id, queue, owner: job.owner });
    }
    return result;
  }

  async appendTimeline(queue: string, jobId: string, event: NewTimelineEvent): Promise<boolean> {
    const clean = timelineEventOf(event);
    if (!clean) return false;
    const k = this.keys(queue);
    await this.ready(queue);
    return Number(await this.op('append timeline', () => this.script('append-timeline', k, [jobId, JSON.stringify(clean)]))) === 1;
  }

  async getTimeline(queue: string, jobId: string): Promise<JobTimeline | null> {
    const k = this.keys(queue);
    const reply = (await this.op('read timeline', () => this.script('read-timeline', k, ['one', jobId]))) as unknown[];
    const [state, since, ...raw] = reply;
    if (typeof state !== 'string' || !TIMELINE_STATES.has(state)) return null;
    const events = raw.map(readTimelineEvent).filter((e): e is TimelineEvent => e !== null);
    if (events.length === 0) return null;
    return { id: jobId, queue, state: state as TimelineJobState, since: Number(since), events };
  }

  async listRecentJobs(queue: string, state: TimelineJobState, options: RecentJobsOptions = {}): Promise<ReadonlyArray<JobSummary>> {
    if (!TIMELINE_STATES.has(state)) return [];
    const limit = Math.min(Math.max(1, Math.floor(options.limit ?? 50)), 1000);
    const k = this.keys(queue);
    const reply = (await this.op('list recent jobs', () => this.script('read-timeline', k, ['list', state, limit]))) as unknown[];
    const jobs: JobSummary[] = [];
    for (let i = 0; i + 3 < reply.length; i += 4) {
      const first = readTimelineEvent(reply[i + 2]);
      const last = readTimelineEvent(reply[i + 3]);
      if (first && last) jobs.push({ id: String(reply[i]), queue, state, since: Number(reply[i + 1]), first, last });
    }
    return jobs;
  }

  waitForEvent(queue: string, jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waker.waitEvent(this.keys(queue).events, jobId, timeoutMs, signal);
  }

  /**
   * Targeted wake-up: the wait registers one idle token; an enqueue (or requeue, hand-off) wakes
   * one token in the fleet. When the queue changed since this process's last fruitless claim on
   * it, the wait ends at once instead (the job may have come in between). A wait that follows a
   * fruitless claim is active; any other (a handler waiting for a free VM slot) is passive and is
   * woken only when no active waiter is idle.
   */
  waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const k = this.keys(queue);
    const owed = this.fruitless.get(queue) ?? 0;
    if (owed > 0) this.fruitless.set(queue, owed - 1);
    const active = owed > 0 ? '1' : '0';
    const register = async (token: string, ms: number): Promise<boolean> => {
      await this.ready(queue);
      const seen = active === '1' ? (this.seenChanges.get(queue) ?? '') : '';
      return Number(await this.script('wait-idle', k, [token, Math.max(1, Math.round(ms)), seen, active])) === 1;
    };
    const unregister = (token: string): void => {
      this.client.zrem(k.idle, token).catch(() => undefined);
    };
    return this.waker.waitTargeted(k.wake, timeoutMs, signal, register, unregister);
  }

  async acquireLeadership(name: string, owner: string, ttlMs: number): Promise<LeaderLease | null> {
    const k = leaderKeys(this.prefix, name);
    const token = await this.op('acquire leadership', () => this.run('acquire-leader', [k.lock, k.fence], [owner, Math.max(1, Math.round(ttlMs))]));
    return token === null ? null : { name, owner, token: Number(token) };
  }

  async renewLeadership(lease: LeaderLease, ttlMs: number): Promise<void> {
    const k = leaderKeys(this.prefix, lease.name);
    const ok = await this.op('renew leadership', () => this.run('renew-leader', [k.lock], [`${lease.owner}:${lease.token}`, Math.max(1, Math.round(ttlMs))]));
    if (Number(ok) !== 1) {
      throw new AnkletError(ErrorCodes.LEASE_LOST, `leadership ${lease.name} is no longer held by ${lease.owner}`, { details: { ...lease } });
    }
  }

  async releaseLeadership(lease: LeaderLease): Promise<void> {
    const k = leaderKeys(this.prefix, lease.name);
    await this.op('release leadership', () => this.run('release-leader', [k.lock], [`${lease.owner}:${lease.token}`]));
  }

  async registerInstance(name: string, holder: InstanceHolder, ttlMs: number, options: RegisterInstanceOptions = {}): Promise<InstanceRegistration> {
    const key = instanceKey(this.prefix, name);
    const args = [holderJson(holder), Math.max(1, Math.round(ttlMs)), options.replace ? holderJson(options.replace) : ''];
    const reply = (await this.op('register instance', () => this.run('register-instance', [key], args))) as unknown[];
    if (Number(reply[0]) === 1) return { held: true };
    return { held: false, holder: readHolder(String(reply[1])), expiresInMs: Math.max(0, Number(reply[2])) };
  }

  async releaseInstance(name: string, holder: InstanceHolder): Promise<void> {
    const key = instanceKey(this.prefix, name);
    await this.op('release instance', () => this.run('release-instance', [key], [holderJson(holder)]));
  }

  putHostSnapshot(key: string, json: string, ttlMs: number): Promise<void> {
    return this.hosts.put(key, json, ttlMs);
  }

  deleteHostSnapshot(key: string): Promise<void> {
    return this.hosts.delete(key);
  }

  listHostSnapshots(options?: HostSnapshotListOptions): Promise<ReadonlyArray<HostSnapshot>> {
    return this.hosts.list(options);
  }

  async close(): Promise<void> {
    await this.waker.close();
    await this.closeConnection?.();
  }
}

function describeTarget(client: Redis | Cluster): string {
  if ('options' in client && 'host' in client.options) return `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
  return 'redis cluster';
}

/**
 * Creates the Redis job store.
 *
 * @example
 * ```ts
 * const store = createRedisJobStore({ redis: createRedisConnection(dbConfig), prefix: 'anklet', logger });
 * ```
 */
export function createRedisJobStore(options: RedisJobStoreOptions): JobStore {
  return new RedisJobStore(options);
}
