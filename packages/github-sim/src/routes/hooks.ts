import { Router, type Request } from 'express';
import { authorize } from '../auth.js';
import { iso } from '../objects.js';
import type { Hook, World } from '../world.js';
import { paginate } from './pagination.js';

/**
 * The `hook` (repository) and `org-hook` shapes. GitHub never returns a hook's secret, only
 * `********` when one is set; `last_response` reflects the newest delivery.
 */
function hookJson(world: World, hook: Hook, base: string): Record<string, unknown> {
  const url = `${world.apiBaseUrl}${base}/hooks/${hook.id}`;
  const config: Record<string, string> = { content_type: hook.contentType, insecure_ssl: hook.insecureSsl ? '1' : '0', url: hook.url };
  if (hook.secret !== undefined) config.secret = '********';
  const json: Record<string, unknown> = {
    type: hook.scope.kind === 'org' ? 'Organization' : 'Repository',
    id: hook.id,
    name: 'web',
    active: hook.active,
    events: [...hook.events],
    config,
    updated_at: iso(hook.updatedAt),
    created_at: iso(hook.createdAt),
    url,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
  };
  // Only repository hooks have a test endpoint and a `last_response` in GitHub's description.
  if (hook.scope.kind === 'repo') {
    const last = world.deliveries.filter((d) => d.hookId === hook.id).at(-1);
    json.test_url = `${url}/test`;
    // "unused" until the first delivery, as on GitHub; after that, the answer of the newest one.
    // GitHub does not document the status text of a failed delivery: "failed" is the sim's.
    json.last_response = last
      ? { code: last.statusCode === 0 ? null : last.statusCode, status: last.success ? 'active' : 'failed', message: last.status }
      : { code: null, status: 'unused', message: null };
  }
  return json;
}

/**
 * Listing and reading repository and organization webhooks. Reading needs the App permission
 * `repository_hooks` / `organization_hooks` (classic tokens: `admin:repo_hook` / `admin:org_hook`,
 * which the sim grants to every PAT).
 */
export function hookRoutes(world: World): Router {
  const router = Router();
  const variants: Array<{ prefix: string; hooksOf: (req: Request) => { base: string; hooks: Hook[] } }> = [
    {
      prefix: '/repos/:owner/:repo/hooks',
      hooksOf: (req) => {
        const repo = world.findRepo(String(req.params.owner), String(req.params.repo));
        authorize(req, { kind: 'repo', repo }, 'repository_hooks', 'read');
        const hooks = [...world.hooks.values()].filter((h) => h.scope.kind === 'repo' && h.scope.repo.id === repo.id);
        return { base: `/repos/${repo.fullName}`, hooks };
      },
    },
    {
      prefix: '/orgs/:org/hooks',
      hooksOf: (req) => {
        const account = world.findOrg(String(req.params.org));
        authorize(req, { kind: 'org', account }, 'organization_hooks', 'read');
        const hooks = [...world.hooks.values()].filter((h) => h.scope.kind === 'org' && h.scope.account.id === account.id);
        return { base: `/orgs/${account.login}`, hooks };
      },
    },
  ];
  for (const { prefix, hooksOf } of variants) {
    router.get(prefix, (req, res) => {
      const { base, hooks } = hooksOf(req);
      res.json(paginate(req, res, world.apiBaseUrl, hooks).map((hook) => hookJson(world, hook, base)));
    });
    router.get(`${prefix}/:hook_id`, (req, res, next) => {
      const { base, hooks } = hooksOf(req);
      const hook = hooks.find((h) => String(h.id) === req.params.hook_id);
      // An unknown id falls through to the 404 at the end of the app.
      if (!hook) return next();
      res.json(hookJson(world, hook, base));
    });
  }
  return router;
}
