import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createAnkaSimHome, type AnkaSimHome } from '@anklet/anka-sim';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import type { JobStore } from '@anklet/core';
import { Redis } from 'ioredis';
import { afterEach, type ExpectStatic, type TestContext } from 'vitest';
import { RUNNER_CLI, RunningAnklet, runnerFiles, writeFile } from '../../../apps/anklet/test/helpers.js';
import { GiB, TEMPLATE } from './setup.js';

/**
 * One scenario's world for the end-to-end tests that run several `anklet` processes (recovery,
 * fleet identity): its own Anka host(s) (anka-sim homes; the anklet hosts given one share it as if
 * they ran on one Mac), github-sim and redis-server, so scenarios run concurrently without sharing
 * VM slots, faults or queues. After each test every process is stopped and the world checked:
 * no anklet VM left on any of its Macs, no runner left at GitHub, no job still claimed.
 */
export interface World {
  readonly redis: RedisServer;
  /** The first Mac. */
  readonly anka: AnkaSimHome;
  /** Every Mac of the world ({@link World.anka} first). */
  readonly macs: AnkaSimHome[];
  readonly sim: GitHubSim;
  /** The Redis job store (the same data the hosts use, unless a scenario runs on the embedded store). */
  readonly store: JobStore;
  readonly receiverPort: number;
  readonly runs: RunningAnklet[];
  readonly homes: string[];
  /** The token the hosts use (checked absent from every process's output). */
  readonly token: string;
  readonly pluginsPath: string;
  readonly shared: string;
}

const SECRET = 'e2e-world-webhook-secret';
const worlds = new Map<string, World>();

/** A simulated Mac with the scenario template on it already. */
function newMac(): AnkaSimHome {
  return createAnkaSimHome({
    registry: {
      pullDurationMs: 100,
      templates: [{ name: 'anklet', uuid: TEMPLATE, tags: [{ tag: '1c2r', cpuCores: 1, ramBytes: 2 * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles }] }],
    },
    // On the host already: every scenario starts VMs from it.
    templates: [{ name: 'anklet', uuid: TEMPLATE, tag: '1c2r', files: runnerFiles }],
    guestEnv: { GITHUB_SIM_RUNNER: RUNNER_CLI },
  });
}

/** Makes the test's world; `afterEach` (registered by {@link useWorlds}) takes it down. */
export async function makeWorld(ctx: TestContext, options: { shared: string; pluginsPath: string; token: string }): Promise<World> {
  const anka = newMac();
  const [redis, receiverPort] = await Promise.all([startRedisServer({ allowExternal: false }), findFreePort()]);
  const sim = await startGitHubSim({ tokens: [options.token], hooks: [{ org: 'acme', url: `http://127.0.0.1:${receiverPort}/jobs/v1/receiver`, secret: SECRET }] });
  const store = createRedisJobStore({ redis: new Redis(redis.url), prefix: 'anklet' });
  const w: World = { redis, anka, macs: [anka], sim, store, receiverPort, runs: [], homes: [], token: options.token, pluginsPath: options.pluginsPath, shared: options.shared };
  worlds.set(ctx.task.id, w);
  return w;
}

/** Another Mac in the world (its own anka-sim home). */
export function addMac(w: World): AnkaSimHome {
  const mac = newMac();
  w.macs.push(mac);
  return mac;
}

/** Registers the `afterEach` that stops each test's processes, checks its world and removes it. */
export function useWorlds(): void {
  afterEach(async ({ task, expect }) => {
    const w = worlds.get(task.id);
    worlds.delete(task.id);
    if (!w) return;
    try {
      for (const run of w.runs) {
        if (run.child.exitCode === null && run.child.signalCode === null) run.signal('SIGTERM');
        const result = await run.exited;
        for (const output of [result.stdout, result.stderr]) expect(output).not.toContain(w.token);
      }
      for (const mac of w.macs) expect(ankletVms(mac)).toEqual([]);
      expect(w.sim.control.runners()).toEqual([]);
      expect((await w.store.stats('acme')).claimed).toBe(0);
    } finally {
      await w.store.close();
      await w.sim.close();
      await w.redis.stop();
      for (const mac of w.macs) mac.remove();
      for (const home of w.homes) rmSync(home, { recursive: true, force: true });
    }
  });
}

/** A new anklet home (not the helpers' makeTmp: it empties every test's folders after each test, and these run concurrently). */
export function newHome(w: World, prefix: string): string {
  const home = mkdtempSync(path.join(w.shared, prefix));
  w.homes.push(home);
  return home;
}

/**
 * Host config: the receiver (when `receiver`) and handler blocks (`name` → extra YAML lines), on
 * the world's Redis, or on the embedded store in `embeddedWorkDir` when given.
 */
export async function hostConfig(w: World, home: string, handlers: Record<string, string>, receiver: boolean, options: { embeddedWorkDir?: string } = {}): Promise<string> {
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
  const database = options.embeddedWorkDir
    ? `work_dir: ${options.embeddedWorkDir}\n`
    : `global_database_url: 127.0.0.1
global_database_port: ${w.redis.port}
`;
  return writeFile(
    path.join(home, 'config.yml'),
    `plugins_path: ${w.pluginsPath}
${database}global_receiver_secret: ${SECRET}
global_token: ${w.token}
metrics:
  port: ${await findFreePort()}
  address: 127.0.0.1
plugins:
${receiverBlock}${blocks}`,
  );
}

/** Starts `anklet -c config` as a host on `mac` (default: the world's first Mac). */
export function startHost(w: World, config: string, home: string, mac: AnkaSimHome = w.anka): RunningAnklet {
  // The child finds this Mac's simulated `anka` first on its PATH.
  const run = new RunningAnklet(['-c', config], { home, env: mac.env });
  w.runs.push(run);
  return run;
}

/** The `vmNamePrefix` a handler announced at start. */
export function prefixOf(expect: ExpectStatic, run: RunningAnklet, handler: string): string {
  const line = run.lines.find((l) => l.msg === 'github handler started' && (l.attributes as { name?: string } | undefined)?.name === handler);
  const prefix = String(line?.vmNamePrefix ?? '');
  expect(prefix).toMatch(/^anklet-vm-[0-9a-f]{12}-$/);
  return prefix;
}

/** The anklet VMs on one Mac. */
export const ankletVms = (mac: AnkaSimHome) =>
  mac
    .readState()
    .vms.filter((vm) => vm.name.startsWith('anklet-vm-'))
    .map((vm) => vm.name);
/** Runs the simulated `anka` of one Mac. */
export const ankaCli = (mac: AnkaSimHome, ...args: string[]) => execFileSync('anka', ['-j', ...args], { env: { ...process.env, ...mac.env }, stdio: 'pipe' });
/** The labels of a job for the scenario template; `name` makes the per-job label. */
export const labels = (name: string) => [`anka-template:${TEMPLATE}`, 'anka-template-tag:1c2r', `${name}-0`];

/** The metrics port written into a config by {@link hostConfig}. */
export function metricsPortOf(config: string): number {
  return Number(/^ {2}port: (\d+)$/m.exec(readFileSync(config, 'utf8'))?.[1]);
}

/** The Prometheus text of a host's metrics endpoint. */
export async function prometheusOf(config: string): Promise<string> {
  return (await fetch(`http://127.0.0.1:${metricsPortOf(config)}/metrics/v1?format=prometheus`)).text();
}
