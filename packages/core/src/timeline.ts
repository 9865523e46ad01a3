/**
 * The job timeline: for each job, a short, bounded list of the events that matter (received,
 * claimed, VM started, completed...), kept by the job store while the job lives and for a bounded
 * time after it finished. It is what a jobs view (`/jobs.json`, `anklet jobs`, `anklet explain`)
 * reads. See {@link JobStore.appendTimeline}, {@link JobStore.getTimeline} and
 * {@link JobStore.listRecentJobs}.
 *
 * A timeline never holds a secret: an event has a closed set of short text fields (a type, who, a
 * reason, a conclusion, a detail), never a payload, and {@link timelineEventOf} cuts every text
 * and blanks anything that looks like a token, a key or a JIT config before a store writes it.
 */

/** What happened to a job. */
export type TimelineEventType =
  /** The store took the job in (a webhook, or a reconciler's find). Written by `enqueue`. */
  | 'received'
  /** The job waits in its queue for a handler. Written by `enqueue`. */
  | 'queued'
  /** A handler took it (`by`: the handler instance). Written by `claim`. */
  | 'claimed'
  /** Given back to the queue (`detail`: `requeue`, `hand_off` or `reap`; `reason`). Written by `requeue`, `handOff`, `reapExpired`. */
  | 'handed_back'
  /**
   * A host without the job's template left it, for the affinity grace, to a host that holds it
   * (`by`: the host that left it; `detail`: which host it was left for). Written once per job and host.
   */
  | 'left_for_affinity'
  /** The handler started making sure the VM template is on the host (`detail`: template and tag). */
  | 'pull_started'
  /** The template is on the host (`detail`: `pulled`, or `cached` when no pull was needed). */
  | 'pull_finished'
  /** The VM was cloned from the template (`detail`: the VM name). */
  | 'vm_cloned'
  | 'vm_started'
  /** The runner in the VM is registered and started (`detail`: the runner id when known). */
  | 'runner_registered'
  /** GitHub says the job runs (`detail`: the runner name). Written by `recordEvent`, or by the handler when it learned it from the API. */
  | 'in_progress'
  /** GitHub says the job completed (`conclusion`). Written by `recordEvent`, or by the handler when it learned it from the API. */
  | 'completed'
  /** The attempt failed and the job goes back for another one (`reason`). */
  | 'retried'
  /** The job was given up and its run cancelled on GitHub (`reason`). */
  | 'cancelled'
  /**
   * The handler copied the runner's own logs out of the VM before deleting it (`detail`: the
   * folder, relative to the host's work dir, that holds them; `reason`: why they were kept).
   */
  | 'diagnostics_kept'
  /** The handler removed the runner and VM of its attempt. */
  | 'cleaned_up'
  /** The job left the store (`conclusion`: the outcome given to `finish`; `reaped` when the reaper ended it). */
  | 'finished'
  /** The job was set aside as unreadable (`reason`). */
  | 'quarantined'
  /** Its owner wrote the job's record back after the store lost it (`by`). */
  | 'restored';

/** Every {@link TimelineEventType}, in the order they usually come. */
export const TIMELINE_EVENT_TYPES: ReadonlyArray<TimelineEventType> = [
  'received',
  'queued',
  'claimed',
  'handed_back',
  'left_for_affinity',
  'pull_started',
  'pull_finished',
  'vm_cloned',
  'vm_started',
  'runner_registered',
  'in_progress',
  'completed',
  'retried',
  'cancelled',
  'diagnostics_kept',
  'cleaned_up',
  'finished',
  'quarantined',
  'restored',
];

/** One event of a job's timeline. */
export interface TimelineEvent {
  readonly type: TimelineEventType;
  /**
   * Milliseconds since the epoch, stamped by the store when it wrote the event (Redis: the
   * server's clock, so events written by different hosts order the same way).
   */
  readonly at: number;
  /** Who did it: the handler instance for `claimed`, `handed_back` and the handler's own events. */
  readonly by?: string | undefined;
  readonly reason?: string | undefined;
  readonly conclusion?: string | undefined;
  /** A short fact of the event: a VM name, a template, a runner name (see {@link TimelineEventType}). */
  readonly detail?: string | undefined;
}

/** An event to append: the store stamps `at`. */
export type NewTimelineEvent = Omit<TimelineEvent, 'at'>;

/** Where a job is, as the timeline sees it. */
export type TimelineJobState =
  /** Waiting for a handler (queued, delayed after a failed attempt, or handed off). */
  | 'queued'
  /** A handler holds it. */
  | 'running'
  /** It left the store (finished or quarantined); its timeline is kept for the history bound. */
  | 'finished';

