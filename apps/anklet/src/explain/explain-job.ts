import type { JobStore, JobTimeline, StoredJob, TimelineEvent } from '@anklet/core';
import { parseAnkaLabels } from '@anklet/github';
import { familiesFromSnapshot, readFleet, type FleetEntry, type FleetReadOptions, type SnapshotTemplate } from '@anklet/metrics';
import { formatAge } from '../status/fleet-status.js';
import type { JobRef } from './job-ref.js';

/**
 * `anklet explain`: one plain answer to "where is my job, and why", from the job's record and
 * timeline in the store, the hosts' snapshots (their cores, memory, VM slots, drain state and
 * templates) and, only for a job the store does not know, one GitHub API call.
 */

/** What GitHub says about a job (`GET /repos/{owner}/{repo}/actions/jobs/{job_id}`). */
export interface GitHubJobFacts {
  readonly status: string;
  readonly conclusion: string | null;
  readonly labels: ReadonlyArray<string>;
  readonly html_url?: string | undefined;
  readonly runner_name?: string | null | undefined;
}

/** The one GitHub call: the job's facts, or null when GitHub does not know it (404). */
export type GitHubJobLookup = (ref: { owner: string; repo: string; jobId: string }) => Promise<GitHubJobFacts | null>;

/** Handler settings `explain` needs to word its answer (from the config's handler blocks of the queue). */
export interface HandlerLimits {
  /** `job_retry_attempts` (default 5). */
  readonly retryAttempts: number;
  /** `registration_timeout_seconds` (default 80). */
  readonly registrationTimeoutSeconds: number;
}

export const DEFAULT_LIMITS: HandlerLimits = { retryAttempts: 5, registrationTimeoutSeconds: 80 };

/** How one host stands toward a waiting job. */
export interface HostVerdict {
  /** The host's name (its `metrics.host_name`, else its metrics key). */
  readonly host: string;
  /**
   * `refused`: a handler of the host handed the job back because the host is too small for it;
   * `stale`: the host stopped reporting; `draining`; `busy`: every VM slot taken; `faulted`: its
   * handlers are refused by GitHub (credentials, config, rate limit); `free`: none of these.
   */
  readonly state: 'refused' | 'stale' | 'draining' | 'busy' | 'faulted' | 'free';
  /** The words after the host name in the answer: `refused (8 cores, 16 GB)`. */
  readonly text: string;
}

/** One timeline event as the JSON shows it (times as RFC3339). */
export interface ExplainedEvent {
  readonly type: string;
  readonly at: string;
  readonly by?: string | undefined;
  readonly reason?: string | undefined;
  readonly conclusion?: string | undefined;
  readonly detail?: string | undefined;
}

/** What `anklet explain --json` prints (documented in the README). */
export interface Explanation {
  readonly job_id: string;
  readonly job_url?: string | undefined;
  /**
   * `queued` (waiting for a handler, handed off, or waiting out a retry's back-off), `running` (a
   * handler holds it), `finished` (it left the store; its timeline is kept for a while),
   * `not_in_anklet` (GitHub knows it, the store does not), `unknown` (neither could be asked or
   * knows it).
   */
  readonly state: 'queued' | 'running' | 'finished' | 'not_in_anklet' | 'unknown';
  /** The plain answer, one line. */
  readonly answer: string;
  /** Further lines: hand-backs, retries, kept runner logs, what GitHub says. */
  readonly details: ReadonlyArray<string>;
  readonly queue?: string | undefined;
  /** When the job entered its state (RFC3339). */
  readonly since?: string | undefined;
  /** Failed attempts so far, and how many the handlers allow. */
  readonly attempts?: { readonly failed: number; readonly max: number } | undefined;
  /** The template the job asks for, with what the hosts know of it. */
  readonly template?:
    | {
        readonly id: string;
        readonly tag?: string | undefined;
        readonly cpu_cores?: number | undefined;
        readonly ram_bytes?: number | undefined;
        readonly size_bytes?: number | undefined;
        /** Hosts that have it (or pull it now). */
        readonly on_hosts: ReadonlyArray<string>;
      }
    | undefined;
  /** For a waiting job: each handler host and why it does not run the job. */
  readonly hosts?: ReadonlyArray<HostVerdict> | undefined;
  /** For a running job: where. */
  readonly running?: { readonly host: string; readonly handler: string; readonly vm?: string | undefined; readonly phase: string; readonly since: string } | undefined;
  /** For a finished job: how it ended. */
  readonly finished?: { readonly conclusion: string; readonly at: string } | undefined;
  /** Hand-backs to the queue, with the host that handed back and the reason. */
  readonly hand_backs?: ReadonlyArray<{ readonly at: string; readonly host?: string | undefined; readonly reason: string }> | undefined;
  /** The folder (relative to the host's work dir) where a handler kept the runner's logs, and on which host. */
  readonly diagnostics?: { readonly host?: string | undefined; readonly path: string } | undefined;
  /** What GitHub said, when it was asked (only for a job the store does not know). */
  readonly github?: GitHubJobFacts | undefined;
  /** For a job not in anklet: when the next reconcile sweep of its queue is due (RFC3339), if known. */
  readonly next_sweep_at?: string | undefined;
  /** The job's timeline, oldest first. */
  readonly timeline?: ReadonlyArray<ExplainedEvent> | undefined;
}

