import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger, LogFields, PluginMetrics, PluginStatus } from '@anklet/core';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { createGitHubClient, parseAnkaLabels, queueNameOf, resolveScope, scopeErrorMessage, toQueueJob, type ScopeError } from '../src/index.js';

const sims: GitHubSim[] = [];
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.close();
});

function recorder() {
  const lines: Array<{ msg: string } & LogFields> = [];
  const secrets: string[] = [];
  const statuses: PluginStatus[] = [];
  /** Every gauge set, in order: `[name, value, labels]`. */
  const gauges: Array<[string, number, Record<string, string> | undefined]> = [];
  const logger: Logger = {
    debug: (msg, f) => void lines.push({ ...f, msg }),
    info: (msg, f) => void lines.push({ ...f, msg }),
    warn: (msg, f) => void lines.push({ ...f, msg }),
    error: (msg, f) => void lines.push({ ...f, msg }),
    child: () => logger,
    addSecret: (s) => void secrets.push(s),
  };
  const metrics: PluginMetrics = {
    setStatus: (s) => void statuses.push(s),
    recordRun: () => undefined,
    vmStarted: () => undefined,
    vmStopped: () => undefined,
    count: () => undefined,
    gauge: (name, value, labels) => void gauges.push([name, value, labels]),
    observe: () => undefined,
  };
  return { lines, secrets, statuses, gauges, logger, metrics };
}

describe('label grammar', () => {
  it('parses exact prefixes, never substrings', () => {
    const uuid = 'c0847bc9-5d2d-4dbc-ba6a-240f7ff08032';
    expect(parseAnkaLabels(['self-hosted', `anka-template:${uuid}`, 'anka-template-tag:vanilla+port-forward', '1234-0'])).toEqual({
      isAnkaJob: true,
      template: uuid,
      templateIsUuid: true,
      tag: 'vanilla+port-forward',
      perJobLabel: '1234-0',
      problems: [],
      nearMisses: [],
      verdict: 'anka',
      badReason: undefined,
    });
    for (const labels of [['ubuntu-latest'], ['my-anka-template:x'], ['anka-template'], ['anka-template:'], ['xanka-template-tag:t'], []]) {
      expect(parseAnkaLabels(labels).isAnkaJob, JSON.stringify(labels)).toBe(false);
    }
    // A tag alone is an anklet job (as in Go) that the handler must refuse with a reason.
    expect(parseAnkaLabels(['anka-template-tag:t'])).toMatchObject({ isAnkaJob: true, template: undefined, problems: ['no anka-template:<uuid> label'] });
    expect(parseAnkaLabels(['anka-template:a', 'anka-template:b']).problems).toEqual(['two templates: "a" and "b"']);
    expect(parseAnkaLabels(['anka-template:not-a-uuid']).templateIsUuid).toBe(false);
    expect(parseAnkaLabels(null).isAnkaJob).toBe(false);
  });
});

describe('scope and queue naming', () => {
  it('resolves scopes with the Go error texts', () => {
    expect(resolveScope({ owner: 'acme', repo: 'app' })).toEqual({ kind: 'repository', owner: 'acme', repo: 'app' });
    expect(resolveScope({ owner: 'acme' })).toEqual({ kind: 'organization', owner: 'acme' });
    expect(resolveScope({ enterprise: 'corp' })).toEqual({ kind: 'enterprise', enterprise: 'corp' });
    const reason = (c: Record<string, string>) => {
      try {
        resolveScope(c);
        return '';
      } catch (error) {
        return scopeErrorMessage('config.yml', 'RECV1', error as ScopeError);
      }
    };
    expect(reason({ enterprise: 'e', repo: 'r' })).toBe('invalid github scope in config.yml:plugins:RECV1: enterprise cannot be combined with owner or repo; pick one scope level');
    expect(reason({ repo: 'r' })).toBe('invalid github scope in config.yml:plugins:RECV1: repo requires owner to be set');
    expect(reason({})).toBe('invalid github scope in config.yml:plugins:RECV1: enterprise or owner must be set');
  });

  it('names the queue queue_name > enterprise > owner', () => {
    expect(queueNameOf({ queue_name: 'shared', enterprise: 'e', owner: 'o' })).toBe('shared');
    expect(queueNameOf({ enterprise: 'e', owner: 'o' })).toBe('e');
    expect(queueNameOf({ owner: 'o' })).toBe('o');
    expect(queueNameOf({})).toBe('');
  });

  it('builds the Go queue record with a flattened owner and nulls for missing fields', () => {
    const record = toQueueJob({ action: 'queued', workflow_job: { id: 7, labels: ['a'] }, repository: { name: 'app', owner: { login: 'acme' } } });
    expect(JSON.stringify(record)).toBe(
      '{"type":"WorkflowJobPayload","workflow_job":{"id":7,"name":null,"run_id":null,"status":null,"conclusion":null,"started_at":null,"completed_at":null,"labels":["a"],"html_url":null,"workflow_name":null},"anka_vm":{"name":"","cpu_cores":0,"ram_size":0},"repository":{"name":"app","owner":"acme","visibility":null,"private":null},"action":"queued","paused_on":"","attempts":0}',
    );
  });
});

