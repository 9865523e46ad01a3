import { GitHubApiError } from './errors.js';
import { labelsMatch } from './labels.js';
import type { JobConclusion } from './options.js';
import type { WebhookSender } from './webhooks.js';
import type { Job, Run, Runner, World } from './world.js';

/** One job of a dispatched run. */
export interface DispatchJobInput {
  /** Job name (the key or `name:` in the workflow); default `build`. */
  name?: string;
  /** The `runs-on` labels. */
  labels: string[];
  /** Outcome the runner will report; default from `jobOutcomes`, then the sim default. */
  conclusion?: JobConclusion;
  /** How long the runner "runs" the job. */
  durationMs?: number;
}

export interface DispatchRunInput {
  /** `owner/name`; created if it does not exist yet. */
  repository: string;
  workflowName?: string;
  headBranch?: string;
  headSha?: string;
  event?: string;
  jobs: DispatchJobInput[];
}

export interface JobPlan {
  conclusion: JobConclusion;
  durationMs: number;
}

/**
 * The workflow model: runs and jobs, their assignment to runners, and the `workflow_job`
 * webhooks each transition sends.
 */
export class Workflows {
  private runNumbers = new Map<number, number>();

  constructor(private readonly world: World, private readonly sender: WebhookSender) {}

  dispatchRun(input: DispatchRunInput): { run: Run; jobs: Job[] } {
    const world = this.world;
    if (!Array.isArray(input.jobs) || input.jobs.length === 0) throw new Error('a run needs at least one job');
    const repo = world.ensureRepo(input.repository);
    const workflowName = input.workflowName ?? 'CI';
    const now = world.now();
    const runNumber = (this.runNumbers.get(repo.id) ?? 0) + 1;
    this.runNumbers.set(repo.id, runNumber);
    const run: Run = {
      id: world.id('run'),
      runNumber,
      runAttempt: 1,
      repo,
      workflowName,
      workflowId: world.id('workflow'),
      path: `.github/workflows/${workflowName.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.yml`,
      headSha: input.headSha ?? world.random.hex(40),
      headBranch: input.headBranch ?? 'main',
      event: input.event ?? 'workflow_dispatch',
      createdAt: now,
      updatedAt: now,
      jobIds: [],
    };
    world.runs.set(run.id, run);
    const jobs: Job[] = [];
    for (const spec of input.jobs) {
      if (!Array.isArray(spec.labels) || spec.labels.length === 0) throw new Error('a job needs runs-on labels');
      const name = spec.name ?? 'build';
      const rule = world.settings.jobOutcomes.find((r) => matchesName(r.jobName, name));
      const plan: Job['plan'] = {};
      const conclusion = spec.conclusion ?? rule?.conclusion;
      const durationMs = spec.durationMs ?? rule?.durationMs;
      if (conclusion) plan.conclusion = conclusion;
      if (durationMs !== undefined) plan.durationMs = durationMs;
      const job: Job = {
        id: world.id('job'),
        runId: run.id,
        runAttempt: 1,
        name,
        workflowName,
        labels: [...spec.labels],
        repo,
        headSha: run.headSha,
        headBranch: run.headBranch,
        status: 'queued',
        conclusion: null,
        createdAt: now,
        startedAt: now,
        completedAt: null,
        runnerId: null,
        runnerName: null,
        runnerGroupId: null,
        runnerGroupName: null,
        plan,
      };
      world.jobs.set(job.id, job);
      run.jobIds.push(job.id);
      jobs.push(job);
    }
    for (const job of jobs) {
      this.sender.workflowJob(job, 'queued');
      world.emit('job', job);
    }
    return { run, jobs };
  }

  /** Whether a runner registered at its scope may run jobs of this job's repository. */
  private visible(runner: Runner, job: Job): boolean {
    const scope = runner.scope;
    if (scope.kind === 'repo') return scope.repo.id === job.repo.id;
    if (scope.kind === 'org') return scope.account.id === job.repo.owner.id;
    return job.repo.owner.enterprise?.toLowerCase() === scope.enterprise.slug.toLowerCase();
  }