/** What {@link explainJob} reads. */
export interface ExplainSources {
  readonly store: Pick<JobStore, 'get' | 'getTimeline' | 'listHostSnapshots'>;
  /** The queues to look the job up in (the config's and the hosts'). */
  readonly queues: ReadonlyArray<string>;
  /** Queue for a job the store does not know, from its repository owner (the config's handlers). */
  readonly queueOfOwner?: ((owner: string) => string | undefined) | undefined;
  /** Handler settings per queue. */
  readonly limitsOf?: ((queue: string) => HandlerLimits) | undefined;
  /** The one GitHub call, when credentials are configured. */
  readonly github?: GitHubJobLookup | undefined;
  /** The repository to ask GitHub about for a bare job id (a repository-scoped plugin's). */
  readonly defaultRepository?: { readonly owner: string; readonly repo: string } | undefined;
  readonly fleetOptions?: Omit<FleetReadOptions, 'now'> | undefined;
  /** The hosts' snapshots, when the caller read them already (else read with `fleetOptions`). */
  readonly fleet?: ReadonlyArray<FleetEntry> | undefined;
  readonly now?: Date | undefined;
}

/** Sizes as Anka states them: binary gigabytes, written "GB" (a 4G VM is "4 GB"). */
const GB = 2 ** 30;
const gb = (bytes: number) => `${bytes >= 10 * GB ? Math.round(bytes / GB) : Math.round((bytes / GB) * 10) / 10} GB`;
const cores = (n: number) => `${n} core${n === 1 ? '' : 's'}`;
const iso = (ms: number) => new Date(ms).toISOString();
/** `12:04:05` in UTC: what the answer says for a time today. */
const clock = (ms: number) => `${new Date(ms).toISOString().slice(11, 19)} UTC`;
const ageOf = (from: number, now: number) => formatAge(Math.max(0, Math.round((now - from) / 1000)));

/** The host name of a fleet entry. */
const hostNameOf = (entry: FleetEntry) => entry.snapshot.anklet?.host_name || entry.key;

/** The fleet entry a lease owner (`<name>@<host id>`, or a bare name) belongs to. */
function hostOfOwner(fleet: ReadonlyArray<FleetEntry>, owner: string | undefined): FleetEntry | undefined {
  if (!owner) return undefined;
  const at = owner.lastIndexOf('@');
  const name = at > 0 ? owner.slice(0, at) : owner;
  const hostId = at > 0 ? owner.slice(at + 1) : undefined;
  if (hostId) {
    const byId = fleet.find((e) => e.snapshot.anklet?.host_id === hostId);
    if (byId) return byId;
  }
  return fleet.find((e) => e.snapshot.plugins.some((p) => p.Name === name));
}

/** The handler instance name of a lease owner. */
const handlerOf = (owner: string) => (owner.lastIndexOf('@') > 0 ? owner.slice(0, owner.lastIndexOf('@')) : owner);

