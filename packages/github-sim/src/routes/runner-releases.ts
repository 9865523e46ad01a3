import { Router, type Request, type Response } from 'express';
import type { RunnerReleases } from '../runner-releases.js';
import type { World } from '../world.js';
import { sendConditional } from './conditional.js';
import { paginate } from './pagination.js';

/** An unreachable GitHub: the connection drops without an answer. */
function dropConnection(req: Request): void {
  req.socket.destroy();
}

/** A 200 whose JSON is cut off half-way, as a broken proxy or a truncated answer would give. */
function sendGarbled(res: Response, body: unknown): void {
  const text = JSON.stringify(body);
  res.status(200).type('application/json').send(text.slice(0, Math.max(1, text.length >> 1)));
}

/**
 * `GET /repos/actions/runner/releases` and `/releases/latest` (conditional: `If-None-Match` gets a
 * 304 that costs no rate limit), behind authentication and the rate limiter like the rest of the
 * API; anonymous callers are answered, as for any public repository.
 */
export function runnerReleaseApiRoutes(world: World, releases: RunnerReleases): Router {
  const router = Router();
  const answer = (req: Request, res: Response, body: () => unknown): void => {
    if (releases.faults.offline) return dropConnection(req);
    if (releases.faults.garbleApi > 0) {
      releases.faults.garbleApi--;
      return sendGarbled(res, body());
    }
    sendConditional(req, res, body());
  };
  router.get('/repos/actions/runner/releases', (req, res) => {
    answer(req, res, () => paginate(req, res, world.apiBaseUrl, releases.releasesJson()));
  });
  router.get('/repos/actions/runner/releases/latest', (req, res) => {
    answer(req, res, () => releases.releasesJson()[0]);
  });
  return router;
}

/** The tarballs behind `browser_download_url`: no credentials and no API rate limit, as on github.com. */
export function runnerDownloadRoutes(releases: RunnerReleases): Router {
  const router = Router();
  router.get('/actions/runner/releases/download/:tag/:name', (req, res) => {
    if (releases.faults.offline) return dropConnection(req);
    const bytes = releases.download(String(req.params.tag).replace(/^v/, ''), String(req.params.name));
    if (!bytes) {
      res.status(404).type('text/plain').send('Not Found');
      return;
    }
    res.status(200).type('application/octet-stream').setHeader('content-disposition', `attachment; filename=${String(req.params.name)}`);
    res.send(bytes);
  });
  return router;
}
