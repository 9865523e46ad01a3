import { describe, expect, it } from 'vitest';
import type { ClaimRequest, JobLease, JobStore, NewJob } from '@anklet/core';
import type { ContractContext } from './contract.js';

const q = 'acme';
const lease = { leaseMs: 30_000 } as const;
/** More ineligible jobs than the old claim scripts ever looked at (1,000). */
const AHEAD = 1500;

/** Enqueues in batches (order kept within the store: one connection, calls in order). */
async function enqueueAll(store: JobStore, jobs: ReadonlyArray<Omit<NewJob, 'queue' | 'payload'>>): Promise<void> {
  for (let i = 0; i < jobs.length; i += 250) {
    const results = await Promise.all(jobs.slice(i, i + 250).map((job) => store.enqueue({ ...job, queue: q, payload: { n: 0 } })));
    expect(results.every((r) => r === 'enqueued')).toBe(true);
  }
}

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Claims until nothing is left for this request; returns the ids in claim order. */
async function drain(store: JobStore, request: Omit<ClaimRequest, 'queue' | 'leaseMs'>): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 20; i += 1) {
    const claimed = await store.claim({ queue: q, ...lease, ...request });
    if (!claimed) return out;
    out.push(claimed.job.id);
  }
  return out;
}

/** A claim returns the oldest job its claimer may take, however many ineligible jobs are ahead of it. */
export function describeStarvationCases(ctx: ContractContext): void {
  describe(`claims never starve (${AHEAD} ineligible jobs ahead)`, () => {
    it('behind jobs of another repository owner: FIFO among the eligible, a requeue back at the head', async () => {
      const store = ctx.store;
      await enqueueAll(store, ids('x', AHEAD).map((id) => ({ id, repositoryOwner: 'other-org' })));
      await enqueueAll(store, [
        { id: 'e1', repositoryOwner: 'acme', template: 't1' },
        { id: 'e2' },
        { id: 'e3', repositoryOwner: 'acme', template: 't2' },
        { id: 'e4', repositoryOwner: 'acme', template: 't1' },
      ]);
      const first = (await store.claim({ queue: q, owner: 'h1', ...lease, repositoryOwners: ['acme'] })) as JobLease;
      expect(first.job.id).toBe('e1');
      await store.requeue(first, 'try again');
      expect(await drain(store, { owner: 'h1', repositoryOwners: ['acme'] })).toEqual(['e1', 'e2', 'e3', 'e4']);
      // Everyone else still finds the other owner's jobs in order.
      expect((await store.claim({ queue: q, owner: 'h2', ...lease }))?.job.id).toBe('x0');
      expect((await store.claim({ queue: q, owner: 'h2', ...lease, repositoryOwners: ['other-org'] }))?.job.id).toBe('x1');
    });

    it('behind jobs of a refused template', async () => {
      const store = ctx.store;
      await enqueueAll(store, ids('x', AHEAD).map((id) => ({ id, repositoryOwner: 'acme', template: 'big' })));
      await enqueueAll(store, [{ id: 'e1', repositoryOwner: 'acme', template: 'small' }, { id: 'e2', repositoryOwner: 'acme' }, { id: 'x-last', template: 'big' }]);
      expect(await drain(store, { owner: 'h1', refusedTemplates: ['big', 'huge'] })).toEqual(['e1', 'e2']);
      expect((await store.claim({ queue: q, owner: 'h2', ...lease, refusedTemplates: ['small'] }))?.job.id).toBe('x0');
    });

    it('behind jobs this handler skips by id', async () => {
      const store = ctx.store;
      const skipped = ids('x', AHEAD);
      await enqueueAll(store, skipped.map((id) => ({ id, repositoryOwner: 'acme' })));
      await enqueueAll(store, [{ id: 'e1', repositoryOwner: 'acme' }, { id: 'e2' }]);
      expect(await drain(store, { owner: 'h1', skipJobIds: skipped })).toEqual(['e1', 'e2']);
      expect((await store.claim({ queue: q, owner: 'h1', ...lease, skipJobIds: ['x0'] }))?.job.id).toBe('x1');
    });

    it('behind hand-offs this host made: another host’s hand-off first, then the main queue', async () => {
      const store = ctx.store;
      await enqueueAll(store, [...ids('x', AHEAD).map((id) => ({ id })), { id: 'y' }]);
      const mine: JobLease[] = [];
      for (let i = 0; i < AHEAD; i += 250) {
        const batch = await Promise.all(Array.from({ length: Math.min(250, AHEAD - i) }, () => store.claim({ queue: q, owner: 'host1-h1', ...lease })));
        mine.push(...(batch as JobLease[]));
      }
      expect(new Set(mine.map((l) => l.job.id)).size).toBe(AHEAD);
      const theirs = (await store.claim({ queue: q, owner: 'host2-h1', ...lease })) as JobLease;
      expect(theirs.job.id).toBe('y');
      for (let i = 0; i < mine.length; i += 250) await Promise.all(mine.slice(i, i + 250).map((l) => store.handOff(l, 'no room')));
      await store.handOff(theirs, 'no room');
      await store.enqueue({ id: 'm', queue: q, payload: { n: 0 } });
      expect((await store.stats(q)).handedOff).toBe(AHEAD + 1);
      expect(await drain(store, { owner: 'host1-h2', skipHandedOffBy: ['host1-h1', 'host1-h2'] })).toEqual(['y', 'm']);
      // Another host takes this host's hand-offs, oldest first.
      expect((await store.claim({ queue: q, owner: 'host3-h1', ...lease }))?.job.id).toBe(mine[0]?.job.id);
    });

    it('behind a mix of every filter at once', async () => {
      const store = ctx.store;
      const third = AHEAD / 3;
      const skipped = ids('s', third);
      await enqueueAll(store, [
        ...ids('o', third).map((id) => ({ id, repositoryOwner: 'other-org' })),
        ...ids('t', third).map((id) => ({ id, repositoryOwner: 'acme', template: 'big' })),
        ...skipped.map((id) => ({ id, repositoryOwner: 'acme', template: 'small' })),
        { id: 'e1', repositoryOwner: 'acme', template: 'small' },
        { id: 'o-late', repositoryOwner: 'other-org' },
        { id: 'e2', template: 'small' },
      ]);
      const request = { owner: 'h1', repositoryOwners: ['acme'], refusedTemplates: ['big'], skipJobIds: skipped };
      expect(await drain(store, request)).toEqual(['e1', 'e2']);
    });
  });
}
