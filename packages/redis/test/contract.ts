import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAnkletError, isLeaseRefusal, ErrorCodes, type JobLease, type JobStore, type NewJob, type TimelineHistory } from '@anklet/core';
import { describeAffinityCases } from './contract-affinity.js';
import { describeIdentityCases } from './contract-identity.js';
import { describePoisonCases } from './contract-poison.js';
import { describeRefusalCases } from './contract-refusals.js';
import { describeStarvationCases } from './contract-starvation.js';
import { describeTimelineCases } from './contract-timeline.js';

/** One backing store per test: `open()` may be called again to get a second handle on the same data (another process, a restart). */
/** Store options a case may ask {@link ContractBackend.open} for. */
export interface ContractStoreOptions {
  readonly timelineHistory?: TimelineHistory | undefined;
}

export interface ContractBackend {
  open(options?: ContractStoreOptions): JobStore;
  dispose(): Promise<void>;
  /**
   * The store's own poison writer: turns the stored record of job `jobId` (enqueued, and maybe
   * claimed, through the store) into one this store cannot read, the way `variant` (one of
   * {@link ContractOptions.poisonVariants}) says. Required when the options name variants.
   */
  writePoison?(queue: string, jobId: string, variant: string): Promise<void>;
  /** Deletes one job's record and lease, as a Redis restarted without its data (or a hand edit) would. */
  loseJob?(queue: string, jobId: string): Promise<void>;
}

/** Per-store options of the suite. */
export interface ContractOptions {
  /**
   * The kinds of unreadable record this store's {@link ContractBackend.writePoison} writes (Redis:
   * wrong key type, hash without `queue`, wrong-type fields, unknown phase...; SQLite: rows that
   * fail to decode). Each gets a queued and a claimed poison case.
   */
  readonly poisonVariants?: ReadonlyArray<string>;
}

/** What the case files of the suite share: the current store and a way to open another handle. */
export interface ContractContext {
  readonly store: JobStore;
  readonly backend: ContractBackend;
  open(options?: ContractStoreOptions): JobStore;
}

interface Payload {
  n: number;
}

const lease = { leaseMs: 30_000 } as const;

/** Awaits a call that must be refused with `code` (an AnkletError that `isLeaseRefusal` accepts). */
export async function expectRefusal(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => 'resolved',
    (e: unknown) => e,
  );
  expect(isAnkletError(error) ? error.code : error).toBe(code);
  expect(isLeaseRefusal(error)).toBe(true);
}

function expectLeaseLost(promise: Promise<unknown>): Promise<void> {
  return expectRefusal(promise, ErrorCodes.LEASE_LOST);
}

