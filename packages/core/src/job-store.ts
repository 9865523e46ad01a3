/**
 * The job store shared by receivers and handlers. The host creates it (Redis when a database is
 * configured, an embedded in-process store otherwise) and injects it as `ctx.store`; plugins never
 * open their own connection.
 *
 * Guarantees every implementation gives (see ARCHITECTURE.md, "Jobs, queue and state"):
 * - intake is idempotent: a job id or a delivery id seen before is not queued twice;
 * - a claim is atomic: a job has at most one owner, who holds a lease and renews it;
 * - a job whose owner stopped renewing comes back to the queue (through {@link JobStore.reapExpired});
 * - nothing is lost: a job leaves the store only through {@link JobStore.finish} (or the reaper's
 *   `finish` decision);
 * - a malformed record is logged with its key and quarantined; it never blocks the queue, a claim,
 *   a stats call or a host.
 *
 * Refusals. A call that changes an owned job (`renew`, `update`, `requeue`, `handOff`, `finish`,
 * `quarantine`) is refused with an `AnkletError` whose code says why, the same in every store:
 * - `ANKLET_ERR_JOB_FINISHED`: the job was finished (by anyone, including the reaper). The one
 *   exception: `finish` repeated by the lease that finished it, with the same outcome, succeeds
 *   (a retry after a lost reply).
 * - `ANKLET_ERR_JOB_QUARANTINED`: the job's record was set aside as unreadable.
 * - `ANKLET_ERR_LEASE_LOST`: the job is in the store but another lease holds it (or none does).
 * - `ANKLET_ERR_JOB_NOT_FOUND`: the store has no trace of the job.
 * `isLeaseRefusal(err)` is true for all four: the caller must stop working on the job.
 *
 * `update` treats an empty string like `null`: the field is removed.
 */

import type { JobSummary, JobTimeline, NewTimelineEvent, RecentJobsOptions, TimelineJobState } from './timeline.js';

/** The life-cycle phase a handler records for a job so that a restart can resume it. */
export type JobPhase =
  | 'queued'
  | 'claimed'
  | 'preparing'
  | 'vm_started'
  | 'registered'
  | 'in_progress'
  | 'cleaning'
  | 'finished';

/** A job as the store holds it. `payload` is the plugin's own record (for GitHub, the Go `QueueJob` JSON). */
export interface StoredJob<P = unknown> {
  /** Stable id of the job (GitHub: `workflow_job.id` as a decimal string). */
  readonly id: string;
  /** Queue the job belongs to (the Go "queue owner": `queue_name`, `enterprise` or `owner`). */
  readonly queue: string;
  readonly payload: P;
  /** How many times the job was handed back for another attempt. */
  readonly attempts: number;
  readonly phase: JobPhase;
  /** Milliseconds since the epoch when the job was first stored. */
  readonly enqueuedAt: number;
  /** The handler instance holding the lease, if any. */
  readonly owner?: string | undefined;
  /** Milliseconds since the epoch when the current lease ends (only while claimed). */
  readonly leaseExpiresAt?: number | undefined;
  readonly vmName?: string | undefined;
  readonly runnerId?: string | undefined;
  /** Repository owner given at enqueue; what {@link ClaimRequest.repositoryOwners} filters on. */
  readonly repositoryOwner?: string | undefined;
  /** Template given at enqueue; what {@link ClaimRequest.refusedTemplates} filters on. */
  readonly template?: string | undefined;
  /** The handler instance that handed the job off (the Go `paused_on`), while it waits in the hand-off queue. */
  readonly handedOffBy?: string | undefined;
  /** Reason given with the last requeue, hand-off or reap. */
  readonly lastReason?: string | undefined;
  /** Milliseconds since the epoch before which the job may not be claimed (a requeue with a delay). */
  readonly notBefore?: number | undefined;
  /** Events recorded against the job (`in_progress`, `completed`) with their details. */
  readonly events: Readonly<Record<string, JobEvent | undefined>>;
}

