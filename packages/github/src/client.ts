import { AnkletError, ErrorCodes, type Logger, type PluginMetrics, type PluginStatus } from '@anklet/core';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import Bottleneck from 'bottleneck';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { loadPrivateKey } from './private-key.js';
import { pauseUntilReset, type PauseReporting } from './rate-limit-pause.js';
import type { GitHubScope } from './scope.js';

/** Octokit with the retry and throttling plugins, as every anklet GitHub client is. */
export const AnkletOctokit = Octokit.plugin(throttling, retry);
export type AnkletOctokit = InstanceType<typeof AnkletOctokit>;

/** Options for {@link createGitHubClient}. Credentials come from the plugin config (globals already applied by the host). */
export interface GitHubClientOptions {
  /** REST base URL: `https://api.github.com` (default), `https://ghes.example.com/api/v3`, or the simulator. */
  readonly baseUrl?: string | undefined;
  /** A classic or fine-grained personal access token. */
  readonly token?: string | null | undefined;
  /** GitHub App private key: a file path (`~/` allowed) or the PEM text. Wins over `token`. */
  readonly privateKey?: string | null | undefined;
  readonly appId?: number | null | undefined;
  /** App installation; looked up from `scope` when absent. */
  readonly installationId?: number | null | undefined;
  /** Used to look the installation up. */
  readonly scope?: GitHubScope | undefined;
  readonly logger?: Logger | undefined;
  readonly metrics?: PluginMetrics | undefined;
  /** Aborts requests and rate-limit pauses. */
  readonly signal?: AbortSignal | undefined;
  /** Status set when a rate-limit pause ends (default `running`). */
  readonly resumeStatus?: (() => PluginStatus) | undefined;
  /** Pause before going on when a response says this many requests or fewer remain (default 10, as Go). */
  readonly pauseBelowRemaining?: number | undefined;
  /** How many times one call may wait out a primary rate limit before it fails (default 3). */
  readonly maxRateLimitPauses?: number | undefined;
  /** Retries of 5xx answers (default 3) and the base of their quadratic back-off in ms (default 1000). */
  readonly retries?: number | undefined;
  readonly retryAfterBaseMs?: number | undefined;
  /** Minimum time between two writes (POST, PATCH, DELETE; default 1000 ms, GitHub's advice). */
  readonly writeSpacingMs?: number | undefined;
  readonly userAgent?: string | undefined;
}

/** A configured client. */
export interface GitHubClient {
  readonly octokit: AnkletOctokit;
  readonly authKind: 'token' | 'app';
  /** The App installation in use (App auth only). */
  readonly installationId?: number | undefined;
}

const DEFAULT_BASE_URL = 'https://api.github.com';

function githubError(message: string, cause?: unknown, hint?: string): AnkletError {
  return new AnkletError(ErrorCodes.GITHUB_FAILED, message, { cause, operator: true, ...(hint ? { hint } : {}) });
}

/** Status and headers of an Octokit error, if it is one. */
function responseOf(error: unknown): { status: number; headers: Record<string, string | undefined> } | null {
  if (typeof error !== 'object' || error === null) return null;
  const status = (error as { status?: unknown }).status;
  const headers = (error as { response?: { headers?: Record<string, string | undefined> } }).response?.headers;
  return typeof status === 'number' ? { status, headers: headers ?? {} } : null;
}

/** Reset time (epoch seconds) of a primary rate-limit answer, or null when the answer is something else. */
export function primaryRateLimitReset(error: unknown): number | null {
  const response = responseOf(error);
  if (!response || (response.status !== 403 && response.status !== 429)) return null;
  if (response.headers['x-ratelimit-remaining'] !== '0') return null;
  const reset = Number(response.headers['x-ratelimit-reset']);
  return Number.isFinite(reset) ? reset : Math.floor(Date.now() / 1000) + 60;
}

/**
 * Sets `github_rate_limit_remaining` and `github_rate_limit_reset_timestamp_seconds` from an answer's
 * `x-ratelimit-remaining`, `x-ratelimit-reset` and `x-ratelimit-resource` headers (GitHub sends them
 * on every REST answer, errors included). An answer without them (GHES with rate limiting off) changes nothing.
 */
export function reportRateLimit(metrics: PluginMetrics | undefined, headers: Record<string, string | number | undefined> | undefined): void {
  if (!metrics || !headers) return;
  const remaining = Number(headers['x-ratelimit-remaining']);
  if (headers['x-ratelimit-remaining'] === undefined || !Number.isFinite(remaining)) return;
  const resource = String(headers['x-ratelimit-resource'] ?? '') || 'core';
  metrics.gauge('github_rate_limit_remaining', remaining, { resource });
  const reset = Number(headers['x-ratelimit-reset']);
  if (headers['x-ratelimit-reset'] !== undefined && Number.isFinite(reset)) metrics.gauge('github_rate_limit_reset_timestamp_seconds', reset, { resource });
}