/** Reasons of hand-backs, retries and cancels, in words (`{host}`: where it happened). */
const REASON_WORDS: Readonly<Record<string, string>> = {
  pull_already_running_on_host: 'pull already running on {host}',
  not_enough_host_resources: '{host} is too small for the template',
  not_enough_free_resources_now: 'no free room on {host}',
  restarted_before_running: '{host} restarted before running it',
  restarted_while_running: '{host} restarted while running it',
  shutdown_before_running: '{host} shut down before running it',
  job_record_lost_before_running: 'the store lost the job record on {host}',
  template_tag_replaced_on_host: 'the template tag changed on {host}',
  anka_template_does_not_exist_locally: 'the template is not on {host}',
  error_no_space_on_host_for_template: 'no disk space for the template on {host}',
  earlier_runner_lost_the_job: 'an earlier runner lost the job',
  anka_template_or_tag_not_found: 'the template or tag is not in the registry',
  anka_template_label_missing: 'no anka-template label',
  anka_labels_malformed: 'its anka labels are malformed',
  job_timed_out: 'the job ran past job_timeout_hours',
  error_unexpected: 'an unexpected error on {host}',
};

/** A stored reason in words; `limits` words the registration timeout. */
export function reasonInWords(reason: string, host: string | undefined, limits: HandlerLimits = DEFAULT_LIMITS): string {
  const on = host ?? 'its host';
  const cancelPending = /^cancel_pending:\s*/.exec(reason);
  if (cancelPending) return `given up (${reasonInWords(reason.slice(cancelPending[0].length), host, limits)}), waiting for GitHub to confirm the cancel`;
  const maxAttempts = /^max_attempts_exceeded:\s*/.exec(reason);
  if (maxAttempts) return `every attempt failed (last: ${reasonInWords(reason.slice(maxAttempts[0].length), host, limits)})`;
  if (reason === 'waiting_for_runner_registration_timed_out') return `runner did not pick the job within ${limits.registrationTimeoutSeconds} s`;
  const hostFault = /^host_fault:\s*(.*)$/.exec(reason);
  if (hostFault) return `GitHub refused ${on} (${hostFault[1]}), attempt not counted`;
  const words = REASON_WORDS[reason];
  if (words) return words.replace('{host}', on);
  if (reason.startsWith('error_')) return `${reason.slice(6).replace(/_/g, ' ')} failed on ${on}`;
  return host ? `${reason} (on ${host})` : reason;
}

/** The tag a job asks for, from its stored payload (`anka-template-tag:` label). */
function labelsOfJob(job: StoredJob | null): { template?: string | undefined; tag?: string | undefined } {
  const payload = job?.payload as { workflow_job?: { labels?: unknown[] } } | undefined;
  const labels = parseAnkaLabels(payload?.workflow_job?.labels ?? []);
  return { template: labels.template, tag: labels.tag };
}

function templateMatches(t: SnapshotTemplate, id: string): boolean {
  return t.uuid === id || t.name === id;
}

/** What the hosts know of a template: requirements (from a host with the tag), size, who has it. */
function templateFacts(fleet: ReadonlyArray<FleetEntry>, id: string, tag: string | undefined): NonNullable<Explanation['template']> {
  const held: Array<{ host: string; t: SnapshotTemplate }> = [];
  for (const entry of fleet) for (const t of entry.snapshot.anklet?.templates ?? []) if (templateMatches(t, id)) held.push({ host: hostNameOf(entry), t });
  const sameTag = held.filter(({ t }) => tag === undefined || t.tag === tag);
  const sized = sameTag.find(({ t }) => t.cpu_cores !== undefined && t.ram_bytes !== undefined)?.t;
  const size = (sameTag.find(({ t }) => t.size_bytes > 0) ?? held.find(({ t }) => t.size_bytes > 0))?.t.size_bytes;
  return {
    id,
    ...(tag !== undefined ? { tag } : {}),
    ...(sized ? { cpu_cores: sized.cpu_cores, ram_bytes: sized.ram_bytes } : {}),
    ...(size !== undefined ? { size_bytes: size } : {}),
    on_hosts: [...new Set(sameTag.map(({ host }) => host))],
  };
}

/** The hosts that serve `queue` with handlers (a host reporting no queue is assumed to serve it). */
function handlerHostsOf(fleet: ReadonlyArray<FleetEntry>, queue: string): FleetEntry[] {
  return fleet.filter((entry) => {
    const ext = entry.snapshot.anklet;
    if (!ext || ext.vm_slots_total <= 0) return false;
    const queues = new Set<string>();
    for (const family of familiesFromSnapshot(entry.snapshot, {}, (name) => name === 'anklet_queue_depth')) for (const s of family.samples) queues.add(String(s.labels.queue ?? ''));
    queues.delete('');
    return queues.size === 0 || queues.has(queue);
  });
}

