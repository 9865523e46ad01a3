/**
 * The jobs view: which jobs wait and why, which host runs which job in which phase, and what
 * happened to the jobs that finished lately. Built from the job store (its queues and the job
 * timeline, see `@anklet/core`'s `timeline.ts`), served at `/jobs.json` by a host and by the
 * aggregator, shown in the status page's Jobs section and printed by `anklet jobs`.
 *
 * The shape is {@link JobsViewSchema} (documented field by field in the package README). Its cost
 * does not grow with the history a store keeps: a few index reads per queue plus one read per job
 * shown, never more than `limit` jobs of each state.
 */
import { z } from 'zod';
import type { JobStore, JobSummary, JobTimeline, StoredJob, TimelineEvent, TimelineJobState } from '@anklet/core';
import type { StatusHost } from './fleet.js';

/** The states a jobs view can show, in the order it shows them. */
export const JOB_VIEW_STATES = ['queued', 'running', 'finished'] as const;
export type JobViewState = (typeof JOB_VIEW_STATES)[number];

/** Jobs shown per state when no limit is asked for. */
export const JOBS_VIEW_DEFAULT_LIMIT = 20;
/** The largest limit (the store keeps at most 1,000 finished jobs per queue by default). */
export const JOBS_VIEW_MAX_LIMIT = 1000;

const isoTime = z.string().describe('an RFC 3339 time (UTC)');
const seconds = z.number().nonnegative();

/** What every job of the view has. */
const JobBase = z.object({
  /** The job id (GitHub: the workflow job id). */
  id: z.string(),
  /** The store queue it belongs to. */
  queue: z.string(),
  /** The job's name and link on GitHub, when the store has its record (not for finished jobs). */
  name: z.string().nullable(),
  url: z.string().nullable(),
  /** `owner/repo`, when known. */
  repository: z.string().nullable(),
  /** The Anka template and tag it asks for (`anka-template`, `anka-template-tag` labels), when known. */
  template: z.string().nullable(),
  tag: z.string().nullable(),
});

/** A job waiting for a handler. */
export const QueuedJobSchema = JobBase.extend({
  /** `queued`: in line; `handed_off`: a host gave it to the others (taken first); `delayed`: waits out a back-off. */
  waiting: z.enum(['queued', 'handed_off', 'delayed']),
  /** When it was first stored, and how long ago. */
  queued_at: isoTime,
  age_seconds: seconds,
  /** Failed attempts so far. */
  attempts: z.number().int().nonnegative(),
  /** The reason given when it was last handed back (requeue, hand-off, expired lease), if it was. */
  last_reason: z.string().nullable(),
  /** A delayed job: seconds until a handler may take it again. */
  due_in_seconds: seconds.nullable(),
  /** Why it waits, in words (see the README for the texts). */
  why: z.string(),
});

/** A job a handler holds. */
export const RunningJobSchema = JobBase.extend({
  /** The host of the handler (its key in the fleet view), when a live host reports that handler. */
  host: z.string().nullable(),
  /** The handler holding the job's lease (its plugin name; the lease owner without its `@<host id>`). */
  handler: z.string(),
  vm: z.string().nullable(),
  /** The phase the handler recorded (`claimed`, `preparing`, `vm_started`, `registered`, `in_progress`, `cleaning`). */
  phase: z.string(),
  /** When the handler took it, and for how long it has held it. */
  since: isoTime,
  running_seconds: seconds,
  /** The latest timeline event (what it is doing now) and when it happened. */
  last_event: z.string().nullable(),
  last_event_at: isoTime.nullable(),
  attempts: z.number().int().nonnegative(),
});