describe('createGitHubClient against github-sim', () => {
  it('authenticates with a PAT at a custom base URL', async () => {
    const sim = await startGitHubSim({ tokens: [{ token: 'ghp_pat', login: 'bot' }] });
    sims.push(sim);
    const { logger, secrets } = recorder();
    const client = await createGitHubClient({ baseUrl: sim.url, token: 'ghp_pat', logger });
    const { data } = await client.octokit.request('GET /user');
    expect(data.login).toBe('bot');
    expect(client.authKind).toBe('token');
    expect(secrets).toContain('ghp_pat');
  });

  it('authenticates as a GitHub App from a key file, looks the installation up, and registers the token as a secret', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const sim = await startGitHubSim({ app: { id: 99, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), installations: [{ account: 'acme', id: 4242 }] } });
    sims.push(sim);
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-key-'));
    try {
      const keyFile = path.join(dir, 'app.pem');
      writeFileSync(keyFile, pkcs1);
      const { logger, secrets } = recorder();
      const client = await createGitHubClient({ baseUrl: sim.url, appId: 99, privateKey: keyFile, scope: { kind: 'organization', owner: 'acme' }, logger });
      expect(client.installationId).toBe(4242);
      expect(secrets.some((s) => s.startsWith('ghs_'))).toBe(true);
      // The PEM text works as well as a path.
      const inline = await createGitHubClient({ baseUrl: sim.url, appId: 99, privateKey: pkcs1, installationId: 4242 });
      expect(inline.authKind).toBe('app');
      await expect(createGitHubClient({ baseUrl: sim.url, appId: 99, privateKey: pkcs1, scope: { kind: 'organization', owner: 'nobody' } })).rejects.toThrow(
        'GitHub App is not installed on organization nobody',
      );
      await expect(createGitHubClient({ baseUrl: sim.url, privateKey: pkcs1 })).rejects.toThrow('app_id is required when private_key is set');
      const bad = createGitHubClient({ baseUrl: sim.url, appId: 99, privateKey: '/nonexistent/key.pem' });
      await expect(bad).rejects.toThrow('(does the key exist on the filesystem?)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pauses the caller until the reset on a primary rate limit, with status limit_paused, then repeats the call', async () => {
    const sim = await startGitHubSim({ tokens: ['ghp_rl'] });
    sims.push(sim);
    const { logger, metrics, statuses, lines, gauges } = recorder();
    const client = await createGitHubClient({ baseUrl: sim.url, token: 'ghp_rl', logger, metrics });
    sim.control.injectRateLimit({ kind: 'primary', count: 1, resetInSeconds: 2, status: 429 });
    const started = Date.now();
    const { status, headers } = await client.octokit.request('GET /user');
    expect(status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(statuses).toEqual(['limit_paused', 'running']);
    expect(lines.map((l) => l.msg)).toContain('GitHub API rate limit exceeded, pausing until reset');
    // The rate-limit gauges follow GitHub's headers: 0 left on the refused call, then the answer's own figures.
    const remaining = gauges.filter(([name]) => name === 'github_rate_limit_remaining');
    expect(remaining[0]).toEqual(['github_rate_limit_remaining', 0, { resource: 'core' }]);
    expect(remaining.at(-1)).toEqual(['github_rate_limit_remaining', Number(headers['x-ratelimit-remaining']), { resource: String(headers['x-ratelimit-resource']) }]);
    expect(gauges.filter(([name]) => name === 'github_rate_limit_reset_timestamp_seconds').at(-1)).toEqual([
      'github_rate_limit_reset_timestamp_seconds',
      Number(headers['x-ratelimit-reset']),
      { resource: 'core' },
    ]);
  });

  it('a pause ends early when the signal aborts', async () => {
    const sim = await startGitHubSim({ tokens: ['ghp_ab'] });
    sims.push(sim);
    const controller = new AbortController();
    const { metrics, statuses } = recorder();
    const client = await createGitHubClient({ baseUrl: sim.url, token: 'ghp_ab', metrics, signal: controller.signal });
    sim.control.injectRateLimit({ kind: 'primary', count: 1, resetInSeconds: 600 });
    const call = client.octokit.request('GET /user');
    setTimeout(() => controller.abort(new Error('stopping')), 300);
    await expect(call).rejects.toThrow('stopping');
    expect(statuses).toEqual(['limit_paused', 'running']);
  });
});
