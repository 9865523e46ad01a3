import { ErrorCodes, isAnkletError, type HandlerContext, type JobState, type JobStore, type LeaderLease, type Logger, type PluginMetrics, type StoredJob } from '@anklet/core';
import { sleep } from '@anklet/github';
import { parseAnkaLabels, toQueueJob, type GitHubScope, type QueueJob, type WorkflowJob } from '@anklet/github';
import type { HandlerConfig } from './config.js';
import { describeError, statusOf, type GitHubApi } from './github-api.js';
import { hostFaultOf, type HostFault } from './host-faults.js';

/** What one sweep did. */
export interface ReconcileReport {
  /** Repositories whose queued and running runs were listed completely. */
  readonly repos: number;
  /** Requests GitHub counted against the rate limit (everything but 304s). */
  readonly calls: number;
  /** Conditional requests answered `304 Not Modified` (free on GitHub). */
  readonly notModified: number;
  /** Jobs queued on GitHub that the store did not know, now stored. */
  readonly enqueued: number;
  /** Stored jobs GitHub had already finished, given their `completed` event. */
  readonly finished: number;
  /** True when the pass stopped early because the budget was spent (the next pass goes on from there). */
  readonly truncated: boolean;
  /** A full pass (every {@link FULL_PASS_EVERY}th, the first included) or a quick one. */
  readonly full: boolean;
  /** Reads of a run's jobs that GitHub counted. */
  readonly jobReads: number;
  /** Those of them that found a lost job (the one read per lost job's run no sweep can avoid). */
  readonly jobReadsFindingLost: number;
  /** Listed runs whose jobs this pass did not read though they changed or were never read (see {@link Reconciler}). */
  readonly deferred: number;
}

/** What the reconciler needs. */
export interface ReconcilerOptions {
  readonly api: GitHubApi;
  readonly store: JobStore;
  readonly queue: string;
  readonly scope: GitHubScope;
  readonly logger: Logger;
  readonly metrics?: PluginMetrics | undefined;
  /** At most this percent of the hourly rate limit is spent on sweeps (304s are free). */
  readonly budgetPercent: number;
  /** Enterprise scope: organizations to sweep; empty: those the GitHub App is installed on. */
  readonly organizations?: ReadonlyArray<string> | undefined;
  /**
   * Runs younger than this are left to their webhooks (default 0): their jobs are read only once
   * the run is this old and still queued or running. A job whose webhook never came is then found
   * at most one interval later.
   */
  readonly graceMs?: number | undefined;
  /** The receiver's workflow filter: jobs it would ignore are not stored by the sweep either. */
  readonly workflows?: { readonly include: ReadonlyArray<string>; readonly exclude: ReadonlyArray<string> } | undefined;
}

/** A repository to sweep. */
interface RepoRef {
  readonly owner: string;
  readonly repo: string;
  readonly visibility: string | null;
  readonly private: boolean | null;
}

/** The fields of a REST `workflow-run` the sweep reads. */
interface RunItem {
  readonly id: number;
  readonly status?: string | null;
  readonly updated_at: string;
  readonly created_at?: string;
  readonly run_attempt?: number;
}

/** What the sweep last saw of a repository's runs. */
interface RepoView {
  /** Runs queued at the last listing of the queued runs. */
  queued: RunItem[];
  /** Runs running at the last full pass. */
  running: RunItem[];
  /** When the newest run of the last page of newest runs was created (GitHub's clock). */
  pageNewest: number | undefined;
  /** Full passes since the running runs were last listed by status. */
  newestPasses: number;
}

/** A job's state on GitHub, as the listings showed it. */
interface SeenJob {
  readonly status: string;
  readonly conclusion: string | null;
}

/** The budget of the current hour is spent: the pass stops, the next one goes on where it stopped. */
class BudgetSpent extends Error {}

// Pages of one listing read at most (100 items each); a longer listing is read again next pass.
const MAX_PAGES = 10;
// Stored jobs checked per state and pass (the store's `list` is an admin read, not a hot path).
const MAX_STORED = 1_000;
// A cached answer (ETag, body) not used for this many passes is dropped (more than the passes
// between two full ones, which alone list the running runs).
const CACHE_PASSES = 5;
const HOUR_MS = 3_600_000;
// GitHub's primary limit for a token or an App installation, until a response tells ours.
const DEFAULT_RATE_LIMIT = 5_000;
/**
 * Every this many passes (the first included) a pass is full: it sees the running runs too, reads
 * the runs a quick pass leaves for later, and asks GitHub about stored jobs whose run it no longer
 * sees. The passes between are quick (see {@link Reconciler}).
 */