/** Seconds spent in each phase of a finished job; null when the timeline does not show that phase. */
export const JobPhasesSchema = z.object({
  /** From received to the (last) claim. */
  waiting: seconds.nullable(),
  /** Making sure the template is on the host (pull or cache hit). */
  pull: seconds.nullable(),
  /** From the template ready to the runner registered (clone, start, register). */
  vm: seconds.nullable(),
  /** From the runner registered to GitHub saying the job runs. */
  pickup: seconds.nullable(),
  /** From in progress to completed. */
  run: seconds.nullable(),
  /** From completed to the VM cleaned up. */
  cleanup: seconds.nullable(),
  /** From received to finished. */
  total: seconds.nullable(),
});

/** A job that left the store, while its timeline is kept (`job_history.max_age_hours`, `job_history.max_jobs`). */
export const FinishedJobSchema = JobBase.extend({
  /** GitHub's conclusion (`success`, `failure`, `cancelled`...) when known, else the store outcome. */
  conclusion: z.string(),
  /** What the handler gave `finish` (`completed`, `cancelled`, `reaped`, `quarantined`...). */
  outcome: z.string(),
  finished_at: isoTime,
  phases: JobPhasesSchema,
  /** Times a handler took the job (1 for a job run at the first try). */
  attempts: z.number().int().nonnegative(),
  /** The hand-back, retry and cancel reasons, oldest first (`handed back: ...`, `retried: ...`, `cancelled: ...`). */
  reasons: z.array(z.string()),
  /** The last handler that held it and the VM of its last attempt, when known. */
  handler: z.string().nullable(),
  vm: z.string().nullable(),
  /** Where the runner's own logs were kept on the host (relative to its work dir), when they were. */
  diagnostics: z.string().nullable(),
});

/** What `GET /jobs.json` and `anklet jobs --json` answer. */
export const JobsViewSchema = z.object({
  generated_at: isoTime,
  /** The queues read. */
  queues: z.array(z.string()),
  /** The states read (`?state=`); the lists of the others are empty. */
  states: z.array(z.enum(JOB_VIEW_STATES)),
  /** At most this many jobs per list (`?limit=`). */
  limit: z.number().int().positive(),
  /** How many jobs wait and run in all (the lists may be cut by `limit`). */
  totals: z.object({ queued: z.number().int().nonnegative(), running: z.number().int().nonnegative() }),
  /** Oldest first. */
  queued: z.array(QueuedJobSchema),
  /** Longest-held first. */
  running: z.array(RunningJobSchema),
  /** Newest first. */
  finished: z.array(FinishedJobSchema),
});

export type JobsView = z.infer<typeof JobsViewSchema>;
export type QueuedJob = z.infer<typeof QueuedJobSchema>;
export type RunningJob = z.infer<typeof RunningJobSchema>;
export type FinishedJob = z.infer<typeof FinishedJobSchema>;
export type JobPhases = z.infer<typeof JobPhasesSchema>;

/** What {@link readJobsView} reads from a store (the timeline methods are optional, as in `JobStore`). */
export type JobsViewStore = Pick<JobStore, 'list' | 'get' | 'stats' | 'getTimeline' | 'listRecentJobs'>;

/** Options of {@link readJobsView}. */
export interface JobsViewOptions {
  /** The queues to read. */
  readonly queues: ReadonlyArray<string>;
  /** The states to read (default: all three). */
  readonly states?: ReadonlyArray<JobViewState> | undefined;
  /** Jobs per list (default {@link JOBS_VIEW_DEFAULT_LIMIT}, at most {@link JOBS_VIEW_MAX_LIMIT}). */
  readonly limit?: number | undefined;
  /**
   * The fleet as the status page sees it: names the host of each running job's handler, and tells
   * a queued job's wait apart (no handler host, every VM slot busy, hosts draining).
   */
  readonly hosts?: ReadonlyArray<StatusHost> | undefined;
  readonly now?: Date | undefined;
}

/** The limit asked for, made sane. */
export function jobsViewLimitOf(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return JOBS_VIEW_DEFAULT_LIMIT;
  return Math.min(JOBS_VIEW_MAX_LIMIT, Math.max(1, Math.floor(limit)));
}