const FAULT_STATES = new Set(['auth_failed', 'config_failed', 'limit_paused', 'name_taken']);

/** Why each handler host of the queue does not run the waiting job. */
function hostVerdicts(fleet: ReadonlyArray<FleetEntry>, queue: string, events: ReadonlyArray<TimelineEvent>, now: number): HostVerdict[] {
  const refusedBy = new Set<FleetEntry>();
  for (const e of events) {
    if (e.type === 'handed_back' && e.reason === 'not_enough_host_resources') {
      const entry = hostOfOwner(fleet, e.by);
      if (entry) refusedBy.add(entry);
    }
  }
  return handlerHostsOf(fleet, queue).map((entry): HostVerdict => {
    const host = hostNameOf(entry);
    const s = entry.snapshot;
    const ext = s.anklet!;
    if (entry.stale) return { host, state: 'stale', text: `silent for ${entry.ageSeconds == null ? 'a while' : formatAge(entry.ageSeconds)}` };
    if (refusedBy.has(entry)) return { host, state: 'refused', text: `refused (${cores(ext.cpu_count ?? s.host_cpu_count)}, ${gb(ext.memory_bytes ?? s.host_memory_total_bytes)})` };
    if (ext.draining) return { host, state: 'draining', text: 'draining' };
    if (ext.vm_slots_used >= ext.vm_slots_total) {
      const since = ext.vm_slots_full_since ? Date.parse(ext.vm_slots_full_since) : NaN;
      return { host, state: 'busy', text: `busy (${ext.vm_slots_used}/${ext.vm_slots_total} VMs${Number.isNaN(since) ? '' : ` for ${ageOf(since, now)}`})` };
    }
    // Every handler of the host refused by GitHub (or its name held elsewhere): it claims nothing.
    const handlers = s.plugins.filter((p) => p.PluginName !== 'github_receiver');
    if (handlers.length > 0 && handlers.every((p) => FAULT_STATES.has(p.Status))) {
      return { host, state: 'faulted', text: [...new Set(handlers.map((p) => p.Status))].join(', ') };
    }
    return { host, state: 'free', text: `free (${ext.vm_slots_used}/${ext.vm_slots_total} VMs)` };
  });
}

/** `handed back 3×: pull already running on mac-2` (distinct reasons with their counts). */
function handBackLine(handBacks: ReadonlyArray<{ host?: string | undefined; reason: string }>, limits: HandlerLimits): string | undefined {
  if (handBacks.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const h of handBacks) {
    const words = reasonInWords(h.reason, h.host, limits);
    counts.set(words, (counts.get(words) ?? 0) + 1);
  }
  const parts = [...counts].map(([words, n]) => (counts.size > 1 && n > 1 ? `${words} (${n}×)` : words));
  return `handed back ${handBacks.length}×: ${parts.join(', ')}`;
}

/** The reconcile sweep times the hosts report for `queue`: the leader's last pass and next due time. */
function sweepOf(fleet: ReadonlyArray<FleetEntry>, queue: string): { last?: number; next?: number } {
  const rows: Array<{ last?: number; next?: number }> = [];
  for (const entry of fleet) {
    if (entry.stale) continue;
    const row: { last?: number; next?: number } = {};
    const only = (name: string) => name === 'anklet_github_reconcile_last_pass_timestamp_seconds' || name === 'anklet_github_reconcile_next_pass_timestamp_seconds';
    for (const family of familiesFromSnapshot(entry.snapshot, {}, only)) {
      for (const sample of family.samples) {
        if (String(sample.labels.queue ?? '') !== queue) continue;
        const ms = Number(sample.value) * 1000;
        if (!(ms > 0)) continue;
        if (family.name.includes('last_pass')) row.last = Math.max(row.last ?? 0, ms);
        else row.next = Math.min(row.next ?? Infinity, ms);
      }
    }
    rows.push(row);
  }
  // The leader is the host whose last sweep is the newest: its next is the fleet's next sweep.
  const leader = rows.filter((r) => r.last !== undefined).sort((a, b) => b.last! - a.last!)[0];
  if (leader) return leader;
  const nexts = rows.map((r) => r.next).filter((n): n is number => n !== undefined);
  return nexts.length > 0 ? { next: Math.min(...nexts) } : {};
}