/** An event GitHub reported for a job, recorded by the receiver. */
export interface JobEvent {
  readonly action: 'in_progress' | 'completed';
  /** The runner that took the job, as GitHub names it. */
  readonly runnerName?: string | undefined;
  /** The runner's id, as GitHub reports it (so a handler can check the runner is its own). */
  readonly runnerId?: number | undefined;
  readonly conclusion?: string | undefined;
  readonly at: number;
}

/** Proof of ownership returned by a claim. Pass it back to every call that changes the job. */
export interface JobLease<P = unknown> {
  readonly job: StoredJob<P>;
  readonly owner: string;
  /** Fencing token: strictly increasing per job, so a stale owner's writes are refused. */
  readonly token: number;
}

/** A new job for {@link JobStore.enqueue}. */
export interface NewJob<P = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly payload: P;
  /** The webhook delivery (GitHub: `X-GitHub-Delivery`); a delivery seen before is refused. */
  readonly deliveryId?: string | undefined;
  /** Repository owner, so that claims can filter without reading payloads. */
  readonly repositoryOwner?: string | undefined;
  /** Template (GitHub: the `anka-template` label), so that claims can skip templates a host refused. */
  readonly template?: string | undefined;
}

/** What {@link JobStore.claim} may take. */
export interface ClaimRequest {
  readonly queue: string;
  /** Handler instance name; becomes the lease owner. */
  readonly owner: string;
  /** Lease length in milliseconds; the owner must renew before it ends. */
  readonly leaseMs: number;
  /** Only jobs whose `repositoryOwner` is one of these, or is unset (the `queue_name` case). */
  readonly repositoryOwners?: ReadonlyArray<string> | undefined;
  /** Templates this host already refused (too big for it); such jobs are left for others. */
  readonly refusedTemplates?: ReadonlyArray<string> | undefined;
  /** Job ids this handler must not take again. */
  readonly skipJobIds?: ReadonlyArray<string> | undefined;
  /** Hand-offs made by these instances (the other handlers of this host) are left for other hosts. */
  readonly skipHandedOffBy?: ReadonlyArray<string> | undefined;
  /**
   * Template affinity: leave a young job whose template this host lacks to a host that holds it
   * (see {@link ClaimAffinity}). Absent: any job may be taken, as before.
   */
  readonly affinity?: ClaimAffinity | undefined;
}

/**
 * Template-affinity part of a {@link ClaimRequest}. Inside the claim, a candidate job whose
 * template is not in `templates`, queued less than `graceMs` ago, is skipped when another live
 * host (per {@link JobStore.listHostCapacity}) holds that template and has a free VM slot; the
 * claim then takes the next job it may take, in the usual order. Otherwise the job is taken as
 * usual: no job waits longer than `graceMs` because of affinity. The age is counted from
 * {@link StoredJob.enqueuedAt}, so a job given back after an attempt is never left again.
 */
export interface ClaimAffinity {
  /** This host's id as it publishes its {@link HostCapacity}: its own record is not "another host". */
  readonly hostId: string;
  /** Templates this host holds (uuids and names, any tag), matched against {@link StoredJob.template}. */
  readonly templates: ReadonlyArray<string>;
  /** How long a job may be left for a host that holds its template, in milliseconds (0: never). */
  readonly graceMs: number;
  /**
   * Told, before the claim resolves, which jobs this claim left for another host (not called
   * when it left none). A job left again by a later claim is reported again.
   */
  readonly onLeft?: ((left: ReadonlyArray<LeftForAffinity>) => void) | undefined;
}

/** A job a claim left for a host that holds its template (see {@link ClaimAffinity.onLeft}). */
export interface LeftForAffinity {
  readonly jobId: string;
  readonly template: string;
  /** The host it was left for (one with the template and a free slot). */
  readonly hostId: string;
  readonly hostName: string;
  /** Milliseconds until its grace ends and any host may take it. */
  readonly remainingMs: number;
}

