import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ClaimAffinity, JobStore, LeftForAffinity } from '@anklet/core';
import type { ContractContext } from './contract.js';

const q = 'acme';
const lease = { leaseMs: 30_000 } as const;
/** Long enough that no case's jobs age past it by accident. */
const LONG_GRACE_MS = 120_000;

/** A host `mac-1` that holds `held`, claiming with affinity; what its claims left is collected. */
function hostClaims(store: JobStore, held: string[], graceMs = LONG_GRACE_MS) {
  const left: LeftForAffinity[] = [];
  const affinity: ClaimAffinity = { hostId: 'id-mac-1', templates: held, graceMs, onLeft: (l) => left.push(...l) };
  return {
    left,
    claim: async () => (await store.claim({ queue: q, owner: 'mac-1-h1', ...lease, affinity }))?.job.id ?? null,
  };
}

/** Template affinity: a young job is left for a live host that holds its template and has a free slot. */
export function describeAffinityCases(ctx: ContractContext): void {
  describe('template affinity', () => {
    it('publishes capacity records, replaces a host\'s record, and forgets one past its time to live', async () => {
      const store = ctx.store;
      await store.putHostCapacity!({ hostId: 'id-b', hostName: 'mac-b', templates: ['t1'], freeSlots: 1 }, 60_000);
      await store.putHostCapacity!({ hostId: 'id-a', hostName: 'mac-a', templates: ['t1', 't2'], freeSlots: 2 }, 60_000);
      await store.putHostCapacity!({ hostId: 'id-b', hostName: 'mac-b', templates: ['t3'], freeSlots: 0 }, 60_000);
      // Another handle (another host) reads the same records.
      expect(await ctx.open().listHostCapacity!()).toEqual([
        { hostId: 'id-a', hostName: 'mac-a', templates: ['t1', 't2'], freeSlots: 2 },
        { hostId: 'id-b', hostName: 'mac-b', templates: ['t3'], freeSlots: 0 },
      ]);
      await store.putHostCapacity!({ hostId: 'id-c', hostName: 'mac-c', templates: [], freeSlots: 1 }, 150);
      let hosts: string[] = [];
      for (let i = 0; i < 100; i += 1) {
        hosts = (await store.listHostCapacity!()).map((h) => h.hostId);
        if (!hosts.includes('id-c')) break;
        await sleep(50);
      }
      expect(hosts).toEqual(['id-a', 'id-b']);
    });

    it('leaves a young job for the host that holds its template, takes the next one in order, and the holder takes it', async () => {
      const store = ctx.store;
      await store.putHostCapacity!({ hostId: 'id-mac-2', hostName: 'mac-2', templates: ['t-big'], freeSlots: 1 }, 60_000);
      await store.enqueue({ id: 'j1', queue: q, payload: {}, template: 't-big' });
      await store.enqueue({ id: 'j2', queue: q, payload: {}, template: 't-small' });
      await store.enqueue({ id: 'j3', queue: q, payload: {}, template: 't-big' });
      const mac1 = hostClaims(store, ['t-small']);
      expect(await mac1.claim()).toBe('j2');
      expect(mac1.left).toMatchObject([{ jobId: 'j1', template: 't-big', hostId: 'id-mac-2', hostName: 'mac-2' }]);
      expect(mac1.left[0]!.remainingMs).toBeGreaterThan(0);
      expect(mac1.left[0]!.remainingMs).toBeLessThanOrEqual(LONG_GRACE_MS);
      // Nothing else it may take now: the jobs of t-big wait (reported again).
      expect(await mac1.claim()).toBeNull();
      expect(mac1.left.map((l) => l.jobId)).toEqual(['j1', 'j1']);
      // The holder claims as usual, oldest first; its own record does not make it leave anything.
      const mac2: ClaimAffinity = { hostId: 'id-mac-2', templates: ['t-big'], graceMs: LONG_GRACE_MS };
      expect((await store.claim({ queue: q, owner: 'mac-2-h1', ...lease, affinity: mac2 }))?.job.id).toBe('j1');
      expect((await store.claim({ queue: q, owner: 'mac-2-h2', ...lease, affinity: mac2 }))?.job.id).toBe('j3');
    });

    it('takes the job itself when it holds the template, when the holder is full or gone, without a template, with the grace off, or once the job is older than the grace', async () => {
      const store = ctx.store;
      await store.putHostCapacity!({ hostId: 'id-mac-2', hostName: 'mac-2', templates: ['t-big', 'big-name'], freeSlots: 1 }, 60_000);
      await store.putHostCapacity!({ hostId: 'id-mac-3', hostName: 'mac-3', templates: ['t-full'], freeSlots: 0 }, 60_000);
      await store.putHostCapacity!({ hostId: 'id-mac-4', hostName: 'mac-4', templates: ['t-gone'], freeSlots: 2 }, 100);
      for (const [id, template] of [['a', 't-big'], ['b', 't-full'], ['c', undefined], ['d', 't-gone'], ['e', 'big-name'], ['f', 't-big']] as const) {
        await store.enqueue({ id, queue: q, payload: {}, template });
      }
      // mac-4's record runs out: it no longer attracts jobs.
      for (let i = 0; i < 100 && (await store.listHostCapacity!()).some((h) => h.hostId === 'id-mac-4'); i += 1) await sleep(50);
      const mac1 = hostClaims(store, ['t-big']);
      expect(await mac1.claim()).toBe('a'); // held here too
      expect(await mac1.claim()).toBe('b'); // the holder has no free slot
      expect(await mac1.claim()).toBe('c'); // no template
      expect(await mac1.claim()).toBe('d'); // the holder's record ran out
      expect(await mac1.claim()).toBe('f'); // `e` is left for mac-2 (held under its name)
      // Each of those claims left `e` (and said so), and nothing else.
      expect(new Set(mac1.left.map((l) => l.jobId))).toEqual(new Set(['e']));
      // With the grace off, nothing is left.
      const off = hostClaims(store, [], 0);
      expect(await off.claim()).toBe('e');
      expect(off.left).toEqual([]);
    });

    it('wakes the waiting handlers the first time a job is left, so that a holder looks before the grace ends', async () => {
      const store = ctx.store;
      const holder = ctx.open();
      await store.putHostCapacity!({ hostId: 'id-mac-2', hostName: 'mac-2', templates: ['t-big'], freeSlots: 1 }, 60_000);
      await store.enqueue({ id: 'j1', queue: q, payload: {}, template: 't-big' });
      // The holder is waiting for work it has not seen (the enqueue's wake-up went elsewhere).
      expect(await holder.claim({ queue: q, owner: 'mac-2-h1', ...lease, refusedTemplates: ['t-big'] })).toBeNull();
      await holder.waitForWork(q, 2000);
      const started = Date.now();
      const waiting = holder.waitForWork(q, 30_000);
      await sleep(20);
      const mac1 = hostClaims(store, []);
      expect(await mac1.claim()).toBeNull();
      await waiting;
      expect(Date.now() - started).toBeLessThan(5000);
      const mac2: ClaimAffinity = { hostId: 'id-mac-2', templates: ['t-big'], graceMs: LONG_GRACE_MS };
      expect((await holder.claim({ queue: q, owner: 'mac-2-h1', ...lease, affinity: mac2 }))?.job.id).toBe('j1');
    });

    it('leaves a job no longer than the grace: after it, a host without the template takes it', async () => {
      const store = ctx.store;
      await store.putHostCapacity!({ hostId: 'id-mac-2', hostName: 'mac-2', templates: ['t-big'], freeSlots: 2 }, 60_000);
      await store.enqueue({ id: 'j1', queue: q, payload: {}, template: 't-big' });
      const mac1 = hostClaims(store, [], 400);
      expect(await mac1.claim()).toBeNull();
      const remaining = mac1.left[0]!.remainingMs;
      expect(remaining).toBeLessThanOrEqual(400);
      // Bounded poll: the claim that comes after the reported remaining time takes it.
      await sleep(remaining + 20);
      let taken: string | null = null;
      for (let i = 0; i < 50 && !taken; i += 1) {
        taken = await mac1.claim();
        if (!taken) await sleep(50);
      }
      expect(taken).toBe('j1');
    });

    it('applies to hand-offs too, and never to a job given back after an attempt (older than the grace)', async () => {
      const store = ctx.store;
      await store.putHostCapacity!({ hostId: 'id-mac-2', hostName: 'mac-2', templates: ['t-big'], freeSlots: 1 }, 60_000);
      await store.enqueue({ id: 'j1', queue: q, payload: {}, template: 't-big' });
      const first = await store.claim({ queue: q, owner: 'mac-3-h1', ...lease });
      await store.handOff(first!, 'no room');
      const mac1 = hostClaims(store, []);
      expect(await mac1.claim()).toBeNull();
      expect(mac1.left.map((l) => l.jobId)).toEqual(['j1']);
      const short = hostClaims(store, [], 1);
      await sleep(5);
      expect(await short.claim()).toBe('j1');
      expect(short.left).toEqual([]);
    });
  });
}
