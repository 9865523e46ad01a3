import { hookPathOf, type GitHubClient, type GitHubScope } from '@anklet/github';
import type { DoctorCheck } from './doctor.js';

/** The receiver's path (the Go anklet's); exact, since `/jobs/v1/receiver/` is a 404 there. */
export const RECEIVER_PATH = '/jobs/v1/receiver';

/** A webhook as `GET /repos/{o}/{r}/hooks` and `GET /orgs/{org}/hooks` return it (the fields we read). */
interface ListedHook {
  id: number;
  active: boolean;
  events: string[];
  config: { url?: string; content_type?: string; insecure_ssl?: string | number; secret?: string };
  last_response?: { code: number | null; status: string | null; message: string | null };
}

/** A delivery as `GET …/hooks/{hook_id}/deliveries` lists it (the fields we read), newest first. */
interface ListedDelivery {
  id: number;
  delivered_at: string;
  status: string;
  status_code: number;
  redelivery: boolean;
}

/** How many recent deliveries the doctor reads: one page, enough to say "3 of the last 20 failed". */
const RECENT_DELIVERIES = 20;

/**
 * Whether GitHub's newest delivery to the webhook reached the receiver. Read from the deliveries
 * API, which repository and organization webhooks both have (an organization webhook has no
 * `last_response`); a repository webhook's `last_response` is the fallback when the list cannot be
 * read. A failed newest delivery is a warning: the receiver may have been down only for a while.
 */
async function checkRecentDeliveries(input: { client: GitHubClient; base: string; hook: ListedHook; settings: string; check: string }): Promise<DoctorCheck[]> {
  const { client, base, hook, settings, check } = input;
  const fix = `see Recent Deliveries of webhook ${hook.id} (${settings}): a 401 means the secrets differ, a 503 that the receiver could not store the job, no answer that GitHub cannot reach the receiver`;
  const ok = (code: number | null | undefined) => code !== null && code !== undefined && code >= 200 && code < 300;
  let deliveries: ListedDelivery[];
  try {
    deliveries = (await client.octokit.request(`GET ${base}/hooks/{hook_id}/deliveries`, { hook_id: hook.id, per_page: RECENT_DELIVERIES })).data as ListedDelivery[];
  } catch (error) {
    const last = hook.last_response;
    if (last) {
      if (last.status === 'unused' || ok(last.code)) return [];
      return [{ check, status: 'warn', detail: `the newest delivery of webhook ${hook.id} failed: ${last.message ?? `HTTP ${last.code ?? '?'}`}`, fix }];
    }
    const status = (error as { status?: number }).status;
    return [
      {
        check,
        status: 'warn',
        detail: `could not read the recent deliveries of webhook ${hook.id} (HTTP ${status ?? '?'}): whether GitHub reaches the receiver is not checked`,
        fix: `look at Recent Deliveries of webhook ${hook.id} (${settings}), or give the token "Webhooks: read"`,
      },
    ];
  }
  const newest = deliveries[0];
  if (!newest || ok(newest.status_code)) return [];
  const failed = deliveries.filter((d) => !ok(d.status_code)).length;
  // GitHub's own words ("Invalid HTTP Response: 401", "failed to connect to host"), else the code.
  const reason = newest.status || (newest.status_code ? `HTTP ${newest.status_code}` : 'no answer');
  return [
    {
      check,
      status: 'warn',
      detail: `the newest delivery of webhook ${hook.id} failed: ${reason}; ${failed} of the last ${deliveries.length} failed`,
      fix,
    },
  ];
}

/**
 * `--receiver-url` as the URL a webhook must use: taken as it is when it has a path, with
 * `/jobs/v1/receiver` added when it is only an origin (`https://anklet.example.com`).
 */
