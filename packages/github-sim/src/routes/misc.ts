import { Router } from 'express';
import { GitHubApiError, notAccessibleByIntegration } from '../errors.js';
import { accountJson } from '../objects.js';
import { callerOf } from '../auth.js';
import type { World } from '../world.js';

/** `GET /rate_limit` and `GET /user` (anklet's credential probe). */
export function miscRoutes(world: World): Router {
  const router = Router();

  router.get('/rate_limit', (_req, res) => {
    const remaining = Number(res.getHeader('x-ratelimit-remaining'));
    const core = {
      limit: Number(res.getHeader('x-ratelimit-limit')),
      used: Number(res.getHeader('x-ratelimit-used')),
      remaining,
      reset: Number(res.getHeader('x-ratelimit-reset')),
    };
    const fixed = (limit: number) => ({ limit, used: 0, remaining: limit, reset: core.reset });
    res.json({
      resources: {
        core,
        search: fixed(30),
        graphql: fixed(5000),
        integration_manifest: fixed(5000),
        code_search: fixed(10),
        actions_runner_registration: fixed(10000),
      },
      rate: core,
    });
  });

  router.get('/user', (req, res) => {
    const caller = callerOf(req);
    if (caller.kind === 'anonymous') throw new GitHubApiError(401, 'Requires authentication');
    if (caller.kind !== 'pat') throw notAccessibleByIntegration();
    const user = world.ensureAccount(caller.login, 'User');
    res.json({
      ...accountJson(world, user),
      name: caller.login,
      company: null,
      blog: '',
      location: null,
      email: null,
      hireable: null,
      bio: null,
      twitter_username: null,
      public_repos: 0,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: '2020-01-01T00:00:00Z',
      updated_at: '2020-01-01T00:00:00Z',
    });
  });
  return router;
}
