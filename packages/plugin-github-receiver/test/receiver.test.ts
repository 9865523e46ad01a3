import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobStore, StoredJob } from '@anklet/core';
import type { QueueJob } from '@anklet/github';
import { startGitHubSim } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, uniquePrefix, type RedisServer } from '@anklet/testing';
import { sign } from '@octokit/webhooks-methods';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createReceiver } from '../src/receiver.js';
import { receiverConfigSchema } from '../src/config.js';
import { receiverContext } from './context.js';

const require = createRequire(import.meta.url);
type Example = Record<string, unknown> & { action: string; workflow_job: { id: number; labels: string[] } };
const definitions = require('@octokit/webhooks-examples') as Array<{ name: string; examples: Example[] }>;
const examples = definitions.find((d) => d.name === 'workflow_job')!.examples;
const pings = definitions.find((d) => d.name === 'ping')!.examples;

const SECRET = 'receiver-test-secret';
const TEMPLATE = 'c0847bc9-5d2d-4dbc-ba6a-240f7ff08032';
const withAnka = (example: Example): Example => ({
  ...example,
  workflow_job: { ...example.workflow_job, labels: [...example.workflow_job.labels, `anka-template:${TEMPLATE}`, 'anka-template-tag:vanilla'] },
});

let redis: RedisServer;
const stores: JobStore[] = [];
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  redis = await startRedisServer({ allowExternal: false });
});
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
});

function newStore(retry = { maxRetries: 0, retryDelayMs: 10, backoffFactor: 1 }): JobStore {
  const store = createRedisJobStore({ redis: new Redis(redis.url, { maxRetriesPerRequest: 1 }), prefix: uniquePrefix('recv'), retry });
  stores.push(store);
  return store;
}

