import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createAnkaSimHome, type AnkaSimHome } from '@anklet/anka-sim';
import type { JobStore } from '@anklet/core';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { createEmbeddedJobStore } from '@anklet/redis/embedded';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { afterEach, describe, it, type TestContext } from 'vitest';
import { RUNNER_CLI, RunningAnklet, msg, runnerFiles, writeFile } from '../../../apps/anklet/test/helpers.js';
import { configDirOf } from '../../../apps/anklet/src/config/load-config.js';
import { hostIdentity } from '../../../apps/anklet/src/host/host-identity.js';
import { GiB, TEMPLATE, withInstalledPlugins } from './setup.js';

/**
 * What the fleet does wrong, with the packed plugins and the real `anklet` binary: poison records
 * in the queue (issue 17 item 3), a host whose credentials GitHub refuses (item 4) and a cancel
 * GitHub refuses (item 5). Each scenario has its own world and runs concurrently with the others.
 */
const { shared, pluginsPath } = withInstalledPlugins('anklet-handler-faults-');
const SECRET = 'e2e-faults-webhook-secret';
const TOKEN = 'ghp_e2e_faults_good_token_never_logged';
const SPARE = 'ghp_e2e_faults_spare_token_never_logged';

interface World {
  redis?: RedisServer | undefined;
  anka: AnkaSimHome;
  sim: GitHubSim;
  receiverPort: number;
  runs: RunningAnklet[];
  homes: string[];
  stores: JobStore[];
}
const worlds = new Map<string, World>();

async function makeWorld(ctx: TestContext, redis: boolean): Promise<World> {
  const anka = createAnkaSimHome({
    registry: {
      pullDurationMs: 100,
      templates: [{ name: 'anklet', uuid: TEMPLATE, tags: [{ tag: '1c2r', cpuCores: 1, ramBytes: 2 * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles }] }],
    },
    templates: [{ name: 'anklet', uuid: TEMPLATE, tag: '1c2r', files: runnerFiles }],
    guestEnv: { GITHUB_SIM_RUNNER: RUNNER_CLI },
  });
  const receiverPort = await findFreePort();
  const sim = await startGitHubSim({ tokens: [TOKEN, SPARE], hooks: [{ org: 'acme', url: `http://127.0.0.1:${receiverPort}/jobs/v1/receiver`, secret: SECRET }] });
  const w: World = { redis: redis ? await startRedisServer({ allowExternal: false }) : undefined, anka, sim, receiverPort, runs: [], homes: [], stores: [] };
  worlds.set(ctx.task.id, w);
  return w;
}

function newHome(w: World, prefix: string): string {
  const home = mkdtempSync(path.join(shared, prefix));
  w.homes.push(home);
  return home;
}

/** The store a host of this world uses: the world's Redis, or the embedded store in `home`. */
function storeOf(w: World, home: string): JobStore {
  const store = w.redis ? createRedisJobStore({ redis: new Redis(w.redis.url), prefix: 'anklet' }) : createEmbeddedJobStore({ dir: path.join(home, 'store') });
  w.stores.push(store);
  return store;
}

interface HostOptions {
  readonly receiver?: boolean;
  readonly handler?: string | undefined;
  readonly token?: string;
  readonly extra?: string;
  readonly metricsPort: number;
}

async function hostConfig(w: World, home: string, o: HostOptions): Promise<string> {
  const handler = o.handler
    ? `  - name: ${o.handler}
    plugin: github
    owner: acme
    github_base_url: ${w.sim.url}
    sleep_interval: 1
    retry_backoff_seconds: 1
${(o.extra ?? '')
  .split('\n')
  .filter(Boolean)
  .map((l) => `    ${l}`)
  .join('\n')}
`
    : '';
  const receiver = o.receiver
    ? `  - name: GITHUB_RECEIVER1
    plugin: github_receiver
    port: ${w.receiverPort}
    listen_address: 127.0.0.1
    owner: acme
    skip_redeliver: true
`
    : '';
  // Without Redis, the embedded store lives in the work dir: the home itself, where the test opens it too.
  const database = w.redis ? `global_database_url: 127.0.0.1\nglobal_database_port: ${w.redis.port}\n` : `work_dir: ${home}\n`;
  return writeFile(
    path.join(home, 'config.yml'),
    `plugins_path: ${pluginsPath}
${database}global_receiver_secret: ${SECRET}
global_token: ${o.token ?? TOKEN}
metrics:
  port: ${o.metricsPort}
  address: 127.0.0.1
plugins:
${receiver}${handler}`,
  );
}

