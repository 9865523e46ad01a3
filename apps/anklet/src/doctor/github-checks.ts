import { createGitHubClient, hookPathOf, resolveScope, ScopeError, type GitHubClient, type GitHubScope } from '@anklet/github';
import type { PreparedPlugin } from '../config/prepare-plugins.js';
import type { DoctorCheck } from './doctor.js';
import { checkRunnerGroup } from './runner-group-check.js';
import { checkWebhook } from './webhook-check.js';

/** The first-party GitHub plugins; third-party plugins check their own services. */
const GITHUB_PLUGINS = new Set(['@anklet/plugin-github-handler', '@anklet/plugin-github-receiver']);

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined);
const int = (value: unknown): number | undefined => (value === null || value === undefined || value === '' ? undefined : Number(value));

/** `/repos/o/r`, `/orgs/o` or `/enterprises/e`: where a scope's runners live. */
function runnersPathOf(scope: GitHubScope): string {
  if (scope.kind === 'enterprise') return `/enterprises/${encodeURIComponent(scope.enterprise)}`;
  return hookPathOf(scope)!;
}

/** `acme/app`, `acme` or `acme-corp`: a scope as people name it. */
const whereOf = (scope: GitHubScope): string => (scope.kind === 'enterprise' ? scope.enterprise : scope.kind === 'repository' ? `${scope.owner}/${scope.repo}` : scope.owner);

/** The HTTP status of an Octokit error, if it has one. */
const statusOf = (error: unknown): number | undefined => (error as { status?: number }).status;

/** Error codes of a request that never got an answer: no route, no DNS, refused, reset, timed out, or a TLS failure. */
const NO_ANSWER = /^(E[A-Z_]+|UND_ERR_[A-Z_]+|ERR_TLS_[A-Z_]+|[A-Z_]*CERT[A-Z_]*|UNABLE_TO_[A-Z_]+)$/;

/** Why a request got no answer: the system error's words, and whether TLS refused the server. */
export interface NoAnswer {
  readonly reason: string;
  readonly tls: boolean;
}

/**
 * Why a request got no answer from GitHub at all, or undefined when GitHub answered. Octokit turns
 * a failed `fetch` into an error with status 500 and no `response`; the system error (ECONNREFUSED,
 * ENOTFOUND, a certificate problem ...) is further down the `cause` chain, and with an App it is
 * wrapped once more by the installation look-up.
 */
export function unreachableReason(error: unknown): NoAnswer | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth += 1) {
    if ((e as { response?: unknown }).response !== undefined) return undefined;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NO_ANSWER.test(code)) return { reason: (e as Error).message || code, tls: /CERT|TLS|SSL|^UNABLE_TO_/.test(code) };
    if ((e as Error).name === 'AbortError' || (e as Error).name === 'TimeoutError') return { reason: 'the request timed out', tls: false };
  }
  return undefined;
}

/** The check for credentials that could not be tried because GitHub did not answer. */
function unreachableCheck(name: string, baseUrl: string, noAnswer: NoAnswer): DoctorCheck {
  return {
    check: name,
    status: 'fail',
    detail: `cannot reach GitHub at ${baseUrl}: ${noAnswer.reason}`,
    fix: noAnswer.tls
      ? `trust the certificate of ${baseUrl} (NODE_EXTRA_CA_CERTS=<ca.pem> for anklet), or correct github_base_url`
      : `check that this host can reach ${baseUrl} (network, DNS, firewall, proxy) and that github_base_url is right; the credentials were not checked`,
  };
}

/**
 * What a GitHub plugin needs from GitHub, read-only: valid credentials for its scope; for handlers,
 * access to the scope's self-hosted runners and its `runner_group`; for receivers, the webhook
 * that feeds them and, when they redeliver, read access to its deliveries (`hook_id`).
 */
