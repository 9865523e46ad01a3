import type { Logger, PluginMetrics, PluginStatus } from '@anklet/core';
import { createGitHubClient, listAppInstallationAccounts, type AnkletOctokit, type GitHubConnectionOptions, type GitHubScope } from '@anklet/github';

/** Where the runner APIs of a scope live: `/repos/o/r`, `/orgs/o` or `/enterprises/e`. */
export function runnerPathOf(scope: GitHubScope): string {
  if (scope.kind === 'repository') return `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}`;
  if (scope.kind === 'organization') return `/orgs/${encodeURIComponent(scope.owner)}`;
  return `/enterprises/${encodeURIComponent(scope.enterprise)}`;
}

/**
 * The URL `config.sh --url` takes for a scope (Go: `https://github.com/...`). It is derived from the
 * API base URL: api.github.com ⇒ github.com, GHES `https://host/api/v3` ⇒ `https://host`, anything
 * else (the simulator) ⇒ its origin.
 */
export function registrationUrlOf(scope: GitHubScope, apiBaseUrl: string): string {
  const api = new URL(apiBaseUrl);
  const web = api.hostname === 'api.github.com' ? 'https://github.com' : api.origin;
  if (scope.kind === 'repository') return `${web}/${scope.owner}/${scope.repo}`;
  if (scope.kind === 'organization') return `${web}/${scope.owner}`;
  return `${web}/enterprises/${scope.enterprise}`;
}

/** The HTTP status of an Octokit error, if any. */
export function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** A short, secret-free description of a failed GitHub call (Octokit messages carry no credentials). */
export function describeError(err: unknown): string {
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return status ? `${status}: ${message}` : message;
}

/** `runner_group` names a group GitHub does not have (a host fault: no job can fix it). */
export class RunnerGroupMissing extends Error {
  constructor(readonly group: string) {
    super(`runner group ${JSON.stringify(group)} not found`);
  }
}

/** The job's repository, as the queue record names it. */
export interface JobRef {
  readonly owner: string;
  readonly repo: string;
  readonly jobId: number;
  readonly runId: number | null;
}

/** What GitHub says about a job now (`status` mapped as in Go §9.2). */
export interface JobStatus {
  readonly status: 'queued' | 'in_progress' | 'completed';
  readonly conclusion: string | null;
  readonly runnerName: string | null;
  readonly runnerId: number | null;
}

/** The client for the job and run APIs of a repository owner (per organization in enterprise hybrid mode). */
export type JobsClientOf = (owner: string) => Promise<AnkletOctokit>;

/** What {@link connectGitHub} needs: the handler's connection keys, its scope and the host's services. */
export interface GitHubConnectOptions extends GitHubConnectionOptions {
  readonly scope: GitHubScope;
  readonly logger: Logger;
  readonly metrics?: PluginMetrics | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly resumeStatus?: (() => PluginStatus) | undefined;
}

/**
 * Builds the handler's GitHub clients. In enterprise scope with both a PAT and App credentials
 * (Go "hybrid" mode), the runner APIs use the PAT (GitHub Apps cannot manage enterprise runners)
 * and the job and run APIs of a job use the App installation of the job's organization, looked up
 * with `GET /orgs/{org}/installation` once per organization and cached (`installation_id` is
 * ignored, as in Go). Otherwise one client serves both.
 */
export async function connectGitHub(options: GitHubConnectOptions): Promise<GitHubApi> {
  const common = {
    baseUrl: options.baseUrl,
    logger: options.logger,
    metrics: options.metrics,
    signal: options.signal,
    resumeStatus: options.resumeStatus,
  };
  const scope = options.scope;
  if (scope.kind === 'enterprise' && options.privateKey && options.token) {
    const runners = await createGitHubClient({ ...common, scope, token: options.token });
    const perOrg = new Map<string, Promise<AnkletOctokit>>();
    const jobsClientOf: JobsClientOf = (owner) => {
      const key = owner.toLowerCase();
      let client = perOrg.get(key);
      if (!client) {
        options.logger.info('looking up the GitHub App installation of the organization', { owner });
        client = createGitHubClient({ ...common, privateKey: options.privateKey, appId: options.appId, scope: { kind: 'organization', owner } }).then((c) => c.octokit);
        // A failed lookup (App not installed there yet) is asked again next time, not cached.
        client.catch(() => perOrg.delete(key));
        perOrg.set(key, client);
      }
      return client;
    };
    const appAccounts = () => listAppInstallationAccounts({ baseUrl: options.baseUrl, privateKey: options.privateKey, appId: options.appId, signal: options.signal });
    return new GitHubApi(runners.octokit, jobsClientOf, scope, options.logger, appAccounts);
  }
  const main = await createGitHubClient({
    ...common,
    scope,
    token: options.token,
    privateKey: options.privateKey,
    appId: options.appId,
    installationId: options.installationId,
  });
  return new GitHubApi(main.octokit, () => Promise.resolve(main.octokit), scope, options.logger);
}