/**
 * Finds the App installation for a scope with the App's JWT: repository, organization (then user),
 * or enterprise (then the App's installation list, matched case-insensitively).
 */
async function findInstallation(base: AnkletOctokit, jwt: string, scope: GitHubScope | undefined): Promise<number> {
  const headers = { authorization: `bearer ${jwt}` };
  const get = async (route: string, params: Record<string, unknown>): Promise<number | null> => {
    try {
      const { data } = await base.request(route, { ...params, headers });
      return Number((data as { id?: unknown }).id) || null;
    } catch (error) {
      if (responseOf(error)?.status === 404) return null;
      throw error;
    }
  };
  if (!scope) throw githubError('installation_id is required when private_key is set unless enterprise or owner is set to resolve it');
  if (scope.kind === 'enterprise') {
    try {
      const direct = await get('GET /enterprises/{enterprise}/installation', { enterprise: scope.enterprise });
      if (direct) return direct;
      const seen: string[] = [];
      for (let page = 1; page <= 10; page += 1) {
        const { data } = await base.request('GET /app/installations', { per_page: 100, page, headers });
        const list = data as Array<{ id: number; target_type?: string; account?: { login?: string; slug?: string } | null }>;
        for (const inst of list) {
          const login = inst.account?.login ?? inst.account?.slug ?? '';
          seen.push(`${inst.target_type ?? '?'}:${login}(id=${inst.id})`);
          if (inst.target_type?.toLowerCase() === 'enterprise' && login.toLowerCase() === scope.enterprise.toLowerCase()) return inst.id;
        }
        if (list.length < 100) break;
      }
      throw githubError(
        `GitHub App is not installed on enterprise ${scope.enterprise}; current installations: ${seen.length ? seen.join(', ') : 'none'}`,
        undefined,
        `install the App on the enterprise, or set installation_id`,
      );
    } catch (error) {
      if (error instanceof AnkletError) throw error;
      throw githubError(`resolving enterprise GitHub App installation for ${scope.enterprise}: ${(error as Error).message}`, error);
    }
  }
  try {
    const id =
      scope.kind === 'repository'
        ? await get('GET /repos/{owner}/{repo}/installation', { owner: scope.owner, repo: scope.repo })
        : ((await get('GET /orgs/{org}/installation', { org: scope.owner })) ?? (await get('GET /users/{username}/installation', { username: scope.owner })));
    if (id) return id;
  } catch (error) {
    throw githubError(`resolving organization GitHub App installation for ${scope.owner}: ${(error as Error).message}`, error);
  }
  throw githubError(`GitHub App is not installed on organization ${scope.owner}`, undefined, 'install the App there, or set installation_id');
}

/**
 * The organization and user accounts a GitHub App is installed on (`GET /app/installations` with
 * the App's JWT, every page): what an enterprise-scope plugin sweeps when no list of organizations
 * is configured, since GitHub has no REST call listing an enterprise's organizations.
 */
export async function listAppInstallationAccounts(options: Pick<GitHubClientOptions, 'baseUrl' | 'privateKey' | 'appId' | 'signal' | 'userAgent'>): Promise<string[]> {
  if (!options.privateKey || !options.appId) throw githubError('listing App installations needs private_key and app_id');
  const base = new Octokit({
    baseUrl: (options.baseUrl || DEFAULT_BASE_URL).replace(/\/+$/, ''),
    userAgent: options.userAgent ?? 'anklet',
    request: options.signal ? { signal: options.signal } : {},
  });
  const appAuth = createAppAuth({ appId: options.appId, privateKey: await loadPrivateKey(options.privateKey), request: base.request });
  const { token: jwt } = await appAuth({ type: 'app' });
  const accounts: string[] = [];
  for (let page = 1; page <= 10; page += 1) {
    const { data } = await base.request('GET /app/installations', { per_page: 100, page, headers: { authorization: `bearer ${jwt}` } });
    const list = data as Array<{ target_type?: string; account?: { login?: string } | null }>;
    for (const inst of list) {
      const type = inst.target_type?.toLowerCase();
      if ((type === 'organization' || type === 'user') && inst.account?.login) accounts.push(inst.account.login);
    }
    if (list.length < 100) break;
  }
  return accounts;
}

/**
 * Creates the GitHub client of a plugin: PAT or GitHub App auth, a base URL for GHES or the
 * simulator, plugin-retry for 5xx, plugin-throttling for GitHub's request spacing and secondary
 * limits, and a primary-limit pause that waits until the reset (status `limit_paused`) and then
 * repeats the call. Tokens obtained at run time are registered with `logger.addSecret`.
 */