const eventJson = (e: TimelineEvent): ExplainedEvent => ({
  type: e.type,
  at: iso(e.at),
  ...(e.by ? { by: e.by } : {}),
  ...(e.reason ? { reason: e.reason } : {}),
  ...(e.conclusion ? { conclusion: e.conclusion } : {}),
  ...(e.detail ? { detail: e.detail } : {}),
});

/** Finds the job in the store: its record and timeline, in the first queue that knows it. */
async function findInStore(
  store: ExplainSources['store'],
  queues: ReadonlyArray<string>,
  jobId: string,
): Promise<{ queue: string; job: StoredJob | null; timeline: JobTimeline | null } | undefined> {
  for (const queue of queues) {
    const [job, timeline] = await Promise.all([store.get(queue, jobId), store.getTimeline ? store.getTimeline(queue, jobId) : Promise.resolve(null)]);
    if (job || timeline) return { queue, job, timeline };
  }
  return undefined;
}

/** The answer for `ref`. */
export async function explainJob(ref: JobRef, sources: ExplainSources): Promise<Explanation> {
  const now = (sources.now ?? new Date()).getTime();
  const fleet = sources.fleet ?? (await readFleet(sources.store, undefined, { ...sources.fleetOptions, now: new Date(now) }));
  const found = await findInStore(sources.store, sources.queues, ref.jobId);
  const base = { job_id: ref.jobId, ...(ref.url ? { job_url: ref.url } : {}) };
  if (found) return explainStored(base, found, fleet, sources, now);
  return explainUnstored(base, ref, fleet, sources, now);
}

type Base = { job_id: string; job_url?: string };