/** The calls the handler makes to GitHub, at one scope. */
export class GitHubApi {
  constructor(
    /** Runner APIs (registration, listing, deletion): the PAT in enterprise hybrid mode. */
    private readonly runnersClient: AnkletOctokit,
    /** Job and run APIs, by the job's repository owner. */
    private readonly jobsClientOf: JobsClientOf,
    readonly scope: GitHubScope,
    private readonly logger: Logger,
    /** Enterprise hybrid mode: the organizations (and users) the GitHub App is installed on. */
    private readonly appAccounts?: () => Promise<string[]>,
  ) {}

  /** The client for the job, run and repository APIs of `owner` (its App installation in enterprise hybrid mode). */
  jobsClient(owner: string): Promise<AnkletOctokit> {
    return this.jobsClientOf(owner);
  }

  /** The accounts the GitHub App is installed on, or null when this client has no App credentials for that (not enterprise hybrid mode). */
  async appInstallationAccounts(): Promise<string[] | null> {
    return this.appAccounts ? this.appAccounts() : null;
  }

  /** The id of a runner group by name (`Default` is 1 everywhere; repositories only have that one). */
  async runnerGroupId(name: string | undefined): Promise<number> {
    if (!name || name.toLowerCase() === 'default' || this.scope.kind === 'repository') return 1;
    const { data } = await this.runnersClient.request(`GET ${runnerPathOf(this.scope)}/actions/runner-groups`, { per_page: 100 });
    const groups = (data as { runner_groups?: Array<{ id: number; name: string }> }).runner_groups ?? [];
    const group = groups.find((g) => g.name === name);
    if (!group) throw new RunnerGroupMissing(name);
    return group.id;
  }

  /**
   * One cheap call that needs the credentials and the scope (the first page of one runner), plus
   * the runner-group lookup when a group is named: what a handler asks while its credentials or
   * configuration are refused, to know when to resume. Throws what GitHub answered.
   */
  async checkAccess(runnerGroup: string | undefined): Promise<void> {
    await this.runnersClient.request(`GET ${runnerPathOf(this.scope)}/actions/runners`, { per_page: 1 });
    await this.runnerGroupId(runnerGroup);
  }

  /** Creates a one-job runner and returns its id and JIT config (a secret: register it before logging anything). */
  async generateJitConfig(name: string, labels: ReadonlyArray<string>, runnerGroupId: number): Promise<{ runnerId: number; jitConfig: string }> {
    const { data } = await this.runnersClient.request(`POST ${runnerPathOf(this.scope)}/actions/runners/generate-jitconfig`, {
      name,
      labels: [...labels],
      runner_group_id: runnerGroupId,
      work_folder: '_work',
    });
    const body = data as { runner?: { id?: number }; encoded_jit_config?: string };
    if (!body.encoded_jit_config || typeof body.runner?.id !== 'number') throw new Error('generate-jitconfig answered without a runner or a config');
    return { runnerId: body.runner.id, jitConfig: body.encoded_jit_config };
  }

  /** A registration token (Go mode). A secret: register it before logging anything. */
  async registrationToken(): Promise<string> {
    const { data } = await this.runnersClient.request(`POST ${runnerPathOf(this.scope)}/actions/runners/registration-token`);
    const token = (data as { token?: string }).token;
    if (!token) throw new Error('registration token empty');
    return token;
  }

