import { RunnerGroupMissing, statusOf } from './github-api.js';

/** The states a handler is in when GitHub refuses it for reasons no job can fix. */
export type HostFaultState = 'auth_failed' | 'config_failed' | 'limit_paused';

/** Every value of the `plugin_health{state}` gauge. */
export const HEALTH_STATES = ['ok', 'auth_failed', 'config_failed', 'limit_paused'] as const;

/** A host-level failure: the plugin's credentials, configuration or rate limit, not the job. */
export interface HostFault {
  readonly state: HostFaultState;
  /** Bounded, for metrics and the job's `lastReason`: `bad_credentials`, `app_installation_missing`, ... */
  readonly reason: string;
  /** What the operator does about it (logged once, with the ERROR). */
  readonly fix: string;
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

function urlOf(err: unknown): string {
  const url = (err as { request?: { url?: unknown } } | null)?.request?.url;
  return typeof url === 'string' ? url : '';
}

function header(err: unknown, name: string): string | undefined {
  const headers = (err as { response?: { headers?: Record<string, unknown> } } | null)?.response?.headers;
  const value = headers?.[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Says whether a failed GitHub call is the host's fault (credentials, installation, runner group,
 * rate limit) rather than the job's. Anything else (a 404 for one job, a 5xx) is null: the job's
 * failure, counted as an attempt as before.
 */
export function hostFaultOf(err: unknown): HostFault | null {
  for (const e of causes(err)) {
    if (e instanceof RunnerGroupMissing) {
      return { state: 'config_failed', reason: 'runner_group_missing', fix: `create the runner group ${JSON.stringify(e.group)} on GitHub, or correct runner_group in the plugin config` };
    }
    const status = statusOf(e);
    const url = urlOf(e);
    const appCall = /\/app\/installations\/[^/]+\/access_tokens/.test(url);
    if (status === 404 && appCall) {
      return { state: 'config_failed', reason: 'app_installation_missing', fix: 'install the GitHub App on the owner (or correct installation_id in the plugin config)' };
    }
    if (status === 401) {
      return {
        state: 'auth_failed',
        reason: appCall || url.includes('/app/') ? 'app_key_refused' : 'bad_credentials',
        fix: 'GitHub refused the credentials (expired or revoked token, or a revoked App key): set a valid token or private_key for this plugin; it resumes by itself once they work',
      };
    }
    if ((status === 403 || status === 429) && (header(e, 'x-ratelimit-remaining') === '0' || status === 429)) {
      return { state: 'limit_paused', reason: 'rate_limit_exhausted', fix: 'the GitHub rate limit of these credentials is used up: wait for the reset, or give this plugin credentials of its own' };
    }
    if (e instanceof Error && /App is not installed/i.test(e.message)) {
      return { state: 'config_failed', reason: 'app_installation_missing', fix: 'install the GitHub App on the owner (or correct installation_id in the plugin config)' };
    }
  }
  return null;
}
