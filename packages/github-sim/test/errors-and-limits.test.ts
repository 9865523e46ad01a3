import { createSign, generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startGitHubSim, type GitHubSim } from '../src/index.js';
import { api } from './helpers.js';

const TOKEN = 'ghp_limits_test';
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });

function jwt(claims: Record<string, unknown>, key = keys.privateKey): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(key).toString('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);

let sim: GitHubSim;
beforeEach(async () => {
  sim = await startGitHubSim({
    tokens: [TOKEN],
    repositories: ['acme/app', 'other/repo'],
    app: {
      id: 31,
      publicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      installations: [{ id: 5, account: 'acme', permissions: { actions: 'read', administration: 'write', organization_self_hosted_runners: 'write' } }],
    },
  });
});
afterEach(() => sim.close());

const DOCS = 'https://docs.github.com/rest';

describe('GitHub\'s error answers', () => {
  it('401 for a missing or wrong token, 404 for unknown things, 400 for broken JSON', async () => {
    const bad = await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: 'ghp_nope' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ message: 'Bad credentials', documentation_url: DOCS, status: '401' });
    // Like GitHub, a failed authentication counts against the unauthenticated budget.
    expect(bad.headers.get('x-ratelimit-limit')).toBe('60');
    const none = await api(sim.url, 'GET', '/orgs/acme/actions/runners');
    expect(none.status).toBe(401);
    expect(none.body.message).toBe('Requires authentication');
    expect((await api(sim.url, 'GET', '/repos/acme/missing/actions/runners', { token: TOKEN })).body).toEqual({ message: 'Not Found', documentation_url: DOCS, status: '404' });
    expect((await api(sim.url, 'GET', '/no/such/route', { token: TOKEN })).status).toBe(404);
    const broken = await fetch(`${sim.url}/orgs/acme/actions/runners/generate-jitconfig`, {
      method: 'POST', headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' }, body: '{"name":',
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { message: string }).message).toBe('Problems parsing JSON');
  });

  it('JIT config: 409 on a duplicate name, 422 without runner_group_id or labels, 404 for an unknown group', async () => {
    const body = { name: 'vm-1', runner_group_id: 1, labels: ['self-hosted'] };
    expect((await api(sim.url, 'POST', '/orgs/acme/actions/runners/generate-jitconfig', { token: TOKEN, body })).status).toBe(201);
    const dup = await api(sim.url, 'POST', '/orgs/acme/actions/runners/generate-jitconfig', { token: TOKEN, body });
    expect(dup.status).toBe(409);
    expect(dup.body.message).toBe('Already exists - A runner with the name vm-1 already exists.');
    const noGroup = await api(sim.url, 'POST', '/orgs/acme/actions/runners/generate-jitconfig', { token: TOKEN, body: { name: 'vm-2', labels: ['x'] } });
    expect(noGroup.status).toBe(422);
    expect(noGroup.body.message).toContain('"runner_group_id" wasn\'t supplied.');
    const noLabels = await api(sim.url, 'POST', '/orgs/acme/actions/runners/generate-jitconfig', { token: TOKEN, body: { name: 'vm-2', runner_group_id: 1, labels: [] } });
    expect(noLabels.status).toBe(422);
    const unknownGroup = await api(sim.url, 'POST', '/orgs/acme/actions/runners/generate-jitconfig', { token: TOKEN, body: { ...body, name: 'vm-3', runner_group_id: 99 } });
    expect(unknownGroup.status).toBe(404);
  });

  it('a deleted runner is gone; deleting it again is a 404', async () => {
    const created = await api(sim.url, 'POST', '/repos/acme/app/actions/runners/generate-jitconfig', { token: TOKEN, body: { name: 'gone', runner_group_id: 1, labels: ['a'] } });
    const path = `/repos/acme/app/actions/runners/${created.body.runner.id}`;
    expect((await api(sim.url, 'DELETE', path, { token: TOKEN })).status).toBe(204);
    expect((await api(sim.url, 'DELETE', path, { token: TOKEN })).status).toBe(404);
    expect((await api(sim.url, 'GET', '/repos/acme/app/actions/runners?name=gone', { token: TOKEN })).body.total_count).toBe(0);
  });
});

