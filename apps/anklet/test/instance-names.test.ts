import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { InstanceHolder, Logger } from '@anklet/core';
import { HostMetrics } from '@anklet/metrics';
import { createEmbeddedJobStore } from '@anklet/redis/embedded';
import { afterEach, describe, expect, it } from 'vitest';
import { hostIdentity } from '../src/host/host-identity.js';
import { InstanceNames } from '../src/host/instance-names.js';
import { isProcessAlive } from '../src/host/process-alive.js';
import { Supervisor } from '../src/host/supervisor.js';
import { makeTmp } from './helpers.js';

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps its lines, to assert on what operators would read. */
function memoryLogger(lines: Line[]): Logger {
  const write = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => lines.push({ level, msg, fields });
  const logger: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: () => logger, addSecret: () => {} };
  return logger;
}

/** Polls `check` until it holds (bounded: a loaded machine is slow, never a fixed sleep). */
async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const stores: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function openStore(dir: string) {
  const store = createEmbeddedJobStore({ dir });
  stores.push(store);
  return store;
}

/** A pid that no process has any more: a child that already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await new Promise((r) => child.on('close', r));
  expect(isProcessAlive(pid)).toBe(false);
  return pid;
}

describe('host identity', () => {
  it('is stable for one machine and work dir, and differs for another machine or work dir', () => {
    const dir = makeTmp();
    const work = path.join(dir, 'work');
    const first = hostIdentity(work, 'machine-a');
    expect(first.hostId).toMatch(/^[0-9a-f]{16}$/);
    expect(first.pid).toBe(process.pid);
    // The folder now exists; the id made before it existed is the id made after.
    expect(hostIdentity(work, 'machine-a').hostId).toBe(first.hostId);
    // A symlinked path to the same folder is the same work dir.
    symlinkSync(work, path.join(dir, 'link'));
    expect(hostIdentity(path.join(dir, 'link'), 'machine-a').hostId).toBe(first.hostId);
    expect(hostIdentity(work, 'machine-b').hostId).not.toBe(first.hostId);
    mkdirSync(path.join(dir, 'other'));
    expect(hostIdentity(path.join(dir, 'other'), 'machine-a').hostId).not.toBe(first.hostId);
  });
});

describe('instance names', () => {
  const metrics = new HostMetrics();

  it('waits while another live host holds the name, naming it once, then takes the name when it is released', async () => {
    const store = openStore(path.join(makeTmp(), 'store'));
    const other: InstanceHolder = { hostId: 'ffff000000000000', hostName: 'mac-other', pid: 4242, workDir: '/Users/ci/.config/anklet' };
    expect(await store.registerInstance('RUNNER1', other, 60_000)).toEqual({ held: true });
    const names = new InstanceNames(hostIdentity(makeTmp(), 'machine-a'), 600);
    const lines: Line[] = [];
    const pluginMetrics = metrics.forPlugin({ name: 'RUNNER1', plugin: 'github', owner: '', repo: '' });
    let refused = 0;
    const controller = new AbortController();
    const acquired = names.acquire('RUNNER1', store, { signal: controller.signal, logger: memoryLogger(lines), metrics: pluginMetrics, onRefused: () => (refused += 1) });
    await until(() => refused === 1, 'the refusal');
    const error = lines.find((l) => l.level === 'error')!;
    expect(error.msg).toBe('handler instance name "RUNNER1" is held by anklet on mac-other (pid 4242, work dir /Users/ci/.config/anklet); not starting it here');
    expect(error.fields.code).toBe('ANKLET_ERR_INSTANCE_NAME_TAKEN');
    expect(String(error.fields.hint)).toContain('rename this plugin in config.yml');
    expect(JSON.stringify(await metrics.snapshot())).toContain('name_taken');
    // Asked again and again meanwhile, logged once.
    await store.releaseInstance('RUNNER1', other);
    expect(await acquired).toBe(true);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(refused).toBe(1);
    expect(await store.registerInstance('RUNNER1', other, 60_000)).toMatchObject({ held: false, holder: names.holder });
    // A clean exit releases it.
    await names.releaseAll();
    expect(await store.registerInstance('RUNNER1', other, 60_000)).toEqual({ held: true });
  });

  it('takes the name at once from an earlier process of this host and work dir that is gone', async () => {
    const store = openStore(path.join(makeTmp(), 'store'));
    const me = hostIdentity(makeTmp(), 'machine-a');
    const crashed: InstanceHolder = { ...me, pid: await deadPid() };
    expect(await store.registerInstance('RUNNER1', crashed, 60_000)).toEqual({ held: true });
    const names = new InstanceNames(me, 60_000);
    const lines: Line[] = [];
    const controller = new AbortController();
    const pluginMetrics = metrics.forPlugin({ name: 'RUNNER1', plugin: 'github', owner: '', repo: '' });
    expect(await names.acquire('RUNNER1', store, { signal: controller.signal, logger: memoryLogger(lines), metrics: pluginMetrics })).toBe(true);
    expect(lines.map((l) => l.msg)).toContain('taking over the instance name from an earlier anklet process of this host that is gone');
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    await names.releaseAll();
  });

  it('refuses a live process of this host and work dir, naming it as such', async () => {
    const store = openStore(path.join(makeTmp(), 'store'));
    const me = hostIdentity(makeTmp(), 'machine-a');
    // The test runner's parent is alive: it stands for the other anklet process.
    const running: InstanceHolder = { ...me, pid: process.ppid };
    expect(await store.registerInstance('RUNNER1', running, 60_000)).toEqual({ held: true });
    const names = new InstanceNames(me, 60_000);
    const lines: Line[] = [];
    const controller = new AbortController();
    const pluginMetrics = metrics.forPlugin({ name: 'RUNNER1', plugin: 'github', owner: '', repo: '' });
    const acquired = names.acquire('RUNNER1', store, { signal: controller.signal, logger: memoryLogger(lines), metrics: pluginMetrics });
    await until(() => lines.some((l) => l.level === 'error'), 'the refusal');
    expect(lines.find((l) => l.level === 'error')?.msg).toBe(
      `handler instance name "RUNNER1" is held by another anklet process of this host (pid ${process.ppid}, work dir ${me.workDir}); not starting it here`,
    );
    // A stop ends the wait without the name.
    controller.abort();
    expect(await acquired).toBe(false);
    expect(await store.registerInstance('RUNNER1', running, 60_000)).toEqual({ held: true });
  });

  it('the supervisor starts the next plugin while one waits for its name, and stops the waiting one on request', async () => {
    const events: string[] = [];
    const logger = memoryLogger([]);
    const make = (name: string, claimName?: (signal: AbortSignal, onRefused: () => void) => Promise<boolean>) => ({
      name,
      onFailure: 'shutdown' as const,
      sleepIntervalSeconds: 0,
      logger,
      metrics: metrics.forPlugin({ name, plugin: 'test', owner: '', repo: '' }),
      claimName,
      makeContext: (signal: AbortSignal) => ({ signal }) as never,
      create: () => {
        events.push(`${name} created`);
        return {};
      },
    });
    const waiting = make('WAITS', (signal, onRefused) => {
      onRefused();
      return new Promise<boolean>((resolve) => signal.addEventListener('abort', () => resolve(false)));
    });
    const sup = new Supervisor([waiting, make('NEXT')], { logger, isDraining: () => false });
    const done = sup.run();
    await until(() => events.includes('NEXT created'), 'the next plugin');
    expect(events).not.toContain('WAITS created');
    sup.requestShutdown('graceful');
    expect(await done).toEqual({ pluginFailed: false });
    expect(events).not.toContain('WAITS created');
  });
});
