import type { RunnerReleaseFaults, RunnerReleaseSeed, RunnerReleases } from './runner-releases.js';
import type { HookOptions, InstallationOptions, JobConclusion, JobOutcomeRule } from './options.js';
import { deliveryJson, jobJson, runJson, runnerJson } from './objects.js';
import type { RateLimiter, RateLimitFault } from './rate-limit.js';
import type { RequestFault, RequestFaults } from './request-faults.js';
import type { DeliveryFault, WebhookSender } from './webhooks.js';
import type { DispatchJobInput, DispatchRunInput, Workflows } from './workflows.js';
import type { Delivery, Hook, Job, World } from './world.js';

/** A delivery as the control API reports it: GitHub's detail object plus `hook_id` and `success`. */
export type DeliveryRecord = Record<string, unknown> & { id: number; guid: string; hook_id: number; success: boolean; action: string | null; event: string; status_code: number; redelivery: boolean };

/** A dispatched run as the control API reports it. */
export interface DispatchResult {
  run_id: number;
  html_url: string;
  jobs: Array<Record<string, unknown> & { id: number; html_url: string }>;
}

/**
 * Everything a test or the demo does to the simulated GitHub that is not part of GitHub's API:
 * dispatching jobs, configuring hooks and credentials, injecting faults, inspecting state. The
 * same methods back the HTTP control API under `/_sim`.
 */
export class SimControl {
  constructor(
    private readonly world: World,
    private readonly workflows: Workflows,
    private readonly sender: WebhookSender,
    private readonly limiter: RateLimiter,
    private readonly requestFaults: RequestFaults,
    /** The `actions/runner` releases: publish one, count downloads, break the API or the downloads. */
    readonly runnerReleases: RunnerReleases,
  ) {}

  /** Queues a run with one or more jobs; sends `workflow_job.queued` for each. */
  dispatchRun(input: DispatchRunInput): DispatchResult {
    const { run, jobs } = this.workflows.dispatchRun(input);
    const runView = runJson(this.world, run);
    return {
      run_id: run.id,
      html_url: String(runView.html_url),
      jobs: jobs.map((job) => jobJson(this.world, job) as DispatchResult['jobs'][number]),
    };
  }

  /** Queues a run with a single job. */
  dispatchJob(input: { repository: string; workflowName?: string; headBranch?: string } & DispatchJobInput): DispatchResult['jobs'][number] & { run_id: number } {
    const { repository, workflowName, headBranch, ...job } = input;
    const run: DispatchRunInput = { repository, jobs: [job] };
    if (workflowName !== undefined) run.workflowName = workflowName;
    if (headBranch !== undefined) run.headBranch = headBranch;
    const result = this.dispatchRun(run);
    return { ...result.jobs[0]!, run_id: result.run_id };
  }

  /** The REST view of a job (as `GET /repos/…/actions/jobs/{id}` returns it). */
  job(id: number): Record<string, unknown> | undefined {
    const job = this.world.jobs.get(id);
    return job ? jobJson(this.world, job) : undefined;
  }

  jobs(): Record<string, unknown>[] {
    return [...this.world.jobs.values()].map((job) => jobJson(this.world, job));
  }

  runners(): Array<Record<string, unknown> & { race_affected: boolean; scope: string }> {
    return [...this.world.runners.values()].map((runner) => ({
      ...runnerJson(this.world, runner),
      race_affected: runner.raceAffected,
      scope: this.world.scopeKey(runner.scope),
    }));
  }

  addHook(input: HookOptions): { id: number } {
    const hook = this.world.addHook(input);
    if (input.ping) this.sender.ping(hook);
    return { id: hook.id };
  }

  updateHook(id: number, input: { url?: string; secret?: string | null; active?: boolean; events?: string[]; contentType?: 'json' | 'form'; insecureSsl?: boolean }): void {
    const hook = this.world.hooks.get(id);
    if (!hook) throw new Error(`no hook ${id}`);
    if (input.url !== undefined) hook.url = input.url;
    if (input.secret === null) delete hook.secret;
    else if (input.secret !== undefined) hook.secret = input.secret;
    if (input.active !== undefined) hook.active = input.active;
    if (input.events !== undefined) hook.events = [...input.events];
    if (input.contentType !== undefined) hook.contentType = input.contentType;
    if (input.insecureSsl !== undefined) hook.insecureSsl = input.insecureSsl;
    hook.updatedAt = this.world.now();
  }

