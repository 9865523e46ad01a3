import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createAnkaSimHome, type AnkaSimHome } from '@anklet/anka-sim';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import type { JobStore } from '@anklet/core';
import { Redis } from 'ioredis';
import { afterEach, describe, it, type ExpectStatic, type TestContext } from 'vitest';
import { RUNNER_CLI, RunningAnklet, msg, runnerFiles, writeFile } from '../../../apps/anklet/test/helpers.js';
import { GiB, TEMPLATE, withInstalledPlugins } from './setup.js';

/**
 * Recovery across processes and hosts, with the packed plugins and the real `anklet` binary (see
 * e2e.test.ts): a job whose handler was SIGKILLed is reaped and run by another host, and a restart
 * deletes only the VMs and runners that are provably the restarting handler's own. The two
 * scenarios run concurrently, each in its own world.
 */
const { shared, pluginsPath } = withInstalledPlugins('anklet-handler-recovery-');
const SECRET = 'e2e-recovery-webhook-secret';
const TOKEN = 'ghp_e2e_recovery_token_never_logged';

/**
 * One scenario's world: its own Anka host (anka-sim home, shared by the anklet hosts of the
 * scenario as if they ran on one Mac), github-sim and redis-server, so the two scenarios run
 * concurrently without sharing VM slots, faults or queues.
 */
interface World {
  redis: RedisServer;
  anka: AnkaSimHome;
  sim: GitHubSim;
  store: JobStore;
  receiverPort: number;
  runs: RunningAnklet[];
  homes: string[];
}
const worlds = new Map<string, World>();

async function makeWorld(ctx: TestContext): Promise<World> {
  const anka = createAnkaSimHome({
    registry: {
      pullDurationMs: 100,
      templates: [{ name: 'anklet', uuid: TEMPLATE, tags: [{ tag: '1c2r', cpuCores: 1, ramBytes: 2 * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles }] }],
    },
    // On the host already: every scenario starts VMs from it.
    templates: [{ name: 'anklet', uuid: TEMPLATE, tag: '1c2r', files: runnerFiles }],
    guestEnv: { GITHUB_SIM_RUNNER: RUNNER_CLI },
  });
  const [redis, receiverPort] = await Promise.all([startRedisServer({ allowExternal: false }), findFreePort()]);
  const sim = await startGitHubSim({ tokens: [TOKEN], hooks: [{ org: 'acme', url: `http://127.0.0.1:${receiverPort}/jobs/v1/receiver`, secret: SECRET }] });
  const store = createRedisJobStore({ redis: new Redis(redis.url), prefix: 'anklet' });
  const w: World = { redis, anka, sim, store, receiverPort, runs: [], homes: [] };
  worlds.set(ctx.task.id, w);
  return w;
}

/** A new anklet home (not the helpers' makeTmp: it empties every test's folders after each test, and these run concurrently). */
function newHome(w: World, prefix: string): string {
  const home = mkdtempSync(path.join(shared, prefix));
  w.homes.push(home);
  return home;
}

/** Host config: the receiver (when `receiver`) and handler blocks (`name` → extra YAML lines). */
async function hostConfig(w: World, home: string, handlers: Record<string, string>, receiver: boolean): Promise<string> {
  const blocks = Object.entries(handlers)
    .map(
      ([name, extra]) => `  - name: ${name}
    plugin: github
    owner: acme
    github_base_url: ${w.sim.url}
    sleep_interval: 1
${extra
  .split('\n')
  .filter(Boolean)
  .map((l) => `    ${l}`)
  .join('\n')}
`,
    )
    .join('');
  const receiverBlock = receiver
    ? `  - name: GITHUB_RECEIVER1
    plugin: github_receiver
    port: ${w.receiverPort}
    listen_address: 127.0.0.1
    owner: acme
    skip_redeliver: true
`
    : '';
  return writeFile(
    path.join(home, 'config.yml'),
    `plugins_path: ${pluginsPath}
global_database_url: 127.0.0.1
global_database_port: ${w.redis.port}
global_receiver_secret: ${SECRET}
global_token: ${TOKEN}
metrics:
  port: ${await findFreePort()}
  address: 127.0.0.1
plugins:
${receiverBlock}${blocks}`,
  );
}