const iso = (ms: number) => new Date(ms).toISOString();
const secondsBetween = (from: number, to: number) => Math.max(0, Math.round((to - from) / 1000));

/** What a job's payload says about it, read loosely: the payload is the plugin's own record. */
interface JobFacts {
  name: string | null;
  url: string | null;
  repository: string | null;
  template: string | null;
  tag: string | null;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Reads a GitHub `QueueJob` payload (the Go shape); any other payload gives what the store knows. */
function factsOf(job: StoredJob): JobFacts {
  const p = (job.payload ?? {}) as { workflow_job?: Record<string, unknown>; repository?: Record<string, unknown> };
  const wj = p.workflow_job && typeof p.workflow_job === 'object' ? p.workflow_job : {};
  const labels = Array.isArray(wj.labels) ? wj.labels.filter((l): l is string => typeof l === 'string') : [];
  const label = (prefix: string) => labels.find((l) => l.startsWith(prefix))?.slice(prefix.length) || null;
  const repo = p.repository && typeof p.repository === 'object' ? p.repository : {};
  const owner = text(repo.owner) ?? job.repositoryOwner ?? null;
  const name = text(repo.name);
  return {
    name: text(wj.name),
    url: text(wj.html_url),
    repository: owner && name ? `${owner}/${name}` : owner,
    template: job.template ?? label('anka-template:'),
    tag: label('anka-template-tag:'),
  };
}

/** What the fleet offers a waiting job: handler hosts and their VM slots. */
interface FleetOffer {
  known: boolean;
  handlerHosts: number;
  draining: number;
  free: number;
  total: number;
  /** Handlers waiting for a job (status `idle`) on a host with a free VM slot. */
  idle: number;
}

function offerOf(hosts: ReadonlyArray<StatusHost> | undefined): FleetOffer {
  if (!hosts) return { known: false, handlerHosts: 0, draining: 0, free: 0, total: 0, idle: 0 };
  const live = hosts.filter((h) => !h.stale && (h.vm_slots_total ?? 0) > 0);
  const open = live.filter((h) => !h.draining);
  return {
    known: true,
    handlerHosts: live.length,
    draining: live.length - open.length,
    total: open.reduce((n, h) => n + (h.vm_slots_total ?? 0), 0),
    free: open.reduce((n, h) => n + Math.max(0, (h.vm_slots_total ?? 0) - (h.vm_slots_used ?? 0)), 0),
    idle: open.filter((h) => (h.vm_slots_total ?? 0) > (h.vm_slots_used ?? 0)).reduce((n, h) => n + h.plugins.filter((p) => p.status === 'idle').length, 0),
  };
}

/** `template X tag Y`, `template X`, or `a host`. */
function wantOf(facts: JobFacts): string {
  if (!facts.template) return 'a free host';
  return `a free host with template ${facts.template}${facts.tag ? ` tag ${facts.tag}` : ''}`;
}

/**
 * Why a queued job waits, in words. The hand-back or delay reason comes first (the store keeps the
 * reason of the last requeue, hand-off or reap, the same the timeline's `handed_back` event holds),
 * then what the job waits for.
 */
function whyWaiting(job: StoredJob, waiting: QueuedJob['waiting'], facts: JobFacts, offer: FleetOffer, now: number): string {
  const reason = job.lastReason ?? null;
  if (waiting === 'delayed') {
    const due = job.notBefore !== undefined ? secondsBetween(now, job.notBefore) : 0;
    if (reason?.startsWith('cancel_pending')) return `given up (${reason.slice('cancel_pending'.length).replace(/^:\s*/, '') || 'no reason'}); waiting for GitHub to confirm the cancel`;
    return `delayed after a failed attempt${reason ? ` (${reason})` : ''}; may run again in ${due}s`;
  }
  let wait = `waiting for ${wantOf(facts)}`;
  if (offer.known) {
    if (offer.handlerHosts === 0) wait = `waiting for ${wantOf(facts)}: no handler host is reporting`;
    else if (offer.total === 0) wait = `waiting for ${wantOf(facts)}: every handler host is draining (${offer.draining})`;
    else if (offer.free === 0) wait = `waiting for ${wantOf(facts)}: all ${offer.total} VM slot${offer.total === 1 ? ' is' : 's are'} busy`;
    else if (offer.idle === 0) wait = `waiting for ${wantOf(facts)}: every handler is busy`;
  }
  if (waiting === 'handed_off') return `handed off${job.handedOffBy ? ` by ${handlerNameOf(job.handedOffBy)}` : ''}${reason ? `: ${reason}` : ''}; ${wait} (other hosts take it first)`;
  if (reason) return `handed back${job.attempts > 0 ? ` (attempt ${job.attempts + 1} next)` : ''}: ${reason}; ${wait}`;
  return wait;
}

/** The last event of `type` at or after `from`, or undefined. */
function lastOf(events: ReadonlyArray<TimelineEvent>, type: TimelineEvent['type'], from = 0): TimelineEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.type === type && events[i]!.at >= from) return events[i];
  return undefined;
}

