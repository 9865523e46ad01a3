import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TIMELINE_MAX_EVENTS, TIMELINE_MAX_TEXT, type JobStore, type JobTimeline, type NewTimelineEvent } from '@anklet/core';
import type { ContractContext } from './contract.js';

const lease = { leaseMs: 30_000 } as const;
const q = 'acme';

/** The store's timeline methods: every store of this repository has them. */
function timelineOf(store: JobStore) {
  const { appendTimeline, getTimeline, listRecentJobs } = store;
  if (!appendTimeline || !getTimeline || !listRecentJobs) throw new Error('this store has no timeline');
  return {
    append: appendTimeline.bind(store),
    get: getTimeline.bind(store),
    list: listRecentJobs.bind(store),
  };
}

function types(timeline: JobTimeline | null): string[] {
  return (timeline?.events ?? []).map((e) => e.type);
}

/** Polls `check` until it is true; fails after `limitMs` (generous: the machine may be loaded). */
async function eventually(check: () => Promise<boolean>, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}

// Secrets of the shapes anklet handles: a GitHub App installation token, a JIT config (base64 of
// JSON), a PEM key. None of them may come back from a timeline read.
const TOKEN = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a';
const JIT = Buffer.from(JSON.stringify({ '.runner': 'x'.repeat(40), '.credentials': 'secret-credentials-1234567890' })).toString('base64');
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234567890abcdef\n-----END RSA PRIVATE KEY-----';

/**
 * The job timeline: the store's own operations write their events in the same step, a handler
 * appends its own, each job's list is bounded, finished jobs are kept for the history bound (by
 * count and by age), and what is stored never holds a secret.
 */
