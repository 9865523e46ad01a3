import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStore } from '@anklet/core';
import { JobsViewSchema } from '@anklet/metrics';
import { createRedisConnection, createRedisJobStore } from '@anklet/redis';
import { startRedisServer, type RedisServer } from '@anklet/testing';
import { makeTmp, runCli as runIn } from './helpers.js';

/**
 * `anklet jobs` on the real binary against a real Redis: a queued, a delayed, a running and a
 * finished job put there through the store, printed as JSON (checked against the documented shape)
 * and as tables.
 */
let redis: RedisServer;
let store: JobStore;
let dir: string;
let config: string;
const Q = 'jobs-cli';

beforeAll(async () => {
  redis = await startRedisServer();
  store = createRedisJobStore({ redis: createRedisConnection({ url: redis.url }), prefix: 'anklet' });
  const { hostname, port } = new URL(redis.url);
  // Shared by the tests, so not a makeTmp() folder (those are removed after each test).
  dir = mkdtempSync(path.join(tmpdir(), 'anklet-jobs-'));
  config = path.join(dir, 'config.yml');
  writeFileSync(config, `global_database_url: ${hostname}\nglobal_database_port: ${port}\nplugins: []\n`);
  const labels = ['self-hosted', 'anka-template:tmpl-9', 'anka-template-tag:v3'];
  const job = (id: string) => ({ id, queue: Q, template: 'tmpl-9', payload: { workflow_job: { name: `job ${id}`, html_url: `https://github.com/acme/app/actions/runs/1/job/${id}`, labels }, repository: { owner: 'acme', name: 'app' } } });
  for (const id of ['11', '12', '13', '14']) await store.enqueue(job(id));
  // Oldest first: 11 finishes, 12 runs, 13 is delayed after a failed attempt, 14 waits.
  const done = await store.claim({ queue: Q, owner: 'MAC_1_HANDLER1', leaseMs: 60_000 });
  await store.recordEvent(Q, '11', { action: 'completed', conclusion: 'failure', at: Date.now() });
  await store.finish(done!, 'completed');
  const runs = await store.claim({ queue: Q, owner: 'MAC_1_HANDLER2', leaseMs: 600_000 });
  await store.update(runs!, { phase: 'in_progress', vmName: 'anklet-vm-12' });
  const later = await store.claim({ queue: Q, owner: 'MAC_1_HANDLER1', leaseMs: 60_000 });
  await store.requeue(later!, 'runner_registration_timeout', { delayMs: 600_000 });
}, 60_000);
/** Runs the CLI with a home folder of its own. */
const runCli = (args: string[]) => runIn(args, { home: makeTmp() });

afterAll(async () => {
  await store?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('anklet jobs', () => {
  it('prints the jobs view as JSON that validates against JobsViewSchema', async () => {
    const run = await runCli(['-c', config, 'jobs', '--json', '--queue', Q]);
    expect(run.code, run.stderr).toBe(0);
    const view = JobsViewSchema.parse(JSON.parse(run.stdout));
    expect(view.queues).toEqual([Q]);
    expect(view.totals).toEqual({ queued: 2, running: 1 });
    expect(view.queued.map((j) => [j.id, j.waiting, j.template, j.tag])).toEqual([
      ['13', 'delayed', 'tmpl-9', 'v3'],
      ['14', 'queued', 'tmpl-9', 'v3'],
    ]);
    expect(view.queued[0]!.why).toMatch(/^delayed after a failed attempt \(runner_registration_timeout\); may run again in \d+s$/);
    expect(view.running).toMatchObject([{ id: '12', handler: 'MAC_1_HANDLER2', vm: 'anklet-vm-12', phase: 'in_progress', name: 'job 12', host: null }]);
    expect(view.finished).toMatchObject([{ id: '11', conclusion: 'failure', outcome: 'completed', attempts: 1 }]);
  }, 30_000);

  it('prints one state as a table, and refuses an unknown state', async () => {
    const run = await runCli(['-c', config, 'jobs', '--state', 'queued', '--queue', Q]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^jobs from redis 127\.0\.0\.1:\d+: 2 waiting, 1 running \(queues: jobs-cli\)/);
    expect(run.stdout).toMatch(/JOB\s+QUEUE\s+NAME\s+TEMPLATE\s+AGE\s+STATE\s+ATTEMPTS\s+WHY\n13\s+jobs-cli\s+job 13\s+tmpl-9:v3\s+\d+s\s+delayed\s+1\s+delayed after a failed attempt/);
    expect(run.stdout).toMatch(/\n14\s+jobs-cli\s+job 14\s+tmpl-9:v3\s+\d+s\s+queued\s+0\s+waiting for a free host with template tmpl-9 tag v3: no handler host is reporting\n/);
    expect(run.stdout).not.toContain('RUNNING');
    const bad = await runCli(['-c', config, 'jobs', '--state', 'stuck']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--state must be one of: queued, running, finished');
  }, 30_000);
});