/** The job store contract, run against every implementation. */
export function describeJobStoreContract(label: string, createBackend: () => Promise<ContractBackend>, options: ContractOptions = {}): void {
  describe(`JobStore contract: ${label}`, () => {
    let backend: ContractBackend;
    let store: JobStore;
    const opened: JobStore[] = [];
    const open = (options?: ContractStoreOptions): JobStore => {
      const s = backend.open(options);
      opened.push(s);
      return s;
    };
    const q = 'acme';

    beforeEach(async () => {
      backend = await createBackend();
      store = open();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
      await backend.dispose();
    });
    const context: ContractContext = {
      get store() {
        return store;
      },
      get backend() {
        return backend;
      },
      open,
    };
    describeRefusalCases(context);
    describePoisonCases(context, options.poisonVariants ?? []);
    describeStarvationCases(context);
    describeIdentityCases(context, (queue, jobId) => backend.loseJob!(queue, jobId));
    describeTimelineCases(context);
    describeAffinityCases(context);

    it('de-duplicates intake by job id and by delivery id', async () => {
      expect(await store.enqueue({ id: '1', queue: q, payload: { n: 1 }, deliveryId: 'd1' })).toBe('enqueued');
      expect(await store.enqueue({ id: '1', queue: q, payload: { n: 1 }, deliveryId: 'd2' })).toBe('duplicate_job');
      expect(await store.enqueue({ id: '2', queue: q, payload: { n: 2 }, deliveryId: 'd1' })).toBe('duplicate_delivery');
      expect(await store.enqueue({ id: '2', queue: q, payload: { n: 2 } })).toBe('enqueued');
      const job = await store.get<Payload>(q, '1');
      expect(job).toMatchObject({ id: '1', queue: q, payload: { n: 1 }, attempts: 0, phase: 'queued' });
      expect(job?.enqueuedAt).toBeGreaterThan(Date.now() - 60_000);
      expect(await store.get(q, 'nope')).toBeNull();
      expect(await store.stats(q)).toMatchObject({ queued: 2, handedOff: 0, claimed: 0, quarantined: 0 });
    });

    it('gives concurrent enqueues (one event-loop round, several groups, duplicates among them) the results and order of one-by-one calls', async () => {
      // Sent without awaiting: a store that batches the webhooks of one round must answer each as
      // if they had come one after another, in call order.
      const calls: Array<NewJob<{ n: unknown }>> = [
        { id: 'c1', queue: q, payload: { n: 1 }, deliveryId: 'e1', repositoryOwner: 'acme', template: 't1' },
        { id: 'c2', queue: q, payload: { n: 2 }, deliveryId: 'e2', repositoryOwner: 'other', template: 't1' },
        { id: 'c1', queue: q, payload: { n: 1 }, deliveryId: 'e3', repositoryOwner: 'acme', template: 't1' },
        { id: 'c3', queue: q, payload: { n: 3 }, deliveryId: 'e2', repositoryOwner: 'acme', template: 't2' },
        { id: 'c4', queue: q, payload: { n: 'é'.repeat(70) }, deliveryId: '0f8fad5b-d9cb-469f-a165-70867728950e', repositoryOwner: 'acme', template: 't2' },
        { id: 'c5', queue: q, payload: { n: 5 }, deliveryId: '0f8fad5b-d9cb-469f-a165-70867728950e', repositoryOwner: 'acme' },
        { id: 'c6', queue: q, payload: { n: 6 }, repositoryOwner: 'acme', template: 't1' },
      ];
      const results = await Promise.all(calls.map((c) => store.enqueue(c)));
      expect(results).toEqual(['enqueued', 'enqueued', 'duplicate_job', 'duplicate_delivery', 'enqueued', 'duplicate_delivery', 'enqueued']);
      expect((await store.get<{ n: unknown }>(q, 'c4'))?.payload.n).toBe('é'.repeat(70));
      // FIFO across the groups, in call order.
      const order: string[] = [];
      for (let got = await store.claim({ queue: q, owner: 'h1', ...lease }); got; got = await store.claim({ queue: q, owner: 'h1', ...lease })) order.push(got.job.id);
      expect(order).toEqual(['c1', 'c2', 'c4', 'c6']);
      // The ids and deliveries of the round are remembered like those of single calls.
      expect(await store.enqueue({ id: 'c6', queue: q, payload: {} })).toBe('duplicate_job');
      expect(await store.enqueue({ id: 'c7', queue: q, payload: {}, deliveryId: 'e1' })).toBe('duplicate_delivery');
      // Many in one round, more than one batch's worth.
      const many = await Promise.all(Array.from({ length: 150 }, (_, i) => store.enqueue({ id: `m${i}`, queue: q, payload: { i }, deliveryId: `dm${i}` })));
      expect(many.every((r) => r === 'enqueued')).toBe(true);
      expect((await store.stats(q)).queued).toBe(150);
    });

    it('claims oldest first with a lease and an increasing fencing token', async () => {
      for (const id of ['a', 'b', 'c']) await store.enqueue({ id, queue: q, payload: { n: 0 } });
      const first = await store.claim<Payload>({ queue: q, owner: 'h1', ...lease });
      expect(first?.job.id).toBe('a');
      expect(first?.owner).toBe('h1');
      expect(first?.job.phase).toBe('claimed');
      expect(first?.job.leaseExpiresAt).toBeGreaterThan(Date.now());
      const second = await store.claim({ queue: q, owner: 'h2', ...lease });
      expect(second?.job.id).toBe('b');
      expect((await store.stats(q)).claimed).toBe(2);
      await store.requeue(first as JobLease, 'retry');
      const again = await store.claim({ queue: q, owner: 'h3', ...lease });
      expect(again?.job.id).toBe('a');
      expect(again?.token).toBeGreaterThan(first?.token ?? Infinity);
      expect(await store.claim({ queue: 'empty', owner: 'h1', ...lease })).toBeNull();
    });

    it('requeues at the head with attempts + 1 and forgets the attempt’s VM and runner', async () => {
      for (const id of ['a', 'b']) await store.enqueue({ id, queue: q, payload: { n: 0 } });
      const a = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      await store.update(a, { phase: 'vm_started', vmName: 'anklet-vm-1', runnerId: '42' });
      await store.requeue(a, 'registration timed out');
      const job = await store.get(q, 'a');
      expect(job).toMatchObject({ attempts: 1, phase: 'queued', lastReason: 'registration timed out' });
      expect(job?.vmName).toBeUndefined();
      expect(job?.owner).toBeUndefined();
      expect((await store.claim({ queue: q, owner: 'h2', ...lease }))?.job.id).toBe('a');
      await expectLeaseLost(store.requeue(a, 'twice'));
    });

    it('requeues a host fault (countAttempt: false) without counting an attempt, at once or delayed', async () => {
      for (const id of ['a', 'b']) await store.enqueue({ id, queue: q, payload: { n: 0 } });
      const a = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      await store.requeue(a, 'auth_failed', { countAttempt: false });
      expect(await store.get(q, 'a')).toMatchObject({ attempts: 0, phase: 'queued', lastReason: 'auth_failed' });
      const again = (await store.claim({ queue: q, owner: 'h2', ...lease })) as JobLease;
      expect(again.job).toMatchObject({ id: 'a', attempts: 0 });
      await store.requeue(again, 'cancel_pending', { countAttempt: false, delayMs: 200 });
      expect(await store.get(q, 'a')).toMatchObject({ attempts: 0, lastReason: 'cancel_pending' });
      expect(await store.stats(q)).toMatchObject({ queued: 1, delayed: 1 });
      // The default still counts.
      const b = (await store.claim({ queue: q, owner: 'h2', ...lease })) as JobLease;
      await store.requeue(b, 'failed');
      expect((await store.get(q, 'b'))?.attempts).toBe(1);
    });

    it('keeps a job requeued with a delay from every handler until it is due, then puts it at the head', async () => {
      for (const id of ['a', 'b', 'c']) await store.enqueue({ id, queue: q, payload: { n: 0 } });
      const a = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      const b = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      await store.update(a, { vmName: 'anklet-vm-1' });
      const before = Date.now();
      await store.requeue(a, 'anka start failed', { delayMs: 400 });
      await store.requeue(b, 'anka start failed', { delayMs: 300 });
      const parked = await store.get(q, 'a');
      expect(parked).toMatchObject({ attempts: 1, phase: 'queued', lastReason: 'anka start failed' });
      expect(parked?.notBefore).toBeGreaterThanOrEqual(before + 300);
      expect(parked?.vmName).toBeUndefined();
      const stats = await store.stats(q);
      expect(stats).toMatchObject({ queued: 1, delayed: 2, claimed: 0 });
      expect(stats.nextDelayedDueMs).toBeGreaterThan(100);
      expect(stats.nextDelayedDueMs).toBeLessThanOrEqual(300);
      expect((await store.list(q, 'delayed')).map((j) => j.id)).toEqual(['b', 'a']);
      // Not due: another handler (another host) gets the job behind it, then nothing.
      expect((await store.claim({ queue: q, owner: 'h2', ...lease }))?.job.id).toBe('c');
      expect(await store.claim({ queue: q, owner: 'h2', ...lease })).toBeNull();
      await sleep(450);
      expect((await store.stats(q)).nextDelayedDueMs).toBe(0);
      // Due: back at the head, the earliest due first, with its attempts.
      await store.enqueue({ id: 'd', queue: q, payload: { n: 0 } });
      const first = await store.claim({ queue: q, owner: 'h2', ...lease });
      expect(first?.job).toMatchObject({ id: 'b', attempts: 1 });
      expect(first?.job.notBefore).toBeUndefined();
      expect((await store.claim({ queue: q, owner: 'h2', ...lease }))?.job.id).toBe('a');
      expect((await store.claim({ queue: q, owner: 'h2', ...lease }))?.job.id).toBe('d');
      expect(await store.stats(q)).toMatchObject({ delayed: 0, nextDelayedDueMs: null });
      // A zero delay is the plain requeue.
      await store.requeue(first as JobLease, 'again', { delayMs: 0 });
      expect((await store.claim({ queue: q, owner: 'h3', ...lease }))?.job.id).toBe('b');
    });

    it('keeps a delayed job across a restart of the store', async () => {
      await store.enqueue({ id: 'a', queue: q, payload: { n: 0 } });
      const a = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      await store.requeue(a, 'later', { delayMs: 200 });
      await store.close();
      const reopened = open();
      expect(await reopened.stats(q)).toMatchObject({ queued: 0, delayed: 1 });
      expect(await reopened.claim({ queue: q, owner: 'h2', ...lease })).toBeNull();
      await sleep(250);
      expect((await reopened.claim({ queue: q, owner: 'h2', ...lease }))?.job.id).toBe('a');
    });

    it('takes hand-offs before the main queue, except from the handing host', async () => {
      for (const id of ['a', 'b', 'c']) await store.enqueue({ id, queue: q, payload: { n: 0 } });
      const a = (await store.claim({ queue: q, owner: 'host1-h1', ...lease })) as JobLease;
      await store.handOff(a, 'not enough free memory');
      expect(await store.stats(q)).toMatchObject({ queued: 2, handedOff: 1, claimed: 0 });
      expect((await store.get(q, 'a'))?.handedOffBy).toBe('host1-h1');
      const sameHost = await store.claim({ queue: q, owner: 'host1-h2', ...lease, skipHandedOffBy: ['host1-h1', 'host1-h2'] });
      expect(sameHost?.job.id).toBe('b');
      const other = await store.claim({ queue: q, owner: 'host2-h1', ...lease });
      expect(other?.job.id).toBe('a');
      expect(other?.job.attempts).toBe(0);
      expect(other?.job.handedOffBy).toBeUndefined();
    });

    it('filters by repository owner, refused template and skipped ids', async () => {
      await store.enqueue({ id: '1', queue: q, payload: { n: 1 }, repositoryOwner: 'other-org' });
      await store.enqueue({ id: '2', queue: q, payload: { n: 2 }, repositoryOwner: 'acme', template: 'big' });
      await store.enqueue({ id: '3', queue: q, payload: { n: 3 }, repositoryOwner: 'acme', template: 'small' });
      await store.enqueue({ id: '4', queue: q, payload: { n: 4 } });
      const take = (extra: object) => store.claim({ queue: q, owner: 'h', ...lease, repositoryOwners: ['acme'], ...extra });
      expect((await take({ refusedTemplates: ['big'], skipJobIds: ['3'] }))?.job.id).toBe('4');
      expect((await take({ refusedTemplates: ['big'] }))?.job.id).toBe('3');
      expect(await take({ refusedTemplates: ['big'] })).toBeNull();
      expect((await take({}))?.job.id).toBe('2');
      expect((await store.claim({ queue: q, owner: 'h', ...lease }))?.job.id).toBe('1');
    });

    it('renews, updates and refuses a stale owner', async () => {
      await store.enqueue({ id: 'a', queue: q, payload: { n: 0 } });
      const a = (await store.claim({ queue: q, owner: 'h1', leaseMs: 1000 })) as JobLease;
      const renewed = await store.renew(a, 60_000);
      expect(renewed.job.leaseExpiresAt).toBeGreaterThan(Date.now() + 30_000);
      await store.update(a, { phase: 'registered', vmName: 'anklet-vm-1', runnerId: '7' });
      expect(await store.get(q, 'a')).toMatchObject({ phase: 'registered', vmName: 'anklet-vm-1', runnerId: '7', owner: 'h1' });
      await store.update(a, { runnerId: null });
      expect((await store.get(q, 'a'))?.runnerId).toBeUndefined();
      const forged = { ...a, owner: 'h2' };
      await expectLeaseLost(store.renew(forged, 1000));
      await expectLeaseLost(store.update({ ...a, token: a.token - 1 }, { phase: 'cleaning' }));
      await expectLeaseLost(store.finish(forged, 'success'));
    });

    it('finishes a job, refuses its redelivery, and finishing twice is harmless', async () => {
      await store.enqueue({ id: 'a', queue: q, payload: { n: 0 } });
      const a = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      await store.finish(a, 'success');
      await store.finish(a, 'success');
      expect(await store.get(q, 'a')).toBeNull();
      expect(await store.stats(q)).toMatchObject({ queued: 0, claimed: 0 });
      expect(await store.enqueue({ id: 'a', queue: q, payload: { n: 0 } })).toBe('duplicate_job');
      await expectRefusal(store.renew(a, 1000), ErrorCodes.JOB_FINISHED);
    });

    it('records events against known jobs only', async () => {
      await store.enqueue({ id: 'a', queue: q, payload: { n: 0 } });
      expect(await store.recordEvent(q, 'a', { action: 'in_progress', runnerName: 'anklet-vm-1', at: 1 })).toBe(true);
      expect(await store.recordEvent(q, 'a', { action: 'completed', conclusion: 'success', at: 2 })).toBe(true);
      expect(await store.recordEvent(q, 'zzz', { action: 'completed', at: 3 })).toBe(false);
      const job = await store.get(q, 'a');
      expect(job?.events['in_progress']).toEqual({ action: 'in_progress', runnerName: 'anklet-vm-1', at: 1 });
      expect(job?.events['completed']?.conclusion).toBe('success');
    });

    it('lists owned jobs and pages through each part of a queue', async () => {
      for (let i = 0; i < 5; i += 1) await store.enqueue({ id: `j${i}`, queue: q, payload: { n: i } });
      const l0 = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      await store.claim({ queue: q, owner: 'h2', ...lease });
      const l2 = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      const owned = await store.listOwned(q, 'h1');
      expect(owned.map((l) => l.job.id).sort()).toEqual(['j0', 'j2']);
      expect(owned.find((l) => l.job.id === 'j0')?.token).toBe(l0.token);
      // A lease from listOwned is as good as the original.
      const resumed = owned.find((l) => l.job.id === 'j2') as JobLease;
      await store.update(resumed, { phase: 'in_progress' });
      expect((await store.get(q, l2.job.id))?.phase).toBe('in_progress');
      expect((await store.list(q, 'queued')).map((j) => j.id)).toEqual(['j3', 'j4']);
      expect((await store.list(q, 'queued', { offset: 1, limit: 1 })).map((j) => j.id)).toEqual(['j4']);
      expect((await store.list(q, 'claimed')).length).toBe(3);
      expect(await store.list(q, 'handed_off')).toEqual([]);
    });

    it('reaps expired leases back to the head, or as the callback decides', async () => {
      for (const id of ['a', 'b', 'c', 'd']) await store.enqueue({ id, queue: q, payload: { n: 0 } });
      const a = (await store.claim({ queue: q, owner: 'dead', leaseMs: 50 })) as JobLease;
      await store.claim({ queue: q, owner: 'dead', leaseMs: 50 });
      await store.claim({ queue: q, owner: 'dead', leaseMs: 50 });
      const alive = (await store.claim({ queue: q, owner: 'alive', leaseMs: 60_000 })) as JobLease;
      await sleep(120);
      const result = await store.reapExpired(q, { decide: (job) => (job.id === 'b' ? 'finish' : job.id === 'c' ? 'skip' : 'requeue') });
      expect(result).toEqual({ requeued: ['a'], finished: ['b'], skipped: ['c'] });
      expect(await store.get(q, 'a')).toMatchObject({ attempts: 1, phase: 'queued' });
      expect(await store.get(q, 'b')).toBeNull();
      await expectLeaseLost(store.renew(a, 1000));
      await store.renew(alive, 1000);
      expect((await store.reapExpired(q)).requeued).toEqual(['c']);
      const next = await store.claim({ queue: q, owner: 'h', ...lease });
      expect(next?.job.id).toBe('c');
    });

    it('wakes a waiting handler within milliseconds of an enqueue from another handle', async () => {
      const receiver = open();
      // The first wait on a queue subscribes and then resolves once (an enqueue may have been
      // missed before the subscription took effect); a spurious wake only costs one claim.
      await store.waitForWork(q, 2000);
      const started = Date.now();
      const waiting = store.waitForWork(q, 10_000);
      await sleep(20);
      await receiver.enqueue({ id: 'w', queue: q, payload: { n: 0 } });
      await waiting;
      expect(Date.now() - started).toBeLessThan(2000);
      expect((await store.claim({ queue: q, owner: 'h', ...lease }))?.job.id).toBe('w');

      // With nothing happening, a wait lasts its timeout (the polling fallback) or until aborted.
      await store.waitForWork('quiet', 2000);
      const t0 = Date.now();
      await store.waitForWork('quiet', 100);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
      const controller = new AbortController();
      const aborted = store.waitForWork('quiet', 10_000, controller.signal);
      controller.abort();
      await aborted;
    });

    it('wakes the watcher of one job when an event is recorded for it', async () => {
      const q = 'events-q';
      const receiver = open();
      await receiver.enqueue({ id: 'e1', queue: q, payload: { n: 0 } });
      await receiver.enqueue({ id: 'e2', queue: q, payload: { n: 1 } });
      // The first wait subscribes (and may wake once spuriously); then a wait lasts until the event.
      await store.waitForEvent!(q, 'e1', 2000);
      const started = Date.now();
      const waiting = store.waitForEvent!(q, 'e1', 10_000);
      await sleep(20);
      // Another job's event does not wake it.
      await receiver.recordEvent(q, 'e2', { action: 'in_progress', runnerName: 'x', at: 1 });
      await sleep(100);
      let woken = false;
      void waiting.then(() => (woken = true));
      await sleep(50);
      expect(woken).toBe(false);
      await receiver.recordEvent(q, 'e1', { action: 'completed', conclusion: 'success', at: 2 });
      await waiting;
      expect(Date.now() - started).toBeLessThan(5000);
      // An event recorded just before the wait (while the watcher read the job) still wakes it at once.
      await receiver.recordEvent(q, 'e2', { action: 'completed', conclusion: 'success', at: 3 });
      await sleep(100);
      const t0 = Date.now();
      await store.waitForEvent!(q, 'e2', 10_000);
      expect(Date.now() - t0).toBeLessThan(2000);
      // With nothing happening, a wait lasts its timeout, or until aborted.
      const t1 = Date.now();
      await store.waitForEvent!(q, 'e1', 100);
      expect(Date.now() - t1).toBeGreaterThanOrEqual(90);
      const controller = new AbortController();
      const aborted = store.waitForEvent!(q, 'e1', 10_000, controller.signal);
      controller.abort();
      await aborted;
    });

    it('elects one leader with fenced, renewable, expiring leadership', async () => {
      const l1 = await store.acquireLeadership('reaper', 'host-a', 200);
      expect(l1).not.toBeNull();
      expect(await store.acquireLeadership('reaper', 'host-b', 200)).toBeNull();
      await store.renewLeadership(l1!, 200);
      await store.releaseLeadership(l1!);
      const l2 = await store.acquireLeadership('reaper', 'host-b', 100);
      expect(l2!.token).toBeGreaterThan(l1!.token);
      await sleep(150);
      const l3 = await store.acquireLeadership('reaper', 'host-a', 1000);
      expect(l3!.token).toBeGreaterThan(l2!.token);
      await expectLeaseLost(store.renewLeadership(l2!, 1000));
      await store.releaseLeadership(l2!);
      expect(await store.acquireLeadership('reaper', 'host-b', 1000)).toBeNull();
    });

    it('stores, lists, expires and deletes host metrics snapshots', async () => {
      expect(await store.listHostSnapshots()).toEqual([]);
      await store.putHostSnapshot('acme/RUNNER1', '{"plugins":[]}', 60_000);
      await store.putHostSnapshot('/RECEIVER', '{"n":1}', 60_000);
      await store.putHostSnapshot('acme/SHORT', '{}', 100);
      // Writing again replaces the value and the expiry.
      await store.putHostSnapshot('acme/RUNNER1', '{"plugins":[1]}', 60_000);
      const list = await store.listHostSnapshots();
      // Sorted by key, each with the time the store received it.
      expect(list.map(({ key, json }) => ({ key, json }))).toEqual([
        // A leading slash (no owner) is dropped, as the Go anklet does.
        { key: 'RECEIVER', json: '{"n":1}' },
        { key: 'acme/RUNNER1', json: '{"plugins":[1]}' },
        { key: 'acme/SHORT', json: '{}' },
      ]);
      for (const s of list) expect(Math.abs(s.updatedAt! - Date.now())).toBeLessThan(5_000);
      await sleep(250);
      expect((await store.listHostSnapshots()).map((s) => s.key).sort()).toEqual(['RECEIVER', 'acme/RUNNER1']);
      await store.deleteHostSnapshot('acme/RUNNER1');
      await store.deleteHostSnapshot('acme/never-there');
      expect((await store.listHostSnapshots()).map((s) => s.key)).toEqual(['RECEIVER']);
    });

    it('leaves out and forgets hosts silent for longer than maxAgeMs, until they write again', async () => {
      await store.putHostSnapshot('acme/OLD', '{"n":1}', 60_000);
      const old = (await store.listHostSnapshots())[0]!;
      // Margins wide enough for a loaded machine: OLD is 1.5 s old, NEW well under the 1 s limit.
      await sleep(1_500);
      await store.putHostSnapshot('acme/NEW', '{"n":2}', 60_000);
      const listed = await store.listHostSnapshots({ maxAgeMs: 1_000 });
      expect(listed.map((s) => s.key)).toEqual(['acme/NEW']);
      expect(listed[0]!.updatedAt!).toBeGreaterThan(old.updatedAt!);
      // Forgotten: a later list without a limit does not bring it back...
      expect((await store.listHostSnapshots()).map((s) => s.key)).toEqual(['acme/NEW']);
      // ...but its next write does.
      await store.putHostSnapshot('acme/OLD', '{"n":3}', 60_000);
      expect((await store.listHostSnapshots({ maxAgeMs: 60_000 })).map((s) => s.key)).toEqual(['acme/NEW', 'acme/OLD']);
      await store.deleteHostSnapshot('acme/OLD');
      await store.deleteHostSnapshot('acme/NEW');
    });

    it('keeps everything across a restart of the store', async () => {
      await store.enqueue({ id: 'a', queue: q, payload: { n: 1 }, deliveryId: 'd-a' });
      await store.enqueue({ id: 'b', queue: q, payload: { n: 2 } });
      const a = (await store.claim({ queue: q, owner: 'h1', ...lease })) as JobLease;
      await store.update(a, { phase: 'vm_started', vmName: 'anklet-vm-a' });
      await store.close();
      const reopened = open();
      const owned = await reopened.listOwned(q, 'h1');
      expect(owned).toHaveLength(1);
      expect(owned[0]?.job).toMatchObject({ id: 'a', phase: 'vm_started', vmName: 'anklet-vm-a' });
      expect(await reopened.enqueue({ id: 'c', queue: q, payload: { n: 3 }, deliveryId: 'd-a' })).toBe('duplicate_delivery');
      expect((await reopened.claim({ queue: q, owner: 'h2', ...lease }))?.job.payload).toEqual({ n: 2 });
      await reopened.finish(owned[0]!, 'success');
    });
  });
}