  /**
   * Gives the oldest matching queued job to an idle runner, as GitHub's broker does, and sends
   * `in_progress` naming the runner. A runner hit by the registration race never gets one.
   */
  tryAssign(runner: Runner): Job | undefined {
    if (runner.busy || runner.raceAffected || !this.world.runners.has(runner.id)) return undefined;
    const job = [...this.world.jobs.values()].find(
      (candidate) => candidate.status === 'queued' && this.visible(runner, candidate) && labelsMatch(candidate.labels, runner.labels),
    );
    if (!job) return undefined;
    const group = this.world.groupsForScope(runner.scope).find((g) => g.id === runner.groupId);
    job.status = 'in_progress';
    job.startedAt = this.world.now();
    job.runnerId = runner.id;
    job.runnerName = runner.name;
    job.runnerGroupId = runner.groupId;
    job.runnerGroupName = group?.name ?? 'Default';
    runner.busy = true;
    runner.jobId = job.id;
    this.touch(job);
    this.sender.workflowJob(job, 'in_progress');
    this.world.emit('job', job);
    return job;
  }

  planFor(job: Job, runnerDefaults: Partial<JobPlan> = {}): JobPlan {
    return {
      conclusion: job.plan.conclusion ?? runnerDefaults.conclusion ?? this.world.settings.defaultConclusion,
      durationMs: job.plan.durationMs ?? runnerDefaults.durationMs ?? this.world.settings.defaultJobDurationMs,
    };
  }

  /** Finishes a job: `completed` webhook, then the runner is freed (and removed if ephemeral). */
  complete(job: Job, conclusion: JobConclusion): void {
    if (job.status === 'completed') return;
    const world = this.world;
    job.status = 'completed';
    job.conclusion = conclusion;
    job.completedAt = world.now();
    this.touch(job);
    this.sender.workflowJob(job, 'completed');
    world.emit('job', job);
    const runner = job.runnerId === null ? undefined : world.runners.get(job.runnerId);
    if (runner && runner.jobId === job.id) this.release(runner);
  }

  /** GitHub keeps a finished runner busy for a moment; deleting it meanwhile is a 422. */
  private release(runner: Runner): void {
    const free = (): void => {
      runner.busy = false;
      runner.jobId = undefined;
      if (runner.ephemeral && this.world.runners.has(runner.id)) this.world.removeRunner(runner);
      else this.world.emit('runner', runner);
    };
    const delay = this.world.settings.runnerBusyAfterJobMs;
    if (delay > 0) setTimeout(free, delay).unref();
    else free();
  }

  /** `POST …/cancel` and `…/force-cancel`: every unfinished job ends as `cancelled`. */
  cancelRun(run: Run): void {
    if (this.world.runState(run).status === 'completed') {
      throw new GitHubApiError(409, 'Cannot cancel a workflow run that is completed.', 'https://docs.github.com/rest/actions/workflow-runs#cancel-a-workflow-run');
    }
    for (const id of run.jobIds) this.complete(this.world.jobs.get(id)!, 'cancelled');
  }

  /** A busy runner that stopped talking loses its job, as when its VM disappears. */
  sweepLostRunners(): void {
    const world = this.world;
    for (const runner of world.runners.values()) {
      if (!runner.busy || runner.jobId === undefined || runner.lastSeen === undefined) continue;
      if (world.now() - runner.lastSeen < world.settings.runnerLostAfterMs) continue;
      const job = world.jobs.get(runner.jobId);
      runner.connected = false;
      if (job && job.status !== 'completed') this.complete(job, 'failure');
    }
  }

  private touch(job: Job): void {
    const run = this.world.runs.get(job.runId);
    if (run) run.updatedAt = this.world.now();
  }
}

/** Exact name, or a `/regex/flags` string. */
function matchesName(pattern: string, name: string): boolean {
  const regex = /^\/(.+)\/([a-z]*)$/.exec(pattern);
  return regex ? new RegExp(regex[1]!, regex[2]).test(name) : pattern === name;
}
