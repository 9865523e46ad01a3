import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { RequestFaults } from './request-faults.js';
import { authenticate, callerOf, rejectBadCredentials, requestIdOf, setRequestId } from './auth.js';
import { SimControl } from './control.js';
import { GitHubApiError, notFound, sendError } from './errors.js';
import type { GitHubSimOptions } from './options.js';
import { RateLimiter } from './rate-limit.js';
import { actionsRoutes } from './routes/actions.js';
import { appRoutes } from './routes/apps.js';
import { controlRoutes } from './routes/control.js';
import { hookDeliveryRoutes } from './routes/hook-deliveries.js';
import { hookRoutes } from './routes/hooks.js';
import { miscRoutes } from './routes/misc.js';
import { repoRoutes } from './routes/repos.js';
import { runnerProtocolRoutes } from './routes/runner-protocol.js';
import { runnerRoutes } from './routes/runners.js';
import { runnerDownloadRoutes, runnerReleaseApiRoutes } from './routes/runner-releases.js';
import { RunnerReleases } from './runner-releases.js';
import { WebhookSender } from './webhooks.js';
import { Workflows } from './workflows.js';
import { World } from './world.js';

/** A running simulated GitHub. */
export interface GitHubSim {
  /** Base URL for Octokit's `baseUrl` and for the control API, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** Dispatch jobs, configure hooks and credentials, inject faults, inspect state. */
  control: SimControl;
  /** The in-memory state, for assertions the control API does not cover. */
  world: World;
  close(): Promise<void>;
}

const EXPOSED = 'ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset';

/**
 * Starts the simulator on 127.0.0.1.
 *
 * @example
 * const sim = await startGitHubSim({ tokens: ['ghp_test'], hooks: [{ org: 'acme', url, secret }] });
 * sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'anka'] });
 * await sim.close();
 */
export async function startGitHubSim(options: GitHubSimOptions = {}): Promise<GitHubSim> {
  const log = options.log ?? (() => {});
  const world = new World(options);
  const sender = new WebhookSender(world, log);
  const workflows = new Workflows(world, sender);
  const limiter = new RateLimiter(world, options.rateLimit);
  const requestFaults = new RequestFaults();
  const runnerReleases = new RunnerReleases(world, options.runnerReleases);
  const control = new SimControl(world, workflows, sender, limiter, requestFaults, runnerReleases);

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.on('finish', () => log(`github-sim: ${req.method} ${req.path} -> ${res.statusCode} (${Math.round(performance.now() - started)} ms)`));
    next();
  });

  // Body parsing for both the runner protocol and the REST API; a broken body is GitHub's 400.
  const json = express.json({ limit: '25mb' });
  app.use((req, res, next) => {
    if (req.path.startsWith('/_sim/') && !req.path.startsWith('/_sim/runner/')) return next();
    json(req, res, (error?: unknown) => {
      if (error) return next(new GitHubApiError(400, 'Problems parsing JSON'));
      next();
    });
  });

  app.use(controlRoutes(control));
  app.use(runnerProtocolRoutes(world, workflows));
  app.use(runnerDownloadRoutes(runnerReleases));

  app.use((req: Request, res: Response, next: NextFunction) => {
    const r = world.random;
    setRequestId(req, `${r.hex(4)}:${r.hex(4)}:${r.hex(6)}:${r.hex(7)}:${r.hex(8)}`.toUpperCase());
    res.setHeader('x-github-request-id', requestIdOf(req));
    res.setHeader('x-github-media-type', 'github.v3; format=json');
    res.setHeader('x-github-api-version-selected', '2022-11-28');
    res.setHeader('access-control-expose-headers', EXPOSED);
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('server', 'github.com');
    next();
  });
  app.use(authenticate(world));
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (callerOf(req).kind === 'pat') res.setHeader('x-oauth-scopes', 'repo, admin:org, admin:org_hook, manage_runners:enterprise');
    next();
  });
  app.use(limiter.middleware());
  app.use(rejectBadCredentials);
  app.use(requestFaults.middleware());
  app.use(runnerReleaseApiRoutes(world, runnerReleases));
  app.use(miscRoutes(world));
  app.use(runnerRoutes(world));
  app.use(actionsRoutes(world, workflows));
  app.use(repoRoutes(world));
  app.use(hookDeliveryRoutes(world, sender));
  app.use(hookRoutes(world));
  app.use(appRoutes(world));
  app.use(() => {
    throw notFound();
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof GitHubApiError) return sendError(res, error);
    log(`github-sim: internal error: ${(error as Error).stack ?? String(error)}`);
    sendError(res, new GitHubApiError(500, 'Server Error'));
  });

  const host = options.host ?? '127.0.0.1';
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port ?? 0, host, (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  world.apiBaseUrl = url;

  const sweeper = setInterval(() => workflows.sweepLostRunners(), 1000);
  sweeper.unref();

  return {
    url,
    port,
    control,
    world,
    close: async () => {
      clearInterval(sweeper);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