  /** Finds a runner by name (every page; Go read only the first). */
  async findRunner(name: string): Promise<{ id: number; busy: boolean } | null> {
    for (let page = 1; page <= 50; page++) {
      const { data } = await this.runnersClient.request(`GET ${runnerPathOf(this.scope)}/actions/runners`, { name, per_page: 100, page });
      const runners = (data as { runners?: Array<{ id: number; name: string; busy: boolean }> }).runners ?? [];
      const hit = runners.find((r) => r.name === name);
      if (hit) return { id: hit.id, busy: hit.busy };
      if (runners.length < 100) return null;
    }
    return null;
  }

  /** Every runner of the scope whose name starts with `prefix` (all pages). */
  async listRunners(prefix: string): Promise<Array<{ id: number; name: string; busy: boolean; status: string }>> {
    const found: Array<{ id: number; name: string; busy: boolean; status: string }> = [];
    for (let page = 1; page <= 100; page++) {
      const { data } = await this.runnersClient.request(`GET ${runnerPathOf(this.scope)}/actions/runners`, { per_page: 100, page });
      const runners = (data as { runners?: Array<{ id: number; name: string; busy: boolean; status?: string }> }).runners ?? [];
      for (const r of runners) if (r.name.startsWith(prefix)) found.push({ id: r.id, name: r.name, busy: r.busy, status: r.status ?? 'unknown' });
      if (runners.length < 100) break;
    }
    return found;
  }

  /**
   * Deletes a runner by id. A runner busy with a job cannot be deleted: its run is cancelled first
   * (when `job` is given), then the delete is tried again. A runner already gone is fine.
   */
  async removeRunner(runnerId: number, job?: JobRef): Promise<void> {
    const del = () => this.runnersClient.request(`DELETE ${runnerPathOf(this.scope)}/actions/runners/{runner_id}`, { runner_id: runnerId });
    try {
      await del();
    } catch (err) {
      if (statusOf(err) === 404) return;
      if (statusOf(err) !== 422 || !job) throw err;
      this.logger.info('runner is currently running a job, canceling workflow before removal', { runnerId });
      await this.cancelRun(job);
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        try {
          await del();
          return;
        } catch (again) {
          if (statusOf(again) === 404) return;
          if (statusOf(again) !== 422) throw again;
        }
      }
      throw err;
    }
  }

  /** The job's status from the API, mapped as in Go. */
  async jobStatus(job: JobRef): Promise<JobStatus> {
    const client = await this.jobsClientOf(job.owner);
    const { data } = await client.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', { owner: job.owner, repo: job.repo, job_id: job.jobId });
    const body = data as { status?: string; conclusion?: string | null; runner_name?: string | null; runner_id?: number | null };
    let status: JobStatus['status'] = 'queued';
    if (body.status === 'completed') status = 'completed';
    else if (body.status === 'in_progress' || body.status === 'waiting' || body.status === 'pending') status = 'in_progress';
    return { status, conclusion: body.conclusion ?? null, runnerName: body.runner_name ?? null, runnerId: body.runner_id ?? null };
  }

  /**
   * Cancels the job's workflow run and waits (up to `waitMs`) until GitHub reports it completed.
   * Returns false when the run could not be cancelled.
   */
  async cancelRun(job: JobRef, waitMs = 60_000): Promise<boolean> {
    if (job.runId === null) return false;
    const params = { owner: job.owner, repo: job.repo, run_id: job.runId };
    const client = await this.jobsClientOf(job.owner);
    const deadline = Date.now() + waitMs;
    let sent = false;
    for (;;) {
      const { data } = await client.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}', params);
      const run = data as { status?: string; conclusion?: string | null };
      if (run.status === 'completed' || run.conclusion === 'cancelled') return true;
      if (!sent) {
        this.logger.warn('workflow run is still active... waiting for cancellation so we can clean up...', { workflowRunID: job.runId });
        try {
          await client.request('POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel', params);
        } catch (err) {
          // 409: completed in the meantime.
          if (statusOf(err) !== 409 && !describeError(err).includes('try again later')) throw err;
        }
        sent = true;
        this.logger.warn('sent cancel workflow run', { workflowRunID: job.runId });
        // A run often completes as soon as it is cancelled: look again at once before waiting.
        continue;
      }
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
