import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, createSign } from 'node:crypto';
import { startGitHubSim, runSimulatedRunner, type GitHubSim } from '../src/index.js';
import { api, openApiErrors, startReceiver, type Json } from './helpers.js';

const TOKEN = 'ghp_openapi_test';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** A minimal App JWT (RS256), built by hand so this test does not depend on a JWT library. */
function appJwt(appId: number): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iat: now - 30, exp: now + 540, iss: appId })}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url');
  return `${unsigned}.${signature}`;
}

describe('responses conform to GitHub\'s OpenAPI description', () => {
  let sim: GitHubSim;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let hookId: number;
  let orgHookId: number;

  beforeAll(async () => {
    receiver = await startReceiver();
    sim = await startGitHubSim({
      tokens: [TOKEN],
      repositories: ['acme/app'],
      enterprises: { acme: 'acme-corp' },
      app: { id: 4242, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), installations: [{ id: 77, account: 'acme' }, { account: 'acme-corp', targetType: 'Enterprise' }] },
      hooks: [{ repository: 'acme/app', url: receiver.url, secret: 'x' }, { org: 'acme', url: receiver.url, secret: 'y' }, { app: true, url: receiver.url, secret: 'z' }],
    });
    [hookId, orgHookId] = sim.control.hooks().map((h) => h.id) as [number, number];
  });
  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });

  const check = async (operation: string, path: string, expected: number, options: { body?: unknown; token?: string } = {}) => {
    const [method] = operation.split(' ');
    const res = await api(sim.url, method!, path, { token: TOKEN, ...options });
    expect(res.status, JSON.stringify(res.body)).toBe(expected);
    expect(openApiErrors(operation, expected, res.body)).toEqual([]);
    return res;
  };

  it('registration and remove tokens at repo, org and enterprise scope', async () => {
    await check('POST /repos/{owner}/{repo}/actions/runners/registration-token', '/repos/acme/app/actions/runners/registration-token', 201);
    await check('POST /orgs/{org}/actions/runners/registration-token', '/orgs/acme/actions/runners/registration-token', 201);
    await check('POST /enterprises/{enterprise}/actions/runners/registration-token', '/enterprises/acme-corp/actions/runners/registration-token', 201);
    await check('POST /repos/{owner}/{repo}/actions/runners/remove-token', '/repos/acme/app/actions/runners/remove-token', 201);
    await check('POST /orgs/{org}/actions/runners/remove-token', '/orgs/acme/actions/runners/remove-token', 201);
  });

  it('JIT configs, runner lists, runner detail and runner groups', async () => {
    const body = { name: 'oa-repo', runner_group_id: 1, labels: ['self-hosted', 'macOS', 'anka'] };
    const repo = await check('POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig', '/repos/acme/app/actions/runners/generate-jitconfig', 201, { body });
    await check('POST /orgs/{org}/actions/runners/generate-jitconfig', '/orgs/acme/actions/runners/generate-jitconfig', 201, { body: { ...body, name: 'oa-org' } });
    await check('POST /enterprises/{enterprise}/actions/runners/generate-jitconfig', '/enterprises/acme-corp/actions/runners/generate-jitconfig', 201, { body: { ...body, name: 'oa-ent' } });
    await check('POST /orgs/{org}/actions/runners/generate-jitconfig', '/orgs/acme/actions/runners/generate-jitconfig', 409, { body: { ...body, name: 'oa-org' } });
    await check('POST /orgs/{org}/actions/runners/generate-jitconfig', '/orgs/acme/actions/runners/generate-jitconfig', 422, { body: { name: 'no-group', labels: ['x'] } });
    await check('GET /repos/{owner}/{repo}/actions/runners', '/repos/acme/app/actions/runners', 200);
    await check('GET /orgs/{org}/actions/runners', '/orgs/acme/actions/runners?name=oa-org', 200);
    await check('GET /enterprises/{enterprise}/actions/runners', '/enterprises/acme-corp/actions/runners', 200);
    await check('GET /repos/{owner}/{repo}/actions/runners/{runner_id}', `/repos/acme/app/actions/runners/${repo.body.runner.id}`, 200);
    const orgRunner = (await api(sim.url, 'GET', '/orgs/acme/actions/runners?name=oa-org', { token: TOKEN })).body.runners[0];
    await check('GET /orgs/{org}/actions/runners/{runner_id}', `/orgs/acme/actions/runners/${orgRunner.id}`, 200);
    await check('GET /orgs/{org}/actions/runner-groups', '/orgs/acme/actions/runner-groups', 200);
    await check('GET /orgs/{org}/actions/runner-groups/{runner_group_id}', '/orgs/acme/actions/runner-groups/1', 200);
    await check('GET /enterprises/{enterprise}/actions/runner-groups', '/enterprises/acme-corp/actions/runner-groups', 200);
  });

  it('jobs, runs, cancel and force-cancel (202, then 409)', async () => {
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'oa'], durationMs: 5000 });
    await check('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', `/repos/acme/app/actions/jobs/${job.id}`, 200);
    await check('GET /repos/{owner}/{repo}/actions/runs/{run_id}', `/repos/acme/app/actions/runs/${job.run_id}`, 200);
    await check('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', `/repos/acme/app/actions/runs/${job.run_id}/jobs`, 200);
    await check('POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel', `/repos/acme/app/actions/runs/${job.run_id}/cancel`, 202);
    await check('POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel', `/repos/acme/app/actions/runs/${job.run_id}/cancel`, 409);
    const other = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'oa'] });
    await check('POST /repos/{owner}/{repo}/actions/runs/{run_id}/force-cancel', `/repos/acme/app/actions/runs/${other.run_id}/force-cancel`, 202);
    await check('POST /repos/{owner}/{repo}/actions/runs/{run_id}/force-cancel', `/repos/acme/app/actions/runs/${other.run_id}/force-cancel`, 409);
  });

  it('an in-progress job and a busy runner (422 on delete)', async () => {
    const jit = await api(sim.url, 'POST', '/repos/acme/app/actions/runners/generate-jitconfig', { token: TOKEN, body: { name: 'oa-busy', runner_group_id: 1, labels: ['self-hosted', 'busy'] } });
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'busy'], durationMs: 1500 });
    const running = runSimulatedRunner({ jitConfig: jit.body.encoded_jit_config, pollSeconds: 1 });
    await sim.control.waitForJob(job.id, 'in_progress');
    await check('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', `/repos/acme/app/actions/jobs/${job.id}`, 200);
    await check('GET /repos/{owner}/{repo}/actions/runners/{runner_id}', `/repos/acme/app/actions/runners/${jit.body.runner.id}`, 200);
    await check('DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}', `/repos/acme/app/actions/runners/${jit.body.runner.id}`, 422);
    expect((await running).outcome).toBe('completed');
    await check('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', `/repos/acme/app/actions/jobs/${job.id}`, 200);
  });

  it('hook deliveries for repo, org and App hooks', async () => {
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'hooks'] });
    await sim.control.deliveriesSettled();
    const list = await check('GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries', `/repos/acme/app/hooks/${hookId}/deliveries`, 200);
    const id = list.body[0].id;
    await check('GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}', `/repos/acme/app/hooks/${hookId}/deliveries/${id}`, 200);
    await check('POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts', `/repos/acme/app/hooks/${hookId}/deliveries/${id}/attempts`, 202);
    const orgList = await check('GET /orgs/{org}/hooks/{hook_id}/deliveries', `/orgs/acme/hooks/${orgHookId}/deliveries`, 200);
    await check('GET /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}', `/orgs/acme/hooks/${orgHookId}/deliveries/${orgList.body[0].id}`, 200);
    await check('POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts', `/orgs/acme/hooks/${orgHookId}/deliveries/${orgList.body[0].id}/attempts`, 202);
    const jwt = appJwt(4242);
    const appList = await api(sim.url, 'GET', '/app/hook/deliveries', { token: jwt });
    expect(appList.status).toBe(200);
    expect(openApiErrors('GET /app/hook/deliveries', 200, appList.body)).toEqual([]);
    expect(appList.body[0].installation_id).toBe(77);
    const one = await api(sim.url, 'GET', `/app/hook/deliveries/${appList.body[0].id}`, { token: jwt });
    expect(openApiErrors('GET /app/hook/deliveries/{delivery_id}', 200, one.body)).toEqual([]);
  });

  it('repository and organization webhooks, listed and one by one, with the secret masked', async () => {
    const repoHooks = await check('GET /repos/{owner}/{repo}/hooks', '/repos/acme/app/hooks', 200);
    expect(repoHooks.body).toHaveLength(1);
    expect(repoHooks.body[0]).toMatchObject({ id: hookId, type: 'Repository', active: true, events: ['workflow_job'], config: { url: receiver.url, content_type: 'json', secret: '********' } });
    await check('GET /repos/{owner}/{repo}/hooks/{hook_id}', `/repos/acme/app/hooks/${hookId}`, 200);
    const orgHooks = await check('GET /orgs/{org}/hooks', '/orgs/acme/hooks', 200);
    expect(orgHooks.body.map((h: Json) => h.id)).toEqual([orgHookId]);
    expect(orgHooks.body[0].type).toBe('Organization');
    await check('GET /orgs/{org}/hooks/{hook_id}', `/orgs/acme/hooks/${orgHookId}`, 200);
    expect((await api(sim.url, 'GET', `/orgs/acme/hooks/${hookId}`, { token: TOKEN })).status).toBe(404);
  });

  it('App, installations, installation tokens, rate_limit and user', async () => {
    const jwt = appJwt(4242);
    await check('GET /app', '/app', 200, { token: jwt });
    await check('GET /app/installations', '/app/installations', 200, { token: jwt });
    await check('GET /app/installations/{installation_id}', '/app/installations/77', 200, { token: jwt });
    await check('GET /orgs/{org}/installation', '/orgs/acme/installation', 200, { token: jwt });
    await check('GET /repos/{owner}/{repo}/installation', '/repos/acme/app/installation', 200, { token: jwt });
    await check('GET /enterprises/{enterprise}/installation', '/enterprises/acme-corp/installation', 200, { token: jwt });
    await check('POST /app/installations/{installation_id}/access_tokens', '/app/installations/77/access_tokens', 201, { token: jwt });
    await check('GET /rate_limit', '/rate_limit', 200);
    await check('GET /user', '/user', 200);
  });
});