function start(w: World, config: string, home: string): RunningAnklet {
  // The child finds this world's simulated `anka` first on its PATH.
  const run = new RunningAnklet(['-c', config], { home, env: w.anka.env });
  w.runs.push(run);
  return run;
}

/** The `vmNamePrefix` a handler announced at start. */
function prefixOf(expect: ExpectStatic, run: RunningAnklet, handler: string): string {
  const line = run.lines.find((l) => l.msg === 'github handler started' && (l.attributes as { name?: string } | undefined)?.name === handler);
  const prefix = String(line?.vmNamePrefix ?? '');
  expect(prefix).toMatch(/^anklet-vm-[0-9a-f]{12}-$/);
  return prefix;
}

const ankletVms = (w: World) =>
  w.anka
    .readState()
    .vms.filter((vm) => vm.name.startsWith('anklet-vm-'))
    .map((vm) => vm.name);
const ankaCli = (w: World, ...args: string[]) => execFileSync('anka', ['-j', ...args], { env: { ...process.env, ...w.anka.env }, stdio: 'pipe' });
const labels = (name: string) => [`anka-template:${TEMPLATE}`, 'anka-template-tag:1c2r', `${name}-0`];

afterEach(async ({ task, expect }) => {
  const w = worlds.get(task.id);
  worlds.delete(task.id);
  if (!w) return;
  try {
    for (const run of w.runs) {
      if (run.child.exitCode === null && run.child.signalCode === null) run.signal('SIGTERM');
      const result = await run.exited;
      for (const output of [result.stdout, result.stderr]) expect(output).not.toContain(TOKEN);
    }
    expect(ankletVms(w)).toEqual([]);
    expect(w.sim.control.runners()).toEqual([]);
    expect((await w.store.stats('acme')).claimed).toBe(0);
  } finally {
    await w.store.close();
    await w.sim.close();
    await w.redis.stop();
    w.anka.remove();
    for (const home of w.homes) rmSync(home, { recursive: true, force: true });
  }
});