async function startReceiver(store: JobStore, block: Record<string, unknown>, name?: string) {
  const port = (block.port as number | undefined) ?? (await findFreePort());
  const made = receiverContext(store, { listen_address: '127.0.0.1', secret: SECRET, owner: 'acme', skip_redeliver: true, ...block, port }, name);
  const receiver = createReceiver(made.ctx, { writeSpacingMs: 0 });
  await receiver.start!();
  stops.push(async () => {
    made.controller.abort();
    await receiver.stop!();
  });
  return { ...made, receiver, url: `http://127.0.0.1:${port}`, port };
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/jobs/v1/receiver`, { method: 'POST', body, headers });
  return { status: response.status, text: await response.text() };
}

let deliveryCounter = 0;
async function deliver(url: string, event: string, payload: unknown, options: { delivery?: string; secret?: string; form?: boolean } = {}) {
  const json = JSON.stringify(payload);
  const body = options.form ? new URLSearchParams({ payload: json }).toString() : json;
  return post(url, body, {
    'content-type': options.form ? 'application/x-www-form-urlencoded' : 'application/json',
    'x-github-event': event,
    'x-github-delivery': options.delivery ?? `delivery-${(deliveryCounter += 1)}`,
    'x-hub-signature-256': await sign(options.secret ?? SECRET, body),
  });
}

describe('config', () => {
  it('has the Go keys and defaults, and the Go scope texts', () => {
    const ok = receiverConfigSchema.parse({ port: 8080, secret: 's', owner: 'acme', token: 't', hook_id: 12, redeliver_hours: 0 });
    expect(ok).toMatchObject({ port: 8080, hook_id: 12, redeliver_hours: 24, skip_redeliver: false, listen_address: '0.0.0.0' });
    const messages = (block: Record<string, unknown>) =>
      (receiverConfigSchema.safeParse({ port: 1, secret: 's', skip_redeliver: true, ...block }).error?.issues ?? []).map((i) => i.message);
    expect(messages({ enterprise: 'e', owner: 'o' })).toEqual(['invalid github scope: enterprise cannot be combined with owner or repo; pick one scope level']);
    expect(messages({ repo: 'r' })).toEqual(['invalid github scope: repo requires owner to be set']);
    expect(messages({})).toEqual(['invalid github scope: enterprise or owner must be set']);
    expect(messages({ owner: 'o', secret: '' })[0]).toMatch(/^secret is not set/);
    // Neither a hook id nor credentials: no redelivery (said at start); one without the other is a mistake.
    expect(messages({ owner: 'o', skip_redeliver: false })).toEqual([]);
    expect(messages({ owner: 'o', skip_redeliver: false, hook_id: 12 })).toEqual([
      'token or private_key are not set at global level or in the plugin (needed for redelivery with hook_id; or set skip_redeliver: true)',
    ]);
    expect(messages({ owner: 'o', skip_redeliver: false, token: 't' })).toEqual(['hook_id is required for redelivery (the id of the webhook; or set skip_redeliver: true)']);
    expect(messages({ owner: 'o', port: 99999 })).toEqual(['expected a TCP port (1-65535)']);
    // Enterprise needs no credentials: GitHub has no delivery API for it.
    expect(messages({ enterprise: 'e', skip_redeliver: false })).toEqual([]);
  });
});

describe('HTTP intake', () => {
  it('serves /healthcheck, the Go /jobs answer, and 404 elsewhere', async () => {
    const { url } = await startReceiver(newStore(), {});
    expect(await (await fetch(`${url}/healthcheck`)).text()).toBe('ok');
    const jobs = await fetch(`${url}/jobs`);
    expect([jobs.status, await jobs.text()]).toEqual([501, 'please use /jobs/v1']);
    expect((await fetch(`${url}/jobs/v1/receiver/`)).status).toBe(404);
    expect((await fetch(`${url}/jobs/v1/receiver`)).status).toBe(405);
  });

  it('takes all eight real workflow_job examples: queued → store, in_progress/completed → events, waiting → ignored', async () => {
    const store = newStore();
    const { url, logger } = await startReceiver(store, {});
    const answers: string[] = [];
    // Queued first, so the events of the same job have something to attach to.
    const order = [5, 6, 3, 0, 4, 1, 2, 7];
    for (const index of order) {
      const answer = await deliver(url, 'workflow_job', withAnka(examples[index]!));
      expect(answer.status, `example ${index}`).toBe(200);
      answers.push(`${index}:${answer.text}`);
    }
    // 0 and 4 are events of jobs whose `queued` never came: recorded all the same (stored with the event).
    expect(answers).toEqual(['5:enqueued', '6:enqueued', '3:recorded', '0:recorded', '4:recorded', '1:recorded', '2:recorded', '7:ignored']);
    const job = (await store.get<QueueJob>('acme', '289782451')) as StoredJob<QueueJob>;
    expect(job.payload).toMatchObject({ type: 'WorkflowJobPayload', action: 'queued', repository: { owner: 'Octocoders', name: 'Hello-World' }, paused_on: '', attempts: 0 });
    expect(job.template).toBe(TEMPLATE);
    expect(job.repositoryOwner).toBe('Octocoders');
    expect(job.events.in_progress).toMatchObject({ action: 'in_progress', runnerName: 'GitHub Actions 5', runnerId: 5 });
    expect(job.events.completed).toMatchObject({ action: 'completed', conclusion: 'success' });
    // Example 6 says `status: waiting` but its action is queued: it is a queued job.
    expect(await store.get('acme', '12877621891')).not.toBeNull();
    const pushed = logger.lines.filter((l) => l.msg === 'job pushed to queued queue');
    expect(pushed).toHaveLength(2);
    // The Go handler's field name for the job's page (not "jobURL").
    for (const line of pushed) {
      expect(line).toMatchObject({ workflowJobURL: expect.stringMatching(/^https:\/\//) });
      expect(line).not.toHaveProperty('jobURL');
    }
  });

  it('de-duplicates by delivery id and by job id', async () => {
    const store = newStore();
    const { url } = await startReceiver(store, {});
    const payload = withAnka(examples[5]!);
    expect((await deliver(url, 'workflow_job', payload, { delivery: 'same' })).text).toBe('enqueued');
    expect((await deliver(url, 'workflow_job', payload, { delivery: 'same' })).text).toBe('duplicate_delivery');
    expect((await deliver(url, 'workflow_job', payload, { delivery: 'other' })).text).toBe('duplicate_job');
    expect((await store.stats('acme')).queued).toBe(1);
  });

  for (const early of ['in_progress', 'completed'] as const) {
    it(`records ${early} that arrives before its queued; the late queued is a duplicate, never a second job`, async () => {
      const store = newStore();
      const { url, logger } = await startReceiver(store, {});
      const queued = withAnka(examples[5]!);
      const id = 4242_0000 + (early === 'completed' ? 1 : 0);
      const event = {
        ...queued,
        action: early,
        workflow_job: { ...queued.workflow_job, id, status: early, runner_name: 'someone-elses-runner', runner_id: 77, conclusion: early === 'completed' ? 'success' : null },
      };
      expect((await deliver(url, 'workflow_job', event)).text).toBe('recorded');
      const stored = await store.get<QueueJob>('acme', String(id));
      // What a handler sees when it claims the job: the event, on a first attempt. It then watches
      // (in_progress on a runner not its own) or removes (completed) the job; it never starts a VM.
      expect(stored?.attempts).toBe(0);
      expect(stored?.events[early]).toMatchObject({ action: early, runnerName: 'someone-elses-runner' });
      expect(logger.lines.some((l) => l.msg === `job ${early} before its queued event; recorded it so it is not run`)).toBe(true);
      const late = { ...queued, workflow_job: { ...queued.workflow_job, id } };
      expect((await deliver(url, 'workflow_job', late)).text).toBe('duplicate_job');
      expect((await store.stats('acme')).queued + (await store.stats('acme')).claimed).toBe(1);
      expect((await store.get<QueueJob>('acme', String(id)))?.events[early]).toBeDefined();
    });
  }

  it('ignores jobs without anka labels and other events, with 200 (near-misses: bad-labels.test.ts)', async () => {
    const store = newStore();
    const { url } = await startReceiver(store, {});
    const job = examples[5]!;
    for (const labels of [['ubuntu-latest'], ['self-hosted', 'macos'], ['template:x']]) {
      const answer = await deliver(url, 'workflow_job', { ...job, workflow_job: { ...job.workflow_job, labels } });
      expect([answer.status, answer.text]).toEqual([200, 'ignored']);
    }
    expect((await deliver(url, 'ping', pings[0])).text).toBe('pong');
    expect((await deliver(url, 'issues', { action: 'opened' })).text).toBe('ignored');
    expect((await store.stats('acme')).queued).toBe(0);
  });

  it('accepts form-encoded bodies; answers 401, 400 and 413 as documented', async () => {
    const store = newStore();
    const { url, metrics } = await startReceiver(store, { body_limit_bytes: 64 * 1024 });
    expect((await deliver(url, 'workflow_job', withAnka(examples[5]!), { form: true })).text).toBe('enqueued');
    const body = JSON.stringify(withAnka(examples[6]!));
    const headers = { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': 'd-401' };
    expect((await post(url, body, headers)).status).toBe(401);
    expect((await post(url, body, { ...headers, 'x-hub-signature-256': await sign('wrong', body) })).status).toBe(401);
    expect((await post(url, body, { ...headers, 'x-hub-signature-256': 'sha256=zz' })).status).toBe(401);
    // SHA-1 only counts when configured.
    expect((await post(url, body, { ...headers, 'x-hub-signature': 'sha1=0000000000000000000000000000000000000000' })).status).toBe(401);
    expect((await deliver(url, 'workflow_job', { action: 'queued', workflow_job: { labels: [] } })).status).toBe(400);
    const notJson = 'not json';
    expect((await post(url, notJson, { ...headers, 'x-hub-signature-256': await sign(SECRET, notJson) })).status).toBe(400);
    expect((await post(url, body, { ...headers, 'content-type': 'text/plain', 'x-hub-signature-256': await sign(SECRET, body) })).status).toBe(400);
    const huge = JSON.stringify({ pad: 'x'.repeat(100 * 1024) });
    expect((await post(url, huge, { ...headers, 'x-hub-signature-256': await sign(SECRET, huge) })).status).toBe(413);
    expect((await store.stats('acme')).queued).toBe(1);
    // Rejections are counted by reason, with the catalogue's labels; only the good delivery is received.
    expect(Object.fromEntries([...metrics.counters].filter(([k]) => k.startsWith('webhooks_')))).toEqual({
      'webhooks_received{"event":"workflow_job"}': 1,
      'webhooks_rejected{"reason":"bad_signature"}': 4,
      'webhooks_rejected{"reason":"bad_request"}': 3,
      'webhooks_rejected{"reason":"too_large"}': 1,
    });
  });

  it('accepts the legacy SHA-1 signature when allow_sha1_signature is set', async () => {
    const { createHmac } = await import('node:crypto');
    const store = newStore();
    const { url } = await startReceiver(store, { allow_sha1_signature: true });
    const body = JSON.stringify(withAnka(examples[5]!));
    const sha1 = `sha1=${createHmac('sha1', SECRET).update(body).digest('hex')}`;
    const answer = await post(url, body, { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-hub-signature': sha1 });
    expect(answer.text).toBe('enqueued');
  });

  it('answers 503 (so GitHub can redeliver) when the store cannot take the write, and 2xx once it can', async () => {
    const own = await startRedisServer({ allowExternal: false });
    stops.push(() => own.stop());
    const store = createRedisJobStore({ redis: new Redis(own.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false }), prefix: 'x', retry: { maxRetries: 0, retryDelayMs: 10, backoffFactor: 1 } });
    stores.push(store);
    const { url, metrics } = await startReceiver(store, { store_timeout_ms: 2000 });
    await own.kill();
    const started = Date.now();
    const down = await deliver(url, 'workflow_job', withAnka(examples[5]!), { delivery: 'outage' });
    expect(down.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
    await own.start();
    await sleep(500);
    const again = await deliver(url, 'workflow_job', withAnka(examples[5]!), { delivery: 'outage' });
    expect([again.status, again.text]).toEqual([200, 'enqueued']);
    expect(metrics.counters.get('webhooks_rejected{"reason":"store_unavailable"}')).toBe(1);
    expect(metrics.counters.get('webhooks_received{"event":"workflow_job"}')).toBe(2);
  });

  it('survives thousands of mutated bodies and headers, and stores nothing without a valid signature', async () => {
    const store = newStore();
    const { url, logger } = await startReceiver(store, {});
    const base = JSON.stringify(withAnka(examples[5]!));
    const goodSig = await sign(SECRET, base);
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const mutate = (text: string): string => {
      const chars = [...text];
      for (let i = 0, n = 1 + rand(8); i < n; i += 1) {
        const at = rand(chars.length);
        const kind = rand(3);
        if (kind === 0) chars[at] = String.fromCharCode(rand(0x250));
        else if (kind === 1) chars.splice(at, 1);
        else chars.splice(at, 0, '{["\\\u0000'[rand(6)]!);
      }
      return chars.join('');
    };
    const headerSets = [
      () => ({ 'x-hub-signature-256': goodSig }),
      () => ({ 'x-hub-signature-256': mutate(goodSig) }),
      () => ({ 'x-hub-signature': goodSig.replace('sha256', 'sha1') }),
      () => ({}),
      () => ({ 'x-hub-signature-256': 'sha256=' }),
      () => ({ 'x-hub-signature-256': `sha512=${'a'.repeat(128)}` }),
    ];
    const statuses = new Map<number, number>();
    const total = 2400;
    for (let batch = 0; batch < total / 50; batch += 1) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const body = mutate(base);
          if (body === base) return;
          const extra = headerSets[rand(headerSets.length)]!();
          const events = ['workflow_job', 'ping', '', 'x'.repeat(rand(300)), 'workflow_job\u00ff'];
          const headers: Record<string, string> = { 'content-type': ['application/json', 'application/x-www-form-urlencoded', 'text/plain', ''][rand(4)]!, ...extra };
          const event = events[rand(events.length)]!;
          if (/^[\x20-\x7e]*$/.test(event) && event) headers['x-github-event'] = event;
          const response = await fetch(`${url}/jobs/v1/receiver`, { method: 'POST', body, headers }).catch(() => null);
          if (response) {
            statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
            await response.arrayBuffer();
          }
        }),
      );
    }
    expect([...statuses.keys()].every((s) => s === 401 || s === 400)).toBe(true);
    expect(statuses.get(401)).toBeGreaterThan(total / 2);
    expect((await store.stats('acme')).queued).toBe(0);
    expect(logger.lines.some((l) => l.level === 'ERROR')).toBe(false);
    expect(await (await fetch(`${url}/healthcheck`)).text()).toBe('ok');
    // ...and the real delivery still goes in afterwards.
    expect((await deliver(url, 'workflow_job', withAnka(examples[5]!))).text).toBe('enqueued');
  });
});

/**
 * Talks HTTP/1.1 by hand over a TCP socket, for what fetch cannot do: stop mid-body, or keep a body
 * coming until the server answers. `send` writes the request; the promise gives what the server
 * wrote back before it closed the connection (or within `waitMs`).
 */
async function exchange(port: number, send: (socket: Socket, answered: () => boolean) => Promise<void>, waitMs = 5000): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  // The server may close while we are still writing: that is the behaviour under test, not a failure.
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await send(socket, () => received.length > 0);
  await Promise.race([closed, sleep(waitMs)]);
  socket.destroy();
  return received;
}

const requestHead = (headers: Record<string, string | number>) =>
  `POST /jobs/v1/receiver HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;

describe('HTTP fast path (node:http in front of express)', () => {
  it('answers 413 to a Content-Length over the limit without reading the body, and closes the connection', async () => {
    const store = newStore();
    const { port } = await startReceiver(store, { body_limit_bytes: 64 * 1024 });
    // Headers only: the answer comes although not one byte of the declared 10 MB was sent.
    const reply = await exchange(port, async (socket) => {
      socket.write(requestHead({ 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'content-length': 10 * 1024 * 1024 }));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply.toLowerCase()).toContain('connection: close');
    expect(reply).toMatch(/body too large$/);
    // A compressed body is refused the same way: the signature is over the bytes as sent.
    const gzip = await exchange(port, async (socket) => {
      socket.write(requestHead({ 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'content-encoding': 'gzip', 'content-length': 100 }));
    });
    expect(gzip).toMatch(/^HTTP\/1\.1 415 /);
    expect((await store.stats('acme')).queued).toBe(0);
  });

  it('answers 413 as soon as a chunked body grows over the limit', async () => {
    const store = newStore();
    const { port } = await startReceiver(store, { body_limit_bytes: 64 * 1024 });
    const chunk = `{"pad":"${'x'.repeat(16 * 1024)}"}`;
    let sent = 0;
    const reply = await exchange(port, async (socket, answered) => {
      socket.write(requestHead({ 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'transfer-encoding': 'chunked' }));
      // Keep the body coming (never ending it) until the server answers; 4 MB is far past the limit.
      while (!answered() && !socket.destroyed && sent < 4 * 1024 * 1024) {
        socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        sent += chunk.length;
        await sleep(2);
      }
    });
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    // It stopped at the limit, not at the end of the body (which never came).
    expect(sent).toBeLessThan(1024 * 1024);
    expect((await store.stats('acme')).queued).toBe(0);
  });

  it('survives clients that go away mid-body, and stores nothing from them', async () => {
    const store = newStore();
    const { url, port, logger, metrics } = await startReceiver(store, {});
    const body = JSON.stringify(withAnka(examples[5]!));
    const headers = { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-hub-signature-256': await sign(SECRET, body) };
    for (const framing of ['content-length', 'chunked'] as const) {
      for (let i = 0; i < 10; i += 1) {
        const reply = await exchange(
          port,
          async (socket) => {
            const half = body.slice(0, body.length / 2);
            if (framing === 'content-length') socket.write(requestHead({ ...headers, 'x-github-delivery': `abort-${i}`, 'content-length': Buffer.byteLength(body) }) + half);
            else socket.write(`${requestHead({ ...headers, 'x-github-delivery': `abort-c-${i}`, 'transfer-encoding': 'chunked' })}${half.length.toString(16)}\r\n${half}\r\n`);
            await sleep(20);
            socket.destroy();
          },
          0,
        );
        expect(reply).toBe('');
      }
    }
    await sleep(200);
    expect((await store.stats('acme')).queued).toBe(0);
    expect(logger.lines.some((l) => l.level === 'ERROR')).toBe(false);
    // A cut body never reaches the intake (not even to fail its signature check).
    expect([...metrics.counters.keys()].filter((k) => k.startsWith('webhooks_'))).toEqual([]);
    // The server is fine, and the same job delivered whole goes in.
    expect(await (await fetch(`${url}/healthcheck`)).text()).toBe('ok');
    expect((await deliver(url, 'workflow_job', withAnka(examples[5]!))).text).toBe('enqueued');
  });

  it('leaves other methods and paths to express: 405 with Allow, /healthcheck, 404; a query string still reaches the webhook', async () => {
    const store = newStore();
    const { url } = await startReceiver(store, {});
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
      const response = await fetch(`${url}/jobs/v1/receiver`, { method });
      expect([method, response.status, response.headers.get('allow')]).toEqual([method, 405, 'POST']);
    }
    expect((await fetch(`${url}/healthcheck`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${url}/jobs/v1/receiver/`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${url}/elsewhere`, { method: 'POST', body: '{}' })).status).toBe(404);
    // Not the exact path, so express routes it, to the same webhook handler.
    const body = JSON.stringify(withAnka(examples[5]!));
    const response = await fetch(`${url}/jobs/v1/receiver?source=test`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': 'query', 'x-hub-signature-256': await sign(SECRET, body) },
    });
    expect([response.status, await response.text()]).toEqual([200, 'enqueued']);
    expect((await store.stats('acme')).queued).toBe(1);
  });
});

describe('redelivery (github-sim hook deliveries API)', () => {
  async function setup(block: Record<string, unknown> = {}) {
    const port = await findFreePort();
    const sim = await startGitHubSim({ tokens: ['ghp_redeliver'], hooks: [{ org: 'acme', url: `http://127.0.0.1:${port}/jobs/v1/receiver`, secret: SECRET }] });
    stops.push(() => sim.close());
    const hookId = sim.control.hooks()[0]!.id;
    const config = { port, hook_id: hookId, skip_redeliver: false, token: 'ghp_redeliver', github_base_url: sim.url, ...block };
    return { sim, hookId, port, config };
  }
  const labels = ['self-hosted', `anka-template:${TEMPLATE}`, 'anka-template-tag:vanilla'];

  it('at start-up, redelivers what failed while the receiver was down, and skips what is stored', async () => {
    const { sim, config } = await setup();
    const store = newStore();
    // Receiver down: every delivery fails (connection refused).
    const jobs = [0, 1, 2].map((i) => sim.control.dispatchJob({ repository: 'acme/app', labels, name: `job-${i}`, durationMs: 60_000 }));
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['ubuntu-latest'], name: 'not-ours' });
    await sim.control.deliveriesSettled();
    expect(sim.control.deliveries().filter((d) => d.action === 'queued').map((d) => d.status_code)).toEqual([0, 0, 0, 0]);

    const { logger } = await startReceiver(store, config);
    await sim.control.deliveriesSettled();
    for (const job of jobs) expect(await store.get('acme', String(job.id))).not.toBeNull();
    expect(logger.lines.filter((l) => l.msg === 'redelivering hook')).toHaveLength(3);
    // The job without anka labels is not worth an API call to redeliver.
    const redelivered = sim.control.deliveries().filter((d) => d.redelivery);
    expect(redelivered.map((d) => d.status_code)).toEqual([200, 200, 200]);
  });

  it('keeps redelivering periodically, only from the fleet leader', async () => {
    const { sim, config } = await setup({ redeliver_interval_seconds: 5 });
    const store = newStore();
    const leader = await startReceiver(store, config, 'RECEIVER_A');
    // A second receiver of the same fleet (same store, same hook) does not lead.
    const other = await startReceiver(store, { ...config, port: await findFreePort() }, 'RECEIVER_B');
    expect(other.logger.lines.some((l) => l.msg === 'another receiver leads redelivery for this hook')).toBe(true);
    sim.control.failNextDeliveries({ count: 2, statusCode: 502 });
    const lost = [0, 1].map((i) => sim.control.dispatchJob({ repository: 'acme/app', labels, name: `lost-${i}`, durationMs: 60_000 }));
    await sim.control.deliveriesSettled();
    for (const job of lost) expect(await store.get('acme', String(job.id))).toBeNull();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await store.stats('acme')).queued < 2) await sleep(250);
    for (const job of lost) expect(await store.get('acme', String(job.id))).not.toBeNull();
    expect(leader.logger.lines.filter((l) => l.msg === 'redelivering hook')).toHaveLength(2);
    expect(other.logger.lines.some((l) => l.msg === 'redelivering hook')).toBe(false);
    expect(leader.metrics.counters.get('github_webhook_redeliveries')).toBe(2);
  });

  it('pauses on a primary rate limit with status limit_paused, then goes on', async () => {
    const { sim, config } = await setup();
    sim.control.injectRateLimit({ kind: 'primary', count: 1, resetInSeconds: 2, match: 'deliveries' });
    const started = Date.now();
    const { metrics, logger } = await startReceiver(newStore(), config);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(metrics.statuses).toEqual(['limit_paused', 'running', 'running']);
    expect(logger.lines.some((l) => l.msg === 'GitHub API rate limit exceeded, pausing until reset')).toBe(true);
    expect(logger.lines.some((l) => l.msg === 'finished processing hooks for redelivery')).toBe(true);
  });

  it('says once that enterprise scope has no delivery API', async () => {
    const { logger } = await startReceiver(newStore(), { owner: undefined, enterprise: 'acme-corp', skip_redeliver: false });
    expect(logger.lines.filter((l) => l.msg.startsWith('enterprise scope has no hook delivery API'))).toHaveLength(1);
  });
});