  hooks(): Array<{ id: number; url: string; scope: string; events: string[]; active: boolean; content_type: 'json' | 'form'; has_secret: boolean }> {
    return [...this.world.hooks.values()].map((hook: Hook) => ({
      id: hook.id,
      url: hook.url,
      scope: hook.scope.kind === 'repo' ? `repo:${hook.scope.repo.fullName}` : hook.scope.kind === 'org' ? `org:${hook.scope.account.login}` : 'app',
      events: hook.events,
      active: hook.active,
      content_type: hook.contentType,
      has_secret: hook.secret !== undefined,
    }));
  }

  /** Every delivery so far, oldest first, optionally for one hook. */
  deliveries(hookId?: number): DeliveryRecord[] {
    return this.world.deliveries
      .filter((d) => hookId === undefined || d.hookId === hookId)
      .map((d: Delivery) => ({ ...deliveryJson(d), hook_id: d.hookId, success: d.success }) as DeliveryRecord);
  }

  /** Asks for a redelivery, as `POST …/deliveries/{id}/attempts` does. */
  redeliver(deliveryId: number): void {
    const delivery = this.world.deliveries.find((d) => d.id === deliveryId);
    if (!delivery) throw new Error(`no delivery ${deliveryId}`);
    this.sender.redeliver(delivery);
  }

  /** Resolves once every queued delivery has been attempted and recorded. */
  deliveriesSettled(): Promise<void> {
    return this.sender.idle();
  }

  addToken(token: string, login = 'anklet-bot'): void {
    this.world.credentials.set(token, { kind: 'pat', login });
  }

  /** Makes a token invalid (expired or revoked): every request with it gets GitHub's 401 until it is added again. */
  revokeToken(token: string): void {
    this.world.credentials.delete(token);
  }

  /** Answers the next matching REST requests with an error status (see {@link RequestFault}). */
  failRequests(input: RequestFault): void {
    this.requestFaults.add(input);
  }

  /** Removes every injected request fault. */
  clearRequestFaults(): void {
    this.requestFaults.clear();
  }

  addInstallation(input: InstallationOptions): { id: number } {
    if (!this.world.app) throw new Error('the sim has no GitHub App configured');
    return { id: this.world.addInstallation(input).id };
  }

  /** Sets the budget: limit, remaining requests and seconds to the reset, for every credential. */
  setRateLimit(input: { limit?: number; remaining?: number; resetInSeconds?: number; status?: 403 | 429 }): void {
    this.limiter.configure(input);
  }

  /** Answers the next `count` matching requests with a primary or secondary rate limit. */
  injectRateLimit(input: Partial<RateLimitFault> & { kind: RateLimitFault['kind'] }): void {
    this.limiter.faults.push({ count: 1, status: 403, ...input });
  }

  /** Records the next `count` deliveries as failed without sending them. */
  failNextDeliveries(input: DeliveryFault): void {
    this.sender.faults.push({ ...input });
  }

  /**
   * GitHub never sends the next `count` deliveries (optionally only those of one hook or one
   * `workflow_job` action): nothing is delivered and nothing is recorded, so neither the receiver
   * nor the deliveries API ever learns of them. Returns how many were dropped so far in total.
   */
  dropNextDeliveries(input: { count: number; hookId?: number; action?: string }): { dropped: number } {
    this.sender.faults.push({ ...input, drop: true });
    return { dropped: this.sender.dropped };
  }

  /** How many deliveries were dropped so far (see {@link SimControl.dropNextDeliveries}). */
  droppedDeliveries(): number {
    return this.sender.dropped;
  }

  /** The registration race (actions/runner#3621): a probability, and/or the next N runners. */
  setRegistrationRace(input: { probability?: number; next?: number }): void {
    if (input.probability !== undefined) this.world.settings.raceProbability = input.probability;
    if (input.next !== undefined) this.world.settings.raceForcedNext = input.next;
  }

