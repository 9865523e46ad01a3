import type { Cluster, Redis } from 'ioredis';
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
import { closeClient, type RedisConnection } from './connection.js';
import { HostIndex } from './host-index.js';
import { leaderKeys, queueKeys, type QueueKeys } from './keys.js';
import { decodeJob, MalformedRecordError, pairsToRecord } from './record.js';
import { defaultRetryPolicy, withRetry, type RetryPolicy } from './retry.js';
import { createScriptRunner, type ScriptRunner } from './scripts.js';
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
  /** How long a finished job id is remembered so a late redelivery is refused (default 7 days). */
  readonly finishedTtlMs?: number | undefined;
  /** How long a delivery id is remembered (default 7 days; GitHub redelivers for 3). */
  readonly deliveryTtlMs?: number | undefined;
  /** Most jobs one claim looks at when filters skip jobs (default 1000). */
  readonly claimScanLimit?: number | undefined;
  /** Close the connection in `close()` (default true). */
  readonly closeConnection?: boolean | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function isConnection(value: RedisConnectionOrClient): value is RedisConnection {
  return typeof (value as RedisConnection).retry === 'object' && 'client' in value;
}
type RedisConnectionOrClient = RedisConnection | Redis | Cluster;

/** Counted list for the claim script's ARGV: n, then n values. */
function counted(values: ReadonlyArray<string> | undefined): string[] {
  const list = values ?? [];
  return [String(list.length), ...list];
}

