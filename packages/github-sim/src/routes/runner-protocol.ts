import { Router, type Request } from 'express';
import { GitHubApiError, notFound } from '../errors.js';
import { jobJson } from '../objects.js';
import type { JobConclusion } from '../options.js';
import type { Workflows } from '../workflows.js';
import type { Runner, Scope, World } from '../world.js';

/**
 * The sim's stand-in for the broker protocol the real runner speaks. It is private to
 * github-sim and its simulated runner; anklet never calls it.
 */
export function runnerProtocolRoutes(world: World, workflows: Workflows): Router {
  const router = Router();

  const runnerOf = (req: Request): Runner => {
    const header = req.headers.authorization ?? '';
    const credential = header.replace(/^bearer\s+/i, '');
    for (const runner of world.runners.values()) {
      if (runner.credential === credential) {
        runner.lastSeen = world.now();
        return runner;
      }
    }
    // The registration is gone (deleted by the handler, or the ephemeral runner finished).
    throw new GitHubApiError(404, 'Runner not found: the registration was deleted.');
  };

  /** `config.sh`: a registration token, a URL naming the scope, a name and labels. */
  router.post('/_sim/runner/register', (req, res) => {
    const body = (req.body ?? {}) as {
      url?: string; token?: string; name?: string; labels?: string[]; runnerGroup?: string; ephemeral?: boolean; replace?: boolean; os?: string;
    };
    if (!body.url || !body.token || !body.name || !Array.isArray(body.labels) || body.labels.length === 0) {
      throw new GitHubApiError(400, 'url, token, name and labels are required');
    }
    const registration = world.registrationTokens.get(body.token);
    if (!registration || registration.expiresAt <= world.now()) {
      throw new GitHubApiError(404, 'Not Found: the registration token is invalid or expired.');
    }
    const scope = scopeFromUrl(world, body.url);
    if (!scope || world.scopeKey(scope) !== world.scopeKey(registration.scope)) {
      throw new GitHubApiError(404, `Not Found: the registration token does not belong to ${body.url}.`);
    }
    const groups = world.groupsForScope(scope);
    const group = body.runnerGroup ? groups.find((g) => g.name.toLowerCase() === body.runnerGroup!.toLowerCase()) : groups.find((g) => g.isDefault);
    if (!group) throw new GitHubApiError(404, `Could not find any self-hosted runner group named "${body.runnerGroup}".`);
    const runner = world.registerRunner({
      scope, name: body.name, labels: body.labels, groupId: group.id, ephemeral: body.ephemeral ?? false, replace: body.replace ?? false, os: body.os ?? 'macOS',
    });
    res.status(201).json({ runner_id: runner.id, name: runner.name, credential: runner.credential, labels: runner.labels });
  });

  router.post('/_sim/runner/sessions', (req, res) => {
    const runner = runnerOf(req);
    runner.connected = true;
    // GitHub learns the OS when the listener connects; a fresh JIT runner shows "unknown".
    if (runner.os === 'unknown') runner.os = ((req.body ?? {}) as { os?: string }).os ?? 'macOS';
    world.emit('runner', runner);
    res.json({ runner_id: runner.id, name: runner.name, ephemeral: runner.ephemeral, labels: runner.labels });
  });

  router.delete('/_sim/runner/sessions', (req, res) => {
    const runner = runnerOf(req);
    runner.connected = false;
    world.emit('runner', runner);
    res.status(204).end();
  });

  /** Long poll: waits up to `wait` seconds (default 5) for a job GitHub would give this runner. */
  router.post('/_sim/runner/acquire', async (req, res) => {
    const runner = runnerOf(req);
    runner.connected = true;
    const defaults = ((req.body ?? {}) as { defaults?: { conclusion?: JobConclusion; durationMs?: number } }).defaults ?? {};
    const waitMs = Math.min(30, Math.max(0, Number(req.query.wait ?? 5))) * 1000;
    // A runner that hung up (killed mid-poll) must not be handed a job it will never run.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const job = workflows.tryAssign(runner) ?? (await waitForAssignment(runner, waitMs, gone.signal));
    if (!world.runners.has(runner.id)) throw new GitHubApiError(404, 'Runner not found: the registration was deleted.');
    if (!job) {
      res.status(204).end();
      return;
    }
    res.json({ job: jobJson(world, job), plan: workflows.planFor(job, defaults) });
  });

  router.post('/_sim/runner/jobs/:job_id/heartbeat', (req, res) => {
    const runner = runnerOf(req);
    const job = world.jobs.get(Number(req.params.job_id));
    if (!job || job.runnerId !== runner.id) throw notFound();
    res.json({ status: job.status, conclusion: job.conclusion });
  });

  router.post('/_sim/runner/jobs/:job_id/complete', (req, res) => {
    const runner = runnerOf(req);
    const job = world.jobs.get(Number(req.params.job_id));
    if (!job || job.runnerId !== runner.id) throw notFound();
    const conclusion = ((req.body ?? {}) as { conclusion?: JobConclusion }).conclusion ?? 'success';
    workflows.complete(job, conclusion);
    res.json({ status: job.status, conclusion: job.conclusion });
  });

  function waitForAssignment(runner: Runner, waitMs: number, hungUp: AbortSignal) {
    return new Promise<ReturnType<Workflows['tryAssign']>>((resolve) => {
      const attempt = (): void => {
        if (!world.runners.has(runner.id) || hungUp.aborted) return finish(undefined);
        const job = workflows.tryAssign(runner);
        if (job) finish(job);
      };
      const timer = setTimeout(() => finish(undefined), waitMs);
      const finish = (job: ReturnType<Workflows['tryAssign']>): void => {
        clearTimeout(timer);
        world.off('job', attempt);
        world.off('runner', attempt);
        hungUp.removeEventListener('abort', attempt);
        resolve(job);
      };
      hungUp.addEventListener('abort', attempt);
      world.on('job', attempt);
      world.on('runner', attempt);
    });
  }

  return router;
}

/**
 * The scope a `config.sh --url` names: `…/owner/repo`, `…/org` or `…/enterprises/slug`, on
 * github.com or on the sim itself.
 */
export function scopeFromUrl(world: World, url: string): Scope | undefined {
  let parts: string[];
  try {
    parts = new URL(url).pathname.split('/').filter(Boolean);
  } catch {
    return undefined;
  }
  try {
    if (parts[0] === 'enterprises' && parts.length === 2) return { kind: 'enterprise', enterprise: world.findEnterprise(parts[1]!) };
    if (parts.length === 2) return { kind: 'repo', repo: world.findRepo(parts[0]!, parts[1]!) };
    if (parts.length === 1) return { kind: 'org', account: world.findOrg(parts[0]!) };
  } catch {
    return undefined;
  }
  return undefined;
}