  /** Default outcome and duration of jobs, and per-name rules. */
  setJobDefaults(input: { conclusion?: JobConclusion; durationMs?: number; rules?: JobOutcomeRule[] }): void {
    if (input.conclusion) this.world.settings.defaultConclusion = input.conclusion;
    if (input.durationMs !== undefined) this.world.settings.defaultJobDurationMs = input.durationMs;
    if (input.rules) this.world.settings.jobOutcomes = input.rules;
  }

  /** Other timing knobs. */
  configure(input: { runnerBusyAfterJobMs?: number; runnerLostAfterMs?: number; deliveryTimeoutMs?: number }): void {
    const s = this.world.settings;
    if (input.runnerBusyAfterJobMs !== undefined) s.runnerBusyAfterJobMs = input.runnerBusyAfterJobMs;
    if (input.runnerLostAfterMs !== undefined) s.runnerLostAfterMs = input.runnerLostAfterMs;
    if (input.deliveryTimeoutMs !== undefined) s.deliveryTimeoutMs = input.deliveryTimeoutMs;
  }

  /** Publishes an `actions/runner` release (it becomes `latest` unless `ageDays` puts it behind another). */
  publishRunnerRelease(seed: RunnerReleaseSeed): { version: string; published_at: string } {
    return this.runnerReleases.publish(seed);
  }

  /** The runner releases, newest first, with the downloads served so far. */
  runnerReleaseState(): { releases: ReturnType<RunnerReleases['list']>; downloads: ReturnType<RunnerReleases['downloads']>; faults: RunnerReleaseFaults } {
    return { releases: this.runnerReleases.list(), downloads: this.runnerReleases.downloads(), faults: { ...this.runnerReleases.faults } };
  }

  /** Corrupts the next downloads, garbles the next API answers, or takes releases offline (see {@link RunnerReleaseFaults}). */
  setRunnerReleaseFaults(faults: RunnerReleaseFaults): RunnerReleaseFaults {
    const checked: RunnerReleaseFaults = {};
    if (faults.corruptDownloads !== undefined) checked.corruptDownloads = countOf(faults.corruptDownloads, 'corruptDownloads');
    if (faults.garbleApi !== undefined) checked.garbleApi = countOf(faults.garbleApi, 'garbleApi');
    if (faults.offline !== undefined) {
      if (typeof faults.offline !== 'boolean') throw new Error('offline must be true or false');
      checked.offline = faults.offline;
    }
    return { ...this.runnerReleases.setFaults(checked) };
  }

  /** Moves the sim's clock (token expiry, rate-limit resets, JWT checks). */
  advanceClock(seconds: number): void {
    this.world.clockOffsetMs += seconds * 1000;
  }

  /** Cancels a run as the REST endpoint does (409 if it already completed). */
  cancelRun(runId: number): void {
    const run = this.world.runs.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    this.workflows.cancelRun(run);
  }

  /**
   * Waits until `predicate` holds for some job, runner or delivery event (checked at once and
   * after every change). Rejects after `timeoutMs` (default 10 s).
   */
  waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = predicate();
        if (value !== undefined && value !== false) {
          cleanup();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`github-sim: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        for (const event of ['job', 'runner', 'delivery']) this.world.off(event, check);
      };
      for (const event of ['job', 'runner', 'delivery']) this.world.on(event, check);
      check();
    });
  }

  /** Waits for a job to reach a status; resolves with its REST view. */
  waitForJob(id: number, status: Job['status'], timeoutMs?: number): Promise<Record<string, unknown>> {
    return this.waitFor(() => {
      const job = this.world.jobs.get(id);
      return job && job.status === status ? jobJson(this.world, job) : undefined;
    }, timeoutMs);
  }

  /** Waits for a delivery matching `predicate`. */
  waitForDelivery(predicate: (d: DeliveryRecord) => boolean, timeoutMs?: number): Promise<DeliveryRecord> {
    return this.waitFor(() => this.deliveries().find(predicate), timeoutMs);
  }
}

function countOf(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number of 0 or more`);
  return value;
}
