import { AnkletError, ErrorCodes, type JobStore } from '@anklet/core';
import { createGitHubClient, queueNameOf, resolveScope, type GitHubScope } from '@anklet/github';
import { readFleet, statusView } from '@anklet/metrics';
import type { LoadedConfig, PluginEntry } from '../config/load-config.js';
import { fleetReadOptionsOf } from '../host/metrics.js';
import { DEFAULT_LIMITS, explainJob, type Explanation, type GitHubJobLookup, type HandlerLimits } from './explain-job.js';
import type { JobRef } from './job-ref.js';

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const positive = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);

/** The GitHub plugins of the config with their scope and queue (blocks whose scope does not resolve are left out). */
function githubEntries(config: LoadedConfig): Array<{ entry: PluginEntry; scope: GitHubScope; queue: string }> {
  return config.plugins.flatMap((entry) => {
    try {
      const scope = resolveScope(entry.block as Parameters<typeof resolveScope>[0]);
      return [{ entry, scope, queue: queueNameOf(entry.block as Parameters<typeof queueNameOf>[0]) }];
    } catch {
      return [];
    }
  });
}

/** Whether a plugin's scope covers a repository owner (an enterprise covers every owner it serves). */
function covers(scope: GitHubScope, owner: string): boolean {
  return scope.kind === 'enterprise' || scope.owner.toLowerCase() === owner.toLowerCase();
}

/**
 * The one GitHub call `explain` may make, with the credentials of the first plugin of the config
 * whose scope covers the job's owner (handlers before receivers, as the handlers' calls are the
 * ones that read jobs). No retries and no rate-limit pause: one answer or an error.
 */
function githubLookupOf(config: LoadedConfig): GitHubJobLookup | undefined {
  const entries = githubEntries(config).filter(({ entry }) => text(entry.block.token) || text(entry.block.private_key));
  if (entries.length === 0) return undefined;
  entries.sort((a, b) => Number(b.entry.plugin === 'github') - Number(a.entry.plugin === 'github'));
  return async ({ owner, repo, jobId }) => {
    const chosen = entries.find(({ scope }) => covers(scope, owner)) ?? entries[0]!;
    const block = chosen.entry.block;
    const client = await createGitHubClient({
      baseUrl: text(block.github_base_url),
      token: text(block.token),
      privateKey: text(block.private_key),
      appId: positive(block.app_id),
      installationId: positive(block.installation_id),
      scope: chosen.scope,
      retries: 0,
      maxRateLimitPauses: 0,
    });
    try {
      const { data } = await client.octokit.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', { owner, repo, job_id: Number(jobId) });
      const body = data as { status?: string; conclusion?: string | null; labels?: unknown[]; html_url?: string; runner_name?: string | null };
      return {
        status: body.status ?? 'unknown',
        conclusion: body.conclusion ?? null,
        labels: (body.labels ?? []).filter((l): l is string => typeof l === 'string'),
        html_url: body.html_url,
        runner_name: body.runner_name ?? null,
      };
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 404) return null;
      throw new AnkletError(ErrorCodes.GITHUB_FAILED, `asking GitHub about job ${jobId} of ${owner}/${repo} failed: ${status ? `HTTP ${status}` : (error as Error).message}`, {
        operator: true,
        cause: error,
        hint: `check the credentials of plugin ${chosen.entry.name} (anklet doctor), or read the job on GitHub`,
      });
    }
  };
}

/** Handler limits per queue, from the config's handler blocks of that queue (else the defaults). */
function limitsOf(config: LoadedConfig): (queue: string) => HandlerLimits {
  const handlers = githubEntries(config).filter(({ entry }) => entry.plugin === 'github' || entry.block.registration_timeout_seconds !== undefined);
  return (queue) => {
    const block = handlers.find((h) => h.queue === queue)?.entry.block ?? handlers[0]?.entry.block;
    return {
      retryAttempts: positive(block?.job_retry_attempts) ?? DEFAULT_LIMITS.retryAttempts,
      registrationTimeoutSeconds: positive(block?.registration_timeout_seconds) ?? DEFAULT_LIMITS.registrationTimeoutSeconds,
    };
  };
}

/** Answers `anklet explain <ref>` from `store` (the fleet's Redis) and the config's plugins. */
export async function explainFromConfig(
  store: Pick<JobStore, 'get' | 'getTimeline' | 'listHostSnapshots'>,
  config: LoadedConfig,
  ref: JobRef,
  options: { queues?: ReadonlyArray<string>; now?: Date } = {},
): Promise<Explanation> {
  const entries = githubEntries(config);
  const fleetOptions = fleetReadOptionsOf(config);
  // The queues to look in: asked for, the config's, and those the hosts report.
  const queues = new Set<string>(options.queues ?? []);
  for (const { queue } of entries) if (queue) queues.add(queue);
  const now = options.now ?? new Date();
  const fleet = await readFleet(store, undefined, { ...fleetOptions, now });
  for (const host of statusView(fleet, now).hosts) for (const q of host.queues) queues.add(q.queue);
  const repoScoped = entries.map(({ scope }) => scope).filter((s): s is Extract<GitHubScope, { kind: 'repository' }> => s.kind === 'repository');
  return explainJob(ref, {
    store,
    queues: [...queues],
    queueOfOwner: (owner) => entries.find(({ scope, queue }) => queue && covers(scope, owner))?.queue ?? (queues.has(owner) ? owner : undefined),
    limitsOf: limitsOf(config),
    github: githubLookupOf(config),
    // A bare job id can be looked up on GitHub only when the config names one repository.
    defaultRepository: new Set(repoScoped.map((s) => `${s.owner}/${s.repo}`)).size === 1 ? { owner: repoScoped[0]!.owner, repo: repoScoped[0]!.repo } : undefined,
    fleet,
    now,
  });
}
