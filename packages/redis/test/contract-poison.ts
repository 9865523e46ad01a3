import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { JobStore } from '@anklet/core';
import type { ContractContext } from './contract.js';

const lease = { leaseMs: 30_000 } as const;
const q = 'acme';

async function notesFor(store: JobStore, jobId: string): Promise<number> {
  const notes = await store.listQuarantined(q);
  for (const note of notes) {
    expect(typeof note.key).toBe('string');
    expect(note.reason.length).toBeGreaterThan(0);
  }
  return notes.filter((n) => n.jobId === jobId).length;
}

/**
 * Records the store cannot read (written by the backend's own poison writer) are set aside with
 * their key and reason; no claim, stats, list or get throws for them, the queue flows on, and a
 * restart does not bring them back.
 */
export function describePoisonCases(ctx: ContractContext, variants: ReadonlyArray<string>): void {
  const poison = (jobId: string, variant: string): Promise<void> => {
    const write = ctx.backend.writePoison;
    if (!write) throw new Error('this backend declares poison variants but has no writePoison');
    return write(q, jobId, variant);
  };
  // A store whose poison writer is not written yet registers no poison case (an empty describe fails).
  if (variants.length === 0) return;
  describe('poison records', () => {
    for (const variant of variants) {
      it(`a queued poison record (${variant}) is quarantined, the queue flows on, a restart does not bring it back`, async () => {
        const store = ctx.store;
        await store.enqueue({ id: 'p', queue: q, payload: { n: 0 } });
        await store.enqueue({ id: 'good', queue: q, payload: { n: 1 } });
        await poison('p', variant);
        await store.stats(q);
        const claimed = await store.claim({ queue: q, owner: 'h1', ...lease });
        expect(claimed?.job.id, variant).toBe('good');
        expect(await store.claim({ queue: q, owner: 'h1', ...lease })).toBeNull();
        expect(await store.list(q, 'queued')).toEqual([]);
        expect(await store.get(q, 'p')).toBeNull();
        expect(await store.stats(q)).toMatchObject({ queued: 0, claimed: 1, quarantined: 1 });
        expect(await notesFor(store, 'p'), variant).toBe(1);
        await store.close();
        const reopened = ctx.open();
        expect(await reopened.claim({ queue: q, owner: 'h2', ...lease })).toBeNull();
        expect(await reopened.stats(q)).toMatchObject({ queued: 0, claimed: 1, quarantined: 1 });
        expect(await notesFor(reopened, 'p')).toBe(1);
        expect(await reopened.enqueue({ id: 'next', queue: q, payload: { n: 2 } })).toBe('enqueued');
        expect((await reopened.claim({ queue: q, owner: 'h2', ...lease }))?.job.id).toBe('next');
      });

      it(`a claimed poison record (${variant}) is quarantined by listOwned, list and the reaper, and stays out after a restart`, async () => {
        const store = ctx.store;
        await store.enqueue({ id: 'p', queue: q, payload: { n: 0 } });
        expect((await store.claim({ queue: q, owner: 'h1', leaseMs: 40 }))?.job.id).toBe('p');
        await store.enqueue({ id: 'good', queue: q, payload: { n: 1 } });
        await poison('p', variant);
        expect(await store.listOwned(q, 'h1'), variant).toEqual([]);
        expect(await store.list(q, 'claimed')).toEqual([]);
        await sleep(80);
        expect(await store.reapExpired(q)).toEqual({ requeued: [], finished: [], skipped: [] });
        expect(await store.stats(q)).toMatchObject({ queued: 1, claimed: 0, quarantined: 1 });
        expect(await notesFor(store, 'p')).toBe(1);
        await store.close();
        const reopened = ctx.open();
        expect(await reopened.listOwned(q, 'h1')).toEqual([]);
        expect(await reopened.reapExpired(q)).toEqual({ requeued: [], finished: [], skipped: [] });
        expect((await reopened.claim({ queue: q, owner: 'h2', ...lease }))?.job.id).toBe('good');
        expect(await reopened.claim({ queue: q, owner: 'h2', ...lease })).toBeNull();
        expect(await notesFor(reopened, 'p')).toBe(1);
      });
    }
  });
}
