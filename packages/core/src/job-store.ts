/**
 * The job store shared by receivers and handlers. The host creates it (Redis when a database is
 * configured, an embedded in-process store otherwise) and injects it as `ctx.store`; plugins never
 * open their own connection.
 *
 * Guarantees every implementation gives (see ARCHITECTURE.md, "Jobs, queue and state"):
 * - intake is idempotent: a job id or a delivery id seen before is not queued twice;
 * - a claim is atomic: a job has at most one owner, who holds a lease and renews it;
 * - a job whose owner stopped renewing comes back to the queue;
 * - nothing is lost: a job leaves the store only through {@link JobStore.finish}.
 */

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
  readonly vmName?: string | undefined;
  readonly runnerId?: string | undefined;
  /** Events recorded against the job (`in_progress`, `completed`) with their details. */
  readonly events: Readonly<Record<string, JobEvent | undefined>>;
}

/** An event GitHub reported for a job, recorded by the receiver. */
export interface JobEvent {
  readonly action: 'in_progress' | 'completed';
  /** The runner that took the job, as GitHub names it. */
  readonly runnerName?: string | undefined;
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

/** What {@link JobStore.claim} may take. */
export interface ClaimRequest {
  readonly queue: string;
  /** Handler instance name; becomes the lease owner. */
  readonly owner: string;
  /** Lease length in milliseconds; the owner must renew before it ends. */
  readonly leaseMs: number;
  /** Only jobs whose payload `repository.owner` is one of these (the `queue_name` case). */
  readonly repositoryOwners?: ReadonlyArray<string> | undefined;
  /** Templates this host already refused (too big for it); such jobs are left for others. */
  readonly refusedTemplates?: ReadonlyArray<string> | undefined;
  /** Job ids this handler must not take again. */
  readonly skipJobIds?: ReadonlyArray<string> | undefined;
}

/** Result of {@link JobStore.enqueue}. */
export type EnqueueResult = 'enqueued' | 'duplicate_job' | 'duplicate_delivery';

/** Counts for metrics and admin views. */
export interface QueueStats {
  readonly queued: number;
  readonly handedOff: number;
  readonly claimed: number;
  /** Age in milliseconds of the oldest queued job, 0 when none. */
  readonly oldestQueuedAgeMs: number;
}

/** The store interface. */
export interface JobStore {
  /** Stores a new job at the tail of its queue, de-duplicated by job id and by delivery id. */
  enqueue<P>(job: { id: string; queue: string; payload: P; deliveryId?: string }): Promise<EnqueueResult>;
  /** Records an `in_progress` or `completed` event against a job. Returns false when the job is unknown. */
  recordEvent(queue: string, jobId: string, event: JobEvent): Promise<boolean>;
  /** Atomically claims the oldest job this handler may take, or returns null. Hand-offs come first. */
  claim<P>(request: ClaimRequest): Promise<JobLease<P> | null>;
  /** Extends a lease. Throws `ANKLET_ERR_LEASE_LOST` when the lease is no longer ours. */
  renew(lease: JobLease, leaseMs: number): Promise<void>;
  /** Records progress on an owned job. */
  update(lease: JobLease, patch: { phase?: JobPhase; vmName?: string | null; runnerId?: string | null }): Promise<void>;
  /** Gives the job back at the head of its queue with `attempts + 1`. */
  requeue(lease: JobLease, reason: string): Promise<void>;
  /** Hands the job to other hosts (this one lacks capacity now); they take it before new jobs. */
  handOff(lease: JobLease, reason: string): Promise<void>;
  /** Ends the job and removes it from the store. */
  finish(lease: JobLease, outcome: string): Promise<void>;
  /** Jobs a handler instance still owns (for resuming after a restart). */
  listOwned<P>(queue: string, owner: string): Promise<ReadonlyArray<JobLease<P>>>;
  /** Reads one job. */
  get<P>(queue: string, jobId: string): Promise<StoredJob<P> | null>;
  /** Counts for one queue. */
  stats(queue: string): Promise<QueueStats>;
  /**
   * Resolves when a job may be waiting in `queue` (an enqueue woke us), after `timeoutMs`, or when
   * `signal` aborts; whichever comes first. Never rejects.
   */
  waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
}
