import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ankaSimBinDir, createAnkaSimHome, type AnkaSimHome, type RegistryTemplateSeed } from '@anklet/anka-sim';
import type { JobStore, JobTimeline } from '@anklet/core';
import { startGitHubSim, type GitHubSim, type GitHubSimOptions } from '@anklet/github-sim';
import { createEmbeddedJobStore, createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { RunningAnklet, msg, runCli, type Run } from './anklet-process.js';
import { JobTracker, type FleetEvent, type FleetJob } from './job-tracker.js';
import { HARDWARE_PRELOAD, RUNNER_CLI } from './paths.js';
import { installFleetPlugins } from './plugins.js';
import { FLEET_TEMPLATE, simulatedTemplate } from './templates.js';

/** One `anklet` process of the fleet. */
export interface FleetHostSpec {
  /** Host name, also the prefix of its plugin names (`mac-1` → `MAC_1_HANDLER1`). */
  name: string;
  /** Handler plugins (VM slots compete for the host's two). Default 0. */
  handlers?: number;
  /** Runs a `github_receiver` that github-sim delivers webhooks to. Default false. */
  receiver?: boolean;
  /** Extra YAML lines for each handler block, e.g. `'registration_timeout_seconds: 6'`. */
  handlerConfig?: string;
  /** The handlers' `sleep_interval` (seconds between polls when no wake-up comes). Default 1. */
  sleepInterval?: number;
  /** Extra YAML lines for the receiver block, e.g. `'queue_name: shared'`. */
  receiverConfig?: string;
  /**
   * The receiver redelivers failed deliveries (`skip_redeliver: false`, the hook's id, the fleet
   * token): at start and then every `intervalSeconds` (default 5, the smallest allowed). Default off.
   */
  redeliver?: boolean | { intervalSeconds?: number };
  /** Simulated hardware the host's `anklet` sizes VMs against (default: this machine's). */
  hardware?: { cpuCores?: number; memoryGiB?: number };
  /** Extra environment of the host's `anklet`, e.g. `{ MAC_1_HANDLER1_QUEUE_NAME: 'shared' }` (env overrides). */
  env?: Record<string, string>;
  /**
   * Pull every template tag (or, given uuids, those templates' tags) onto this host before anklet
   * starts; overrides the fleet's `prePull` for this host (e.g. one host holding a template and
   * another not, for template affinity).
   */
  prePull?: boolean | string[];
  /** Start the host with the fleet (default true); false: only `startHost(name)` starts it. */
  start?: boolean;
  /**
   * Prefix of its plugin names instead of the one made from `name`: another host's prefix makes
   * a config copied between Macs without renaming its plugins (`MAC_1` → `MAC_1_HANDLER1`, ...).
   */
  pluginPrefix?: string;
}

/** Options for {@link startFleet}. */
export interface StartFleetOptions {
  /** `embedded` (default): one host, no Redis. `redis`: hosts share a redis-server the fleet starts. */
  store?: 'embedded' | 'redis';
  /** Default: one host with a receiver and two handlers (embedded), or a receiver host and two hosts with two handlers each (redis). */
  hosts?: FleetHostSpec[];
  /** Owner (organization) of the repositories and the queue. Default `acme`. */
  owner?: string;
  /** Registry templates of every host's anka-sim. Default: {@link simulatedTemplate}(). */
  templates?: RegistryTemplateSeed[];
  /** Simulated Anka latency (ms). Default all 0. */
  ankaLatency?: { pullMs?: number; cloneMs?: number; startMs?: number };
  /** Pull every template tag onto every host before anklet starts (no pull in the job path). */
  prePull?: boolean;
  /** Extra github-sim options (job defaults, rate limit, seed, ...). */
  sim?: GitHubSimOptions;
  /** An already installed `plugins_path` to use instead of packing and installing into the fleet's own. */
  pluginsPath?: string;
  /** Where to keep everything (removed by `stop()` when the fleet created it). */
  dir?: string;
  /** How long to wait for each host to be ready (ms). Default 60 s. */
  readyTimeoutMs?: number;
}

/** A host of the fleet: its config, anka-sim home and current process. */
export interface FleetHost {
  readonly name: string;
  /** Plugin names of its handlers. */
  readonly handlers: string[];
  readonly receiver: boolean;
  readonly spec: FleetHostSpec;
  readonly home: string;
  readonly config: string;
  readonly anka: AnkaSimHome;
  readonly metricsUrl: string;
  /** The current (or last) process; every process it had, oldest first, in `runs`. */
  process: RunningAnklet | undefined;
  readonly runs: RunningAnklet[];
}

/** A job to dispatch. */
export interface FleetJobSpec {
  name: string;
  /** Repository (`owner/name`); default `<owner>/app`. */
  repository?: string;
  /** How the simulated runner ends it; default github-sim's default (`success`). */
  conclusion?: 'success' | 'failure' | 'cancelled';
  durationMs?: number;
  /** Template uuid (default the fleet template) or `'missing'` for one no registry has. */
  template?: string;
  tag?: string;
  /** Replaces the computed `runs-on` labels. */
  labels?: string[];
  /** The conclusion that counts as right (default `conclusion`, or `cancelled` for a missing template). */
  expect?: string;
}

/** What a fleet left behind. Empty arrays and zero counts mean clean. */
export interface Leftovers {
  vms: Array<{ host: string; name: string; status: string }>;
  runners: Array<{ id: unknown; name: unknown }>;
  /** Jobs still claimed in the store (undefined: the embedded store of a running host cannot be read). */
  claimed: number | undefined;
  /** Jobs waiting in the store: queued or handed off. */
  queued: number | undefined;
}

/** VM slots of one host, read from its anka-sim. */
export interface HostSlots {
  host: string;
  vms: Array<{ name: string; status: string }>;
  limit: number;
}

/** A running fleet. */
export interface Fleet {
  readonly dir: string;
  readonly store: 'embedded' | 'redis';
  readonly owner: string;
  readonly sim: GitHubSim;
  /** The fleet's redis-server (restart it with `redis.restart(downMs)`), in `redis` mode. */
  readonly redis: RedisServer | undefined;
  readonly pluginsPath: string;
  readonly hosts: FleetHost[];
  host(name: string): FleetHost;
  /** Queues jobs in github-sim; webhooks go to the receivers. */
  dispatch(jobs: FleetJobSpec | FleetJobSpec[]): FleetJob[];
  /** Queues one run with several jobs (a matrix); `repository` of the specs is ignored. */
  dispatchRun(jobs: FleetJobSpec[], options?: { repository?: string; workflowName?: string }): FleetJob[];
  jobs(): FleetJob[];
  /** Every change of a job's state, as it happens. */
  onEvent(listener: (event: FleetEvent) => void): () => void;
  slots(): HostSlots[];
  /** Resolves when every dispatched job is done (completed on GitHub and cleaned up by its handler). */
  waitForAll(options?: { timeoutMs?: number }): Promise<FleetJob[]>;
  /**
   * Starts (or restarts) a host's `anklet` and waits until it is ready (every handler started, the
   * receiver listening), unless `ready: false` (a host expected not to get there, e.g. one whose
   * plugin names another host holds); `env` goes on top of the spec's for this run.
   */
  startHost(name: string, options?: { env?: Record<string, string>; ready?: boolean }): Promise<RunningAnklet>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stopHost(name: string, signal?: NodeJS.Signals): Promise<Run>;
  /** `stopHost(name, 'SIGKILL')`. */
  killHost(name: string, signal?: NodeJS.Signals): Promise<Run>;
  /** Stops the host (SIGKILL by default) and starts it again. */
  restartHost(name: string, signal?: NodeJS.Signals, options?: { env?: Record<string, string> }): Promise<RunningAnklet>;
  /**
   * Stops every receiver host (deliveries then fail, as when a receiver is down) / starts them again.
   * Refused when a receiver host also runs handlers (stop that one with `stopHost`).
   */
  stopReceiver(signal?: NodeJS.Signals): Promise<void>;
  startReceiver(): Promise<void>;
  /** VMs in every anka-sim, runners in github-sim, claimed jobs in the store. */
  leftovers(): Promise<Leftovers>;
  /**
   * The store's timeline of each dispatched job (by GitHub job id; a job the store has no timeline
   * for is left out). Undefined while the embedded store's host runs (its database is the host's own):
   * stop that host first.
   */
  timelines(): Promise<Map<number, JobTimeline> | undefined>;
  /** Runs `anklet status` against the fleet's Redis (redis mode). */
  status(args?: string[]): Promise<Run>;
  /** Stops hosts gracefully, reads the leftovers, then removes everything; returns the leftovers. */
  stop(): Promise<Leftovers>;
}

const SECRET = 'fleet-webhook-secret';
const TOKEN = 'ghp_fleet_token_never_logged';
/** A template uuid that no simulated registry has. */
export const MISSING_TEMPLATE = 'c092c6f6-198c-470f-9526-9c998efe7ab5';

/** Plugin-name prefix of a host (`mac-1` → `MAC_1`). */
const prefixOf = (host: string) => host.toUpperCase().replace(/[^A-Z0-9]/g, '_');

function defaultHosts(store: 'embedded' | 'redis'): FleetHostSpec[] {
  if (store === 'embedded') return [{ name: 'host', receiver: true, handlers: 2 }];
  return [
    { name: 'receiver', receiver: true },
    { name: 'mac-1', handlers: 2 },
    { name: 'mac-2', handlers: 2 },
  ];
}

/**
 * Starts a whole fleet on this machine: github-sim, an anka-sim per host (its own `ANKA_SIM_HOME`),
 * a redis-server in `redis` mode, the fleet's plugins packed and installed with `anklet plugins
 * install`, and one real `anklet` per host; resolves once every host is ready.
 */
export async function startFleet(options: StartFleetOptions = {}): Promise<Fleet> {
  const store = options.store ?? 'embedded';
  const owner = options.owner ?? 'acme';
  const specs = options.hosts ?? defaultHosts(store);
  if (store === 'embedded' && (specs.length !== 1 || !specs[0]!.receiver)) {
    throw new Error('the embedded store is one process: give exactly one host, with the receiver and the handlers');
  }
  const ownDir = !options.dir;
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'anklet-fleet-'));
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
  };
  // A Ctrl-C'd or crashed process must not leave its temp folder behind.
  const removeDir = () => {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', removeDir);
  cleanups.push(() => {
    process.off('exit', removeDir);
    removeDir();
  });

  try {
    const pluginsPath = options.pluginsPath ?? path.join(dir, 'plugins');
    const installing = options.pluginsPath ? Promise.resolve() : installFleetPlugins(pluginsPath);
    const redis = store === 'redis' ? await startRedisServer({ allowExternal: false }) : undefined;
    if (redis) cleanups.push(() => redis.stop());
    const receiverPorts = new Map<string, number>();
    for (const spec of specs) if (spec.receiver) receiverPorts.set(spec.name, await findFreePort());
    const hookUrl = (port: number) => `http://127.0.0.1:${port}/jobs/v1/receiver`;
    const sim = await startGitHubSim({
      ...options.sim,
      tokens: [TOKEN, ...(options.sim?.tokens ?? [])],
      hooks: [...receiverPorts.values()].map((port) => ({ org: owner, url: hookUrl(port), secret: SECRET })),
    });
    const hookIdOf = (port: number) => Number(sim.control.hooks().find((h) => h.url === hookUrl(port))?.id);
    cleanups.push(() => sim.close());
    const tracker = new JobTracker(sim);
    const poller = setInterval(() => tracker.poll(), 100);
    cleanups.push(() => clearInterval(poller));

    const templates = options.templates ?? [simulatedTemplate()];
    const pull = promisify(execFile);
    const pulls: Array<Promise<void>> = [];
    const latency = options.ankaLatency ?? {};
    const hosts: FleetHost[] = [];
    for (const spec of specs) {
      const home = path.join(dir, 'hosts', spec.name);
      mkdirSync(home, { recursive: true });
      const anka = createAnkaSimHome({
        dir: path.join(home, 'anka'),
        registry: { templates, pullDurationMs: latency.pullMs ?? 0 },
        guestEnv: { GITHUB_SIM_RUNNER: RUNNER_CLI },
        faults: [
          ...(latency.cloneMs ? [{ command: 'clone', delayMs: latency.cloneMs }] : []),
          ...(latency.startMs ? [{ command: 'start', delayMs: latency.startMs }] : []),
        ],
      });
      cleanups.push(() => anka.remove());
      const metricsPort = await findFreePort();
      const prefix = spec.pluginPrefix ?? prefixOf(spec.name);
      const handlers = Array.from({ length: spec.handlers ?? 0 }, (_, i) => `${prefix}_HANDLER${i + 1}`);
      const receiverPort = receiverPorts.get(spec.name);
      const redeliver = spec.redeliver && receiverPort !== undefined ? { hookId: hookIdOf(receiverPort), intervalSeconds: (typeof spec.redeliver === 'object' ? spec.redeliver.intervalSeconds : undefined) ?? 5 } : undefined;
      const config = writeConfig({ home, pluginsPath, redis, owner, hostName: spec.name, metricsPort, receiverPort, prefix, handlers, sim, extra: spec.handlerConfig ?? '', sleepInterval: spec.sleepInterval ?? 1, receiverExtra: spec.receiverConfig ?? '', redeliver });
      hosts.push({ name: spec.name, handlers, receiver: Boolean(spec.receiver), spec, home, config, anka, metricsUrl: `http://127.0.0.1:${metricsPort}/`, process: undefined, runs: [] });
      const prePull = spec.prePull ?? options.prePull;
      if (prePull && handlers.length > 0) {
        const toPull = Array.isArray(prePull) ? templates.filter((t) => prePull.includes(t.uuid ?? t.name)) : templates;
        // One pull at a time per host (as one Anka would), hosts in parallel, while the plugins install.
        pulls.push(
          (async () => {
            for (const t of toPull) for (const tag of t.tags) await pull('anka', ['-j', 'registry', 'pull', '--shrink', t.uuid ?? t.name, '--tag', tag.tag], { env: { ...process.env, ...anka.env } });
          })(),
        );
      }
    }
    await Promise.all([installing, ...pulls]);

    const host = (name: string) => {
      const found = hosts.find((h) => h.name === name);
      if (!found) throw new Error(`no host ${name} in the fleet (hosts: ${hosts.map((h) => h.name).join(', ')})`);
      return found;
    };

    const startHost = async (name: string, startOptions: { env?: Record<string, string>; ready?: boolean } = {}): Promise<RunningAnklet> => {
      const h = host(name);
      if (h.process?.running) throw new Error(`host ${name} is already running`);
      const hw = h.spec.hardware;
      const hardwareEnv: Record<string, string> = {};
      if (hw?.cpuCores) hardwareEnv.FLEET_HOST_CPU_CORES = String(hw.cpuCores);
      if (hw?.memoryGiB) hardwareEnv.FLEET_HOST_MEMORY_BYTES = String(Math.round(hw.memoryGiB * 2 ** 30));
      const run = new RunningAnklet(['-c', h.config], {
        home: h.home,
        env: { ANKA_SIM_HOME: h.anka.dir, PATH: `${ankaSimBinDir()}${path.delimiter}${process.env.PATH ?? ''}`, ...hardwareEnv, ...h.spec.env, ...startOptions.env },
        nodeArgs: hw ? ['--import', pathToFileURL(HARDWARE_PRELOAD).href] : [],
      });
      h.process = run;
      h.runs.push(run);
      run.onLine((line) => tracker.line(name, line));
      if (startOptions.ready === false) return run;
      if (h.handlers.length > 0) await run.waitFor(msg('github handler started'), { count: h.handlers.length, timeoutMs: readyTimeoutMs });
      if (h.receiver) await run.waitFor(msg('receiver listening'), { timeoutMs: readyTimeoutMs });
      return run;
    };
    const stopHost = async (name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<Run> => {
      const run = host(name).process;
      if (!run) throw new Error(`host ${name} was never started`);
      if (run.running) run.signal(signal);
      // A graceful stop that hangs is ended, so that stop() always finishes.
      const timer = setTimeout(() => run.signal('SIGKILL'), 60_000);
      const result = await run.exited;
      clearTimeout(timer);
      return result;
    };
    const stopAll = async () => {
      await Promise.all(hosts.filter((h) => h.process?.running).map((h) => stopHost(h.name)));
    };
    cleanups.push(stopAll);

    const openStore = (): { store: JobStore; close: () => Promise<void> } | undefined => {
      if (redis) {
        const s = createRedisJobStore({ redis: new Redis(redis.url, { maxRetriesPerRequest: 1 }), prefix: 'anklet' });
        return { store: s, close: () => s.close() };
      }
      const h = hosts[0]!;
      if (h.process?.running) return undefined;
      const s = createEmbeddedJobStore({ dir: path.join(h.home, '.config', 'anklet', 'store') });
      return { store: s, close: () => s.close() };
    };

    const leftovers = async (): Promise<Leftovers> => {
      const vms = hosts.flatMap((h) => h.anka.readState().vms.filter((vm) => vm.name.startsWith('anklet-vm-')).map((vm) => ({ host: h.name, name: vm.name, status: String(vm.status) })));
      const runners = sim.control.runners().map((r) => ({ id: r.id, name: r.name }));
      const opened = openStore();
      let claimed: number | undefined;
      let queued: number | undefined;
      if (opened) {
        try {
          const stats = await opened.store.stats(owner);
          claimed = stats.claimed;
          // Handed-off jobs wait too (in their own part of the queue).
          queued = stats.queued + stats.handedOff;
        } finally {
          await opened.close();
        }
      }
      return { vms, runners, claimed, queued };
    };

    // A job for github-sim and its FleetJob, shared by dispatch() and dispatchRun().
    const simJob = (spec: FleetJobSpec) => {
      const template = spec.template === 'missing' ? MISSING_TEMPLATE : (spec.template ?? FLEET_TEMPLATE);
      return {
        labels: spec.labels ?? [`anka-template:${template}`, `anka-template-tag:${spec.tag ?? '1c2r'}`, `${spec.name}-${Date.now().toString(36)}`],
        name: spec.name,
        ...(spec.conclusion ? { conclusion: spec.conclusion } : {}),
        ...(spec.durationMs !== undefined ? { durationMs: spec.durationMs } : {}),
      };
    };
    const track = (spec: FleetJobSpec, id: unknown, runId: unknown): FleetJob => {
      const job: FleetJob = {
        id: Number(id),
        runId: Number(runId),
        name: spec.name,
        expected: spec.expect ?? spec.conclusion ?? (spec.template === 'missing' ? 'cancelled' : undefined),
        state: 'queued',
        conclusion: undefined,
        host: undefined,
        handler: undefined,
        vmName: undefined,
        claims: 0,
        starts: 0,
        startedIn: [],
        times: { dispatched: Date.now() },
      };
      tracker.add(job);
      return job;
    };

    const fleet: Fleet = {
      dir,
      store,
      owner,
      sim,
      redis,
      pluginsPath,
      hosts,
      host,
      dispatch(input) {
        const list = Array.isArray(input) ? input : [input];
        return list.map((spec) => {
          const gh = sim.control.dispatchJob({ repository: spec.repository ?? `${owner}/app`, ...simJob(spec) });
          return track(spec, gh.id, gh.run_id);
        });
      },
      dispatchRun(specs, runOptions = {}) {
        const run = sim.control.dispatchRun({
          repository: runOptions.repository ?? `${owner}/app`,
          ...(runOptions.workflowName ? { workflowName: runOptions.workflowName } : {}),
          jobs: specs.map(simJob),
        });
        return specs.map((spec, i) => track(spec, run.jobs[i]!.id, run.run_id));
      },
      jobs: () => tracker.all(),
      onEvent: (listener) => tracker.onEvent(listener),
      slots: () =>
        hosts
          .filter((h) => h.handlers.length > 0)
          .map((h) => {
            const state = h.anka.readState();
            return { host: h.name, limit: state.host.vm_limit, vms: state.vms.filter((vm) => vm.name.startsWith('anklet-vm-')).map((vm) => ({ name: vm.name, status: String(vm.status) })) };
          }),
      async waitForAll({ timeoutMs = 120_000 } = {}) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          tracker.poll();
          const open = tracker.all().filter((j) => j.state !== 'done');
          if (open.length === 0) return tracker.all();
          if (Date.now() > deadline) {
            const describe = (j: FleetJob) => {
              const gh = sim.control.job(j.id);
              return `${j.name} #${j.id}: ${j.state} on ${j.host ?? '-'}/${j.handler ?? '-'}, claims ${j.claims}, GitHub ${String(gh?.status)}/${String(gh?.conclusion ?? '-')}`;
            };
            throw new Error(`${open.length} jobs not done after ${timeoutMs} ms:\n  ${open.map(describe).join('\n  ')}`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      startHost,
      stopHost,
      killHost: (name, signal = 'SIGKILL') => stopHost(name, signal),
      async restartHost(name, signal = 'SIGKILL', restartOptions = {}) {
        await stopHost(name, signal);
        return startHost(name, restartOptions);
      },
      async stopReceiver(signal = 'SIGTERM') {
        const mixed = hosts.filter((h) => h.receiver && h.handlers.length > 0);
        if (mixed.length > 0) throw new Error(`stopReceiver stops receiver-only hosts; ${mixed.map((h) => h.name).join(', ')} also runs handlers`);
        await Promise.all(hosts.filter((h) => h.receiver && h.process?.running).map((h) => stopHost(h.name, signal)));
      },
      async startReceiver() {
        for (const h of hosts.filter((x) => x.receiver && !x.process?.running)) await startHost(h.name);
      },
      leftovers,
      async timelines() {
        const opened = openStore();
        if (!opened) return undefined;
        try {
          const found = new Map<number, JobTimeline>();
          for (const job of tracker.all()) {
            const timeline = await opened.store.getTimeline?.(owner, String(job.id));
            if (timeline) found.set(job.id, timeline);
          }
          return found;
        } finally {
          await opened.close();
        }
      },
      async status(args = []) {
        const h = hosts[0]!;
        return runCli(['-c', h.config, 'status', ...args], { home: h.home });
      },
      async stop() {
        await stopAll();
        try {
          return await leftovers();
        } finally {
          await cleanup();
        }
      },
    };

    // Hosts start in parallel, receivers first so that no delivery finds a closed port.
    const atStart = hosts.filter((h) => h.spec.start !== false);
    await Promise.all(atStart.filter((h) => h.receiver).map((h) => startHost(h.name)));
    await Promise.all(atStart.filter((h) => !h.receiver).map((h) => startHost(h.name)));
    return fleet;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

interface ConfigInput {
  home: string;
  pluginsPath: string;
  redis: RedisServer | undefined;
  owner: string;
  metricsPort: number;
  receiverPort: number | undefined;
  /** `metrics.host_name`: the fleet host's name. */
  hostName: string;
  prefix: string;
  handlers: string[];
  sim: GitHubSim;
  extra: string;
  sleepInterval: number;
  receiverExtra: string;
  redeliver: { hookId: number; intervalSeconds: number } | undefined;
}

/** The host's config.yml, in its own `~/.config/anklet` so that the embedded store lives there too. */
function writeConfig(c: ConfigInput): string {
  const indent = (text: string) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => `    ${l}\n`)
      .join('');
  let yaml = `plugins_path: ${c.pluginsPath}\n`;
  if (c.redis) yaml += `global_database_url: 127.0.0.1\nglobal_database_port: ${c.redis.port}\n`;
  yaml += `global_receiver_secret: ${SECRET}\nglobal_token: ${TOKEN}\nmetrics:\n  port: ${c.metricsPort}\n  address: 127.0.0.1\n  host_name: ${c.hostName}\nplugins:\n`;
  if (c.receiverPort !== undefined) {
    yaml += `  - name: ${c.prefix}_RECEIVER\n    plugin: github_receiver\n    port: ${c.receiverPort}\n    listen_address: 127.0.0.1\n    owner: ${c.owner}\n`;
    yaml += c.redeliver
      ? `    skip_redeliver: false\n    hook_id: ${c.redeliver.hookId}\n    github_base_url: ${c.sim.url}\n    redeliver_hours: 1\n    redeliver_interval_seconds: ${c.redeliver.intervalSeconds}\n`
      : `    skip_redeliver: true\n`;
    yaml += indent(c.receiverExtra);
  }
  for (const name of c.handlers) {
    yaml += `  - name: ${name}\n    plugin: github\n    owner: ${c.owner}\n    github_base_url: ${c.sim.url}\n    sleep_interval: ${c.sleepInterval}\n${indent(c.extra)}`;
  }
  const file = path.join(c.home, '.config', 'anklet', 'config.yml');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, yaml, { mode: 0o600 });
  return file;
}
