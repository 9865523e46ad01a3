/**
 * The jobs view built from a real store, Redis and embedded alike: jobs put in each state through
 * the store's own calls (enqueue, claim, requeue with and without a delay, hand-off, handler
 * timeline events, finish), then read back as `/jobs.json` shows them, why-waiting texts included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStore } from '@anklet/core';
import { EmbeddedJobStore, createRedisConnection, createRedisJobStore } from '@anklet/redis';
import { deleteKeysWithPrefix, startRedisServer, uniquePrefix, type RedisServer } from '@anklet/testing';
import { createMetricsApp, JobsViewSchema, readJobsView, type StatusHost } from '../src/index.js';

const Q = 'acme';
const LEASE = { queue: Q, leaseMs: 60_000 } as const;

/** A GitHub queue job as the receiver stores it (the Go `QueueJob` shape, the parts the view reads). */
function payload(id: string, tag = 'v1') {
  return {
    type: 'WorkflowJobPayload',
    workflow_job: { id: Number(id.replace(/\D/g, '')) || 1, name: `build ${id}`, html_url: `https://github.com/acme/app/actions/runs/1/job/${id}`, labels: ['self-hosted', 'anka-template:tmpl-1', `anka-template-tag:${tag}`] },
    repository: { name: 'app', owner: 'acme' },
  };
}

/** One live handler host with both VM slots busy, as the status view lists it. */
const HOSTS: StatusHost[] = [
  {
    key: 'mac-1',
    host_name: 'mac-1.local',
    version: '0.1.0',
    last_update: new Date().toISOString(),
    age_seconds: 1,
    stale: false,
    running_vms: 2,
    vm_slots_used: 2,
    vm_slots_total: 2,
    draining: false,
    cpu_usage_percentage: 10,
    memory_usage_percentage: 10,
    disk_usage_percentage: 10,
    plugins: [{ name: 'mac-1-h1', plugin: 'github', owner: 'acme', repo: 'app', status: 'running', status_since: new Date().toISOString(), last_success: null, last_success_url: '', last_failure: null, last_failure_url: '', successes: 0, failures: 0, canceled: 0 }],
    queues: [{ queue: Q, depth: 4, oldest_age_seconds: 1 }],
  },
];

/** Puts jobs in every state the view shows. Claims name the one job they may take. */
async function populate(store: JobStore): Promise<void> {
  const ids = ['done', 'gaveup', 'runs', 'fresh', 'back', 'later', 'off'];
  // Lease owners are `<handler>@<host id>`; the view names the handler.
  const claimOnly = async (id: string, owner = 'mac-1-h1@host-a1') => {
    const lease = await store.claim({ ...LEASE, owner, skipJobIds: ids.filter((x) => x !== id) });
    if (lease?.job.id !== id) throw new Error(`claimed ${lease?.job.id} instead of ${id}`);
    return lease;
  };
  const add = (id: string, tag?: string) => store.enqueue({ id, queue: Q, payload: payload(id, tag), repositoryOwner: 'acme', template: 'tmpl-1' });
  const handler = (id: string, event: Parameters<NonNullable<JobStore['appendTimeline']>>[2]) => store.appendTimeline!(Q, id, { by: 'mac-1-h1@host-a1', ...event });

  // A job that ran to completion, every phase on its timeline.
  await add('done');
  const done = await claimOnly('done');
  await handler('done', { type: 'pull_started', detail: 'tmpl-1:v1' });
  await handler('done', { type: 'pull_finished', detail: 'cached' });
  await handler('done', { type: 'vm_cloned', detail: 'anklet-vm-done' });
  await handler('done', { type: 'vm_started', detail: 'anklet-vm-done' });
  await handler('done', { type: 'runner_registered', detail: 'anklet-vm-done' });
  await store.recordEvent(Q, 'done', { action: 'in_progress', runnerName: 'anklet-vm-done', at: Date.now() });
  await store.recordEvent(Q, 'done', { action: 'completed', conclusion: 'success', at: Date.now() });
  await handler('done', { type: 'cleaned_up', detail: 'anklet-vm-done' });
  await store.finish(done, 'completed');

  // A job handed back once, then given up and cancelled.
  await add('gaveup');
  await store.requeue(await claimOnly('gaveup'), 'runner_exited_early');
  const again = await claimOnly('gaveup', 'mac-1-h2@host-a1');
  await store.appendTimeline!(Q, 'gaveup', { by: 'mac-1-h2@host-a1', type: 'cancelled', reason: 'max_attempts_reached' });
  await store.finish(again, 'cancelled');

  // A job a handler holds, its VM started.
  await add('runs');
  const runs = await claimOnly('runs');
  await store.update(runs, { phase: 'vm_started', vmName: 'anklet-vm-runs' });
  await handler('runs', { type: 'vm_started', detail: 'anklet-vm-runs' });

  // Waiting jobs: fresh, handed back at once, delayed after a failure, handed off to other hosts.
  await add('fresh', 'v2');
  await add('back');
  await store.requeue(await claimOnly('back'), 'no_free_vm_slot', { countAttempt: false });
  await add('later');
  await store.requeue(await claimOnly('later'), 'registration_timeout', { delayMs: 600_000 });
  await add('off');
  await store.handOff(await claimOnly('off'), 'host_out_of_capacity');
}