function leaseLost(lease: JobLease): AnkletError {
  return new AnkletError(ErrorCodes.LEASE_LOST, `lease on job ${lease.job.id} in queue ${lease.job.queue} is no longer held by ${lease.owner}`, {
    details: { jobId: lease.job.id, queue: lease.job.queue, owner: lease.owner, token: lease.token },
  });
}

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
  private readonly claimScanLimit: number;
  private readonly closeConnection: (() => Promise<void>) | undefined;
  private readonly hosts: HostIndex;

  constructor(options: RedisJobStoreOptions) {
    const redis = options.redis;
    const connection = isConnection(redis) ? redis : undefined;
    this.client = connection ? connection.client : (redis as Redis | Cluster);
    this.prefix = options.prefix ?? 'anklet';
    if (/[{}]/.test(this.prefix)) throw new TypeError(`prefix must not contain "{" or "}": ${this.prefix}`);
    this.logger = options.logger;
    this.retry = options.retry ?? connection?.retry ?? defaultRetryPolicy;
    this.target = connection?.target ?? describeTarget(this.client);
    this.run = createScriptRunner(this.client);
    const duplicate = connection ? () => connection.duplicate() : () => this.client.duplicate();
    this.waker = new Waker(duplicate, this.logger);
    this.finishedTtlMs = options.finishedTtlMs ?? 7 * DAY_MS;
    this.deliveryTtlMs = options.deliveryTtlMs ?? 7 * DAY_MS;
    this.claimScanLimit = options.claimScanLimit ?? 1000;
    const close = options.closeConnection ?? true;
    this.closeConnection = close ? (connection ? () => connection.close() : () => closeClient(this.client)) : undefined;
    this.hosts = new HostIndex({ client: this.client, prefix: this.prefix, run: this.run, op: (name, fn) => this.op(name, fn), logger: this.logger });
  }

  private keys(queue: string): QueueKeys {
    return queueKeys(this.prefix, queue);
  }

  private op<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(this.retry, name, fn, { logger: this.logger, target: this.target });
  }

  async enqueue<P>(job: NewJob<P>): Promise<EnqueueResult> {
    const k = this.keys(job.queue);
    const payload = JSON.stringify(job.payload);
    const deliveryKey = job.deliveryId ? k.delivery(job.deliveryId) : `${k.base}:delivery:`;
    const result = await this.op('enqueue job', () =>
      this.run('enqueue-job', [k.meta, k.queued, k.job(job.id), deliveryKey, k.done(job.id)], [
        job.id,
        job.queue,
        payload,
        job.deliveryId ?? '',
        job.repositoryOwner ?? '',
        job.template ?? '',
        this.deliveryTtlMs,
        k.wake,
      ]),
    );
    return result as EnqueueResult;
  }

  async recordEvent(queue: string, jobId: string, event: JobEvent): Promise<boolean> {
    const k = this.keys(queue);
    const result = await this.op('record event', () => this.run('record-event', [k.job(jobId)], [event.action, JSON.stringify(event), k.events, jobId]));
    return result === 1;
  }

  async claim<P>(request: ClaimRequest): Promise<JobLease<P> | null> {
    const k = this.keys(request.queue);
    const args = [
      request.owner,
      Math.max(1, Math.round(request.leaseMs)),
      k.jobPrefix,
      this.claimScanLimit,
      ...counted(request.repositoryOwners),
      ...counted(request.refusedTemplates),
      ...counted(request.skipJobIds),
      ...counted(request.skipHandedOffBy),
    ];
    // A claimed record that turns out unreadable is quarantined and the claim goes on; the loop
    // bound only protects against a queue full of garbage.
    for (let round = 0; round < 20; round += 1) {
      const reply = (await this.op('claim job', () => this.run('claim-job', [k.handoff, k.queued, k.leases, k.quarantine, k.delayed, k.meta], args))) as unknown[] | null;
      if (!reply) return null;
      const token = Number(reply[0]);
      const hash = pairsToRecord(reply, 1);
      const key = k.job(hash['id'] ?? '?');
      try {
        const job = decodeJob<P>(key, hash);
        return { job, owner: request.owner, token };
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        await this.quarantineRecord(k, hash['id'] ?? '', error);
      }
    }
    return null;
  }

  async quarantine(lease: JobLease, reason: string): Promise<void> {
    // TODO(store v2): refuse when the lease is not held (one script with the lease check).
    const k = this.keys(lease.job.queue);
    await this.quarantineRecord(k, lease.job.id, new MalformedRecordError(k.job(lease.job.id), reason));
  }

  private async quarantineRecord(k: QueueKeys, id: string, error: MalformedRecordError): Promise<void> {
    this.logger?.error('malformed job record quarantined', { key: error.key, reason: error.reason });
    await this.op('quarantine job', () =>
      this.run('quarantine-job', [k.job(id), k.bad(id), k.quarantine, k.queued, k.handoff, k.leases, k.delayed], [id, error.reason]),
    );
  }

  async renew<P>(lease: JobLease<P>, leaseMs: number): Promise<JobLease<P>> {
    const k = this.keys(lease.job.queue);
    const until = Number(
      await this.op('renew lease', () =>
        this.run('renew-lease', [k.job(lease.job.id), k.leases], [lease.owner, lease.token, Math.max(1, Math.round(leaseMs)), lease.job.id]),
      ),
    );
    if (until < 0) throw leaseLost(lease);
    return { ...lease, job: { ...lease.job, leaseExpiresAt: until } };
  }

  async update(lease: JobLease, patch: { phase?: JobPhase; vmName?: string | null; runnerId?: string | null }): Promise<void> {
    const k = this.keys(lease.job.queue);
    const pairs: string[] = [];
    if (patch.phase !== undefined) pairs.push('phase', patch.phase);
    if (patch.vmName !== undefined) pairs.push('vmName', patch.vmName ?? '');
    if (patch.runnerId !== undefined) pairs.push('runnerId', patch.runnerId ?? '');
    const result = await this.op('update job', () => this.run('update-job', [k.job(lease.job.id)], [lease.owner, lease.token, ...pairs]));
    if (Number(result) < 0) throw leaseLost(lease);
  }

  private async returnJob(lease: JobLease, mode: 'requeue' | 'handoff', reason: string, delayMs = 0): Promise<void> {
    const k = this.keys(lease.job.queue);
    const target = mode === 'handoff' ? k.handoff : k.queued;
    const result = await this.op(mode === 'handoff' ? 'hand off job' : 'requeue job', () =>
      this.run('return-job', [k.job(lease.job.id), k.leases, target, k.meta, k.delayed], [mode, lease.owner, lease.token, reason, lease.job.id, k.wake, delayMs]),
    );
    if (Number(result) < 0) throw leaseLost(lease);
  }

  requeue(lease: JobLease, reason: string, options: RequeueOptions = {}): Promise<void> {
    return this.returnJob(lease, 'requeue', reason, Math.max(0, Math.round(options.delayMs ?? 0)));
  }

  handOff(lease: JobLease, reason: string): Promise<void> {
    return this.returnJob(lease, 'handoff', reason);
  }

  async finish(lease: JobLease, outcome: string): Promise<void> {
    const k = this.keys(lease.job.queue);
    const result = await this.op('finish job', () =>
      this.run('finish-job', [k.job(lease.job.id), k.leases, k.done(lease.job.id)], [lease.owner, lease.token, outcome, this.finishedTtlMs, lease.job.id]),
    );
    if (Number(result) < 0) throw leaseLost(lease);
  }

  /** Decodes `[id, field, value, ...]` rows, quarantining rows that cannot be read. */
  private async decodeRows<P>(k: QueueKeys, rows: unknown[]): Promise<StoredJob<P>[]> {
    const jobs: StoredJob<P>[] = [];
    for (const row of rows as unknown[][]) {
      const id = String(row[0]);
      const hash = pairsToRecord(row, 1);
      try {
        if (Object.keys(hash).length === 0) throw new MalformedRecordError(k.job(id), 'job record missing');
        jobs.push(decodeJob<P>(k.job(id), hash));
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        await this.quarantineRecord(k, id, error);
      }
    }
    return jobs;
  }

  async listOwned<P>(queue: string, owner: string): Promise<ReadonlyArray<JobLease<P>>> {
    const k = this.keys(queue);
    // The leases set holds only running jobs (about one per VM slot in the fleet), so reading it
    // whole is cheap; this runs once when a handler starts.
    const rows = (await this.op('list owned jobs', () => this.run('list-jobs', [k.leases], [k.jobPrefix, 0, 100_000, owner]))) as unknown[];
    const tokens = new Map<string, number>();
    for (const row of rows as unknown[][]) tokens.set(String(row[0]), Number(pairsToRecord(row, 1)['token'] ?? 0));
    const jobs = await this.decodeRows<P>(k, rows);
    return jobs.map((job) => ({ job, owner, token: tokens.get(job.id) ?? 0 }));
  }

  async get<P>(queue: string, jobId: string): Promise<StoredJob<P> | null> {
    const k = this.keys(queue);
    const hash = await this.op('get job', () => this.client.hgetall(k.job(jobId)));
    if (Object.keys(hash).length === 0) return null;
    try {
      return decodeJob<P>(k.job(jobId), hash);
    } catch (error) {
      if (!(error instanceof MalformedRecordError)) throw error;
      await this.quarantineRecord(k, jobId, error);
      return null;
    }
  }

  async list<P>(queue: string, state: JobState, page: { offset?: number; limit?: number } = {}): Promise<ReadonlyArray<StoredJob<P>>> {
    const k = this.keys(queue);
    const zset = state === 'queued' ? k.queued : state === 'delayed' ? k.delayed : state === 'handed_off' ? k.handoff : k.leases;
    const offset = Math.max(0, page.offset ?? 0);
    const limit = Math.min(Math.max(1, page.limit ?? 100), 1000);
    const rows = (await this.op('list jobs', () => this.run('list-jobs', [zset], [k.jobPrefix, offset, limit, '']))) as unknown[];
    return this.decodeRows<P>(k, rows);
  }

  async stats(queue: string): Promise<QueueStats> {
    const k = this.keys(queue);
    const reply = (await this.op('queue stats', () => this.run('queue-stats', [k.queued, k.handoff, k.leases, k.quarantine, k.delayed], [k.jobPrefix]))) as number[];
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
    const rows = (await this.op('list expired leases', () => this.run('expired-leases', [k.leases], [k.jobPrefix, options.limit ?? 100]))) as unknown[];
    const tokens = new Map<string, string>();
    for (const row of rows as unknown[][]) tokens.set(String(row[0]), pairsToRecord(row, 1)['token'] ?? '');
    const jobs = await this.decodeRows(k, rows);
    const result = { requeued: [] as string[], finished: [] as string[], skipped: [] as string[] };
    for (const job of jobs) {
      let decision: string = 'requeue';
      if (options.decide) {
        try {
          decision = await options.decide(job);
        } catch (error) {
          this.logger?.warn('reaper callback failed; leaving the job for the next pass', { workflowJobID: job.id, error: (error as Error).message });
          decision = 'skip';
        }
      }
      const token = tokens.get(job.id) ?? '';
      let done = -1;
      if (decision === 'requeue') {
        done = Number(
          await this.op('reap job', () =>
            this.run('return-job', [k.job(job.id), k.leases, k.queued, k.meta, k.delayed], ['reap', '', token, `lease of ${job.owner ?? '?'} expired`, job.id, k.wake, 0]),
          ),
        );
      } else if (decision === 'finish') {
        done = Number(
          await this.op('reap job', () => this.run('finish-job', [k.job(job.id), k.leases, k.done(job.id)], ['', token, 'reaped', this.finishedTtlMs, job.id])),
        );
      }
      // -1: the owner renewed, or someone re-claimed, between the listing and now.
      if (done < 0) result.skipped.push(job.id);
      else if (decision === 'finish') result.finished.push(job.id);
      else result.requeued.push(job.id);
      if (done >= 0) this.logger?.warn(`expired lease reaped (${decision})`, { workflowJobID: job.id, queue, owner: job.owner });
    }
    return result;
  }

  waitForEvent(queue: string, jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waker.waitEvent(this.keys(queue).events, jobId, timeoutMs, signal);
  }

  waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waker.wait(this.keys(queue).wake, timeoutMs, signal);
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