describe.concurrent('github handler recovery', () => {
  it('a job whose handler was SIGKILLed is reaped and run by another host; the dead host cleans its VM up when it comes back', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const { sim, store } = w;
    // The receiver on its own host, as on Linux; handlers on hosts A and B.
    const homeR = newHome(w, 'receiver-');
    const homeA = newHome(w, 'host-a-');
    const homeB = newHome(w, 'host-b-');
    const [configR, configA, configB] = await Promise.all([
      hostConfig(w, homeR, {}, true),
      hostConfig(w, homeA, { GITHUB_HANDLER1: 'lease_seconds: 10' }, false),
      hostConfig(w, homeB, { GITHUB_HANDLER2: 'lease_seconds: 10' }, false),
    ]);
    const receiver = start(w, configR, homeR);
    // Host A hangs in the runner install of its VM; then it dies without any clean-up.
    w.anka.setFaults([{ command: 'run', times: 1, delayMs: 20_000 }]);
    const a = start(w, configA, homeA);
    await receiver.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
    await a.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: labels('reaped'), name: 'reaped', durationMs: 300 });
    await a.waitFor(msg('installing github runner inside of vm'), { timeoutMs: 60_000 });
    const prefixA = prefixOf(expect, a, 'GITHUB_HANDLER1');
    a.child.kill('SIGKILL');
    await a.exited;
    expect(ankletVms(w).filter((name) => name.startsWith(prefixA))).toHaveLength(1);
    expect((await store.get('acme', String(job.id)))?.owner).toBe('GITHUB_HANDLER1');

    // Host B: its reaper returns the job once A's lease ran out, and B runs it.
    const b = start(w, configB, homeB);
    await b.waitFor(msg('jobs of a dead handler returned to the queue'), { timeoutMs: 40_000 });
    expect((await sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await b.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    expect(b.lines.find(msg('queued job found'))?.attempts).toBe(1);
    const text = await (await fetch(`http://127.0.0.1:${metricsPortOf(configB)}/metrics/v1?format=prometheus`)).text();
    expect(text).toMatch(/^anklet_jobs_reaped_total\{.*GITHUB_HANDLER2.*\} 1$/m);

    // A comes back: its old VM is provably its own and owned by no job any more.
    const again = start(w, configA, homeA);
    await again.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(again.lines.find(msg('deleting orphaned vm that no job owns'))?.vmName).toMatch(new RegExp(`^${prefixA}`));
    // Four anklet starts, a lease running out and two VMs: more than the default limit on a busy machine.
  }, 240_000);

  it('two handlers on two queues of one host: a restart deletes only each handler’s own orphans', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const { sim } = w;
    const home = newHome(w, 'two-queues-');
    const config = await hostConfig(w, home, { GITHUB_HANDLER1: '', GITHUB_HANDLER2: 'queue_name: other' }, true);
    const first = start(w, config, home);
    await first.waitFor(msg('github handler started'), { count: 2, timeoutMs: 60_000 });
    const prefix1 = prefixOf(expect, first, 'GITHUB_HANDLER1');
    const prefix2 = prefixOf(expect, first, 'GITHUB_HANDLER2');
    expect(prefix1).not.toBe(prefix2);
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: labels('adopted'), name: 'adopted', durationMs: 12_000 });
    await first.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 60_000 });

    // Left behind by handler 2 (a crash after registration): a VM and a runner no job owns.
    const lost = `${prefix2}${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`;
    ankaCli(w, 'clone', TEMPLATE, lost);
    const registered = await fetch(`${sim.url}/orgs/acme/actions/runners/generate-jitconfig`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: lost, labels: ['self-hosted'], runner_group_id: 1 }),
    });
    expect(registered.status).toBe(201);
    // Another handler's VM on this host, e.g. one a Go anklet made: nobody here may delete it.
    ankaCli(w, 'clone', TEMPLATE, 'anklet-vm-not-ours');

    // SIGINT while the job runs: its VM stays for the next start (the Go rule).
    first.signal('SIGINT');
    expect((await first.exited).code).toBe(0);
    const second = start(w, config, home);
    await second.waitFor(msg('github handler started'), { count: 2, timeoutMs: 60_000 });
    expect(second.lines.some(msg('found job of a previous run still in its vm; watching it'))).toBe(true);
    const deletedVms = second.lines.filter(msg('deleting orphaned vm that no job owns')).map((l) => l.vmName);
    const deletedRunners = second.lines.filter(msg('deleting orphaned runner that no job owns')).map((l) => l.runnerName);
    expect(deletedVms).toEqual([lost]);
    expect(deletedRunners).toEqual([lost]);
    expect((await sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await second.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    expect(ankletVms(w)).toEqual(['anklet-vm-not-ours']);
    const text = await (await fetch(`http://127.0.0.1:${metricsPortOf(config)}/metrics/v1?format=prometheus`)).text();
    expect(text).toMatch(/^anklet_orphans_cleaned_total\{.*kind="runner".*GITHUB_HANDLER2.*\} 1$|^anklet_orphans_cleaned_total\{.*GITHUB_HANDLER2.*kind="runner".*\} 1$/m);
    ankaCli(w, 'delete', '--yes', 'anklet-vm-not-ours');
  });
});

/** The metrics port written into a config by {@link hostConfig}. */
function metricsPortOf(config: string): number {
  return Number(/^ {2}port: (\d+)$/m.exec(readFileSync(config, 'utf8'))?.[1]);
}