export async function checkGitHub(plugins: ReadonlyArray<PreparedPlugin>, options: { receiverUrl?: string | undefined } = {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  for (const p of plugins) {
    if (!GITHUB_PLUGINS.has(p.manifest.name)) continue;
    const name = `github ${p.entry.name}`;
    const block = p.config as Record<string, unknown>;
    let scope: GitHubScope;
    try {
      scope = resolveScope(block as Parameters<typeof resolveScope>[0]);
    } catch (error) {
      if (!(error instanceof ScopeError)) throw error;
      checks.push({ check: name, status: 'fail', detail: error.message, fix: 'set either owner (and repo for one repository) or enterprise' });
      continue;
    }
    const token = text(block.token);
    const privateKey = text(block.private_key);
    const redelivers = p.kind === 'receiver' && block.skip_redeliver !== true && scope.kind !== 'enterprise';
    if (!token && !privateKey) {
      if (p.kind === 'receiver' && !redelivers) {
        checks.push({ check: name, status: 'skip', detail: 'no credentials: this receiver does not call GitHub' });
        checks.push(...(await checkWebhook({ name, client: undefined, scope, where: whereOf(scope), hookId: undefined, receiverUrl: options.receiverUrl })));
      } else checks.push({ check: name, status: 'fail', detail: 'no token or private_key', fix: 'set token (or private_key and app_id) in the plugin, or global_token / global_private_key' });
      continue;
    }
    const where = whereOf(scope);
    const auth = privateKey ? 'GitHub App' : 'token';
    let client: GitHubClient;
    try {
      // An App's installation is looked up here; a wrong key or id fails here.
      client = await createGitHubClient({
        baseUrl: text(block.github_base_url),
        token,
        privateKey,
        appId: int(block.app_id),
        installationId: int(block.installation_id),
        scope,
        retries: 0,
        maxRateLimitPauses: 0,
      });
      // Answers for any valid credential without spending the budget; an App gets its installation token here.
      await client.octokit.request('GET /rate_limit');
      checks.push({ check: name, status: 'pass', detail: `${auth} accepted for ${where}` });
    } catch (error) {
      const noAnswer = unreachableReason(error);
      if (noAnswer) {
        checks.push(unreachableCheck(name, text(block.github_base_url) ?? 'https://api.github.com', noAnswer));
        continue;
      }
      const status = statusOf(error);
      checks.push({
        check: name,
        status: 'fail',
        detail: `${auth} refused${status ? ` (HTTP ${status})` : ''}: ${(error as Error).message}`,
        fix: privateKey ? 'check app_id, private_key and that the App is installed on the scope' : 'create a new token; check it has not expired',
      });
      continue;
    }
    if (p.kind === 'handler') {
      try {
        await client.octokit.request(`GET ${runnersPathOf(scope)}/actions/runners`, { per_page: 1 });
        checks.push({ check: `${name} runners`, status: 'pass', detail: `can manage self-hosted runners of ${where}` });
      } catch (error) {
        checks.push({
          check: `${name} runners`,
          status: 'fail',
          detail: `cannot read the self-hosted runners of ${where} (HTTP ${statusOf(error) ?? '?'})`,
          fix: 'give the token or App "Administration: read and write" (repository) or "Self-hosted runners: read and write" (organization)',
        });
      }
      const group = text(block.runner_group);
      if (group) checks.push(...(await checkRunnerGroup({ name, client, scope, base: runnersPathOf(scope), where, group })));
      continue;
    }
    const hookId = int(block.hook_id) || undefined;
    checks.push(...(await checkWebhook({ name, client, scope, where, hookId, receiverUrl: options.receiverUrl })));
    if (redelivers && hookId) {
      try {
        await client.octokit.request(`GET ${hookPathOf(scope)}/hooks/{hook_id}/deliveries`, { hook_id: hookId, per_page: 1 });
        checks.push({ check: `${name} redelivery`, status: 'pass', detail: `can read the deliveries of webhook ${hookId}` });
      } catch (error) {
        const status = statusOf(error);
        checks.push({
          check: `${name} redelivery`,
          status: 'fail',
          detail: status === 404 ? `no webhook ${hookId} on ${where}, or no access to its deliveries (HTTP 404)` : `cannot read the deliveries of webhook ${hookId} (HTTP ${status ?? '?'})`,
          fix: 'set hook_id to the id in the webhook\'s settings URL, and give the token admin:repo_hook / admin:org_hook (classic) or "Webhooks: read and write"',
        });
      }
    }
  }
  return checks;
}