const span = (from: TimelineEvent | undefined, to: TimelineEvent | undefined): number | null =>
  from && to && to.at >= from.at ? Math.round((to.at - from.at) / 1000) : null;

/** Seconds in each phase of a finished job, from its timeline (the last attempt's phases). */
export function phasesOf(events: ReadonlyArray<TimelineEvent>): JobPhases {
  const received = events[0];
  const claimed = lastOf(events, 'claimed');
  const from = claimed?.at ?? 0;
  const pullStarted = lastOf(events, 'pull_started', from);
  const pullFinished = lastOf(events, 'pull_finished', from);
  const registered = lastOf(events, 'runner_registered', from);
  const inProgress = lastOf(events, 'in_progress', from) ?? lastOf(events, 'in_progress');
  const completed = lastOf(events, 'completed');
  const cleaned = lastOf(events, 'cleaned_up', from);
  const finished = lastOf(events, 'finished');
  return {
    waiting: span(received, claimed),
    pull: span(pullStarted, pullFinished),
    vm: span(pullFinished ?? claimed, registered),
    pickup: span(registered, inProgress),
    run: span(inProgress, completed),
    cleanup: span(completed, cleaned),
    total: span(received, finished ?? events[events.length - 1]),
  };
}

const REASON_WORDS: Partial<Record<TimelineEvent['type'], string>> = {
  handed_back: 'handed back',
  retried: 'retried',
  cancelled: 'cancelled',
  quarantined: 'quarantined',
};

function finishedOf(timeline: JobTimeline): FinishedJob {
  const events = timeline.events;
  const finished = lastOf(events, 'finished');
  const completed = lastOf(events, 'completed');
  const pull = lastOf(events, 'pull_started');
  const [template, tag] = pull?.detail ? pull.detail.split(':') : [];
  const outcome = finished?.conclusion ?? (lastOf(events, 'quarantined') ? 'quarantined' : 'unknown');
  const vmEvent = [...events].reverse().find((e) => (e.type === 'vm_cloned' || e.type === 'vm_started') && e.detail);
  const claimedBy = lastOf(events, 'claimed')?.by;
  const handler = claimedBy ? handlerNameOf(claimedBy) : null;
  return {
    id: timeline.id,
    queue: timeline.queue,
    name: null,
    url: null,
    repository: null,
    template: template || null,
    tag: tag && tag !== 'latest' ? tag : null,
    conclusion: completed?.conclusion ?? outcome,
    outcome,
    finished_at: iso(timeline.since),
    phases: phasesOf(events),
    attempts: events.filter((e) => e.type === 'claimed').length,
    reasons: events.flatMap((e) => {
      const word = REASON_WORDS[e.type];
      return word ? [`${word}: ${e.reason ?? e.detail ?? 'no reason given'}`] : [];
    }),
    handler,
    vm: vmEvent?.detail ?? null,
    diagnostics: lastOf(events, 'diagnostics_kept')?.detail ?? null,
  };
}