describe('rate limits', () => {
  it('every answer carries x-ratelimit-* headers that count the budget down', async () => {
    const first = await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: TOKEN });
    const second = await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: TOKEN });
    expect(first.headers.get('x-ratelimit-limit')).toBe('5000');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('4999');
    expect(second.headers.get('x-ratelimit-remaining')).toBe('4998');
    expect(second.headers.get('x-ratelimit-used')).toBe('2');
    expect(second.headers.get('x-ratelimit-resource')).toBe('core');
    expect(Number(second.headers.get('x-ratelimit-reset'))).toBeGreaterThan(now());
    expect(Number(second.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(now() + 3601);
    expect(second.headers.get('x-github-request-id')).toMatch(/^[0-9A-F]{4}:[0-9A-F]{4}:[0-9A-F]{6}:[0-9A-F]{7}:[0-9A-F]{8}$/);
    const rate = await api(sim.url, 'GET', '/rate_limit', { token: TOKEN });
    expect(rate.body.resources.core.remaining).toBe(4998);
  });

  it('an exhausted budget answers 403 with remaining 0 until the reset', async () => {
    sim.control.setRateLimit({ limit: 2, remaining: 2, resetInSeconds: 60 });
    await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: TOKEN });
    await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: TOKEN });
    const limited = await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: TOKEN });
    expect(limited.status).toBe(403);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(limited.body.message).toMatch(/^API rate limit exceeded for user ID anklet-bot\./);
    sim.control.advanceClock(61);
    expect((await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: TOKEN })).status).toBe(200);
  });

  it('primary limits on demand: 429 with remaining 0 and a reset', async () => {
    sim.control.injectRateLimit({ kind: 'primary', status: 429, count: 1, resetInSeconds: 5 });
    const limited = await api(sim.url, 'POST', '/orgs/acme/actions/runners/registration-token', { token: TOKEN });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(now() + 6);
  });

  it('secondary limits on demand: 403, "secondary rate limit", retry-after, remaining not 0', async () => {
    sim.control.injectRateLimit({ kind: 'secondary', count: 2, retryAfter: 3, match: 'registration-token' });
    expect((await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: TOKEN })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const limited = await api(sim.url, 'POST', '/orgs/acme/actions/runners/registration-token', { token: TOKEN });
      expect(limited.status).toBe(403);
      expect(limited.body.message).toContain('secondary rate limit');
      expect(limited.headers.get('retry-after')).toBe('3');
      expect(limited.headers.get('x-ratelimit-remaining')).not.toBe('0');
    }
    expect((await api(sim.url, 'POST', '/orgs/acme/actions/runners/registration-token', { token: TOKEN })).status).toBe(201);
  });
});

describe('GitHub App authentication', () => {
  const mint = async () => {
    const token = jwt({ iat: now() - 30, exp: now() + 540, iss: 31 });
    return (await api(sim.url, 'POST', '/app/installations/5/access_tokens', { token })).body.token as string;
  };

  it('checks the JWT signature, issuer and times', async () => {
    const good = jwt({ iat: now() - 30, exp: now() + 540, iss: 31 });
    expect((await api(sim.url, 'GET', '/app', { token: good })).status).toBe(200);
    const wrongKey = await api(sim.url, 'GET', '/app', { token: jwt({ iat: now() - 30, exp: now() + 540, iss: 31 }, otherKeys.privateKey) });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body.message).toBe('A JSON web token could not be decoded');
    const expired = await api(sim.url, 'GET', '/app', { token: jwt({ iat: now() - 900, exp: now() - 300, iss: 31 }) });
    expect(expired.status).toBe(401);
    expect(expired.body.message).toContain("'Expiration time' claim");
    const tooLong = await api(sim.url, 'GET', '/app', { token: jwt({ iat: now(), exp: now() + 3600, iss: 31 }) });
    expect(tooLong.body.message).toContain('too far in the future');
    expect((await api(sim.url, 'GET', '/app', { token: jwt({ iat: now(), exp: now() + 300, iss: 32 }) })).status).toBe(401);
    expect((await api(sim.url, 'GET', '/app', { token: TOKEN })).status).toBe(401);
  });

  it('installation tokens: scoped to their account and permissions, and expire after an hour', async () => {
    const token = await mint();
    expect(token).toMatch(/^ghs_/);
    expect((await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token })).status).toBe(200);
    const otherOrg = await api(sim.url, 'GET', '/repos/other/repo/actions/runners', { token });
    expect(otherOrg.status).toBe(403);
    expect(otherOrg.body.message).toBe('Resource not accessible by integration');
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['x'] });
    expect((await api(sim.url, 'GET', `/repos/acme/app/actions/jobs/${job.id}`, { token })).status).toBe(200);
    const cancel = await api(sim.url, 'POST', `/repos/acme/app/actions/runs/${job.run_id}/cancel`, { token });
    expect(cancel.status).toBe(403);
    expect((await api(sim.url, 'GET', '/user', { token })).status).toBe(403);
    sim.control.advanceClock(3601);
    expect((await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token })).status).toBe(401);
  });
});
