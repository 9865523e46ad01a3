import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { verify } from '@octokit/webhooks-methods';
import examples from '@octokit/webhooks-examples' with { type: 'json' };
import { startGitHubSim, runSimulatedRunner, type GitHubSim } from '../src/index.js';
import { api, startReceiver, type Json, type Received } from './helpers.js';

const TOKEN = 'ghp_webhooks_test';
const SECRET = "It's a Secret to Everybody";

const workflowJobExamples = (examples as unknown as Array<{ name: string; examples: Array<Record<string, Json>> }>)
  .find((definition) => definition.name === 'workflow_job')!.examples;

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function setup(options: Parameters<typeof startGitHubSim>[0] = {}, status?: () => number) {
  const receiver = await startReceiver(status);
  const sim = await startGitHubSim({
    tokens: [TOKEN],
    hooks: [{ org: 'acme', url: receiver.url, secret: SECRET }],
    ...options,
  });
  cleanup.push(() => receiver.close(), () => sim.close());
  return { sim, receiver, hookId: sim.control.hooks()[0]?.id ?? 0 };
}

const parse = (r: Received) => JSON.parse(r.body) as Record<string, Json>;

/** Runs one job end to end with a JIT runner; returns the runner's result. */
async function runOneJob(sim: GitHubSim, labels: string[], conclusion: 'success' | 'failure' = 'success') {
  const job = sim.control.dispatchJob({ repository: 'acme/app', labels, conclusion, durationMs: 50 });
  const jit = await api(sim.url, 'POST', '/orgs/acme/actions/runners/generate-jitconfig', {
    token: TOKEN, body: { name: `vm-${job.id}`, runner_group_id: 1, labels },
  });
  const result = await runSimulatedRunner({ jitConfig: jit.body.encoded_jit_config, pollSeconds: 1 });
  await sim.control.deliveriesSettled();
  return { job, result, runnerId: jit.body.runner.id as number };
}

describe('workflow_job webhooks', () => {
  it('are signed so that @octokit/webhooks-methods verifies them, with GitHub\'s headers', async () => {
    const { sim, receiver, hookId } = await setup();
    await runOneJob(sim, ['self-hosted', 'anka']);
    expect(receiver.received).toHaveLength(3);
    const guids = new Set<string>();
    for (const request of receiver.received) {
      const h = request.headers;
      expect(await verify(SECRET, request.body, String(h['x-hub-signature-256']))).toBe(true);
      expect(await verify('wrong secret', request.body, String(h['x-hub-signature-256']))).toBe(false);
      expect(h['x-hub-signature']).toBe(`sha1=${createHmac('sha1', SECRET).update(request.body).digest('hex')}`);
      expect(h['x-github-event']).toBe('workflow_job');
      expect(h['x-github-delivery']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(h['x-github-hook-id']).toBe(String(hookId));
      expect(h['x-github-hook-installation-target-type']).toBe('organization');
      expect(Number(h['x-github-hook-installation-target-id'])).toBe(parse(request).organization.id);
      expect(h['user-agent']).toMatch(/^GitHub-Hookshot\/[0-9a-f]{7}$/);
      expect(h['content-type']).toBe('application/json');
      guids.add(String(h['x-github-delivery']));
    }
    expect(guids.size).toBe(3);
  });

  it('go queued, then in_progress naming the runner, then completed with the conclusion', async () => {
    const { sim, receiver } = await setup();
    const { job, runnerId } = await runOneJob(sim, ['self-hosted', 'anka'], 'failure');
    const [queued, started, completed] = receiver.received.map(parse);
    expect([queued!.action, started!.action, completed!.action]).toEqual(['queued', 'in_progress', 'completed']);
    expect(queued!.workflow_job).toMatchObject({ id: job.id, status: 'queued', conclusion: null, runner_id: null, runner_name: null, labels: ['self-hosted', 'anka'] });
    expect(started!.workflow_job).toMatchObject({ id: job.id, status: 'in_progress', runner_id: runnerId, runner_name: `vm-${job.id}`, runner_group_id: 1, runner_group_name: 'Default' });
    expect(completed!.workflow_job).toMatchObject({ id: job.id, status: 'completed', conclusion: 'failure', runner_name: `vm-${job.id}` });
    expect(completed!.workflow_job.html_url).toBe(`https://github.com/acme/app/actions/runs/${job.run_id}/job/${job.id}`);
  });

  it('are form-encoded for a `form` hook, with the JSON in `payload` and the signature over the form body', async () => {
    const { sim, receiver } = await setup({ hooks: [{ org: 'acme', url: '', secret: SECRET, contentType: 'form' }] });
    sim.control.updateHook(sim.control.hooks()[0]!.id, { url: receiver.url });
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'form'] });
    await sim.control.deliveriesSettled();
    const [request] = receiver.received;
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(await verify(SECRET, request!.body, String(request!.headers['x-hub-signature-256']))).toBe(true);
    const payload = JSON.parse(new URLSearchParams(request!.body).get('payload')!) as Record<string, Json>;
    expect(payload.action).toBe('queued');
  });

  it('carry every field the real payloads in @octokit/webhooks-examples carry', async () => {
    const { sim, receiver } = await setup({ app: { id: 1, publicKey: (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), installations: [{ id: 99, account: 'acme' }] } });
    sim.control.addHook({ app: true, url: receiver.url, secret: SECRET });
    await runOneJob(sim, ['self-hosted']);
    const ours = receiver.received.map(parse);
    const byAction = (action: string, withInstallation: boolean) =>
      ours.find((p) => p.action === action && ('installation' in p) === withInstallation)!;
    for (const example of workflowJobExamples) {
      if (example.action === 'waiting') continue; // the sim has no environment approvals
      const withInstallation = 'installation' in example;
      const payload = byAction(String(example.action), withInstallation);
      const missing = (a: object, b: object) => Object.keys(a).filter((k) => !(k in b));
      expect(missing(example, payload).filter((k) => k !== 'deployment')).toEqual([]);
      expect(missing(example.workflow_job, payload.workflow_job)).toEqual([]);
      expect(missing(example.repository, payload.repository)).toEqual([]);
      expect(missing(example.sender, payload.sender)).toEqual([]);
      if (example.organization) expect(missing(example.organization, payload.organization)).toEqual([]);
    }
    const appDelivery = receiver.received.find((r) => r.headers['x-github-hook-installation-target-type'] === 'integration')!;
    expect(parse(appDelivery).installation.id).toBe(99);
  });
});

