import type { Logger, PluginInstance, WorkerContext } from '@anklet/core';
import { describe, expect, it } from 'vitest';
import { HostMetrics } from '@anklet/metrics';
import { Supervisor, type SupervisedPlugin } from '../src/host/supervisor.js';

/** A logger that keeps its lines, to assert on what operators would read. */
function memoryLogger(lines: string[], name: string): Logger {
  const write = (level: string) => (msg: string) => lines.push(`${name} ${level} ${msg}`);
  const logger: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: () => logger, addSecret: () => {} };
  return logger;
}

const metrics = new HostMetrics();
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function plugin(name: string, events: string[], make: (signal: AbortSignal) => PluginInstance, extra: Partial<SupervisedPlugin> = {}): SupervisedPlugin {
  return {
    name,
    onFailure: 'shutdown',
    sleepIntervalSeconds: 0,
    logger: memoryLogger(events, name),
    metrics: metrics.forPlugin({ name, plugin: 'test', owner: '', repo: '' }),
    makeContext: (signal) => ({ signal }) as unknown as WorkerContext,
    create: (ctx) => make(ctx.signal),
    ...extra,
  };
}

const options = { logger: memoryLogger([], 'host'), isDraining: () => false, restartDelayMs: { initial: 5, max: 20 } };

describe('Supervisor', () => {
  it('starts plugins one after another in config order', async () => {
    const events: string[] = [];
    const slowStart = (name: string, ms: number) =>
      plugin(name, events, () => ({
        start: async () => {
          events.push(`${name} start begins`);
          await tick(ms);
          events.push(`${name} ready`);
        },
      }));
    const sup = new Supervisor([slowStart('A', 30), slowStart('B', 1)], options);
    const done = sup.run();
    await tick(60);
    sup.requestShutdown('interrupt');
    await done;
    const order = events.filter((e) => / (start begins|ready)$/.test(e));
    expect(order).toEqual(['A start begins', 'A ready', 'B start begins', 'B ready']);
  });

  it('interrupt aborts each signal and awaits stop(); graceful lets the current run finish without aborting', async () => {
    const events: string[] = [];
    let seen: AbortSignal | undefined;
    const interruptible = plugin('I', events, (signal) => {
      seen = signal;
      return {
        run: () => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
        stop: async () => {
          await tick(20);
          events.push('I stopped');
        },
      };
    });
    const sup = new Supervisor([interruptible], options);
    const done = sup.run();
    await tick(10);
    sup.requestShutdown('interrupt');
    await done;
    expect(seen?.aborted).toBe(true);
    expect(events).toContain('I stopped');

    const graceful: string[] = [];
    let runs = 0;
    let signal: AbortSignal | undefined;
    const slowRun = plugin('G', graceful, (s) => {
      signal = s;
      return {
        run: async () => {
          runs += 1;
          await tick(40);
          graceful.push(`run ${runs} finished`);
        },
        stop: async () => {
          graceful.push('G stopped');
        },
      };
    });
    const sup2 = new Supervisor([slowRun], options);
    const done2 = sup2.run();
    await tick(10);
    sup2.requestShutdown('graceful');
    await done2;
    expect(runs).toBe(1);
    expect(signal?.aborted).toBe(false);
    expect(graceful.filter((e) => !/^G (debug|info|warn|error) /.test(e))).toEqual(['run 1 finished', 'G stopped']);
  });

  it('runs again at once when run() returns { again: true }, else waits sleep_interval', async () => {
    let quick = 0;
    let slow = 0;
    const sup = new Supervisor(
      [
        plugin('Q', [], () => ({ run: async () => ((quick += 1), { again: quick < 50 }) })),
        plugin('S', [], () => ({ run: async () => void (slow += 1) }), { sleepIntervalSeconds: 60 }),
      ],
      options,
    );
    const done = sup.run();
    await tick(100);
    sup.requestShutdown('interrupt');
    await done;
    expect(quick).toBeGreaterThanOrEqual(50);
    expect(slow).toBe(1);
  });

  it('restart: a plugin that fails is created again with back-off', async () => {
    const events: string[] = [];
    let creations = 0;
    const flaky = plugin(
      'R',
      events,
      () => {
        creations += 1;
        if (creations < 3) throw new Error(`bad start ${creations}`);
        return { run: async () => void events.push('R ran') };
      },
      { onFailure: 'restart', sleepIntervalSeconds: 60 },
    );
    const sup = new Supervisor([flaky], options);
    const done = sup.run();
    await tick(150);
    sup.requestShutdown('interrupt');
    const result = await done;
    expect(creations).toBe(3);
    expect(events.filter((e) => e.includes('error starting plugin'))).toHaveLength(2);
    expect(events.filter((e) => e.includes('restarting plugin after failure'))).toHaveLength(2);
    expect(events).toContain('R ran');
    expect(result.pluginFailed).toBe(false);
  });

  it('shutdown policy: a failing plugin stops the others gracefully and reports the failure', async () => {
    const events: string[] = [];
    let otherSignal: AbortSignal | undefined;
    const sup = new Supervisor(
      [
        plugin('OK', events, (signal) => {
          otherSignal = signal;
          return { stop: async () => void events.push('OK stopped') };
        }),
        plugin('BAD', events, () => ({ run: async () => Promise.reject(new Error('plugin not supported')) })),
      ],
      options,
    );
    const result = await sup.run();
    expect(result.pluginFailed).toBe(true);
    expect(sup.mode).toBe('graceful');
    expect(otherSignal?.aborted).toBe(false);
    expect(events).toContain('BAD error error running plugin');
    expect(events).toContain('OK stopped');
    expect(metrics.statusOf('BAD')).toBe('failed');
  });
});
