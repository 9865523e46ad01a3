import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { ErrorCodes, type InstanceHolder, type JobLease, type JobStore } from '@anklet/core';
import { expectRefusal, type ContractContext } from './contract.js';

const q = 'acme';
const leaseMs = 30_000;

async function claimOne(store: JobStore, id: string, owner = 'RUNNER1@aaaa'): Promise<JobLease> {
  await store.enqueue({ id, queue: q, payload: { n: 1 }, repositoryOwner: 'acme', template: 'tpl-1' });
  const claimed = await store.claim({ queue: q, owner, leaseMs, skipJobIds: [] });
  expect(claimed?.job.id).toBe(id);
  return claimed as JobLease;
}

/**
 * A job record the store lost while its owner works on it (`restore`), and the registry of
 * handler instance names (`registerInstance`). `lose` deletes one job's record and lease the way a
 * Redis restarted without its data (or a hand edit) would.
 */
export function describeIdentityCases(ctx: ContractContext, lose: (queue: string, jobId: string) => Promise<void>): void {
  it('writes back a claimed job the store lost, as it was, for its lease', async () => {
    const store = ctx.store;
    const claimed = await claimOne(store, 'a');
    await store.update(claimed, { phase: 'in_progress', vmName: 'anklet-vm-1', runnerId: '77' });
    await store.recordEvent(q, 'a', { action: 'in_progress', runnerName: 'anklet-vm-1', runnerId: 77, at: 1 });
    await lose(q, 'a');
    expect(await store.get(q, 'a')).toBeNull();
    await expectRefusal(store.renew(claimed, leaseMs), ErrorCodes.JOB_NOT_FOUND);

    const known = { ...claimed, job: { ...claimed.job, phase: 'in_progress' as const, vmName: 'anklet-vm-1', runnerId: '77', events: { in_progress: { action: 'in_progress' as const, runnerName: 'anklet-vm-1', runnerId: 77, at: 1 } } } };
    const restored = await store.restore!(known, leaseMs);
    expect(restored.token).toBe(claimed.token);
    expect(restored.job.leaseExpiresAt).toBeGreaterThan(Date.now());
    const stored = await store.get<{ n: number }>(q, 'a');
    expect(stored).toMatchObject({
      id: 'a',
      owner: 'RUNNER1@aaaa',
      phase: 'in_progress',
      vmName: 'anklet-vm-1',
      runnerId: '77',
      attempts: 0,
      payload: { n: 1 },
      repositoryOwner: 'acme',
      template: 'tpl-1',
      enqueuedAt: claimed.job.enqueuedAt,
    });
    expect(stored?.events.in_progress?.runnerId).toBe(77);
    expect((await store.stats(q)).claimed).toBe(1);
    expect((await store.listOwned(q, 'RUNNER1@aaaa')).map((l) => [l.job.id, l.token])).toEqual([['a', claimed.token]]);
    // Repeated (a lost reply): only the lease is renewed.
    await store.restore!(known, leaseMs);
    // The owner goes on as before, and the finish leaves a tombstone that refuses a redelivery.
    await store.renew(restored, leaseMs);
    await store.update(restored, { phase: 'cleaning' });
    await store.finish(restored, 'success');
    expect(await store.enqueue({ id: 'a', queue: q, payload: { n: 1 } })).toBe('duplicate_job');
    await expectRefusal(store.restore!(known, leaseMs), ErrorCodes.JOB_FINISHED);
  });

  it('refuses to write back a job that is queued again, held by another lease, or quarantined', async () => {
    const store = ctx.store;
    const first = await claimOne(store, 'b', 'RUNNER1@aaaa');
    await lose(q, 'b');
    // The job came back meanwhile (a redelivery the store no longer remembers): it is someone else's to take.
    expect(await store.enqueue({ id: 'b', queue: q, payload: { n: 1 } })).toBe('enqueued');
    await expectRefusal(store.restore!(first, leaseMs), ErrorCodes.LEASE_LOST);
    const second = await store.claim({ queue: q, owner: 'RUNNER2@bbbb', leaseMs });
    expect(second?.job.id).toBe('b');
    await expectRefusal(store.restore!(first, leaseMs), ErrorCodes.LEASE_LOST);
    // A stale token of the same owner is refused too.
    await expectRefusal(store.restore!({ ...second!, token: second!.token - 1 }, leaseMs), ErrorCodes.LEASE_LOST);
    await store.finish(second!, 'success');

    const bad = await claimOne(store, 'c');
    await store.quarantine(bad, 'unreadable');
    await expectRefusal(store.restore!(bad, leaseMs), ErrorCodes.JOB_QUARANTINED);
  });

  it('reaps a written-back job whose owner stops renewing, like any other', async () => {
    const store = ctx.store;
    const claimed = await claimOne(store, 'd');
    await lose(q, 'd');
    await store.restore!(claimed, 1);
    await sleep(20);
    const reaped = await store.reapExpired(q);
    expect(reaped.requeued).toEqual(['d']);
    const again = await store.claim({ queue: q, owner: 'RUNNER2@bbbb', leaseMs });
    expect(again?.job.id).toBe('d');
    expect(again!.token).toBeGreaterThan(claimed.token);
    expect(again!.job.attempts).toBe(1);
  });

  const a: InstanceHolder = { hostId: 'aaaa000000000000', hostName: 'mac-a', pid: 101, workDir: '/Users/ci/.config/anklet' };
  const b: InstanceHolder = { hostId: 'bbbb000000000000', hostName: 'mac-b', pid: 202, workDir: '/Users/ci/.config/anklet' };

  it('registers an instance name for one live holder and names it to the others', async () => {
    const store = ctx.store;
    expect(await store.registerInstance('RUNNER1', a, 10_000)).toEqual({ held: true });
    // The heartbeat: the holder registers again.
    expect(await store.registerInstance('RUNNER1', a, 10_000)).toEqual({ held: true });
    const refused = await store.registerInstance('RUNNER1', b, 10_000);
    expect(refused).toMatchObject({ held: false, holder: a });
    expect(refused.held === false && refused.expiresInMs).toBeGreaterThan(0);
    expect(refused.held === false && refused.expiresInMs).toBeLessThanOrEqual(10_000);
    // Another handle (another process) sees the same registry.
    expect(await ctx.open().registerInstance('RUNNER1', b, 10_000)).toMatchObject({ held: false, holder: a });
    // Other names, and leaderships of the same name, are apart.
    expect(await store.registerInstance('RUNNER2', b, 10_000)).toEqual({ held: true });
    expect(await store.acquireLeadership('RUNNER1', 'someone', 10_000)).not.toBeNull();
    // A release by someone else changes nothing; the holder's own frees the name.
    await store.releaseInstance('RUNNER1', b);
    expect(await store.registerInstance('RUNNER1', b, 10_000)).toMatchObject({ held: false, holder: a });
    await store.releaseInstance('RUNNER1', a);
    expect(await store.registerInstance('RUNNER1', b, 10_000)).toEqual({ held: true });
  });

  it('hands an instance name over when its heartbeat stops, or on replace of exactly its holder', async () => {
    const store = ctx.store;
    expect(await store.registerInstance('RUNNER1', a, 100)).toEqual({ held: true });
    await sleep(150);
    expect(await store.registerInstance('RUNNER1', b, 10_000)).toEqual({ held: true });
    // A replace names a holder that is not the current one: nothing changes.
    const restarted = { ...b, pid: 203 };
    expect(await store.registerInstance('RUNNER1', restarted, 10_000, { replace: { ...b, pid: 999 } })).toMatchObject({ held: false, holder: b });
    expect(await store.registerInstance('RUNNER1', restarted, 10_000, { replace: b })).toEqual({ held: true });
    expect(await store.registerInstance('RUNNER1', b, 10_000)).toMatchObject({ held: false, holder: restarted });
  });
}