export async function createGitHubClient(options: GitHubClientOptions): Promise<GitHubClient> {
  const baseUrl = (options.baseUrl || DEFAULT_BASE_URL).replace(/\/+$/, '');
  const logger = options.logger;
  const reporting: PauseReporting = { logger, metrics: options.metrics, resumeStatus: options.resumeStatus, signal: options.signal };
  const common = {
    baseUrl,
    userAgent: options.userAgent ?? 'anklet',
    request: options.signal ? { signal: options.signal } : {},
    retry: {
      retries: options.retries ?? 3,
      retryAfterBaseValue: options.retryAfterBaseMs ?? 1000,
      // 429 is a rate limit: the pause below handles it, not a quick retry.
      doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
    },
    throttle: {
      // Primary limits go to the pause below, which knows the plugin's status and signal.
      onRateLimit: () => false,
      onSecondaryRateLimit: (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
        logger?.warn('GitHub secondary rate limit detected, sleeping until reset', { totalSleepTime: `${retryAfter}s`, method: request.method, url: request.url });
        options.metrics?.count('github_secondary_rate_limits');
        return retryCount < 3;
      },
      ...(options.writeSpacingMs === undefined ? {} : { write: writeGroup(options.writeSpacingMs) }),
    },
  };

  let octokit: AnkletOctokit;
  let authKind: 'token' | 'app';
  let installationId: number | undefined;
  if (options.privateKey) {
    if (!options.appId) throw githubError('error authenticating github client: app_id is required when private_key is set');
    let privateKey: string;
    try {
      privateKey = await loadPrivateKey(options.privateKey);
    } catch (error) {
      throw githubError(`error authenticating github client: ${(error as Error).message}`);
    }
    const base = new AnkletOctokit(common);
    installationId = options.installationId || undefined;
    if (!installationId) {
      const appAuth = createAppAuth({ appId: options.appId, privateKey, request: base.request });
      const { token: jwt } = await appAuth({ type: 'app' });
      installationId = await findInstallation(base, jwt, options.scope);
      logger?.debug('resolved GitHub App installation', { installationId });
    }
    octokit = new AnkletOctokit({ ...common, authStrategy: createAppAuth, auth: { appId: options.appId, privateKey, installationId } });
    authKind = 'app';
  } else if (options.token) {
    logger?.addSecret(options.token);
    octokit = new AnkletOctokit({ ...common, auth: options.token });
    authKind = 'token';
  } else {
    throw githubError('error authenticating github client: token or private_key must be set');
  }

  const pauseBelow = options.pauseBelowRemaining ?? 10;
  const maxPauses = options.maxRateLimitPauses ?? 3;
  // Registered after the plugins, so this wraps them: it sees a primary limit only once
  // throttling and retry have given up on it.
  octokit.hook.wrap('request', async (request, requestOptions) => {
    // `/app/...` calls are the App's own (JWT, minting the token): asking for the token there would recurse.
    if (authKind === 'app' && !String(requestOptions.url).startsWith('/app')) {
      const auth = (await octokit.auth({ type: 'installation' })) as { token?: string };
      if (auth.token) logger?.addSecret(auth.token);
    }
    for (let pauses = 0; ; pauses += 1) {
      options.metrics?.count('github_api_calls');
      try {
        const response = await request(requestOptions);
        reportRateLimit(options.metrics, response.headers);
        const remaining = response.headers['x-ratelimit-remaining'];
        const reset = Number(response.headers['x-ratelimit-reset']);
        // Only when GitHub sent the header: a missing header is not "0 left" (a Go quirk).
        if (remaining !== undefined && Number(remaining) <= pauseBelow && Number.isFinite(reset) && reset * 1000 > Date.now()) {
          await pauseUntilReset(reset, reporting, `${remaining} requests left`);
        }
        return response;
      } catch (error) {
        reportRateLimit(options.metrics, responseOf(error)?.headers);
        const reset = primaryRateLimitReset(error);
        if (reset === null || pauses >= maxPauses) throw error;
        await pauseUntilReset(reset, reporting, 'primary rate limit');
      }
    }
  });

  if (authKind === 'app') {
    // Mint the first installation token now, so bad credentials fail at start-up, not on the first call.
    try {
      const auth = (await octokit.auth({ type: 'installation' })) as { token?: string };
      if (auth.token) logger?.addSecret(auth.token);
    } catch (error) {
      throw githubError(`error authenticating github client: ${(error as Error).message}`, error);
    }
  }
  return { octokit, authKind, ...(installationId ? { installationId } : {}) };
}

/** A throttling group for writes with a custom spacing (tests use 0). */
function writeGroup(minTime: number): Bottleneck.Group {
  return new Bottleneck.Group({ id: `anklet-write-${minTime}`, maxConcurrent: 1, minTime });
}