/** A lease owner is `<handler name>@<host id>` (older leases: the bare name): the handler's name. */
function handlerNameOf(owner: string): string {
  const at = owner.lastIndexOf('@');
  return at > 0 ? owner.slice(0, at) : owner;
}

/** Handler name → host key, from the hosts' plugin lists. */
function hostOfHandler(hosts: ReadonlyArray<StatusHost> | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const h of hosts ?? []) for (const p of h.plugins) if (!map.has(p.name) || !h.stale) map.set(p.name, h.key);
  return map;
}

/**
 * Builds the jobs view of `options.queues` from a job store (Redis or embedded: only the
 * `JobStore` interface is used). Cost per queue: one `stats`, and for each state read at most
 * `limit` jobs: `list` for queued jobs (three parts of the queue), `listRecentJobs` + `get` for
 * running ones, `listRecentJobs` + `getTimeline` for finished ones (only the newest `limit` over all
 * queues get their timeline read).
 */
export async function readJobsView(store: JobsViewStore, options: JobsViewOptions): Promise<JobsView> {
  const now = (options.now ?? new Date()).getTime();
  const limit = jobsViewLimitOf(options.limit);
  const states = JOB_VIEW_STATES.filter((s) => (options.states ?? JOB_VIEW_STATES).includes(s));
  const queues = [...new Set(options.queues)].sort((a, b) => a.localeCompare(b));
  const offer = offerOf(options.hosts);
  const hostOf = hostOfHandler(options.hosts);
  const totals = { queued: 0, running: 0 };
  for (const stats of await Promise.all(queues.map((q) => store.stats(q)))) {
    totals.queued += stats.queued + stats.handedOff + stats.delayed;
    totals.running += stats.claimed;
  }

  const queued: QueuedJob[] = [];
  if (states.includes('queued')) {
    const parts = ['handed_off', 'queued', 'delayed'] as const;
    const lists = await Promise.all(queues.flatMap((q) => parts.map(async (part) => ({ part, jobs: await store.list(q, part, { limit }) }))));
    for (const { part, jobs } of lists) {
      for (const job of jobs) {
        const facts = factsOf(job);
        queued.push({
          id: job.id,
          queue: job.queue,
          ...facts,
          waiting: part,
          queued_at: iso(job.enqueuedAt),
          age_seconds: secondsBetween(job.enqueuedAt, now),
          attempts: job.attempts,
          last_reason: job.lastReason ?? null,
          due_in_seconds: part === 'delayed' && job.notBefore !== undefined ? secondsBetween(now, job.notBefore) : null,
          why: whyWaiting(job, part, facts, offer, now),
        });
      }
    }
    queued.sort((a, b) => b.age_seconds - a.age_seconds || a.id.localeCompare(b.id));
    queued.splice(limit);
  }

  const running: RunningJob[] = [];
  if (states.includes('running')) {
    // The timeline lists running jobs with the time they were claimed and their latest event; a
    // store without timelines still lists them (from the claimed part of the queue).
    const summaries = new Map<string, JobSummary>();
    let jobs: StoredJob[];
    if (store.listRecentJobs) {
      const lists = await Promise.all(queues.map((q) => store.listRecentJobs!(q, 'running', { limit })));
      const recent = lists.flat().sort((a, b) => a.since - b.since);
      for (const s of recent) summaries.set(`${s.queue}\n${s.id}`, s);
      jobs = (await Promise.all(recent.slice(0, limit).map((s) => store.get(s.queue, s.id)))).filter((j): j is StoredJob => j !== null);
    } else {
      jobs = (await Promise.all(queues.map((q) => store.list(q, 'claimed', { limit })))).flat();
    }
    for (const job of jobs) {
      if (!job.owner) continue; // handed back between the two reads
      const summary = summaries.get(`${job.queue}\n${job.id}`);
      const since = summary?.since ?? job.enqueuedAt;
      running.push({
        id: job.id,
        queue: job.queue,
        ...factsOf(job),
        host: hostOf.get(handlerNameOf(job.owner)) ?? null,
        handler: handlerNameOf(job.owner),
        vm: job.vmName ?? null,
        phase: job.phase,
        since: iso(since),
        running_seconds: secondsBetween(since, now),
        last_event: summary ? `${summary.last.type}${summary.last.detail ? `: ${summary.last.detail}` : ''}` : null,
        last_event_at: summary ? iso(summary.last.at) : null,
        attempts: job.attempts,
      });
    }
    running.sort((a, b) => b.running_seconds - a.running_seconds || a.id.localeCompare(b.id));
    running.splice(limit);
  }

  const finished: FinishedJob[] = [];
  if (states.includes('finished') && store.listRecentJobs && store.getTimeline) {
    const lists = await Promise.all(queues.map((q) => store.listRecentJobs!(q, 'finished', { limit })));
    const newest = lists
      .flat()
      .sort((a, b) => b.since - a.since)
      .slice(0, limit);
    const timelines = await Promise.all(newest.map((s) => store.getTimeline!(s.queue, s.id)));
    for (const timeline of timelines) if (timeline && timeline.state === ('finished' satisfies TimelineJobState)) finished.push(finishedOf(timeline));
  }

  return { generated_at: iso(now), queues, states: [...states], limit, totals, queued, running, finished };
}

