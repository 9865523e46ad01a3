import { Router, type Request, type Response } from 'express';
import { authorize } from '../auth.js';
import { notFound } from '../errors.js';
import { repositoryJson } from '../objects.js';
import type { Account, World } from '../world.js';
import { sendConditional } from './conditional.js';
import { paginate } from './pagination.js';

/**
 * The repositories of an organization or user (`minimal-repository` items), newest first, paged,
 * with an ETag so an unchanged page costs a 304. An installation token must belong to the account
 * (permission `metadata`, which every installation has).
 */
export function repoRoutes(world: World): Router {
  const router = Router();
  const list = (req: Request, res: Response, account: Account): void => {
    authorize(req, { kind: 'org', account }, 'metadata', 'read');
    const repos = [...world.repos.values()].filter((repo) => repo.owner.id === account.id).sort((a, b) => b.id - a.id);
    const page = paginate(req, res, world.apiBaseUrl, repos);
    sendConditional(req, res, page.map((repo) => repositoryJson(world, repo)));
  };
  router.get('/orgs/:org/repos', (req, res) => {
    const account = world.findOrg(String(req.params.org));
    if (account.type !== 'Organization') throw notFound();
    list(req, res, account);
  });
  router.get('/users/:username/repos', (req, res) => {
    list(req, res, world.findOrg(String(req.params.username)));
  });
  return router;
}