describe('delivery records and redelivery', () => {
  it('records each delivery as succeeded or failed by the receiver\'s answer', async () => {
    let answer = 500;
    const { sim, hookId } = await setup({}, () => answer);
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['x'] });
    await sim.control.deliveriesSettled();
    answer = 202;
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['y'] });
    await sim.control.deliveriesSettled();
    const records = sim.control.deliveries(hookId);
    expect(records.map((d) => [d.status_code, d.success, d.status])).toEqual([[500, false, 'Invalid HTTP Response: 500'], [202, true, 'OK']]);
    const failures = await api(sim.url, 'GET', `/orgs/acme/hooks/${hookId}/deliveries?status=failure`, { token: TOKEN });
    expect(failures.body.map((d: Json) => d.status_code)).toEqual([500]);
    const detail = await api(sim.url, 'GET', `/orgs/acme/hooks/${hookId}/deliveries/${records[0]!.id}`, { token: TOKEN });
    expect(detail.body.request.payload.workflow_job.labels).toEqual(['x']);
    expect(detail.body.request.headers['X-GitHub-Event']).toBe('workflow_job');
    expect(detail.body.response.payload).toBe('ok\n');
  });

  it('redelivers a failed delivery with the same GUID and body, marked as a redelivery', async () => {
    const { sim, receiver, hookId } = await setup();
    sim.control.failNextDeliveries({ count: 1 });
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted'] });
    await sim.control.deliveriesSettled();
    expect(receiver.received).toHaveLength(0);
    const [failed] = (await api(sim.url, 'GET', `/orgs/acme/hooks/${hookId}/deliveries`, { token: TOKEN })).body;
    expect(failed).toMatchObject({ status_code: 0, status: 'failed to connect to host', redelivery: false, action: 'queued' });
    const attempt = await api(sim.url, 'POST', `/orgs/acme/hooks/${hookId}/deliveries/${failed.id}/attempts`, { token: TOKEN });
    expect(attempt.status).toBe(202);
    expect(attempt.body).toEqual({});
    await sim.control.deliveriesSettled();
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.headers['x-github-delivery']).toBe(failed.guid);
    expect(await verify(SECRET, receiver.received[0]!.body, String(receiver.received[0]!.headers['x-hub-signature-256']))).toBe(true);
    const [latest] = (await api(sim.url, 'GET', `/orgs/acme/hooks/${hookId}/deliveries`, { token: TOKEN })).body;
    expect(latest).toMatchObject({ guid: failed.guid, redelivery: true, status_code: 200 });
    expect(latest.id).toBeGreaterThan(failed.id);
  });

  it('pages the delivery list newest first through cursors in the Link header', async () => {
    const { sim, hookId } = await setup();
    for (let i = 0; i < 7; i++) sim.control.dispatchJob({ repository: 'acme/app', labels: [`l${i}`] });
    await sim.control.deliveriesSettled();
    const seen: number[] = [];
    let path: string | undefined = `/orgs/acme/hooks/${hookId}/deliveries?per_page=3`;
    let pages = 0;
    while (path) {
      const page = await api(sim.url, 'GET', path, { token: TOKEN });
      pages++;
      seen.push(...page.body.map((d: Json) => d.id));
      const next = /<([^>]+)>;\s*rel="next"/.exec(page.headers.get('link') ?? '');
      path = next ? new URL(next[1]!).pathname + new URL(next[1]!).search : undefined;
      if (next) expect(new URL(next[1]!).searchParams.get('cursor')).toBeTruthy();
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(7);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });

  it('fails a delivery the receiver does not answer in time', async () => {
    const { sim, hookId } = await setup({ deliveryTimeoutMs: 200 });
    const slow = await import('node:http').then(({ createServer }) => createServer((_req, res) => setTimeout(() => res.end('late'), 1000)));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => { slow.closeAllConnections(); slow.close(() => resolve()); }));
    sim.control.updateHook(hookId, { url: `http://127.0.0.1:${(slow.address() as { port: number }).port}/` });
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['x'] });
    await sim.control.deliveriesSettled();
    expect(sim.control.deliveries(hookId)[0]).toMatchObject({ status: 'timed out', success: false });
  });

  it('sends a ping (action null) when a hook is created with ping', async () => {
    const { sim, receiver } = await setup({ hooks: [] });
    const { id } = sim.control.addHook({ repository: 'acme/app', url: receiver.url, secret: SECRET, ping: true });
    await sim.control.deliveriesSettled();
    expect(receiver.received[0]!.headers['x-github-event']).toBe('ping');
    expect(parse(receiver.received[0]!).hook_id).toBe(id);
    const list = await api(sim.url, 'GET', `/repos/acme/app/hooks/${id}/deliveries`, { token: TOKEN });
    expect(list.body[0]).toMatchObject({ event: 'ping', action: null });
  });
});
