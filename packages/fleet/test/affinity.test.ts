/**
 * Template-affinity scheduling across real hosts (issue #19): `mac-2` holds the template, `mac-1`
 * holds none, both share one Redis. A job goes to the host that holds its template; with that host
 * full, the other takes it at once; when the only holder is a host that died (its capacity record
 * not yet run out), the other leaves the job for the grace, then takes it. Two hosts never pull a
 * template for one job at the same time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostCapacity, JobStore, TimelineEvent } from '@anklet/core';
import { createRedisJobStore } from '@anklet/redis';
import { Redis } from 'ioredis';
import { FLEET_TEMPLATE, simulatedTemplate, startFleet, type Fleet } from '../src/index.js';

/** A second template, held by no running host, for the last case (mac-1 has pulled the first one by then). */
const OTHER_TEMPLATE = '5d7f1e1a-6c1b-4d0e-9a55-2f4bb0c3a9e1';
const ONE_TAG = [{ tag: '1c2r', cpuCores: 1, ramGiB: 2 }];

/** Counter value from a host's /metrics (0 when absent). */
async function counter(fleet: Fleet, host: string, name: string): Promise<number> {
  const text = await (await fetch(new URL('metrics', fleet.host(host).metricsUrl))).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('template affinity across hosts', () => {
  let fleet: Fleet;
  let store: JobStore;
  /** The host ids the hosts publish their capacity under. */
  let mac2Id = '';
  let mac1Id = '';

  beforeAll(async () => {
    fleet = await startFleet({
      store: 'redis',
      hosts: [
        { name: 'recv', receiver: true },
        { name: 'mac-1', handlers: 2, prePull: false },
        { name: 'mac-2', handlers: 2, prePull: [FLEET_TEMPLATE] },
      ],
      templates: [simulatedTemplate({ tags: ONE_TAG }), simulatedTemplate({ uuid: OTHER_TEMPLATE, name: 'anklet-other', tags: ONE_TAG })],
      // Pulls take a moment, so that two at once would overlap in the timelines.
      ankaLatency: { pullMs: 300 },
    });
    store = createRedisJobStore({ redis: new Redis(fleet.redis!.url, { maxRetriesPerRequest: 1 }), prefix: 'anklet' });
    // Both hosts publish: mac-2 with the template (by uuid and name), mac-1 with none.
    let records: ReadonlyArray<HostCapacity> = [];
    for (let i = 0; i < 100; i += 1) {
      records = await store.listHostCapacity!();
      if (records.length === 2 && records.some((r) => r.templates.includes(FLEET_TEMPLATE))) break;
      await sleep(100);
    }
    const holder = records.find((r) => r.templates.includes(FLEET_TEMPLATE));
    const other = records.find((r) => r !== holder);
    expect(holder?.templates).toEqual([FLEET_TEMPLATE, 'anklet']);
    expect(holder?.freeSlots).toBe(2);
    expect(other).toMatchObject({ templates: [], freeSlots: 2 });
    mac2Id = holder!.hostId;
    mac1Id = other!.hostId;
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    const left = await fleet?.stop();
    expect(left).toMatchObject({ vms: [], runners: [], claimed: 0, queued: 0 });
  });

  it('sends a job to the host that holds its template', async () => {
    const jobs = fleet.dispatch([{ name: 'warm-a', durationMs: 300 }, { name: 'warm-b', durationMs: 300 }]);
    await fleet.waitForAll({ timeoutMs: 60_000 });
    expect(jobs.map((j) => [j.name, j.host, j.conclusion])).toEqual([
      ['warm-a', 'mac-2', 'success'],
      ['warm-b', 'mac-2', 'success'],
    ]);
    const timelines = (await fleet.timelines())!;
    for (const job of jobs) {
      const events = timelines.get(job.id)!.events;
      expect(events.find((e) => e.type === 'pull_finished')?.detail).toBe('cached');
    }
  });

  it('with the holder full, the other host takes the job at once', async () => {
    const long = fleet.dispatch([{ name: 'busy-a', durationMs: 4000 }, { name: 'busy-b', durationMs: 4000 }]);
    // mac-2 runs both, and says it has no room left.
    for (let i = 0; i < 300 && !(long.every((j) => j.host === 'mac-2' && j.state === 'running')); i += 1) await sleep(100);
    expect(long.map((j) => j.host)).toEqual(['mac-2', 'mac-2']);
    for (let i = 0; i < 50 && (await store.listHostCapacity!()).find((r) => r.hostId === mac2Id)?.freeSlots !== 0; i += 1) await sleep(100);
    const [cold] = fleet.dispatch([{ name: 'cold', durationMs: 300 }]);
    await fleet.waitForAll({ timeoutMs: 60_000 });
    expect(cold!.host).toBe('mac-1');
    const events = (await fleet.timelines())!.get(cold!.id)!.events;
    // Nobody with the template had room: it was never left for anyone, and mac-1 pulled.
    expect(events.map((e) => e.type)).not.toContain('left_for_affinity');
    expect(events.find((e) => e.type === 'pull_finished')?.detail).toBe('pulled');
  });

  it('with the only holder dead, the hosts without its template leave the job for the grace, then one takes it', async () => {
    const hostIds: Record<string, string> = { 'mac-1': mac1Id, 'mac-2': mac2Id };
    const sum = async (name: string) => (await counter(fleet, 'mac-1', name)) + (await counter(fleet, 'mac-2', name));
    const expiredBefore = await sum('anklet_affinity_grace_expired_total');
    const leftBefore = await sum('anklet_jobs_left_for_affinity_total');
    // A host that held the other template and died a moment ago: its capacity record is still
    // live (for up to 5 s after its last write; written here with a longer life, so that a slow
    // machine cannot miss the window). Neither mac-1 nor mac-2 holds that template.
    const deadId = 'dead-mac-3';
    await store.putHostCapacity!({ hostId: deadId, hostName: 'mac-3', templates: [OTHER_TEMPLATE], freeSlots: 2 }, 30_000);
    const [job] = fleet.dispatch([{ name: 'orphaned', template: OTHER_TEMPLATE, durationMs: 300 }]);
    await fleet.waitForAll({ timeoutMs: 60_000 });
    const events = (await fleet.timelines())!.get(job!.id)!.events;
    // Noted once per host that left it, before anyone claimed it.
    const left = events.filter((e) => e.type === 'left_for_affinity');
    const claimedAt = events.findIndex((e) => e.type === 'claimed');
    expect(left.length).toBeGreaterThan(0);
    expect(new Set(left.map((e) => e.by)).size).toBe(left.length);
    for (const e of left) {
      expect([mac1Id, mac2Id]).toContain(e.by);
      expect(e.detail).toBe(`left for mac-3 (${deadId}), which holds ${OTHER_TEMPLATE}`);
      expect(events.indexOf(e)).toBeLessThan(claimedAt);
    }
    // After the grace, one of them took it (and pulled it); the grace expiry is counted by the
    // taker when it was one of those that left it.
    const takerId = hostIds[job!.host!]!;
    expect(events[claimedAt]!.by).toContain(takerId);
    expect(events.find((e) => e.type === 'pull_finished')?.detail).toBe('pulled');
    expect(await sum('anklet_jobs_left_for_affinity_total')).toBe(leftBefore + left.length);
    expect(await sum('anklet_affinity_grace_expired_total')).toBe(expiredBefore + (left.some((e) => e.by === takerId) ? 1 : 0));
  });

  it('never had two hosts pull a template for the same job at once', async () => {
    const timelines = (await fleet.timelines())!;
    expect(timelines.size).toBe(6);
    for (const [id, timeline] of timelines) {
      // Each claim's pull, from its start to its end, by the claiming host.
      const pulls: Array<{ by: string; from: number; to: number }> = [];
      let open: TimelineEvent | undefined;
      for (const e of timeline.events) {
        if (e.type === 'pull_started') open = e;
        if ((e.type === 'pull_finished' || e.type === 'handed_back') && open) {
          pulls.push({ by: String(open.by), from: open.at, to: e.at });
          open = undefined;
        }
      }
      expect(pulls.length, `job ${id}`).toBeGreaterThan(0);
      for (const a of pulls) for (const b of pulls) if (a !== b && a.by !== b.by) expect(a.to <= b.from || b.to <= a.from, `job ${id}: overlapping pulls`).toBe(true);
    }
  });
});