/**
 * Merges the views of several stores (a host whose plugins use different databases) into one,
 * keeping each list's order and limit.
 */
export function mergeJobsViews(views: ReadonlyArray<JobsView>, now: Date = new Date()): JobsView {
  const first = views[0];
  const limit = first?.limit ?? JOBS_VIEW_DEFAULT_LIMIT;
  return {
    generated_at: now.toISOString(),
    queues: [...new Set(views.flatMap((v) => v.queues))].sort((a, b) => a.localeCompare(b)),
    states: first?.states ?? [...JOB_VIEW_STATES],
    limit,
    totals: { queued: views.reduce((n, v) => n + v.totals.queued, 0), running: views.reduce((n, v) => n + v.totals.running, 0) },
    queued: views.flatMap((v) => v.queued).sort((a, b) => b.age_seconds - a.age_seconds).slice(0, limit),
    running: views.flatMap((v) => v.running).sort((a, b) => b.running_seconds - a.running_seconds).slice(0, limit),
    finished: views.flatMap((v) => v.finished).sort((a, b) => b.finished_at.localeCompare(a.finished_at)).slice(0, limit),
  };
}

/**
 * Reads `?state=` (one or more states, repeated or comma-separated) and `?limit=` from a query.
 * Returns an error text for anything else, naming what is valid.
 */
export function jobsViewQueryOf(query: URLSearchParams): { states: JobViewState[]; limit: number } | { error: string } {
  const asked = query.getAll('state').flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  const bad = asked.find((s) => !(JOB_VIEW_STATES as readonly string[]).includes(s));
  if (bad !== undefined) return { error: `unknown state "${bad.slice(0, 40)}", please use one of: ${JOB_VIEW_STATES.join(', ')}` };
  const rawLimit = query.get('limit');
  let limit = JOBS_VIEW_DEFAULT_LIMIT;
  if (rawLimit !== null && rawLimit !== '') {
    const n = Number(rawLimit);
    if (!Number.isInteger(n) || n < 1 || n > JOBS_VIEW_MAX_LIMIT) return { error: `limit must be a whole number from 1 to ${JOBS_VIEW_MAX_LIMIT}` };
    limit = n;
  }
  return { states: asked.length ? JOB_VIEW_STATES.filter((s) => asked.includes(s)) : [...JOB_VIEW_STATES], limit };
}