function start(w: World, config: string, home: string): RunningAnklet {
  const run = new RunningAnklet(['-c', config], { home, env: w.anka.env });
  w.runs.push(run);
  return run;
}

const labels = (name: string) => [`anka-template:${TEMPLATE}`, 'anka-template-tag:1c2r', `${name}-0`];

async function prometheus(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics/v1?format=prometheus`)).text();
}

/** The value of the sample of `family` whose labels include every `labels` pair, or undefined. */
function sample(text: string, family: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${family}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

afterEach(async ({ task, expect }) => {
  const w = worlds.get(task.id);
  worlds.delete(task.id);
  if (!w) return;
  try {
    for (const run of w.runs) {
      if (run.child.exitCode === null && run.child.signalCode === null) run.signal('SIGTERM');
      const result = await run.exited;
      for (const output of [result.stdout, result.stderr]) {
        expect(output).not.toContain(TOKEN);
        expect(output).not.toContain(SPARE);
      }
    }
  } finally {
    for (const store of w.stores) await store.close().catch(() => undefined);
    await w.sim.close();
    await w.redis?.stop();
    w.anka.remove();
    for (const home of w.homes) rmSync(home, { recursive: true, force: true });
  }
});

/** Payloads no handler can read: the wrong shape, a missing owner, a missing repository name. */
const POISON: ReadonlyArray<[string, unknown]> = [
  ['9000001', { workflow_job: 'x' }],
  ['9000002', { type: 'WorkflowJobPayload', workflow_job: { id: 9000002, labels: labels('p') }, repository: { name: 'app', owner: null } }],
  ['9000003', { type: 'WorkflowJobPayload', workflow_job: { id: 9000003, labels: labels('p') }, repository: { owner: 'acme' } }],
];

describe.concurrent('github handler under faults', () => {
  for (const backend of ['redis', 'embedded'] as const) {
    it(`poison records (queued, and claimed before a restart) are quarantined; 6 real jobs run and the host never exits (${backend})`, async (ctx) => {
      const { expect } = ctx;
      const w = await makeWorld(ctx, backend === 'redis');
      const home = newHome(w, `poison-${backend}-`);
      const config = await hostConfig(w, home, { receiver: true, handler: 'GITHUB_HANDLER1', metricsPort: await findFreePort() });
      const store = storeOf(w, home);
      // Queued poison, and poison this handler holds as if a previous process had claimed it.
      for (const [id, payload] of POISON) await store.enqueue({ id, queue: 'acme', payload });
      const held = await store.enqueue({ id: '9000004', queue: 'acme', payload: { workflow_job: { id: 'nope' } } });
      expect(held).toBe('enqueued');
      // Claims take the oldest first: take the three queued ones out of the way, claim the fourth, give them back.
      const leases = [];
      // A previous process of this host and work dir owned its lease as `<name>@<host id>`.
      const owner = `GITHUB_HANDLER1@${hostIdentity(w.redis ? configDirOf(home) : home).hostId}`;
      for (let i = 0; i < 4; i++) leases.push((await store.claim({ queue: 'acme', owner: i === 3 ? owner : 'seed', leaseMs: 600_000 }))!);
      expect(leases.map((l) => l.job.id)).toEqual(['9000001', '9000002', '9000003', '9000004']);
      for (const lease of leases.slice(0, 3)) await store.handOff(lease, 'seeded');

      const host = start(w, config, home);
      await host.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
      const jobs = Array.from({ length: 6 }, (_, i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(`real${i}`), name: `real${i}`, durationMs: 200 }));
      for (const job of jobs) expect((await w.sim.control.waitForJob(job.id, 'completed', 180_000)).conclusion).toBe('success');
      await host.waitFor(msg('cleanup | finished'), { count: 6, timeoutMs: 60_000 });
      expect(host.child.exitCode).toBeNull();
      const quarantined = await store.listQuarantined('acme');
      expect(quarantined.map((q) => q.jobId).sort()).toEqual(['9000001', '9000002', '9000003', '9000004']);
      for (const q of quarantined) expect(q.reason).toMatch(/^unreadable payload: /);
      expect(host.lines.filter(msg('claimed job cannot be read; quarantining it'))).toHaveLength(4);
      expect(host.lines.some(msg('error running plugin'))).toBe(false);
      expect((await store.stats('acme')).quarantined).toBe(4);
      // A restart does not bring them back.
      host.signal('SIGTERM');
      expect((await host.exited).code).toBe(0);
      const again = start(w, config, home);
      await again.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
      expect(again.lines.some(msg('claimed job cannot be read; quarantining it'))).toBe(false);
    }, 300_000);
  }

  it('a host whose token GitHub refuses hands its job back uncounted, shows auth_failed, and resumes when the token works again', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, true);
    const store = storeOf(w, '');
    const homeReceiver = newHome(w, 'receiver-');
    const homeBad = newHome(w, 'bad-token-');
    const homeGood = newHome(w, 'good-token-');
    const badPort = await findFreePort();
    const [configReceiver, configBad, configGood] = await Promise.all([
      hostConfig(w, homeReceiver, { receiver: true, metricsPort: await findFreePort() }),
      hostConfig(w, homeBad, { handler: 'GITHUB_HANDLER_BAD', token: SPARE, metricsPort: badPort }),
      hostConfig(w, homeGood, { handler: 'GITHUB_HANDLER_GOOD', metricsPort: await findFreePort() }),
    ]);
    const receiver = start(w, configReceiver, homeReceiver);
    await receiver.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
    const bad = start(w, configBad, homeBad);
    await bad.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    // The token expires while the host runs: its next claim gets 401 from GitHub.
    w.sim.control.revokeToken(SPARE);
    const jobs = Array.from({ length: 3 }, (_, i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(`auth${i}`), name: `auth${i}`, durationMs: 200 }));
    await bad.waitFor(msg('GitHub refuses this plugin; not claiming jobs until it works again'), { timeoutMs: 120_000 });
    const refused = bad.lines.find(msg('GitHub refuses this plugin; not claiming jobs until it works again'));
    expect(refused).toMatchObject({ state: 'auth_failed', reason: 'bad_credentials' });
    expect(String(refused?.fix)).toMatch(/valid token/);
    const text = await prometheus(badPort);
    expect(sample(text, 'anklet_plugin_health', { plugin: 'GITHUB_HANDLER_BAD', state: 'auth_failed' })).toBe(1);
    expect(sample(text, 'anklet_plugin_status', { plugin: 'GITHUB_HANDLER_BAD', status: 'auth_failed' })).toBe(1);

    // The good host runs every job; none had an attempt counted.
    const good = start(w, configGood, homeGood);
    for (const job of jobs) expect((await w.sim.control.waitForJob(job.id, 'completed', 180_000)).conclusion).toBe('success');
    await good.waitFor(msg('cleanup | finished'), { count: 3, timeoutMs: 60_000 });
    expect(good.lines.filter(msg('queued job found')).map((l) => l.attempts)).toEqual([0, 0, 0]);
    const handedBack = bad.lines.filter(msg('handing job back to the queue; not counted as an attempt'));
    expect(handedBack.length).toBe(1);
    // One ERROR, however many re-checks (every 2 s, doubling) saw the same refusal meanwhile.
    expect(bad.lines.filter(msg('GitHub refuses this plugin; not claiming jobs until it works again'))).toHaveLength(1);

    // The token works again: the host resumes and takes work.
    w.sim.control.addToken(SPARE);
    await bad.waitFor(msg('GitHub accepts this plugin again; claiming jobs'), { timeoutMs: 120_000 });
    expect(sample(await prometheus(badPort), 'anklet_plugin_health', { plugin: 'GITHUB_HANDLER_BAD', state: 'ok' })).toBe(1);
    good.signal('SIGTERM');
    await good.exited;
    const late = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('late'), name: 'late', durationMs: 200 });
    expect((await w.sim.control.waitForJob(late.id, 'completed', 120_000)).conclusion).toBe('success');
    // Its first clean-up was the job it handed back; the second, the late job's.
    await bad.waitFor(msg('cleanup | finished'), { count: 2, timeoutMs: 60_000 });
    expect(bad.lines.filter(msg('queued job found')).map((l) => l.attempts)).toEqual([0, 0]);

    // Start-up checks the credentials before the first claim.
    bad.signal('SIGTERM');
    await bad.exited;
    w.sim.control.revokeToken(SPARE);
    const restarted = start(w, configBad, homeBad);
    await restarted.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(restarted.lines.find(msg('github handler started'))?.state).toBe('auth_failed');
    expect(restarted.lines.some(msg('queued job found'))).toBe(false);
    expect((await store.stats('acme')).claimed).toBe(0);
  }, 300_000);

  it('a runner group that does not exist: config_failed with the fix, nothing claimed, the job runs on another host uncounted', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, true);
    const store = storeOf(w, '');
    const homeReceiver = newHome(w, 'receiver-');
    const homeBad = newHome(w, 'no-group-');
    const homeGood = newHome(w, 'good-group-');
    const badPort = await findFreePort();
    const [configReceiver, configBad, configGood] = await Promise.all([
      hostConfig(w, homeReceiver, { receiver: true, metricsPort: await findFreePort() }),
      hostConfig(w, homeBad, { handler: 'GITHUB_HANDLER_NO_GROUP', extra: 'runner_group: no-such-group', metricsPort: badPort }),
      hostConfig(w, homeGood, { handler: 'GITHUB_HANDLER_GOOD', metricsPort: await findFreePort() }),
    ]);
    const receiver = start(w, configReceiver, homeReceiver);
    await receiver.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
    const bad = start(w, configBad, homeBad);
    // Start-up asks GitHub once before the first claim: the group lookup fails there.
    await bad.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(bad.lines.find(msg('github handler started'))?.state).toBe('config_failed');
    const refused = bad.lines.find(msg('GitHub refuses this plugin; not claiming jobs until it works again'));
    expect(refused).toMatchObject({ state: 'config_failed', reason: 'runner_group_missing' });
    expect(String(refused?.fix)).toContain('"no-such-group"');
    const text = await prometheus(badPort);
    expect(sample(text, 'anklet_plugin_health', { plugin: 'GITHUB_HANDLER_NO_GROUP', state: 'config_failed' })).toBe(1);
    expect(sample(text, 'anklet_plugin_status', { plugin: 'GITHUB_HANDLER_NO_GROUP', status: 'config_failed' })).toBe(1);

    const jobs = Array.from({ length: 2 }, (_, i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(`group${i}`), name: `group${i}`, durationMs: 200 }));
    await expect.poll(async () => (await store.stats('acme')).queued, { timeout: 60_000 }).toBe(2);
    // Both wait in the queue with the host up (it takes nothing while GitHub refuses its configuration).
    expect(bad.child.exitCode).toBeNull();

    const good = start(w, configGood, homeGood);
    for (const job of jobs) expect((await w.sim.control.waitForJob(job.id, 'completed', 180_000)).conclusion).toBe('success');
    await good.waitFor(msg('cleanup | finished'), { count: 2, timeoutMs: 60_000 });
    expect(good.lines.filter(msg('queued job found')).map((l) => l.attempts)).toEqual([0, 0]);
    expect(bad.lines.some(msg('queued job found'))).toBe(false);
    // One ERROR for the refusal however many re-checks saw it.
    expect(bad.lines.filter(msg('GitHub refuses this plugin; not claiming jobs until it works again'))).toHaveLength(1);
    expect(await store.stats('acme')).toMatchObject({ queued: 0, claimed: 0, handedOff: 0 });
  }, 300_000);

  it('a host frozen past its lease while its runner runs the job watches it to its end: the job succeeds, the new owner finishes the record', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, true);
    const store = storeOf(w, '');
    const homeReceiver = newHome(w, 'frozen-receiver-');
    const home = newHome(w, 'frozen-');
    const [configReceiver, config] = await Promise.all([
      hostConfig(w, homeReceiver, { receiver: true, metricsPort: await findFreePort() }),
      hostConfig(w, home, { handler: 'GITHUB_HANDLER_FROZEN', extra: 'lease_seconds: 10\nstatus_check_interval_seconds: 5', metricsPort: await findFreePort() }),
    ]);
    const receiver = start(w, configReceiver, homeReceiver);
    await receiver.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
    const host = start(w, config, home);
    await host.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('frozen'), name: 'frozen', durationMs: 40_000 });
    await host.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 120_000 });

    // The host freezes (a sleeping Mac, a long partition from the store) past its lease; meanwhile
    // another handler's reaper returns the job to the queue and that handler claims it.
    host.signal('SIGSTOP');
    let lease: Awaited<ReturnType<JobStore['claim']>> = null;
    try {
      await expect.poll(async () => (await store.reapExpired('acme')).requeued.length + (lease ? 1 : 0), { timeout: 60_000, interval: 500 }).toBeGreaterThan(0);
      lease = await store.claim({ queue: 'acme', owner: 'GITHUB_HANDLER_OTHER@another-host', leaseMs: 600_000 });
      expect(lease?.job.id).toBe(String(job.id));
    } finally {
      host.signal('SIGCONT');
    }
    await host.waitFor(msg('lease on the job was lost while our runner runs it; watching it to its end, its VM left running'), { timeoutMs: 60_000 });
    // GitHub still has the job on our runner: it ends as the runner ends it, not failed by a deleted VM.
    expect((await w.sim.control.waitForJob(job.id, 'completed', 120_000)).conclusion).toBe('success');
    await host.waitFor(msg('job completed on our runner; its record belongs to the handler that holds its lease now'), { timeoutMs: 60_000 });
    await host.waitFor(msg('cleanup | finished'), { timeoutMs: 60_000 });
    expect(w.anka.readState().vms.filter((vm) => vm.name.startsWith('anklet-vm-'))).toEqual([]);
    expect(host.lines.some(msg('successfully removed runner'))).toBe(false);
    expect(host.lines.some(msg('job completed'))).toBe(false);
    // The record is the new owner's: still there, under its lease, until it finishes it.
    expect((await store.get('acme', String(job.id)))?.id).toBe(String(job.id));
    await store.finish(lease!, 'success');
    expect(await store.stats('acme')).toMatchObject({ queued: 0, claimed: 0, handedOff: 0 });
    expect(host.child.exitCode).toBeNull();
  }, 300_000);

  it('a cancel GitHub refuses keeps the job in the store, uncounted, until a cancel succeeds', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, true);
    const store = storeOf(w, '');
    const home = newHome(w, 'cancel-');
    const port = await findFreePort();
    const config = await hostConfig(w, home, { receiver: true, handler: 'GITHUB_HANDLER1', metricsPort: port });
    w.sim.control.failRequests({ method: 'POST', path: '/actions/runs/\\d+/cancel$', status: 403, count: -1, message: 'Resource not accessible by integration' });
    const host = start(w, config, home);
    await host.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    // A template the registry does not have: the job is given up and its run cancelled.
    const job = w.sim.control.dispatchJob({
      repository: 'acme/app',
      labels: ['anka-template:00000000-0000-4000-8000-000000000000', 'anka-template-tag:1c2r'],
      name: 'unrunnable',
      durationMs: 200,
    });
    await host.waitFor(msg('cancelling the workflow run of a given-up job failed; keeping the job and cancelling again later'), { count: 2, timeoutMs: 120_000 });
    const kept = await store.get('acme', String(job.id));
    expect(kept?.lastReason).toBe('cancel_pending: anka_template_or_tag_not_found');
    expect(kept?.attempts).toBe(0);
    expect(w.sim.control.job(job.id)?.status).toBe('queued');
    expect(sample(await prometheus(port), 'anklet_cancel_failures_total', { plugin: 'GITHUB_HANDLER1', reason: 'error' })).toBeGreaterThanOrEqual(2);

    w.sim.control.clearRequestFaults();
    expect((await w.sim.control.waitForJob(job.id, 'completed', 120_000)).conclusion).toBe('cancelled');
    await host.waitFor(msg('job cancelled'), { timeoutMs: 60_000 });
    expect(host.lines.find(msg('job cancelled'))?.givenUpReason).toBe('anka_template_or_tag_not_found');
    await expect.poll(() => store.get('acme', String(job.id)), { timeout: 30_000 }).toBeNull();
    expect(sample(await prometheus(port), 'anklet_jobs_given_up_total', { plugin: 'GITHUB_HANDLER1', reason: 'anka_template_or_tag_not_found' })).toBe(1);
  }, 300_000);
});