/**
 * What one host holds and how much room it has, published for template-affinity scheduling (see
 * {@link JobStore.putHostCapacity}).
 */
export interface HostCapacity {
  /** The host's identity (`HostCoordination.hostId`, or its host name where there is none). */
  readonly hostId: string;
  /** The host's name, for people (timelines, logs). */
  readonly hostName: string;
  /** Templates on the host: uuids and names, any tag. */
  readonly templates: ReadonlyArray<string>;
  /** VM slots free now (a host that cannot start a VM at once publishes 0). */
  readonly freeSlots: number;
}

/** Result of {@link JobStore.enqueue}. */
export type EnqueueResult = 'enqueued' | 'duplicate_job' | 'duplicate_delivery';

/** Counts for metrics and admin views. */
export interface QueueStats {
  readonly queued: number;
  readonly handedOff: number;
  readonly claimed: number;
  /** Records set aside because they could not be read. */
  readonly quarantined: number;
  /** Age in milliseconds of the oldest queued job, 0 when none. */
  readonly oldestQueuedAgeMs: number;
  /** Jobs requeued with a delay that are not yet due (not counted in `queued`). */
  readonly delayed: number;
  /** Milliseconds until the first delayed job is due (0 when one is due now), or null when none waits. */
  readonly nextDelayedDueMs: number | null;
}

/** Options for {@link JobStore.requeue}. */
export interface RequeueOptions {
  /**
   * The job may not be claimed again before this many milliseconds have passed (the back-off
   * between attempts). It then goes back to the head of its queue. Default 0: at once.
   */
  readonly delayMs?: number | undefined;
  /**
   * Whether this return counts as a failed attempt of the job (`attempts + 1`). Default true.
   * False when the host, not the job, failed (bad credentials, a missing runner group, a cancel
   * GitHub refused): the job goes back with its attempts unchanged.
   */
  readonly countAttempt?: boolean | undefined;
}

/** Which part of a queue {@link JobStore.list} reads. `delayed`: requeued with a delay, not yet due. */
export type JobState = 'queued' | 'delayed' | 'handed_off' | 'claimed';

/** What the reaper's callback decides for a job whose lease expired. */
export type ReapDecision =
  /** Put it back at the head of the queue with `attempts + 1` (the default). */
  | 'requeue'
  /** It is over (GitHub says completed): remove it. */
  | 'finish'
  /** Leave it for now; the next reap asks again. */
  | 'skip';

/** Options for {@link JobStore.reapExpired}. */
export interface ReapOptions {
  /** At most this many expired leases per call (default 100). */
  readonly limit?: number | undefined;
  /** Asked for each expired job before anything happens to it (for example: ask GitHub first). */
  readonly decide?: ((job: StoredJob) => ReapDecision | Promise<ReapDecision>) | undefined;
}

/** What {@link JobStore.reapExpired} did, by job id. */
export interface ReapResult {
  readonly requeued: ReadonlyArray<string>;
  readonly finished: ReadonlyArray<string>;
  readonly skipped: ReadonlyArray<string>;
}

/** A record the store could not read and set aside. */
export interface QuarantinedRecord {
  /** The store key (or file entry) the record was found under. */
  readonly key: string;
  readonly jobId?: string | undefined;
  readonly reason: string;
  readonly at: number;
}

/** Proof of fleet-wide leadership for one named task (the reconciler, the reaper). */
export interface LeaderLease {
  readonly name: string;
  readonly owner: string;
  /** Fencing token: strictly increasing per name across the fleet. */
  readonly token: number;
}

/**
 * Who holds a registered instance name (see {@link JobStore.registerInstance}). Two holders are the
 * same when every field is equal.
 */
