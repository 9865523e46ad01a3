import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet, type FleetEvent } from '../src/index.js';

/** The harness itself: one embedded host, real anklet, packed plugins; a job of each kind; nothing left. */
describe('startFleet', () => {
  let fleet: Fleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
  });

  it('runs jobs to their conclusions, follows them through their states, and leaves nothing behind', async () => {
    fleet = await startFleet({ hosts: [{ name: 'solo', receiver: true, handlers: 1 }], prePull: true });
    expect(fleet.hosts.map((h) => h.handlers)).toEqual([['SOLO_HANDLER1']]);
    const events: FleetEvent[] = [];
    fleet.onEvent((e) => events.push(e));
    const [ok, failed, missing] = fleet.dispatch([
      { name: 'ok', conclusion: 'success', durationMs: 300 },
      { name: 'fails', conclusion: 'failure', durationMs: 300 },
      { name: 'no-template', template: 'missing' },
    ]);
    const done = await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(done.map((j) => [j.name, j.conclusion, j.expected])).toEqual([
      ['ok', 'success', 'success'],
      ['fails', 'failure', 'failure'],
      ['no-template', 'cancelled', 'cancelled'],
    ]);
    expect(ok!.vmName).toMatch(/^anklet-vm-/);
    expect(ok!.starts).toBe(1);
    expect(failed!.host).toBe('solo');
    expect(missing!.vmName).toBeUndefined();
    // ok moved forwards only (a short job may complete on GitHub before its "in progress" log line).
    const states = events.filter((e) => e.job === ok).map((e) => e.state);
    const order = ['queued', 'claimed', 'vm', 'running', 'completed', 'done'];
    expect(states.map((s) => order.indexOf(s))).toEqual([...states.map((s) => order.indexOf(s))].sort((a, b) => a - b));
    expect(states).toEqual(expect.arrayContaining(['queued', 'claimed', 'vm', 'completed', 'done']));
    const dir = fleet.dir;
    const left = await fleet.stop();
    fleet = undefined;
    // The embedded store is read once the host has stopped.
    expect(left).toEqual({ vms: [], runners: [], claimed: 0, queued: 0 });
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses an embedded fleet of several hosts', async () => {
    await expect(startFleet({ hosts: [{ name: 'a', receiver: true }, { name: 'b', handlers: 1 }] })).rejects.toThrow(/embedded store is one process/);
  });
});
