import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { ErrorCodes, type JobLease, type JobStore } from '@anklet/core';
import { expectRefusal, type ContractContext } from './contract.js';

const lease = { leaseMs: 30_000 } as const;
const q = 'acme';

/** Every call that changes an owned job, as one function of a lease. */
const changes: ReadonlyArray<readonly [string, (store: JobStore, l: JobLease) => Promise<unknown>]> = [
  ['renew', (s, l) => s.renew(l, 1000)],
  ['update', (s, l) => s.update(l, { phase: 'cleaning' })],
  ['requeue', (s, l) => s.requeue(l, 'again')],
  ['handOff', (s, l) => s.handOff(l, 'no room')],
  ['finish', (s, l) => s.finish(l, 'failure')],
  ['quarantine', (s, l) => s.quarantine(l, 'looked wrong')],
];

async function claimOne(store: JobStore, id: string, owner = 'h1'): Promise<JobLease> {
  await store.enqueue({ id, queue: q, payload: { n: 0 } });
  const claimed = await store.claim({ queue: q, owner, ...lease, skipJobIds: [] });
  expect(claimed?.job.id).toBe(id);
  return claimed as JobLease;
}

/** Refusal codes (see the header of `job-store.ts`) and the cases where the two stores used to differ. */
export function describeRefusalCases(ctx: ContractContext): void {
  it('refuses a finish by another owner after the job finished: job finished', async () => {
    const a = await claimOne(ctx.store, 'a');
    await ctx.store.finish(a, 'success');
    await expectRefusal(ctx.store.finish({ ...a, owner: 'h2' }, 'success'), ErrorCodes.JOB_FINISHED);
    await expectRefusal(ctx.store.finish({ ...a, token: a.token + 1 }, 'success'), ErrorCodes.JOB_FINISHED);
  });

  it('accepts a finish repeated with the same outcome, refuses one with another outcome: job finished', async () => {
    const a = await claimOne(ctx.store, 'a');
    await ctx.store.finish(a, 'success');
    await ctx.store.finish(a, 'success');
    await expectRefusal(ctx.store.finish(a, 'failure'), ErrorCodes.JOB_FINISHED);
    // The refused call changed nothing: the first outcome's retry still succeeds.
    await ctx.store.finish(a, 'success');
  });

  it('refuses the owner’s finish after the reaper finished the job: job finished', async () => {
    await ctx.store.enqueue({ id: 'a', queue: q, payload: { n: 0 } });
    const a = (await ctx.store.claim({ queue: q, owner: 'h1', leaseMs: 30 })) as JobLease;
    await sleep(80);
    expect((await ctx.store.reapExpired(q, { decide: () => 'finish' })).finished).toEqual(['a']);
    await expectRefusal(ctx.store.finish(a, 'success'), ErrorCodes.JOB_FINISHED);
    await expectRefusal(ctx.store.renew(a, 1000), ErrorCodes.JOB_FINISHED);
  });

  it('treats an empty vmName or runnerId in update like null: the field is removed', async () => {
    const a = await claimOne(ctx.store, 'a');
    await ctx.store.update(a, { vmName: 'anklet-vm-1', runnerId: '9' });
    await ctx.store.update(a, { vmName: '' });
    const job = await ctx.store.get(q, 'a');
    expect(job?.vmName).toBeUndefined();
    expect(job?.runnerId).toBe('9');
    await ctx.store.update(a, { runnerId: '' });
    expect((await ctx.store.get(q, 'a'))?.runnerId).toBeUndefined();
    expect((await ctx.store.listOwned(q, 'h1'))[0]?.job.vmName).toBeUndefined();
  });

  for (const [name, change] of changes) {
    it(`refuses ${name} with the code that says why`, async () => {
      const store = ctx.store;
      // Finished: by its owner, with another outcome than a repeated finish would use.
      const finished = await claimOne(store, 'finished');
      await store.finish(finished, 'success');
      await expectRefusal(change(store, finished), ErrorCodes.JOB_FINISHED);
      // Quarantined by its owner.
      const bad = await claimOne(store, 'bad');
      await store.quarantine(bad, 'payload has the wrong shape');
      await expectRefusal(change(store, bad), ErrorCodes.JOB_QUARANTINED);
      // In the store, held by another lease (another owner, or an older token of ours).
      const held = await claimOne(store, 'held');
      await expectRefusal(change(store, { ...held, owner: 'h2' }), ErrorCodes.LEASE_LOST);
      await expectRefusal(change(store, { ...held, token: held.token - 1 }), ErrorCodes.LEASE_LOST);
      // In the store, held by nobody: it went back to the queue.
      await store.requeue(held, 'retry');
      await expectRefusal(change(store, held), ErrorCodes.LEASE_LOST);
      // Never stored.
      const ghost: JobLease = { ...held, job: { ...held.job, id: 'never-stored' } };
      await expectRefusal(change(store, ghost), ErrorCodes.JOB_NOT_FOUND);
      // The refusals changed nothing.
      expect(await store.stats(q)).toMatchObject({ queued: 1, claimed: 0, handedOff: 0, quarantined: 1 });
      expect((await store.get(q, 'held'))?.attempts).toBe(1);
    });
  }

  it('quarantines an owned job: out of every list, counted, listed with its reason, its id still known', async () => {
    const store = ctx.store;
    const a = await claimOne(store, 'a');
    const other = await claimOne(store, 'b', 'h2');
    await expectRefusal(store.quarantine({ ...other, owner: 'h1' }, 'not yours'), ErrorCodes.LEASE_LOST);
    await store.quarantine(a, 'payload is not a workflow job');
    expect(await store.get(q, 'a')).toBeNull();
    expect(await store.listOwned(q, 'h1')).toEqual([]);
    expect((await store.list(q, 'claimed')).map((j) => j.id)).toEqual(['b']);
    expect(await store.stats(q)).toMatchObject({ queued: 0, claimed: 1, quarantined: 1 });
    const notes = await store.listQuarantined(q);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ jobId: 'a', reason: 'payload is not a workflow job' });
    expect(notes[0]?.key).toContain('a');
    expect(await store.enqueue({ id: 'a', queue: q, payload: { n: 0 } })).toBe('duplicate_job');
    expect(await store.claim({ queue: q, owner: 'h3', ...lease })).toBeNull();
    // A restart keeps it set aside.
    await store.close();
    const reopened = ctx.open();
    expect(await reopened.get(q, 'a')).toBeNull();
    expect((await reopened.listQuarantined(q)).map((n) => n.jobId)).toEqual(['a']);
    await expectRefusal(reopened.renew(a, 1000), ErrorCodes.JOB_QUARANTINED);
  });
}
