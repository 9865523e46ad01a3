import { Router, type Request } from 'express';
import { authorize } from '../auth.js';
import { GitHubApiError, invalidRequest, notFound } from '../errors.js';
import { encodeJitConfig } from '../jit-config.js';
import { iso, runnerJson } from '../objects.js';
import type { RunnerGroup, Scope, World } from '../world.js';
import { paginate } from './pagination.js';

const JIT_DOCS = 'https://docs.github.com/rest/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository';

type ScopeOf = (req: Request) => { scope: Scope; permission: string };

/** The runner endpoints exist at three scopes with the same shapes; only the prefix differs. */
const SCOPES: Array<{ prefix: string; resolve: (world: World) => ScopeOf }> = [
  {
    prefix: '/repos/:owner/:repo/actions',
    resolve: (world) => (req) => ({ scope: { kind: 'repo', repo: world.findRepo(String(req.params.owner), String(req.params.repo)) }, permission: 'administration' }),
  },
  {
    prefix: '/orgs/:org/actions',
    resolve: (world) => (req) => ({ scope: { kind: 'org', account: world.findOrg(String(req.params.org)) }, permission: 'organization_self_hosted_runners' }),
  },
  {
    prefix: '/enterprises/:enterprise/actions',
    resolve: (world) => (req) => ({ scope: { kind: 'enterprise', enterprise: world.findEnterprise(String(req.params.enterprise)) }, permission: 'enterprise_self_hosted_runners' }),
  },
];

/** Where `config.sh --url` would point for this scope. */
export function scopeHtmlUrl(world: World, scope: Scope): string {
  const base = world.settings.htmlBaseUrl;
  if (scope.kind === 'repo') return `${base}/${scope.repo.fullName}`;
  if (scope.kind === 'org') return `${base}/${scope.account.login}`;
  return `${base}/enterprises/${scope.enterprise.slug}`;
}

export function runnerRoutes(world: World): Router {
  const router = Router();
  for (const { prefix, resolve } of SCOPES) {
    const scopeOf = resolve(world);
    const guard = (req: Request, level: 'read' | 'write'): Scope => {
      const { scope, permission } = scopeOf(req);
      authorize(req, scope, permission, level);
      return scope;
    };

    for (const kind of ['registration-token', 'remove-token']) {
      router.post(`${prefix}/runners/${kind}`, (req, res) => {
        const scope = guard(req, 'write');
        const { token, expiresAt } = world.createRegistrationToken(scope);
        res.status(201).json({ token, expires_at: iso(expiresAt) });
      });
    }

    router.post(`${prefix}/runners/generate-jitconfig`, (req, res) => {
      const scope = guard(req, 'write');
      const body = (req.body ?? {}) as Record<string, unknown>;
      for (const field of ['name', 'runner_group_id', 'labels']) {
        if (body[field] === undefined) throw invalidRequest(`"${field}" wasn't supplied.`, JIT_DOCS);
      }
      if (typeof body.name !== 'string' || body.name.length === 0) throw invalidRequest('For \'properties/name\', it is not a string.', JIT_DOCS);
      if (typeof body.runner_group_id !== 'number' || !Number.isInteger(body.runner_group_id)) {
        throw invalidRequest(`For 'properties/runner_group_id', ${JSON.stringify(body.runner_group_id)} is not an integer.`, JIT_DOCS);
      }
      const labels = body.labels;
      if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string')) throw invalidRequest('For \'properties/labels\', it is not an array of strings.', JIT_DOCS);
      if (labels.length < 1 || labels.length > 100) throw invalidRequest(`For 'properties/labels', ${labels.length} items is outside 1 to 100.`, JIT_DOCS);
      const group = world.groupsForScope(scope).find((g) => g.id === body.runner_group_id);
      if (!group) throw new GitHubApiError(404, `Runner group ${String(body.runner_group_id)} not found.`, JIT_DOCS);
      const runner = world.registerRunner({ scope, name: body.name, labels: labels as string[], groupId: group.id, ephemeral: true });
      const workFolder = typeof body.work_folder === 'string' ? body.work_folder : '_work';
      const encoded = encodeJitConfig(
        {
          agentId: runner.id,
          agentName: runner.name,
          poolId: group.id,
          poolName: group.name,
          serverUrl: world.apiBaseUrl,
          gitHubUrl: scopeHtmlUrl(world, scope),
          workFolder,
          ephemeral: true,
        },
        runner.credential,
        world.random.hex(32),
      );
      res.status(201).json({ runner: runnerJson(world, runner), encoded_jit_config: encoded });
    });

    router.get(`${prefix}/runners`, (req, res) => {
      const scope = guard(req, 'read');
      let runners = world.runnersAt(scope);
      if (typeof req.query.name === 'string') runners = runners.filter((r) => r.name === req.query.name);
      const page = paginate(req, res, world.apiBaseUrl, runners);
      res.json({ total_count: runners.length, runners: page.map((r) => runnerJson(world, r)) });
    });

    router.get(`${prefix}/runners/:runner_id`, (req, res) => {
      const scope = guard(req, 'read');
      res.json(runnerJson(world, world.findRunner(scope, Number(req.params.runner_id))));
    });

    router.delete(`${prefix}/runners/:runner_id`, (req, res) => {
      const scope = guard(req, 'write');
      const runner = world.findRunner(scope, Number(req.params.runner_id));
      if (runner.busy) {
        throw new GitHubApiError(422, `Bad request - Runner ${runner.name} is currently running a job and cannot be deleted.`, 'https://docs.github.com/rest/actions/self-hosted-runners#delete-a-self-hosted-runner-from-a-repository');
      }
      world.removeRunner(runner);
      res.status(204).end();
    });

    if (prefix.startsWith('/repos')) continue;
    const groupJson = (scope: Scope, group: RunnerGroup): Record<string, unknown> => {
      const base = `${world.apiBaseUrl}${scope.kind === 'org' ? `/orgs/${scope.account.login}` : scope.kind === 'enterprise' ? `/enterprises/${scope.enterprise.slug}` : ''}/actions/runner-groups/${group.id}`;
      return {
        id: group.id,
        name: group.name,
        visibility: group.visibility,
        default: group.isDefault,
        runners_url: `${base}/runners`,
        hosted_runners_url: `${base}/hosted-runners`,
        inherited: false,
        allows_public_repositories: group.allowsPublicRepositories,
        restricted_to_workflows: false,
        selected_workflows: [],
        workflow_restrictions_read_only: false,
      };
    };
    router.get(`${prefix}/runner-groups`, (req, res) => {
      const scope = guard(req, 'read');
      const groups = world.groupsForScope(scope);
      const page = paginate(req, res, world.apiBaseUrl, groups);
      res.json({ total_count: groups.length, runner_groups: page.map((g) => groupJson(scope, g)) });
    });
    router.get(`${prefix}/runner-groups/:runner_group_id`, (req, res) => {
      const scope = guard(req, 'read');
      const group = world.groupsForScope(scope).find((g) => g.id === Number(req.params.runner_group_id));
      if (!group) throw notFound();
      res.json(groupJson(scope, group));
    });
  }
  return router;
}