export interface InstanceHolder {
  /** The host identity: stable for one machine and work dir, across restarts (see `HostCoordination.hostId`). */
  readonly hostId: string;
  /** The machine's host name, for people reading the refusal. */
  readonly hostName: string;
  /** The anklet process holding the name. */
  readonly pid: number;
  /** The work dir of that process. */
  readonly workDir: string;
}

/** What {@link JobStore.registerInstance} answered. */
export type InstanceRegistration =
  /** The name is ours until `ttlMs` from now unless registered again. */
  | { readonly held: true }
  /** Another holder has it; its registration ends in `expiresInMs` unless it renews it. */
  | { readonly held: false; readonly holder: InstanceHolder; readonly expiresInMs: number };

/** Options of {@link JobStore.registerInstance}. */
export interface RegisterInstanceOptions {
  /**
   * Take the name even though this holder still has it (its heartbeat has not run out): the caller
   * knows it is gone (the same host id, and its process no longer exists). Compare-and-set: when
   * the name is held by anyone else, nothing changes.
   */
  readonly replace?: InstanceHolder | undefined;
}

/** The store interface. */
export interface JobStore {
  /** Stores a new job at the tail of its queue, de-duplicated by job id and by delivery id. */
  enqueue<P>(job: NewJob<P>): Promise<EnqueueResult>;
  /** Records an `in_progress` or `completed` event against a job. Returns false when the job is unknown. */
  recordEvent(queue: string, jobId: string, event: JobEvent): Promise<boolean>;
  /** Atomically claims the oldest job this handler may take, or returns null. Hand-offs come first. */
  claim<P>(request: ClaimRequest): Promise<JobLease<P> | null>;
  /** Extends a lease. Throws `ANKLET_ERR_LEASE_LOST` when the lease is no longer ours. */
  renew<P>(lease: JobLease<P>, leaseMs: number): Promise<JobLease<P>>;
  /** Records progress on an owned job. Throws `ANKLET_ERR_LEASE_LOST` when the lease is no longer ours. */
  update(lease: JobLease, patch: { phase?: JobPhase; vmName?: string | null; runnerId?: string | null }): Promise<void>;
  /**
   * Gives the job back at the head of its queue with `attempts + 1` (unchanged with
   * `options.countAttempt: false`); with `options.delayMs`, no
   * handler can claim it before that time has passed. Claims skip not-yet-due jobs at no extra
   * cost, and no wake-up is published for them: {@link QueueStats.nextDelayedDueMs} says how long
   * a waiting handler may sleep.
   */
  requeue(lease: JobLease, reason: string, options?: RequeueOptions): Promise<void>;
  /** Hands the job to other hosts (this one lacks capacity now); they take it before new jobs. */
  handOff(lease: JobLease, reason: string): Promise<void>;
  /** Ends the job and removes it from the store. Its id stays known for a while so a late redelivery is refused. */
  finish(lease: JobLease, outcome: string): Promise<void>;
  /**
   * Sets an owned job aside as unreadable (its payload has the wrong shape): it leaves the queue,
   * is listed by {@link JobStore.listQuarantined} with `reason`, counted in
   * {@link QueueStats.quarantined}, and is never claimed or listed as owned again. Its id stays
   * known, so a redelivery of the same job is refused like a finished one.
   */
  quarantine(lease: JobLease, reason: string): Promise<void>;
  /**
   * Writes back the record of a job this lease holds after the store lost it (a Redis restarted
   * without its data, a record removed by hand): the job is stored again as claimed by `lease`,
   * with the same fencing token, a lease of `leaseMs`, and what `lease.job` says (payload,
   * attempts, phase, VM name, runner id, events, repository owner, template). The owner can then
   * renew, update and finish it as before. Returns the lease with its new end.
   *
   * Refused like the other calls on an owned job: `ANKLET_ERR_JOB_FINISHED` when the job is
   * remembered as finished, `ANKLET_ERR_JOB_QUARANTINED` when it was set aside, and
   * `ANKLET_ERR_LEASE_LOST` when the store has a record of the job that this lease does not hold
   * (it was queued again meanwhile, or someone else claimed it). When the record is there and this
   * lease holds it, the call only renews the lease (a retry after a lost reply).
   *
   * Optional: stores written before it existed lack it; callers then treat a vanished record as a
   * lost lease.
   */
  restore?<P>(lease: JobLease<P>, leaseMs: number): Promise<JobLease<P>>;
  /** Jobs a handler instance still owns (for resuming after a restart). */
  listOwned<P>(queue: string, owner: string): Promise<ReadonlyArray<JobLease<P>>>;
  /** Reads one job. */
  get<P>(queue: string, jobId: string): Promise<StoredJob<P> | null>;
  /** Jobs in one part of a queue, oldest first, a page at a time (admin views; not a hot path). */
  list<P>(queue: string, state: JobState, page?: { offset?: number; limit?: number }): Promise<ReadonlyArray<StoredJob<P>>>;
  /** Counts for one queue. */
  stats(queue: string): Promise<QueueStats>;
  /** Records set aside as unreadable, newest first. */
  listQuarantined(queue: string, limit?: number): Promise<ReadonlyArray<QuarantinedRecord>>;
  /**
   * Returns jobs whose lease expired to the head of the queue (or does what `options.decide`
   * says). Run it from one process in the fleet: the holder of the `reaper` leadership.
   */
  reapExpired(queue: string, options?: ReapOptions): Promise<ReapResult>;
  /**
   * Resolves when a job may be waiting in `queue` (an enqueue woke us), after `timeoutMs`, or when
   * `signal` aborts; whichever comes first. Never rejects.
   */
  waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * Resolves when an event (`in_progress`, `completed`) may have been recorded for `jobId` (a
   * {@link JobStore.recordEvent} woke us, in this process or, with Redis, anywhere in the fleet),
   * after `timeoutMs`, or when `signal` aborts. Never rejects. An event recorded shortly before the
   * wait (while the caller was reading the job) also wakes it. Optional: stores written before it
   * existed lack it, and callers then poll.
   */
  waitForEvent?(queue: string, jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * Appends `event` to the job's timeline (see `timeline.ts`), stamped with the store's time. The
   * store's own operations write theirs in the same step as the change (`enqueue`: `received`,
   * `queued`; `claim`: `claimed`; `requeue`, `handOff`, a reap: `handed_back`; `recordEvent`:
   * `in_progress`, `completed`; `finish`: `finished`; `quarantine`: `quarantined`; `restore`:
   * `restored`); a handler appends the rest (pull, VM, runner, retry, cancel, clean-up). No lease
   * is needed: the timeline is a record, not the job. Returns false (and writes nothing) when the
   * store has neither the job nor its timeline. The event is cleaned by `timelineEventOf` first.
   *
   * Optional, like the two other timeline methods: stores written before the timeline lack them.
   */
  appendTimeline?(queue: string, jobId: string, event: NewTimelineEvent): Promise<boolean>;
  /** One job's timeline, or null when the store has none (unknown, or finished and past the history bound). */
  getTimeline?(queue: string, jobId: string): Promise<JobTimeline | null>;
  /**
   * The jobs of one queue in `state`, newest first (by when they entered it), each with its first
   * and latest event. Cost: an index read of `limit` entries plus two event reads per job, however
   * many jobs the store holds. Finished jobs are listed while their timeline is kept.
   */
  listRecentJobs?(queue: string, state: TimelineJobState, options?: RecentJobsOptions): Promise<ReadonlyArray<JobSummary>>;
  /** Takes the fleet-wide leadership `name` for `ttlMs`, or returns null when someone else holds it. */
  acquireLeadership(name: string, owner: string, ttlMs: number): Promise<LeaderLease | null>;
  /** Extends a leadership. Throws `ANKLET_ERR_LEASE_LOST` when it expired and someone else took it. */
  renewLeadership(lease: LeaderLease, ttlMs: number): Promise<void>;
  /** Gives a leadership up (no-op when it is no longer ours). */
  releaseLeadership(lease: LeaderLease): Promise<void>;
  /**
   * Registers the instance name `name` for `holder` for `ttlMs` (the host's heartbeat: it calls
   * again every third of the TTL). Answers `held: true` when the name was free, its registration
   * had run out, it was already this holder's (the TTL starts again), or `options.replace` named
   * its current holder; otherwise who holds it. Instance names live in one namespace per store,
   * apart from leaderships.
   */
  registerInstance(name: string, holder: InstanceHolder, ttlMs: number, options?: RegisterInstanceOptions): Promise<InstanceRegistration>;
  /** Gives an instance name up (on a clean exit). No-op when `holder` no longer holds it. */
  releaseInstance(name: string, holder: InstanceHolder): Promise<void>;
  /**
   * Stores one host's metrics snapshot (the Go anklet's JSON) under `<prefix>/metrics/<key>`, which
   * with the default prefix is the Go key `anklet/metrics/<owner>/<name>`, replacing any previous one;
   * it disappears after `ttlMs` unless written again. The store also records the host in its host
   * index with the time of this write, so {@link JobStore.listHostSnapshots} finds it without
   * scanning the keyspace.
   */
  putHostSnapshot(key: string, json: string, ttlMs: number): Promise<void>;
  /**
   * The host snapshots in the store's host index, sorted by key. Cost: one read of the index and one
   * read of the snapshots, whatever else the store holds.
   *
   * `options.maxAgeMs`: hosts whose last write is older are left out and forgotten by the index.
   * `options.includeUnindexed`: also find snapshots written by hosts that do not use the index (Go
   * anklet hosts) by scanning the keyspace; see the implementation for how often it scans.
   */
  listHostSnapshots(options?: HostSnapshotListOptions): Promise<ReadonlyArray<HostSnapshot>>;
  /** Removes one host's snapshot and its index entry (on a clean exit). No-op when it is not there. */
  deleteHostSnapshot(key: string): Promise<void>;
  /**
   * Publishes what this host holds and its free slots (replacing its previous record); the record
   * is gone after `ttlMs` unless written again, so a dead host stops attracting jobs. Optional:
   * stores written before template affinity lack it, and hosts then claim without affinity.
   */
  putHostCapacity?(capacity: HostCapacity, ttlMs: number): Promise<void>;
  /** The live capacity records, sorted by host id (expired ones are left out and dropped). */
  listHostCapacity?(): Promise<ReadonlyArray<HostCapacity>>;
  /** Releases connections, timers and files. The store is unusable afterwards. */
  close(): Promise<void>;
}

/** One host's metrics snapshot as {@link JobStore.listHostSnapshots} returns it. */
export interface HostSnapshot {
  /** The key after `<prefix>/metrics/`, e.g. `veertuinc/RUNNER1`. */
  readonly key: string;
  /** The stored JSON text, unparsed: it may come from another anklet version, or be broken. */
  readonly json: string;
  /**
   * When the store last received this snapshot, in milliseconds since the epoch on the caller's
   * clock (a store whose server keeps time converts the server's time, so host clocks do not
   * matter). Absent for a snapshot the index does not know (a Go host's): read its `last_update`.
   */
  readonly updatedAt?: number | undefined;
}

/** Options of {@link JobStore.listHostSnapshots}. */
export interface HostSnapshotListOptions {
  /** Leave out (and drop from the index) hosts whose last write is older than this. */
  readonly maxAgeMs?: number | undefined;
  /** Also scan for snapshots of hosts that do not register in the index (Go anklet hosts). */
  readonly includeUnindexed?: boolean | undefined;
}