export function describeTimelineCases(ctx: ContractContext): void {
  describe('job timeline', () => {
    it('records each store operation in order, with who and why, and moves the job between states', async () => {
      const store = ctx.store;
      const t = timelineOf(store);
      await store.enqueue({ id: 't1', queue: q, payload: { n: 1 } });
      let timeline = await t.get(q, 't1');
      expect(types(timeline)).toEqual(['received', 'queued']);
      expect(timeline).toMatchObject({ id: 't1', queue: q, state: 'queued' });

      const first = await store.claim({ queue: q, owner: 'h1', ...lease });
      expect((await t.get(q, 't1'))?.state).toBe('running');
      await store.requeue(first!, 'error_obtaining_anka_vm');
      expect((await t.get(q, 't1'))?.state).toBe('queued');
      const second = await store.claim({ queue: q, owner: 'h2', ...lease });
      expect(await store.recordEvent(q, 't1', { action: 'in_progress', runnerName: 'anklet-vm-1', runnerId: 7, at: Date.now() })).toBe(true);
      expect(await store.recordEvent(q, 't1', { action: 'completed', conclusion: 'success', at: Date.now() })).toBe(true);
      await store.finish(second!, 'success');

      timeline = await t.get(q, 't1');
      expect(timeline?.state).toBe('finished');
      expect(types(timeline)).toEqual(['received', 'queued', 'claimed', 'handed_back', 'claimed', 'in_progress', 'completed', 'finished']);
      const events = timeline!.events;
      expect(events[2]).toMatchObject({ type: 'claimed', by: 'h1' });
      expect(events[3]).toMatchObject({ type: 'handed_back', by: 'h1', reason: 'error_obtaining_anka_vm', detail: 'requeue' });
      expect(events[4]).toMatchObject({ type: 'claimed', by: 'h2' });
      expect(events[5]).toMatchObject({ type: 'in_progress', detail: 'anklet-vm-1' });
      expect(events[6]).toMatchObject({ type: 'completed', conclusion: 'success' });
      expect(events[7]).toMatchObject({ type: 'finished', by: 'h2', conclusion: 'success' });
      // Stamped by the store, in order, close to now (the Redis server's clock is this machine's here).
      for (let i = 1; i < events.length; i++) expect(events[i]!.at).toBeGreaterThanOrEqual(events[i - 1]!.at);
      expect(Math.abs(events[0]!.at - Date.now())).toBeLessThan(60_000);
      expect(timeline!.since).toBe(events[7]!.at);
      // A second handle (another process, a restart) reads the same.
      expect(types(await timelineOf(ctx.open()).get(q, 't1'))).toEqual(types(timeline));
    });

    it('records hand-offs, reaps and quarantines', async () => {
      const store = ctx.store;
      const t = timelineOf(store);
      await store.enqueue({ id: 'h', queue: q, payload: { n: 1 } });
      await store.enqueue({ id: 'r', queue: q, payload: { n: 2 } });
      await store.enqueue({ id: 'x', queue: q, payload: { n: 3 } });
      const h = await store.claim({ queue: q, owner: 'h1', ...lease });
      await store.handOff(h!, 'not_enough_free_resources_now');
      expect((await t.get(q, 'h'))?.events.at(-1)).toMatchObject({ type: 'handed_back', by: 'h1', reason: 'not_enough_free_resources_now', detail: 'hand_off' });

      // The hand-off is claimed first; then 'r' with a lease that runs out at once.
      const again = await store.claim({ queue: q, owner: 'h2', ...lease });
      expect(again?.job.id).toBe('h');
      const r = await store.claim({ queue: q, owner: 'h3', leaseMs: 1 });
      expect(r?.job.id).toBe('r');
      await eventually(async () => (await store.reapExpired(q)).requeued.includes('r'));
      const reaped = await t.get(q, 'r');
      expect(reaped?.state).toBe('queued');
      expect(reaped?.events.at(-1)).toMatchObject({ type: 'handed_back', by: 'h3', detail: 'reap' });
      expect(reaped?.events.at(-1)?.reason).toContain('expired');

      const x = await store.claim({ queue: q, owner: 'h4', ...lease });
      expect(x?.job.id).toBe('r');
      await store.quarantine(x!, 'payload is not a workflow job');
      const quarantined = await t.get(q, 'r');
      expect(quarantined?.state).toBe('finished');
      expect(quarantined?.events.at(-1)).toMatchObject({ type: 'quarantined', reason: 'payload is not a workflow job' });
    });

    it('appends a handler\'s events to a known job only, without changing its state', async () => {
      const store = ctx.store;
      const t = timelineOf(store);
      await store.enqueue({ id: 'a', queue: q, payload: { n: 1 } });
      const claimed = await store.claim({ queue: q, owner: 'h1', ...lease });
      expect(await t.append(q, 'a', { type: 'pull_started', by: 'h1', detail: 'macos-15:v1' })).toBe(true);
      expect(await t.append(q, 'a', { type: 'vm_cloned', by: 'h1', detail: 'anklet-vm-abc' })).toBe(true);
      expect(await t.append(q, 'nope', { type: 'vm_started' })).toBe(false);
      expect(await t.get(q, 'nope')).toBeNull();
      // An unknown type is not written.
      expect(await t.append(q, 'a', { type: 'exploded' } as unknown as NewTimelineEvent)).toBe(false);
      const timeline = await t.get(q, 'a');
      expect(timeline?.state).toBe('running');
      expect(types(timeline)).toEqual(['received', 'queued', 'claimed', 'pull_started', 'vm_cloned']);
      expect(timeline?.events.at(-1)).toEqual({ type: 'vm_cloned', by: 'h1', detail: 'anklet-vm-abc', at: timeline?.events.at(-1)?.at });
      // After the finish, the kept timeline still takes events (a clean-up that ends after it).
      await store.finish(claimed!, 'success');
      expect(await t.append(q, 'a', { type: 'cleaned_up', by: 'h1' })).toBe(true);
      expect(types(await t.get(q, 'a')).slice(-2)).toEqual(['finished', 'cleaned_up']);
      expect((await t.get(q, 'a'))?.state).toBe('finished');
    });

    it('records a record written back by its owner after the store lost it', async () => {
      const store = ctx.store;
      const t = timelineOf(store);
      expect(store.restore).toBeDefined();
      expect(ctx.backend.loseJob).toBeDefined();
      await store.enqueue({ id: 'lost', queue: q, payload: { n: 1 } });
      const claimed = await store.claim({ queue: q, owner: 'h1', ...lease });
      await ctx.backend.loseJob!(q, 'lost');
      await store.restore!(claimed!, 30_000);
      const timeline = await t.get(q, 'lost');
      expect(timeline?.state).toBe('running');
      expect(types(timeline)).toEqual(['received', 'queued', 'claimed', 'restored']);
      expect(timeline?.events.at(-1)?.by).toBe('h1');
    });

    it(`keeps at most ${TIMELINE_MAX_EVENTS} events per job: the first and the latest`, async () => {
      const store = ctx.store;
      const t = timelineOf(store);
      await store.enqueue({ id: 'b', queue: q, payload: { n: 1 } });
      for (let i = 0; i < TIMELINE_MAX_EVENTS + 30; i++) expect(await t.append(q, 'b', { type: 'retried', reason: `r${i}` })).toBe(true);
      const events = (await t.get(q, 'b'))!.events;
      expect(events).toHaveLength(TIMELINE_MAX_EVENTS);
      expect(events[0]?.type).toBe('received');
      expect(events.at(-1)?.reason).toBe(`r${TIMELINE_MAX_EVENTS + 29}`);
      expect(events[1]?.reason).toBe(`r${TIMELINE_MAX_EVENTS + 29 - (TIMELINE_MAX_EVENTS - 2)}`);
    });

    it('lists recent jobs by state, newest first, each with its first and latest event', async () => {
      const store = ctx.store;
      const t = timelineOf(store);
      for (const id of ['l1', 'l2', 'l3', 'l4']) {
        await store.enqueue({ id, queue: q, payload: { id } });
        await sleep(5);
      }
      const l1 = await store.claim({ queue: q, owner: 'h1', ...lease });
      await sleep(5);
      const l2 = await store.claim({ queue: q, owner: 'h2', ...lease });
      await store.finish(l1!, 'failure');
      await t.append(q, 'l2', { type: 'vm_started', by: 'h2' });

      const queued = await t.list(q, 'queued');
      expect(queued.map((j) => j.id)).toEqual(['l4', 'l3']);
      expect(queued[0]).toMatchObject({ id: 'l4', queue: q, state: 'queued', first: { type: 'received' }, last: { type: 'queued' } });
      const running = await t.list(q, 'running');
      expect(running.map((j) => j.id)).toEqual(['l2']);
      expect(running[0]?.last).toMatchObject({ type: 'vm_started', by: 'h2' });
      const finished = await t.list(q, 'finished');
      expect(finished.map((j) => j.id)).toEqual(['l1']);
      expect(finished[0]?.last).toMatchObject({ type: 'finished', conclusion: 'failure' });
      expect(await t.list(q, 'queued', { limit: 1 })).toHaveLength(1);
      expect(await t.list('other', 'queued')).toEqual([]);
      await store.finish(l2!, 'success');
      expect((await t.list(q, 'finished')).map((j) => j.id)).toEqual(['l2', 'l1']);
    });

    it('keeps finished timelines up to the history bound by count', async () => {
      const store = ctx.open({ timelineHistory: { maxJobs: 3 } });
      const t = timelineOf(store);
      for (let i = 0; i < 6; i++) {
        await store.enqueue({ id: `c${i}`, queue: q, payload: { i } });
        const got = await store.claim({ queue: q, owner: 'h1', ...lease });
        await store.finish(got!, 'success');
        await sleep(5);
      }
      expect((await t.list(q, 'finished', { limit: 100 })).map((j) => j.id)).toEqual(['c5', 'c4', 'c3']);
      expect(await t.get(q, 'c0')).toBeNull();
      expect(await t.get(q, 'c2')).toBeNull();
      expect((await t.get(q, 'c3'))?.state).toBe('finished');
    });

    it('forgets finished timelines past the history bound by age, never a live job\'s', async () => {
      const store = ctx.open({ timelineHistory: { maxAgeMs: 1500 } });
      const t = timelineOf(store);
      await store.enqueue({ id: 'old', queue: q, payload: {} });
      await store.enqueue({ id: 'live', queue: q, payload: {} });
      const got = await store.claim({ queue: q, owner: 'h1', ...lease });
      expect(got?.job.id).toBe('old');
      await store.finish(got!, 'success');
      expect((await t.get(q, 'old'))?.state).toBe('finished');
      await eventually(async () => (await t.get(q, 'old')) === null && (await t.list(q, 'finished')).length === 0);
      // Past the bound, nothing brings it back, and the live job's timeline is untouched.
      expect(await t.append(q, 'old', { type: 'cleaned_up' })).toBe(false);
      expect(types(await t.get(q, 'live'))).toEqual(['received', 'queued']);
      expect((await t.list(q, 'queued')).map((j) => j.id)).toEqual(['live']);
    });

    it('never stores a secret: only the known fields, texts cut and token-like runs blanked', async () => {
      const store = ctx.store;
      const t = timelineOf(store);
      await store.enqueue({ id: 's', queue: q, payload: { token: TOKEN, jit: JIT } });
      const first = await store.claim({ queue: q, owner: 'h1', ...lease });
      await store.requeue(first!, `runner script failed with ${TOKEN}`);
      const second = await store.claim({ queue: q, owner: 'h1', ...lease });
      const extra = { type: 'runner_registered', by: 'h1', detail: `jit ${JIT}`, reason: PEM, jitConfig: JIT, token: TOKEN } as unknown as NewTimelineEvent;
      expect(await t.append(q, 's', extra)).toBe(true);
      expect(await t.append(q, 's', { type: 'retried', reason: `Bearer ${TOKEN.slice(4)} ${'y'.repeat(500)}` })).toBe(true);
      const timeline = await t.get(q, 's');
      const registered = timeline?.events.find((e) => e.type === 'runner_registered');
      expect(Object.keys(registered ?? {}).sort()).toEqual(['at', 'by', 'detail', 'reason', 'type']);
      expect(registered?.detail).toBe('jit [redacted]');
      expect(timeline?.events.find((e) => e.type === 'handed_back')?.reason).toBe('runner script failed with [redacted]');
      for (const event of timeline?.events ?? []) {
        for (const value of Object.values(event)) if (typeof value === 'string') expect(value.length).toBeLessThanOrEqual(TIMELINE_MAX_TEXT);
      }
      await store.finish(second!, `cancelled: ${TOKEN}`);
      const everything = JSON.stringify([await t.get(q, 's'), await t.list(q, 'finished'), await t.list(q, 'running'), await t.list(q, 'queued')]);
      for (const secret of [TOKEN, TOKEN.slice(4), JIT, JIT.slice(0, 40), 'PRIVATE KEY', 'MIIEowIBAAKCAQEA']) expect(everything).not.toContain(secret);
    });
  });
}