/** One job's timeline, as {@link JobStore.getTimeline} returns it. */
export interface JobTimeline {
  readonly id: string;
  readonly queue: string;
  readonly state: TimelineJobState;
  /** When the job entered `state` (ms since the epoch). */
  readonly since: number;
  /**
   * The events, oldest first. At most {@link TIMELINE_MAX_EVENTS}: past that, the oldest are
   * dropped except the first one (so `received` stays).
   */
  readonly events: ReadonlyArray<TimelineEvent>;
}

/** One job in {@link JobStore.listRecentJobs}: its state and latest event, without the whole timeline. */
export interface JobSummary {
  readonly id: string;
  readonly queue: string;
  readonly state: TimelineJobState;
  /** When the job entered `state` (ms since the epoch); the list is ordered by it, newest first. */
  readonly since: number;
  /** The job's first event (normally `received`): when it came in. */
  readonly first: TimelineEvent;
  /** The job's latest event. */
  readonly last: TimelineEvent;
}

/** Options of {@link JobStore.listRecentJobs}. */
export interface RecentJobsOptions {
  /** At most this many jobs (default 50, at most 1,000). */
  readonly limit?: number | undefined;
}

/** How long a store keeps the timelines of finished jobs. */
export interface TimelineHistory {
  /** Finished jobs older than this are forgotten (default 24 hours). */
  readonly maxAgeMs?: number | undefined;
  /** At most this many finished jobs per queue are kept, the newest (default 1,000). */
  readonly maxJobs?: number | undefined;
}

/** Events kept per job. */
export const TIMELINE_MAX_EVENTS = 50;
/** Default of {@link TimelineHistory.maxAgeMs}: 24 hours. */
export const TIMELINE_DEFAULT_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** Default of {@link TimelineHistory.maxJobs}. */
export const TIMELINE_DEFAULT_MAX_JOBS = 1000;
/** Longest text field of an event; longer ones are cut. */
export const TIMELINE_MAX_TEXT = 200;

/** The history bound with its defaults filled in (and nonsense values replaced by them). */
export function timelineHistoryOf(history: TimelineHistory | undefined): { maxAgeMs: number; maxJobs: number } {
  const age = history?.maxAgeMs;
  const jobs = history?.maxJobs;
  return {
    maxAgeMs: age !== undefined && Number.isFinite(age) && age >= 1 ? Math.round(age) : TIMELINE_DEFAULT_MAX_AGE_MS,
    maxJobs: jobs !== undefined && Number.isFinite(jobs) && jobs >= 0 ? Math.floor(jobs) : TIMELINE_DEFAULT_MAX_JOBS,
  };
}

/** Texts that look like credentials: GitHub tokens, PEM blocks, `Bearer`/`token` headers. */
const SECRET_SHAPES: ReadonlyArray<RegExp> = [
  /\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{10,}/g,
  /-----BEGIN[\s\S]*?(?:-----END[^-]*-----|$)/g,
  /\b(?:bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
];
/** A long run of base64 or hex: a JIT config, a key, a token of an unknown form. */
const LONG_OPAQUE = /[A-Za-z0-9+/=]{32,}/g;

/**
 * Cuts a text for the timeline and blanks what looks like a secret: GitHub tokens, PEM keys,
 * authorization values, and any run of 32 or more base64 characters that mixes letters and digits
 * (a JIT config is such a run). Words joined by `_` or `-` (the reasons anklet writes) are kept.
 */
export function timelineText(text: string): string {
  let out = text;
  for (const shape of SECRET_SHAPES) out = out.replace(shape, '[redacted]');
  out = out.replace(LONG_OPAQUE, (run) => (/[0-9]/.test(run) && /[A-Za-z]/.test(run) ? '[redacted]' : run));
  return out.length > TIMELINE_MAX_TEXT ? `${out.slice(0, TIMELINE_MAX_TEXT - 1)}…` : out;
}

const TYPES: ReadonlySet<string> = new Set(TIMELINE_EVENT_TYPES);

/**
 * The event as a store writes it: only the known fields, each text through {@link timelineText},
 * empty texts left out. Returns null for an unknown type. Every store calls it on every event,
 * the ones its own operations write included.
 */
export function timelineEventOf(event: NewTimelineEvent): NewTimelineEvent | null {
  if (!TYPES.has(event.type)) return null;
  const out: { -readonly [K in keyof NewTimelineEvent]: NewTimelineEvent[K] } = { type: event.type };
  for (const field of ['by', 'reason', 'conclusion', 'detail'] as const) {
    const value = event[field];
    if (typeof value === 'string' && value !== '') out[field] = timelineText(value);
  }
  return out;
}
