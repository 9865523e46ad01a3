import { Router, type Request } from 'express';
import { requireApp } from '../auth.js';
import { GitHubApiError, notFound } from '../errors.js';
import { appJson, installationJson, iso } from '../objects.js';
import type { Installation, World } from '../world.js';
import { HOUR } from '../world.js';
import { paginate } from './pagination.js';

/** GitHub App endpoints: the App, its installations and installation access tokens (JWT only). */
export function appRoutes(world: World): Router {
  const router = Router();
  const app = (req: Request) => {
    requireApp(req);
    if (!world.app) throw notFound();
    return world.app;
  };
  const found = (installation: Installation | undefined): Installation => {
    if (!installation) throw notFound();
    return installation;
  };

  router.get('/app', (req, res) => {
    res.json(appJson(world, app(req)));
  });

  router.get('/app/installations', (req, res) => {
    app(req);
    const all = [...world.installations.values()];
    res.json(paginate(req, res, world.apiBaseUrl, all).map((i) => installationJson(world, i)));
  });

  router.get('/app/installations/:installation_id', (req, res) => {
    app(req);
    res.json(installationJson(world, found(world.installations.get(Number(req.params.installation_id)))));
  });

  router.post('/app/installations/:installation_id/access_tokens', (req, res) => {
    app(req);
    const installation = found(world.installations.get(Number(req.params.installation_id)));
    const body = (req.body ?? {}) as { permissions?: Record<string, string>; repositories?: string[] };
    let permissions = installation.permissions;
    if (body.permissions) {
      for (const [name, level] of Object.entries(body.permissions)) {
        const granted = installation.permissions[name];
        if (!granted || (level === 'write' && granted !== 'write')) {
          throw new GitHubApiError(422, 'The permissions requested are not granted to this installation.', 'https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app');
        }
      }
      permissions = body.permissions as Record<string, 'read' | 'write'>;
    }
    const token = `ghs_${world.random.alnum(36)}`;
    const expiresAt = world.now() + HOUR;
    world.credentials.set(token, { kind: 'installation', installationId: installation.id, expiresAt });
    res.status(201).json({
      token,
      expires_at: iso(expiresAt),
      permissions,
      repository_selection: 'all',
    });
  });

  router.get('/orgs/:org/installation', (req, res) => {
    app(req);
    res.json(installationJson(world, found(world.installationFor(String(req.params.org), 'Organization'))));
  });
  router.get('/users/:username/installation', (req, res) => {
    app(req);
    res.json(installationJson(world, found(world.installationFor(String(req.params.username), 'User'))));
  });
  router.get('/repos/:owner/:repo/installation', (req, res) => {
    app(req);
    const repo = world.findRepo(String(req.params.owner), String(req.params.repo));
    res.json(installationJson(world, found(world.installationFor(repo.owner.login))));
  });
  router.get('/enterprises/:enterprise/installation', (req, res) => {
    app(req);
    res.json(installationJson(world, found(world.installationFor(String(req.params.enterprise), 'Enterprise'))));
  });
  return router;
}