export const FULL_PASS_EVERY = 2;
/**
 * Full passes between two listings of the running runs by status (once an hour at the default
 * interval). The page of newest runs misses a run older than the repository's newest 100 that was
 * re-run and started between two listings of the queued runs; this listing finds it.
 */
const NEWEST_PASSES_BETWEEN_RUNNING_LISTINGS = 14;
// Stored jobs listed per state to know which runs the store already holds jobs of.
const STORED_STATES: ReadonlyArray<JobState> = ['queued', 'delayed', 'handed_off', 'claimed'];

const lower = (s: string) => s.toLowerCase();
const repoKey = (owner: string, repo: string) => `${lower(owner)}/${lower(repo)}`;
const hasNext = (link: unknown) => typeof link === 'string' && /rel="next"/.test(link);

/**
 * Level-triggered reconciliation with GitHub: webhooks are the fast path, this is the safety net.
 * A pass lists, for every repository of the scope, the runs that may hold a job waiting for a
 * runner (`queued` runs, and `in_progress` ones: a matrix run already running may still have a
 * queued job, and a job that `needs` another is queued in a running run) and reads their jobs;
 * each job GitHub says is `queued` with well-formed anka labels is enqueued exactly as the
 * receiver would store it from its `queued` webhook (the store refuses a job it holds or has
 * finished, so only lost ones are added). Then every job waiting in the store that GitHub says is
 * completed (its `completed` webhook was lost) gets its `completed` event, which the handler that
 * claims it next acts on.
 *
 * Every request is conditional (`If-None-Match` with the ETag of the last answer for that URL): an
 * unchanged answer costs a 304, which GitHub does not count against the rate limit. To keep a busy
 * repository at one counted listing per pass, passes alternate:
 *
 * - a quick pass lists the queued runs (every page), and reads the jobs of a run only when the
 *   sweep never read them and the store holds no job of that run (no webhook of it reached the
 *   store: the case of a lost single-job run). It asks nothing about stored jobs;
 * - a full pass (every {@link FULL_PASS_EVERY}th, the first included) reads one page of the
 *   repository's newest runs, whatever their state, and takes the queued and running runs on it.
 *   When that page may miss some (a run the sweep took as queued or running fell off it, or more
 *   than a page of runs came since the last full pass) it also lists the running runs by status,
 *   and it does so instead of the page once an hour ({@link NEWEST_PASSES_BETWEEN_RUNNING_LISTINGS}).
 *   It reads every such run never read that is running or that the store holds no job of, reads
 *   again (conditionally) every one whose `updated_at` moved since its last read, and asks GitHub
 *   about stored jobs whose run it no longer sees.
 *
 * A run still queued that the store holds a job of is not read: none of its jobs has started, and
 * once one does, the run is running and the next full pass reads it. The first pass over a
 * repository lists both states by status. Counted calls are bounded by a budget, a share of the
 * hourly rate limit over a sliding hour.
 */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  /** Last answer per request: its ETag, body and `Link` header, and the pass that last used it. */
  readonly #cache = new Map<string, { etag: string; data: unknown; link: unknown; pass: number }>();
  /** What the sweep last saw of each repository's runs. */
  readonly #views = new Map<string, RepoView>();
  /** Jobs of a run, by run id, with the run's `updated_at` when they were read. */
  readonly #runJobs = new Map<number, { updatedAt: string; attempt: number | undefined; jobs: ReadonlyArray<WorkflowJob>; pass: number }>();
  /** When each counted call of the last hour was made. */
  #calls: number[] = [];
  #rateLimit = DEFAULT_RATE_LIMIT;
  /** Where the next pass starts in the repository list (a truncated pass does not starve the tail). */
  #cursor = 0;
  #pass = 0;
  /** The organization scope's owner is a user account (its repositories are under `/users`). */
  #ownerIsUser = false;
  #report = { calls: 0, notModified: 0, jobReads: 0, jobReadsFindingLost: 0, deferred: 0 };

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  /** Counted calls allowed per sliding hour. */
  get hourlyBudget(): number {
    return Math.max(1, Math.floor((this.#rateLimit * this.#o.budgetPercent) / 100));
  }

  /** One sweep. `keepAlive` is called between repositories (the caller renews its leadership there). */
  async pass(keepAlive: () => Promise<void> = () => Promise.resolve()): Promise<ReconcileReport> {
    const { logger, metrics } = this.#o;
    this.#pass += 1;
    this.#report = { calls: 0, notModified: 0, jobReads: 0, jobReadsFindingLost: 0, deferred: 0 };
    const full = (this.#pass - 1) % FULL_PASS_EVERY === 0;
    const startedAt = Date.now();
    const seen = new Map<string, SeenJob>();
    /** Runs GitHub listed as queued or running in this pass, whether their jobs were read or not. */
    const active = new Set<number>();
    const swept = new Set<string>();
    let enqueued = 0;
    let finished = 0;
    let truncated = false;
    let owners: Set<string> | undefined;
    try {
      const storedRuns = await this.#storedRuns();
      const repos = await this.#repos();
      owners = new Set(repos.map((r) => lower(r.owner)));
      const start = repos.length === 0 ? 0 : this.#cursor % repos.length;
      for (let i = 0; i < repos.length; i += 1) {
        const index = (start + i) % repos.length;
        const ref = repos[index]!;
        enqueued += await this.#sweepRepo(ref, full, storedRuns, seen, active);
        swept.add(repoKey(ref.owner, ref.repo));
        this.#cursor = index + 1;
        await keepAlive();
      }
    } catch (error) {
      if (!(error instanceof BudgetSpent)) throw error;
      truncated = true;
    }
    try {
      finished = await this.#finishStale(full, seen, active, swept, owners, startedAt);
    } catch (error) {
      if (!(error instanceof BudgetSpent)) throw error;
      truncated = true;
    }
    this.#forgetOld();
    const report: ReconcileReport = { repos: swept.size, ...this.#report, enqueued, finished, truncated, full };
    metrics?.count('github_reconcile_passes');
    metrics?.gauge('github_reconcile_last_pass_api_calls', report.calls);
    if (truncated) metrics?.count('github_reconcile_truncated');
    const fields = { ...report, budgetPerHour: this.hourlyBudget, callsLastHour: this.#calls.length, durationMs: Date.now() - startedAt };
    logger.info('finished reconciling the queue with GitHub', fields);
    return report;
  }

  // ----------------------------------------------------------------------------------------------
  // What to sweep

  async #repos(): Promise<RepoRef[]> {
    const scope = this.#o.scope;
    if (scope.kind === 'repository') return [{ owner: scope.owner, repo: scope.repo, visibility: null, private: null }];
    if (scope.kind === 'organization') return this.#reposOf(scope.owner);
    let orgs = [...(this.#o.organizations ?? [])];
    if (orgs.length === 0) {
      const installed = await this.#o.api.appInstallationAccounts();
      if (!installed) {
        this.#o.logger.warn('enterprise scope without GitHub App credentials and without reconcile_organizations: nothing to reconcile');
        return [];
      }
      orgs = installed;
    }
    const all: RepoRef[] = [];
    for (const org of orgs) {
      try {
        all.push(...(await this.#reposOf(org)));
      } catch (error) {
        if (error instanceof BudgetSpent) throw error;
        // One organization the App cannot read must not stop the others.
        this.#o.logger.warn('error listing the repositories of an organization to reconcile', { owner: org, error: describeError(error) });
      }
    }
    return all;
  }

  /** Every repository of an organization (or a user: a 404 on `/orgs` says the owner is one). */
  async #reposOf(owner: string): Promise<RepoRef[]> {
    const repos: RepoRef[] = [];
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      let answer: { data: unknown; link: unknown };
      try {
        answer = this.#ownerIsUser
          ? await this.#get(owner, 'GET /users/{username}/repos', { username: owner, per_page: 100, page })
          : await this.#get(owner, 'GET /orgs/{org}/repos', { org: owner, per_page: 100, page });
      } catch (error) {
        if (statusOf(error) !== 404 || this.#ownerIsUser || this.#o.scope.kind !== 'organization') throw error;
        this.#ownerIsUser = true;
        page -= 1;
        continue;
      }
      const items = answer.data as Array<{ name: string; owner?: { login?: string }; visibility?: string; private?: boolean }>;
      for (const r of items) repos.push({ owner: r.owner?.login ?? owner, repo: r.name, visibility: r.visibility ?? null, private: r.private ?? null });
      if (!hasNext(answer.link)) break;
    }
    return repos;
  }

  // ----------------------------------------------------------------------------------------------
  // Jobs queued on GitHub but unknown to the store

  /** Ids of the runs the store holds a job of (waiting or running), from the run id in its payload. */
  async #storedRuns(): Promise<Set<number>> {
    const { store, queue } = this.#o;
    const runs = new Set<number>();
    for (const state of STORED_STATES) {
      for (let offset = 0; offset < MAX_STORED; offset += 100) {
        const page = await store.list<QueueJob>(queue, state, { offset, limit: 100 });
        for (const job of page) {
          const runId = (job.payload as Partial<QueueJob> | null)?.workflow_job?.run_id;
          if (typeof runId === 'number') runs.add(runId);
        }
        if (page.length < 100) break;
      }
    }
    return runs;
  }

  /** Every page of the runs GitHub reports with this status. */
  async #listRuns(ref: RepoRef, status: 'queued' | 'in_progress'): Promise<RunItem[]> {
    const runs: RunItem[] = [];
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      const { data, link } = await this.#get(ref.owner, 'GET /repos/{owner}/{repo}/actions/runs', { owner: ref.owner, repo: ref.repo, status, per_page: 100, page });
      runs.push(...((data as { workflow_runs?: RunItem[] }).workflow_runs ?? []));
      if (!hasNext(link)) break;
    }
    return runs;
  }

  /**
   * The runs of a repository that may hold a queued job, by the listing this pass makes (see
   * {@link Reconciler}); `active` also gets the runs the pass did not list but takes as still
   * queued or running (their stored jobs are not asked about).
   */
  async #runsOf(ref: RepoRef, full: boolean, active: Set<number>): Promise<RunItem[]> {
    const key = repoKey(ref.owner, ref.repo);
    const view = this.#views.get(key);
    const isActive = (r: RunItem) => r.status === 'queued' || r.status === 'in_progress';
    if (!view) {
      // The first pass over this repository: both states, every page.
      const queued = await this.#listRuns(ref, 'queued');
      const running = await this.#listRuns(ref, 'in_progress');
      this.#views.set(key, { queued, running, pageNewest: undefined, newestPasses: 0 });
      return [...queued, ...running];
    }
    if (!full) {
      const queued = await this.#listRuns(ref, 'queued');
      view.queued = queued;
      for (const r of view.running) active.add(r.id);
      return queued;
    }
    // A full pass: the newest runs, whatever their state (one page: a busy repository's
    // queued and running runs are among its newest), once an hour the running ones instead.
    const created = (r: RunItem) => Date.parse(r.created_at ?? '');
    if (view.newestPasses >= NEWEST_PASSES_BETWEEN_RUNNING_LISTINGS) {
      view.newestPasses = 0;
      view.running = await this.#listRuns(ref, 'in_progress');
      for (const r of view.queued) active.add(r.id);
      return [...view.running];
    }
    view.newestPasses += 1;
    const { data, link } = await this.#get(ref.owner, 'GET /repos/{owner}/{repo}/actions/runs', { owner: ref.owner, repo: ref.repo, per_page: 100, page: 1 });
    const newest = (data as { workflow_runs?: RunItem[] }).workflow_runs ?? [];
    const onPage = new Set(newest.map((r) => r.id));
    let running = newest.filter((r) => r.status === 'in_progress');
    if (hasNext(link) && newest.length > 0) {
      // The page does not hold every run: runs older than its oldest are not on it. It is
      // enough when every run made since the last such page is on it and no run the sweep takes
      // as queued or running fell off it; else the running runs are listed too.
      const oldest = Math.min(...newest.map(created));
      const gap = view.pageNewest === undefined || oldest > view.pageNewest;
      const fellOff = [...view.queued, ...view.running].some((r) => !onPage.has(r.id) && created(r) <= oldest);
      if (gap || fellOff) {
        const listed = await this.#listRuns(ref, 'in_progress');
        running = [...running, ...listed.filter((r) => !onPage.has(r.id))];
      }
    }
    if (newest.length > 0) view.pageNewest = Math.max(...newest.map(created));
    view.running = running;
    // Queued runs older than the page: as the last queued listing saw them (the next quick pass lists them again).
    for (const r of view.queued) if (!onPage.has(r.id)) active.add(r.id);
    const byId = new Map<number, RunItem>();
    for (const r of [...newest.filter(isActive), ...running]) byId.set(r.id, r);
    return [...byId.values()];
  }

  async #sweepRepo(ref: RepoRef, full: boolean, storedRuns: ReadonlySet<number>, seen: Map<string, SeenJob>, active: Set<number>): Promise<number> {
    const runs = await this.#runsOf(ref, full, active);
    let enqueued = 0;
    const youngAfter = Date.now() - (this.#o.graceMs ?? 0);
    // Oldest first: a pass the budget stops has read the runs that waited longest.
    const ordered = [...runs].sort((x, y) => Date.parse(x.created_at ?? '') - Date.parse(y.created_at ?? '') || x.id - y.id);
    for (const run of ordered) {
      active.add(run.id);
      // A young run's webhooks are still the fast path; reading its jobs now would cost a call
      // for nearly every new run of a busy repository.
      if (Date.parse(run.created_at ?? '') > youngAfter) continue;
      const jobs = await this.#jobsOf(ref, run, full, storedRuns);
      if (!jobs) continue;
      let found = 0;
      for (const job of jobs.list) {
        seen.set(String(job.id), { status: job.status ?? 'unknown', conclusion: job.conclusion ?? null });
        // Only a job that waits for a runner: one in progress runs somewhere already (never on a
        // runner of ours that the store forgot: the handler that made it still watches it).
        if (job.status !== 'queued') continue;
        if (parseAnkaLabels(job.labels).verdict !== 'anka' || !this.#wanted(job)) continue;
        if (await this.#enqueue(ref, job)) found += 1;
      }
      if (found > 0 && jobs.counted) this.#report.jobReadsFindingLost += 1;
      enqueued += found;
    }
    return enqueued;
  }

  /**
   * The jobs of a run: from the cache when the run did not change since they were read, else read
   * (conditionally) when this pass may read them. `null`: left for the next full pass.
   */
  async #jobsOf(ref: RepoRef, run: RunItem, full: boolean, storedRuns: ReadonlySet<number>): Promise<{ list: ReadonlyArray<WorkflowJob>; counted: boolean } | null> {
    const cached = this.#runJobs.get(run.id);
    const sameAttempt = cached !== undefined && cached.attempt === run.run_attempt;
    if (sameAttempt && cached.updatedAt === run.updated_at) {
      cached.pass = this.#pass;
      return { list: cached.jobs, counted: false };
    }
    const held = storedRuns.has(run.id);
    // A run still queued that the store holds a job of: none of its jobs has started, and the
    // stored one is on its way to a VM. Once any job of it starts the run is running, and the
    // next full pass reads it (a job of the same run whose webhook was lost is found then).
    // Changed since the last read (every queued anka job of it was stored then), or never read
    // while the store holds a job of it: the next full pass reads it. A changed run's cached jobs
    // are stale, so nothing of them is used meanwhile.
    if ((held && run.status === 'queued') || (!full && (sameAttempt || held))) {
      if (cached) cached.pass = this.#pass;
      this.#report.deferred += 1;
      return null;
    }
    const callsBefore = this.#report.calls;
    const jobs: WorkflowJob[] = [];
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      const { data, link } = await this.#get(ref.owner, 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', { owner: ref.owner, repo: ref.repo, run_id: run.id, filter: 'latest', per_page: 100, page });
      jobs.push(...((data as { jobs?: WorkflowJob[] }).jobs ?? []));
      if (!hasNext(link)) break;
    }
    const counted = this.#report.calls > callsBefore;
    if (counted) this.#report.jobReads += 1;
    this.#runJobs.set(run.id, { updatedAt: run.updated_at, attempt: run.run_attempt, jobs, pass: this.#pass });
    return { list: jobs, counted };
  }

  /** The receiver's `workflows` rule, as the sweep was told it. */
  #wanted(job: WorkflowJob): boolean {
    const workflows = this.#o.workflows;
    if (!workflows) return true;
    const name = job.workflow_name ?? '';
    if (workflows.include.length > 0 && !workflows.include.includes(name)) return false;
    return !workflows.exclude.includes(name);
  }

  /** Stores the job as the receiver would from its `queued` webhook; true when the store did not know it. */
  async #enqueue(ref: RepoRef, job: WorkflowJob): Promise<boolean> {
    const { store, queue, logger, metrics } = this.#o;
    const labels = parseAnkaLabels(job.labels);
    const result = await store.enqueue({
      id: String(job.id),
      queue,
      payload: toQueueJob({ action: 'queued', workflow_job: job, repository: { name: ref.repo, owner: { login: ref.owner }, visibility: ref.visibility, private: ref.private } }),
      repositoryOwner: ref.owner,
      template: labels.template,
    });
    if (result !== 'enqueued') return false;
    const createdAt = Date.parse((job as { created_at?: string }).created_at ?? '');
    metrics?.count('github_reconcile_enqueued');
    logger.warn('job queued on GitHub but unknown to the store (webhook lost, or the store lost its data); enqueued it', {
      workflowJobID: job.id,
      workflowRunID: job.run_id ?? undefined,
      owner: ref.owner,
      repo: ref.repo,
      workflowJobURL: job.html_url ?? undefined,
      queue,
      queuedForSeconds: Number.isFinite(createdAt) ? Math.max(0, Math.round((Date.now() - createdAt) / 1000)) : undefined,
    });
    return true;
  }

  // ----------------------------------------------------------------------------------------------
  // Jobs the store still holds that GitHub already finished

  async #finishStale(full: boolean, seen: Map<string, SeenJob>, active: ReadonlySet<number>, swept: ReadonlySet<string>, owners: ReadonlySet<string> | undefined, startedAt: number): Promise<number> {
    const { store, queue, logger, metrics } = this.#o;
    let finished = 0;
    // Claimed jobs are left to their owner, which asks the API itself after a silence.
    const states: JobState[] = ['queued', 'delayed', 'handed_off'];
    for (const state of states) {
      for (let offset = 0; offset < MAX_STORED; offset += 100) {
        const page = await store.list<QueueJob>(queue, state, { offset, limit: 100 });
        for (const job of page) {
          const ref = this.#refOf(job, owners);
          // Stored after the listings were read: they cannot say anything about it.
          if (!ref || job.events.completed || job.enqueuedAt >= startedAt) continue;
          let known = seen.get(job.id);
          // Its run is still queued or running on GitHub (its jobs not read this pass): not over.
          const runId = (job.payload as Partial<QueueJob> | null)?.workflow_job?.run_id;
          if (!known && typeof runId === 'number' && active.has(runId)) continue;
          if (!known) {
            // Not among the jobs of its repository's queued and running runs: its run is probably
            // over. A full pass asks for the job itself (one call, only for such jobs) unless its
            // repository was not swept in this pass.
            if (!full || !swept.has(repoKey(ref.owner, ref.repo))) continue;
            try {
              const { data } = await this.#get(ref.owner, 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}', { owner: ref.owner, repo: ref.repo, job_id: Number(job.id) });
              const body = data as { status?: string; conclusion?: string | null };
              known = { status: body.status ?? 'unknown', conclusion: body.conclusion ?? null };
            } catch (error) {
              if (error instanceof BudgetSpent) throw error;
              logger.warn('error asking GitHub for the status of a stored job', { workflowJobID: job.id, error: describeError(error) });
              continue;
            }
          }
          if (known.status !== 'completed') continue;
          const recorded = await store.recordEvent(queue, job.id, { action: 'completed', conclusion: known.conclusion ?? undefined, at: Date.now() });
          if (!recorded) continue;
          finished += 1;
          metrics?.count('github_reconcile_finished');
          logger.warn('job completed on GitHub but still waiting in the store (completed webhook lost); recorded its completed event', {
            workflowJobID: job.id,
            owner: ref.owner,
            repo: ref.repo,
            conclusion: known.conclusion ?? undefined,
            queue,
            state,
          });
        }
        if (page.length < 100) break;
      }
    }
    return finished;
  }

  /** The repository of a stored job, when it belongs to this reconciler's scope. */
  #refOf(job: StoredJob<QueueJob>, owners: ReadonlySet<string> | undefined): { owner: string; repo: string } | null {
    const payload = job.payload as Partial<QueueJob> | null;
    const owner = payload?.repository?.owner ?? job.repositoryOwner;
    const repo = payload?.repository?.name;
    if (typeof owner !== 'string' || typeof repo !== 'string' || !owner || !repo) return null;
    const scope = this.#o.scope;
    if (scope.kind === 'repository') return repoKey(owner, repo) === repoKey(scope.owner, scope.repo) ? { owner, repo } : null;
    if (scope.kind === 'organization') return lower(owner) === lower(scope.owner) ? { owner, repo } : null;
    return owners?.has(lower(owner)) ? { owner, repo } : null;
  }

  // ----------------------------------------------------------------------------------------------
  // Conditional, budgeted requests

  /**
   * A GET with `If-None-Match` when an earlier answer for the same request is cached: a 304 gives
   * the cached body back. Throws {@link BudgetSpent} before a call the budget does not allow.
   * Pages are requested one by one (not with Octokit's paginate) so that each has its own ETag.
   */
  async #get(owner: string, route: string, params: Record<string, unknown>): Promise<{ data: unknown; link: unknown }> {
    const now = Date.now();
    this.#calls = this.#calls.filter((t) => t > now - HOUR_MS);
    if (this.#calls.length >= this.hourlyBudget) throw new BudgetSpent();
    const key = `${route} ${JSON.stringify(params)}`;
    const cached = this.#cache.get(key);
    const client = await this.#o.api.jobsClient(owner);
    const metrics = this.#o.metrics;
    try {
      const response = await client.request(route, { ...params, ...(cached ? { headers: { 'if-none-match': cached.etag } } : {}) });
      this.#counted(now, response.headers['x-ratelimit-limit']);
      const etag = response.headers.etag;
      if (etag) this.#cache.set(key, { etag, data: response.data, link: response.headers.link, pass: this.#pass });
      return { data: response.data, link: response.headers.link };
    } catch (error) {
      if (statusOf(error) === 304 && cached) {
        this.#report.notModified += 1;
        metrics?.count('github_reconcile_not_modified');
        cached.pass = this.#pass;
        return { data: cached.data, link: cached.link };
      }
      const headers = (error as { response?: { headers?: Record<string, string | undefined> } }).response?.headers;
      this.#counted(now, headers?.['x-ratelimit-limit']);
      throw error;
    }
  }

  #counted(at: number, limitHeader: unknown): void {
    this.#calls.push(at);
    this.#report.calls += 1;
    this.#o.metrics?.count('github_reconcile_api_calls');
    const limit = Number(limitHeader);
    if (Number.isFinite(limit) && limit > 0) this.#rateLimit = limit;
  }

  #forgetOld(): void {
    for (const [key, entry] of this.#cache) {
      // A listing of runs is kept until its next use (the running runs are listed by status once an hour).
      const keep = key.includes('{run_id}') ? CACHE_PASSES : FULL_PASS_EVERY * (NEWEST_PASSES_BETWEEN_RUNNING_LISTINGS + 2);
      if (this.#pass - entry.pass >= keep) this.#cache.delete(key);
    }
    for (const [id, entry] of this.#runJobs) if (this.#pass - entry.pass >= CACHE_PASSES) this.#runJobs.delete(id);
  }
}