export function receiverUrlOf(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--receiver-url: "${value}" is not a URL (expected e.g. https://anklet.example.com${RECEIVER_PATH})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`--receiver-url: "${value}" must start with https:// or http://`);
  if (url.pathname === '/') url.pathname = RECEIVER_PATH;
  return url.href;
}

/** The same URL after parsing (case of the host, default ports), or the raw text when it does not parse. */
function normalise(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

const pathOf = (url: string): string => {
  try {
    return new URL(url).pathname;
  } catch {
    return '';
  }
};

/** Where the webhook settings of a scope are in GitHub's UI (github.com and GHES alike). */
function settingsOf(scope: GitHubScope, where: string): string {
  if (scope.kind === 'repository') return `${where} → Settings → Webhooks`;
  if (scope.kind === 'organization') return `organization ${where} → Settings → Webhooks`;
  return `enterprise ${where} → Settings → Hooks`;
}

/**
 * The webhook that feeds a receiver: one on the receiver's scope whose URL is the receiver's
 * (exactly `receiverUrl` when given, else any URL whose path ends in `/jobs/v1/receiver`), active,
 * sending `workflow_job` (or everything), signed with a secret. JSON and form bodies both work.
 * With `hook_id` set for redelivery, it must be that webhook.
 */
export async function checkWebhook(input: {
  /** `github <plugin name>`: the checks are named after it. */
  name: string;
  /** Undefined for a receiver without credentials: nothing can be read. */
  client: GitHubClient | undefined;
  scope: GitHubScope;
  where: string;
  hookId: number | undefined;
  receiverUrl: string | undefined;
}): Promise<DoctorCheck[]> {
  const { name, client, scope, where, hookId, receiverUrl } = input;
  const check = `${name} webhook`;
  const settings = settingsOf(scope, where);
  const wanted = receiverUrl ?? `https://<this host or its proxy>${RECEIVER_PATH}`;
  const base = hookPathOf(scope);
  if (!base) {
    return [
      {
        check,
        status: 'warn',
        detail: 'GitHub has no API to read enterprise webhooks: not checked',
        fix: `check by hand in ${settings} that one is active, sends "Workflow jobs" and points at ${wanted}`,
      },
    ];
  }
  if (!client) {
    return [
      {
        check,
        status: 'warn',
        detail: 'not checked: the receiver has no token or private_key',
        fix: `check by hand in ${settings}, or give the receiver a token with admin:${scope.kind === 'organization' ? 'org' : 'repo'}_hook (classic) or "Webhooks: read"`,
      },
    ];
  }
  let hooks: ListedHook[];
  try {
    // GitHub allows at most 20 webhooks per event and scope: one page of 100 holds every candidate.
    hooks = (await client.octokit.request(`GET ${base}/hooks`, { per_page: 100 })).data as ListedHook[];
  } catch (error) {
    const status = (error as { status?: number }).status;
    const denied = status === 403 || status === 404;
    return [
      {
        check,
        status: 'fail',
        detail: denied ? `not allowed to read the webhooks of ${where} (HTTP ${status})` : `cannot list the webhooks of ${where} (HTTP ${status ?? '?'}): ${(error as Error).message}`,
        fix:
          scope.kind === 'organization'
            ? 'use an organization owner\'s token with admin:org_hook (classic), or "Webhooks: read" on the organization (fine-grained token or GitHub App)'
            : 'use a token with admin:repo_hook (classic), or "Webhooks: read" on the repository (fine-grained token or GitHub App)',
      },
    ];
  }

  const byUrl = (h: ListedHook): boolean => {
    const url = h.config.url ?? '';
    if (receiverUrl) return normalise(url).replace(/\/+$/, '') === receiverUrl.replace(/\/+$/, '');
    return pathOf(url).replace(/\/+$/, '').endsWith(RECEIVER_PATH);
  };
  const candidates = hooks.filter(byUrl);
  if (candidates.length === 0) {
    const others = hooks.map((h) => h.config.url ?? '?');
    return [
      {
        check,
        status: 'fail',
        detail: `no webhook of ${where} points at ${receiverUrl ?? `a ${RECEIVER_PATH} URL`}${others.length > 0 ? ` (its webhooks: ${others.join(', ')})` : ' (it has none)'}`,
        fix: `add one in ${settings}: Payload URL ${wanted}, Content type application/json, Secret = the receiver's secret, events: "Workflow jobs"`,
      },
    ];
  }

  // Each problem a webhook can have, in the order a person would fix them; none means it works.
  const problems = (h: ListedHook): Array<{ detail: string; fix: string }> => {
    const list: Array<{ detail: string; fix: string }> = [];
    const url = h.config.url ?? '';
    if (pathOf(url).endsWith('/')) list.push({ detail: `its URL ${url} ends in "/": the receiver answers 404`, fix: `on webhook ${h.id} (${settings}) end the Payload URL in ${RECEIVER_PATH}, without the slash` });
    if (!h.active) list.push({ detail: 'it is not active: GitHub sends nothing', fix: `tick "Active" on webhook ${h.id} (${settings})` });
    if (!h.events.includes('workflow_job') && !h.events.includes('*')) {
      list.push({ detail: `it does not send workflow_job (events: ${h.events.join(', ') || 'none'})`, fix: `on webhook ${h.id} (${settings}) choose "Let me select individual events" and tick "Workflow jobs"` });
    }
    if (h.config.secret === undefined) list.push({ detail: 'it has no secret: the receiver refuses unsigned deliveries (401)', fix: `set the Secret of webhook ${h.id} (${settings}) to the receiver's secret` });
    return list;
  };
  const working = candidates.filter((h) => problems(h).length === 0);
  if (working.length === 0) {
    const hook = candidates[0]!;
    const found = problems(hook);
    return [
      {
        check,
        status: 'fail',
        detail: `webhook ${hook.id} (${hook.config.url}) of ${where}: ${found.map((p) => p.detail).join('; ')}`,
        fix: found.map((p) => p.fix).join('; '),
      },
    ];
  }

  const hook = (hookId && working.find((h) => h.id === hookId)) || working[0]!;
  const format = hook.config.content_type === 'form' ? 'form' : 'json';
  const checks: DoctorCheck[] = [
    { check, status: 'pass', detail: `webhook ${hook.id} of ${where} sends workflow_job (${format}) to ${hook.config.url}` },
  ];
  // Redelivery reads the deliveries of `hook_id`: another webhook's would redeliver the wrong events.
  if (hookId && hook.id !== hookId) {
    checks.push({
      check: `${name} hook_id`,
      status: 'fail',
      detail: `hook_id ${hookId} is not the receiver's webhook; that is ${hook.id}`,
      fix: `set hook_id: ${hook.id}`,
    });
  }
  if (String(hook.config.insecure_ssl ?? '0') === '1') {
    checks.push({ check: `${check} TLS`, status: 'warn', detail: `webhook ${hook.id} has SSL verification off`, fix: `enable SSL verification on webhook ${hook.id} (${settings})` });
  }
  checks.push(...(await checkRecentDeliveries({ client, base, hook, settings, check: `${check} last delivery` })));
  return checks;
}
