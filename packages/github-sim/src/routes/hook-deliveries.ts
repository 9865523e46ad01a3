import { Router, type Request, type Response } from 'express';
import { authorize, requireApp } from '../auth.js';
import { GitHubApiError, notFound } from '../errors.js';
import { deliveryItemJson, deliveryJson } from '../objects.js';
import type { WebhookSender } from '../webhooks.js';
import type { Hook, World } from '../world.js';
import { selfUrl } from './pagination.js';

const CURSOR_PREFIX = 'v1_';

/**
 * Hook deliveries for repository, organization and App hooks: a newest-first list with cursor
 * pagination through the `Link` header, one delivery with its request and response, and
 * redelivery (202, sent again with the same GUID).
 */
export function hookDeliveryRoutes(world: World, sender: WebhookSender): Router {
  const router = Router();
  const variants: Array<{ prefix: string; hookOf: (req: Request) => Hook }> = [
    {
      prefix: '/repos/:owner/:repo/hooks/:hook_id',
      hookOf: (req) => {
        const repo = world.findRepo(String(req.params.owner), String(req.params.repo));
        authorize(req, { kind: 'repo', repo }, 'repository_hooks', req.method === 'GET' ? 'read' : 'write');
        return world.findHook(Number(req.params.hook_id), { kind: 'repo', repo });
      },
    },
    {
      prefix: '/orgs/:org/hooks/:hook_id',
      hookOf: (req) => {
        const account = world.findOrg(String(req.params.org));
        authorize(req, { kind: 'org', account }, 'organization_hooks', req.method === 'GET' ? 'read' : 'write');
        return world.findHook(Number(req.params.hook_id), { kind: 'org', account });
      },
    },
    {
      prefix: '/app/hook',
      hookOf: (req) => {
        requireApp(req);
        const hook = [...world.hooks.values()].find((h) => h.scope.kind === 'app');
        if (!hook) throw notFound();
        return hook;
      },
    },
  ];

  for (const { prefix, hookOf } of variants) {
    router.get(`${prefix}/deliveries`, (req, res) => list(req, res, hookOf(req)));
    router.get(`${prefix}/deliveries/:delivery_id`, (req, res) => {
      res.json(deliveryJson(findDelivery(hookOf(req), String(req.params.delivery_id))));
    });
    router.post(`${prefix}/deliveries/:delivery_id/attempts`, (req, res) => {
      sender.redeliver(findDelivery(hookOf(req), String(req.params.delivery_id)));
      res.status(202).json({});
    });
  }

  function findDelivery(hook: Hook, rawId: string) {
    const delivery = world.deliveries.find((d) => d.hookId === hook.id && String(d.id) === rawId);
    if (!delivery) throw notFound();
    return delivery;
  }

  function list(req: Request, res: Response, hook: Hook): void {
    const perPage = Math.min(100, Math.max(1, Number.parseInt(String(req.query.per_page ?? '30'), 10) || 30));
    const status = req.query.status;
    if (status !== undefined && status !== 'success' && status !== 'failure') {
      throw new GitHubApiError(422, 'Validation Failed', 'https://docs.github.com/rest/webhooks/repo-deliveries#list-deliveries-for-a-repository-webhook');
    }
    let before = Number.POSITIVE_INFINITY;
    if (req.query.cursor !== undefined) {
      const cursor = String(req.query.cursor);
      const id = Number(cursor.slice(CURSOR_PREFIX.length));
      if (!cursor.startsWith(CURSOR_PREFIX) || !Number.isSafeInteger(id)) throw new GitHubApiError(400, 'Invalid cursor');
      before = id;
    }
    // Newest first; GitHub's "success" means a 2xx or 3xx answer.
    const all = world.deliveries
      .filter((d) => d.hookId === hook.id && d.id < before)
      .filter((d) => status === undefined || (status === 'success') === (d.statusCode >= 200 && d.statusCode < 400))
      .sort((a, b) => b.id - a.id);
    const page = all.slice(0, perPage);
    if (all.length > perPage) {
      const next = selfUrl(req, world.apiBaseUrl, { per_page: String(perPage), cursor: `${CURSOR_PREFIX}${page[page.length - 1]!.id}` });
      res.setHeader('link', `<${next}>; rel="next"`);
    }
    res.json(page.map(deliveryItemJson));
  }

  return router;
}