/** A running reconciliation loop; `stop()` ends it and gives up the leadership. */
export interface ReconcilerLoop {
  stop(): Promise<void>;
}

/** The leadership name of a queue and scope (no `{}`: they would read as a Redis Cluster hash tag). */
export function reconcileLeadershipName(queue: string, scope: GitHubScope): string {
  const where = scope.kind === 'repository' ? `repo:${scope.owner}/${scope.repo}` : scope.kind === 'organization' ? `org:${scope.owner}` : `enterprise:${scope.enterprise}`;
  return `github-reconcile.${queue}.${lower(where)}`.replace(/[{}]/g, '_');
}

/**
 * Runs a {@link Reconciler} pass every `reconcile_interval_seconds` on the one handler of the
 * fleet that holds the store leadership for this queue and scope (the first pass one interval
 * after the start). The others only try to take the leadership each interval (one round trip), and take
 * over within one leadership TTL when the leader dies.
 */
export function startReconciler({
  ctx,
  api,
  queue,
  scope,
  healthy = () => true,
  onHostFault,
}: {
  ctx: HandlerContext<HandlerConfig>;
  api: GitHubApi;
  queue: string;
  scope: GitHubScope;
  /** False while GitHub refuses this handler (auth_failed, config_failed, limit_paused): it neither leads nor sweeps. */
  healthy?: () => boolean;
  /** A pass GitHub refused for a host-level reason (the handler's state shows it). */
  onHostFault?: (fault: HostFault) => void;
}): ReconcilerLoop {
  const config = ctx.config;
  const intervalMs = config.reconcile_interval_seconds * 1000;
  // The leadership outlives an interval so the leader keeps it between passes.
  const ttlMs = intervalMs * 2 + 30_000;
  const name = reconcileLeadershipName(queue, scope);
  // The host id, not only the host name: two hosts with a config copied between them have the same
  // plugin names (and test hosts the same host name), and must not renew each other's leadership.
  const owner = `${ctx.name}@${ctx.host.hostId ?? ctx.host.hostName}`;
  const reconciler = new Reconciler({
    api,
    store: ctx.store,
    queue,
    scope,
    logger: ctx.logger,
    metrics: ctx.metrics,
    budgetPercent: config.reconcile_budget_percent,
    // Half an interval: webhooks come within seconds, and a lost job is still found within 1½ intervals.
    graceMs: intervalMs / 2,
    organizations: config.reconcile_organizations,
    workflows: config.reconcile_workflows,
  });
  const stopping = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stopping.signal]);
  let leadership: LeaderLease | null = null;
  let renewedAt = 0;

  async function holdLeadership(): Promise<boolean> {
    if (leadership) {
      try {
        await ctx.store.renewLeadership(leadership, ttlMs);
        renewedAt = Date.now();
        return true;
      } catch (err) {
        if (!(isAnkletError(err) && err.code === ErrorCodes.LEASE_LOST)) throw err;
        ctx.logger.info('reconciliation leadership lost', { queue });
        leadership = null;
      }
    }
    leadership = await ctx.store.acquireLeadership(name, owner, ttlMs);
    if (leadership) {
      renewedAt = Date.now();
      ctx.logger.info('reconciliation leadership taken: sweeping GitHub for lost jobs', { queue, intervalSeconds: intervalMs / 1000, budgetPercent: config.reconcile_budget_percent, budgetPerHour: reconciler.hourlyBudget });
    }
    return leadership !== null;
  }

  async function releaseLeadership(why: string): Promise<void> {
    if (!leadership) return;
    const held = leadership;
    leadership = null;
    await ctx.store.releaseLeadership(held).catch(() => undefined);
    ctx.logger.warn('reconciliation leadership given up; another handler of the fleet sweeps', { queue, reason: why });
  }

  // Between repositories of a long pass: keep the leadership, or stop the pass when it is lost.
  const keepAlive = async () => {
    if (signal.aborted) throw new Error('stopping');
    if (Date.now() - renewedAt > ttlMs / 3 && !(await holdLeadership())) throw new Error('reconciliation leadership lost during a pass');
  };

  // The first pass comes one interval after the start, not at once: at start webhooks flow, and
  // a fleet starting together would otherwise sweep before any of its hosts took a job.
  // When the next sweep is due (and when the last one started) go out as gauges, so `anklet
  // explain` can tell when a job whose webhook was lost will be found.
  const seconds = (ms: number) => Math.round(ms / 1000);
  const loop = (async () => {
    let passStartedAt = Date.now();
    ctx.metrics.gauge('github_reconcile_next_pass_timestamp_seconds', seconds(passStartedAt + intervalMs), { queue });
    while (!signal.aborted) {
      try {
        // Passes start an interval apart, however long one took (a slow GitHub must not stretch the interval).
        await sleep(Math.max(0, passStartedAt + intervalMs - Date.now()), signal);
      } catch {
        break;
      }
      passStartedAt = Date.now();
      ctx.metrics.gauge('github_reconcile_next_pass_timestamp_seconds', seconds(passStartedAt + intervalMs), { queue });
      // A handler GitHub refuses would fail every pass while holding the leadership, and no other
      // host would sweep: it gives the leadership up and asks for it again once it works.
      if (!healthy()) {
        await releaseLeadership('this handler is refused by GitHub');
        continue;
      }
      try {
        if (await holdLeadership()) {
          ctx.metrics.gauge('github_reconcile_last_pass_timestamp_seconds', seconds(passStartedAt), { queue });
          await reconciler.pass(keepAlive);
        }
      } catch (err) {
        if (signal.aborted) break;
        ctx.metrics.count('github_reconcile_failures');
        const fault = hostFaultOf(err);
        if (fault) {
          onHostFault?.(fault);
          await releaseLeadership(`GitHub refuses this handler (${fault.reason})`);
        } else ctx.logger.warn('error reconciling the queue with GitHub', { queue, error: describeError(err) });
      }
    }
  })();

  return {
    async stop() {
      stopping.abort();
      await loop;
      if (leadership) await ctx.store.releaseLeadership(leadership).catch(() => undefined);
      leadership = null;
    },
  };
}