function explainStored(
  base: Base,
  found: { queue: string; job: StoredJob | null; timeline: JobTimeline | null },
  fleet: ReadonlyArray<FleetEntry>,
  sources: ExplainSources,
  now: number,
): Explanation {
  const { queue, job, timeline } = found;
  const limits = sources.limitsOf?.(queue) ?? DEFAULT_LIMITS;
  const events = timeline?.events ?? [];
  const hostNameOfOwner = (owner: string | undefined) => {
    const entry = hostOfOwner(fleet, owner);
    return entry ? hostNameOf(entry) : owner ? handlerOf(owner) : undefined;
  };
  const handBacks = events
    .filter((e) => e.type === 'handed_back')
    .map((e) => ({ at: iso(e.at), ...(e.by ? { host: hostNameOfOwner(e.by) } : {}), reason: e.reason ?? e.detail ?? 'unknown' }));
  const retries = events.filter((e) => e.type === 'retried');
  const kept = [...events].reverse().find((e) => e.type === 'diagnostics_kept' && e.detail);
  const diagnostics = kept ? { ...(kept.by ? { host: hostNameOfOwner(kept.by) } : {}), path: kept.detail! } : undefined;
  const attempts = { failed: job?.attempts ?? retries.filter((e) => !e.reason?.startsWith('host_fault')).length, max: limits.retryAttempts };
  const details: string[] = [];
  const handBack = handBackLine(handBacks, limits);
  const lastRetry = retries.at(-1);
  const retryHost = lastRetry ? hostNameOfOwner(lastRetry.by) : undefined;
  /** `failed: runner did not pick the job within 80 s (attempt 2/5), runner log kept at ...` */
  const failedLine = lastRetry
    ? `failed: ${reasonInWords(lastRetry.reason ?? 'unknown', retryHost, limits)} (attempt ${Math.max(1, attempts.failed)}/${limits.retryAttempts})${
        diagnostics && diagnostics.path ? `, runner log kept at ${diagnostics.path}${diagnostics.host ? ` on ${diagnostics.host}` : ''}` : ''
      }`
    : undefined;
  const labels = labelsOfJob(job);
  const templateId = job?.template ?? labels.template ?? events.find((e) => e.type === 'pull_started')?.detail?.split(':')[0];
  const tag = labels.tag ?? events.find((e) => e.type === 'pull_started')?.detail?.split(':')[1];
  const template = templateId ? templateFacts(fleet, templateId, tag === 'latest' ? undefined : tag) : undefined;
  const common = {
    ...base,
    queue,
    attempts,
    ...(template ? { template } : {}),
    ...(handBacks.length > 0 ? { hand_backs: handBacks } : {}),
    ...(diagnostics ? { diagnostics } : {}),
    timeline: events.map(eventJson),
  };

  const state = job ? (job.owner ? 'running' : 'queued') : (timeline?.state ?? 'finished');
  if (state === 'finished' || !job) {
    const end = [...events].reverse().find((e) => e.type === 'finished' || e.type === 'quarantined');
    const completed = [...events].reverse().find((e) => e.type === 'completed');
    const cancelled = [...events].reverse().find((e) => e.type === 'cancelled');
    const at = end?.at ?? timeline?.since ?? now;
    let conclusion = end?.type === 'quarantined' ? 'quarantined' : (end?.conclusion ?? completed?.conclusion ?? 'unknown');
    let answer = `finished ${ageOf(at, now)} ago (${clock(at)}): ${conclusion}`;
    if (end?.type === 'quarantined') answer = `set aside as unreadable ${ageOf(at, now)} ago: ${end.reason ?? 'unknown reason'}`;
    else if (cancelled) {
      conclusion = 'cancelled';
      answer = `cancelled ${ageOf(at, now)} ago (${clock(at)}): ${reasonInWords(cancelled.reason ?? 'unknown', hostNameOfOwner(cancelled.by), limits)}`;
    } else if (/^cancelled:\s*/.test(conclusion)) {
      answer = `cancelled ${ageOf(at, now)} ago (${clock(at)}): ${reasonInWords(conclusion.replace(/^cancelled:\s*/, ''), undefined, limits)}`;
    } else if (conclusion === 'reaped') answer = `finished ${ageOf(at, now)} ago (${clock(at)}): its handler stopped and GitHub said it was over`;
    if (failedLine) details.push(failedLine);
    if (handBack) details.push(handBack);
    return { ...common, state: 'finished', answer, details, since: iso(at), finished: { conclusion, at: iso(at) } };
  }

  if (state === 'running') {
    const entry = hostOfOwner(fleet, job.owner);
    const host = entry ? hostNameOf(entry) : '(a host that does not report)';
    const handler = handlerOf(job.owner!);
    const claimed = [...events].reverse().find((e) => e.type === 'claimed');
    const phaseEvent = events.at(-1);
    const since = phaseEvent?.at ?? claimed?.at ?? job.enqueuedAt;
    const vm = job.vmName;
    const answer = `running on ${host} (handler ${handler}${vm ? `, VM ${vm}` : ''}): ${job.phase} for ${ageOf(since, now)}, since ${clock(since)}`;
    if (handBack) details.push(handBack);
    if (failedLine) details.push(failedLine);
    if (entry?.stale) details.push(`${host} has not reported for ${formatAge(entry.ageSeconds ?? null)}: if it died, its lease runs out and the job goes back to the queue`);
    return { ...common, state: 'running', answer, details, since: iso(since), running: { host, handler, ...(vm ? { vm } : {}), phase: job.phase, since: iso(since) } };
  }

  // Waiting for a handler.
  const since = job.enqueuedAt;
  const hosts = hostVerdicts(fleet, queue, events, now);
  const parts: string[] = [];
  if (template) {
    const needs = template.cpu_cores !== undefined && template.ram_bytes !== undefined ? ` (${cores(template.cpu_cores)}, ${gb(template.ram_bytes)})` : '';
    parts.push(`needs template ${template.id}${template.tag ? ` tag ${template.tag}` : ''}${needs}`);
  }
  if (hosts.length > 0) parts.push(hosts.map((h) => `${h.host} ${h.text}`).join(', '));
  else parts.push('no handler host reports for this queue');
  if (template) {
    if (template.on_hosts.length > 0) parts.push(`${template.on_hosts.join(', ')} ${template.on_hosts.length === 1 ? 'has' : 'have'} the template`);
    else {
      // Hosts with another tag of it still pull this one (a tag is a full image in the registry).
      const otherTag = template.tag !== undefined && fleet.some((e) => e.snapshot.anklet?.templates?.some((t) => templateMatches(t, template.id)));
      const what = otherTag ? `tag ${template.tag} of the template` : 'the template';
      parts.push(`no host has ${what} (the first to take it will pull it${template.size_bytes ? `, ~${gb(template.size_bytes)}` : ''})`);
    }
  }
  const waiting = job.notBefore !== undefined && job.notBefore > now ? `; next attempt not before ${clock(job.notBefore)}` : '';
  const labelVerdict = parseAnkaLabels(((job.payload as { workflow_job?: { labels?: unknown[] } } | undefined)?.workflow_job?.labels ?? []) as unknown[]);
  if (labelVerdict.verdict === 'bad') details.push(`its labels do not parse (${labelVerdict.badReason}): a handler that takes it cancels its run`);
  let answer = `queued ${ageOf(since, now)}: ${parts.join('; ')}${waiting}`;
  if (failedLine && job.attempts > 0) {
    details.unshift(answer);
    answer = `${failedLine}${waiting ? `; retried after ${clock(job.notBefore!)}` : ''}`;
  }
  if (handBack) details.push(handBack);
  return { ...common, state: 'queued', answer, details, since: iso(since), hosts };
}