/** What the view must say, whatever the store. */
async function checkView(store: JobStore): Promise<void> {
  const view = JobsViewSchema.parse(await readJobsView(store, { queues: [Q], hosts: HOSTS }));
  expect(view.totals).toEqual({ queued: 4, running: 1 });

  const queued = new Map(view.queued.map((j) => [j.id, j]));
  expect([...queued.keys()].sort()).toEqual(['back', 'fresh', 'later', 'off']);
  expect(queued.get('fresh')).toMatchObject({ waiting: 'queued', template: 'tmpl-1', tag: 'v2', name: 'build fresh', repository: 'acme/app', attempts: 0, last_reason: null });
  expect(queued.get('fresh')!.why).toBe('waiting for a free host with template tmpl-1 tag v2: all 2 VM slots are busy');
  expect(queued.get('back')!.why).toBe('handed back: no_free_vm_slot; waiting for a free host with template tmpl-1 tag v1: all 2 VM slots are busy');
  expect(queued.get('later')).toMatchObject({ waiting: 'delayed', attempts: 1, last_reason: 'registration_timeout' });
  expect(queued.get('later')!.due_in_seconds).toBeGreaterThan(500);
  expect(queued.get('later')!.why).toMatch(/^delayed after a failed attempt \(registration_timeout\); may run again in \d+s$/);
  expect(queued.get('off')).toMatchObject({ waiting: 'handed_off' });
  expect(queued.get('off')!.why).toBe('handed off by mac-1-h1: host_out_of_capacity; waiting for a free host with template tmpl-1 tag v1: all 2 VM slots are busy (other hosts take it first)');

  expect(view.running).toHaveLength(1);
  expect(view.running[0]).toMatchObject({ id: 'runs', host: 'mac-1', handler: 'mac-1-h1', vm: 'anklet-vm-runs', phase: 'vm_started', last_event: 'vm_started: anklet-vm-runs', template: 'tmpl-1', tag: 'v1' });

  // Newest first.
  expect(view.finished.map((j) => j.id)).toEqual(['gaveup', 'done']);
  const [gaveup, done] = view.finished;
  expect(done).toMatchObject({ conclusion: 'success', outcome: 'completed', attempts: 1, reasons: [], handler: 'mac-1-h1', vm: 'anklet-vm-done', template: 'tmpl-1', tag: 'v1' });
  for (const phase of ['waiting', 'pull', 'vm', 'pickup', 'run', 'cleanup', 'total'] as const) expect(done!.phases[phase], phase).not.toBeNull();
  expect(gaveup).toMatchObject({
    conclusion: 'cancelled',
    outcome: 'cancelled',
    attempts: 2,
    handler: 'mac-1-h2',
    reasons: ['handed back: runner_exited_early', 'cancelled: max_attempts_reached'],
  });
  expect(gaveup!.phases.run).toBeNull();

  // Limits and states.
  const one = JobsViewSchema.parse(await readJobsView(store, { queues: [Q], states: ['queued'], limit: 1, hosts: HOSTS }));
  expect(one.queued).toHaveLength(1);
  expect(one.running).toEqual([]);
  expect(one.finished).toEqual([]);
  const finished = await readJobsView(store, { queues: [Q], states: ['finished'], limit: 1 });
  expect(finished.finished.map((j) => j.id)).toEqual(['gaveup']);
  // A free slot but no idle handler: the handlers are the bottleneck.
  const busy = [{ ...HOSTS[0]!, vm_slots_used: 1, plugins: HOSTS[0]!.plugins.map((p) => ({ ...p, status: 'in_progress' })) }];
  const waiting = await readJobsView(store, { queues: [Q], states: ['queued'], hosts: busy });
  expect(waiting.queued.find((j) => j.id === 'fresh')!.why).toBe('waiting for a free host with template tmpl-1 tag v2: every handler is busy');
  // Without the fleet, no host is named and the wait names what the job needs.
  const bare = await readJobsView(store, { queues: [Q] });
  expect(bare.running[0]!.host).toBeNull();
  expect(bare.queued.find((j) => j.id === 'fresh')!.why).toBe('waiting for a free host with template tmpl-1 tag v2');
}

describe('jobs view on Redis', () => {
  let server: RedisServer;
  let store: JobStore;
  let prefix: string;

  beforeAll(async () => {
    server = await startRedisServer();
    prefix = uniquePrefix();
    store = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    await populate(store);
  });
  afterAll(async () => {
    await store?.close();
    if (server) await deleteKeysWithPrefix(server.url, prefix);
    await server?.stop();
  });

  it('shows queued, running and finished jobs with why each waits', async () => {
    await checkView(store);
  });
});

describe('jobs view on the embedded store', () => {
  let dir: string;
  let store: JobStore;
  let http: Server;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anklet-jobs-view-'));
    store = new EmbeddedJobStore({ dir });
    await populate(store);
    const app = createMetricsApp({
      mode: 'host',
      fleet: async () => [],
      jobs: (request) => readJobsView(store, { queues: [Q], ...request }),
    });
    http = createServer(app);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const address = http.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => http?.close(resolve));
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows queued, running and finished jobs with why each waits', async () => {
    await checkView(store);
  });

  it('serves it at /jobs.json with ?state= and ?limit=, and refuses bad values', async () => {
    const res = await fetch(`${base}/jobs.json?state=queued,finished&limit=2`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const view = JobsViewSchema.parse(await res.json());
    expect(view.states).toEqual(['queued', 'finished']);
    expect(view.limit).toBe(2);
    expect(view.queued).toHaveLength(2);
    expect(view.finished).toHaveLength(2);
    expect(view.running).toEqual([]);
    const bad = await fetch(`${base}/jobs.json?state=zombie`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('unknown state "zombie", please use one of: queued, running, finished\n');
    expect((await fetch(`${base}/jobs.json?limit=1001`)).status).toBe(400);
  });
});