async function explainUnstored(base: Base, ref: { jobId: string; owner?: string | undefined; repo?: string | undefined }, fleet: ReadonlyArray<FleetEntry>, sources: ExplainSources, now: number): Promise<Explanation> {
  const repository = ref.owner && ref.repo ? { owner: ref.owner, repo: ref.repo } : sources.defaultRepository;
  if (!repository || !sources.github) {
    const why = !repository
      ? 'give the job URL (https://github.com/<owner>/<repo>/actions/runs/<run>/job/<job>) to ask GitHub about it'
      : 'no plugin of the config has GitHub credentials to ask GitHub about it';
    return { ...base, state: 'unknown', answer: `unknown job ${ref.jobId}: not in the store (never received, or finished longer ago than the history keeps)`, details: [why] };
  }
  const facts = await sources.github({ ...repository, jobId: ref.jobId });
  if (!facts) {
    return {
      ...base,
      state: 'unknown',
      answer: `unknown job ${ref.jobId}: neither the store nor GitHub (${repository.owner}/${repository.repo}) knows it`,
      details: [],
    };
  }
  const github = { ...facts, labels: [...facts.labels] };
  const labels = parseAnkaLabels(facts.labels);
  const shown = facts.labels.map((l) => `'${l}'`).join(', ');
  const common = { ...base, ...(facts.html_url && !base.job_url ? { job_url: facts.html_url } : {}), state: 'not_in_anklet' as const, github };
  if (labels.verdict === 'bad') {
    const miss = labels.nearMisses[0];
    const why = miss ? `'${miss.label}'${miss.suggestion ? `, did you mean '${miss.suggestion}'` : ''}` : (labels.badReason ?? '');
    return { ...common, answer: `not in anklet: its labels do not parse (${why})`, details: [`labels: ${shown}`, `GitHub says: ${facts.status}${facts.conclusion ? ` (${facts.conclusion})` : ''}`] };
  }
  if (labels.verdict === 'none') {
    return { ...common, answer: `not in anklet: it is not an anklet job (no anka-template label; labels ${shown || 'none'})`, details: [`GitHub says: ${facts.status}${facts.conclusion ? ` (${facts.conclusion})` : ''}`] };
  }
  if (facts.status === 'completed') {
    return { ...common, answer: `not in anklet: completed on GitHub (${facts.conclusion ?? 'no conclusion'}) and no longer in the store's history`, details: [] };
  }
  if (facts.status === 'in_progress') {
    return { ...common, answer: `not in anklet: running on GitHub on runner ${facts.runner_name ?? '(unknown)'}, which no anklet handler took from the store`, details: [] };
  }
  const queue = sources.queueOfOwner?.(repository.owner);
  const sweep = queue ? sweepOf(fleet, queue) : {};
  const details = [`labels: ${shown}`, `GitHub says: ${facts.status}`];
  let answer = 'not in anklet: no webhook received';
  if (sweep.next !== undefined) {
    answer += sweep.next >= now ? `; the next sweep is at ${clock(sweep.next)}` : `; the next sweep was due at ${clock(sweep.next)} (overdue: is the sweeping handler alive?)`;
  } else answer += '; no handler reports a reconcile sweep for its queue (set reconcile: true on a handler, or check the webhook)';
  if (sweep.last !== undefined) details.push(`last sweep at ${clock(sweep.last)}`);
  return { ...common, answer, details, ...(queue ? { queue } : {}), ...(sweep.next !== undefined ? { next_sweep_at: iso(sweep.next) } : {}) };
}

/** The terminal form: the answer, then the details indented. */
export function renderExplanation(e: Explanation): string[] {
  return [`job ${e.job_id}${e.job_url ? ` (${e.job_url})` : ''}`, e.answer, ...e.details.map((d) => `  ${d}`)];
}
