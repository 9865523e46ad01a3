/**
 * Reconciliation with GitHub (issue 17 item 1) on the real binaries: a receiver-only host (no
 * redelivery: it could not help here anyway) and two handler hosts of two handlers each on Redis,
 * the handlers sweeping GitHub every RECONCILE_SECONDS.
 *
 * - Webhooks GitHub never sends: github-sim drops some `queued` deliveries entirely (nothing
 *   delivered, nothing recorded, so nothing to redeliver) and the `completed` delivery of a job
 *   that waits in the store because no host can fit it; the sweep enqueues the first and records
 *   the `completed` event of the second, which the next handler to claim it acts on.
 * - Redis restarted with its data deleted while jobs waited in it and others ran: the sweep
 *   enqueues the waiting ones again; the handlers of the running ones watch them to the end through
 *   the API instead of cancelling them.
 *
 * Each scenario checks lost 0 (every job done with its conclusion), ran twice 0 (distinct runners
 * on GitHub, distinct VMs in the logs), wrongly cancelled 0, and, at the end, no VM, runner, claimed
 * or queued job left; it prints the longest time a lost job waited (GitHub's dispatch → the
 * claim, and → its runner taking it), whose goal is two sweep intervals. No timing is asserted.
 */
import { createRedisJobStore } from '@anklet/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedTemplate, startFleet, type Fleet, type FleetJob } from '../../src/index.js';
import { deliveredJob, dumpLogsOnFailure, linesWith, until, waitForLine } from './helpers.js';

const RECONCILE_SECONDS = 5;
const HANDLER_HOSTS = ['mac-1', 'mac-2'];
const ENQUEUED = 'job queued on GitHub but unknown to the store (webhook lost, or the store lost its data); enqueued it';
const FINISHED = 'job completed on GitHub but still waiting in the store (completed webhook lost); recorded its completed event';

describe('acceptance: reconciliation with GitHub', () => {
  let fleet: Fleet;

  dumpLogsOnFailure(() => fleet);

  beforeAll(async () => {
    fleet = await startFleet({
      store: 'redis',
      // `huge` fits no host of this machine: such a job waits in the store, handed from host to host.
      templates: [simulatedTemplate({ tags: [{ tag: '1c2r', cpuCores: 1, ramGiB: 2 }, { tag: 'huge', cpuCores: 64, ramGiB: 512 }] })],
      prePull: true,
      hosts: [{ name: 'receiver', receiver: true }, ...HANDLER_HOSTS.map((name) => ({ name, handlers: 2, handlerConfig: `reconcile_interval_seconds: ${RECONCILE_SECONDS}` }))],
    });
  }, 180_000);

  afterAll(async () => {
    const left = await fleet?.stop();
    expect(left).toEqual({ vms: [], runners: [], claimed: 0, queued: 0 });
  });

  const handlerLines = (text: string) => HANDLER_HOSTS.flatMap((h) => linesWith(fleet.host(h), text));

  /** Lost, ran twice and wrongly cancelled jobs among `jobs`, and the longest waits of `waited`. */
  function verdict(jobs: FleetJob[], waited: FleetJob[]) {
    const runnersOf = new Map<number, Set<string>>();
    for (const d of fleet.sim.control.deliveries()) {
      if (d.action !== 'in_progress') continue;
      const wj = deliveredJob(d);
      runnersOf.set(wj.id, (runnersOf.get(wj.id) ?? new Set()).add(String(wj.runner_name)));
    }
    const lost = jobs.filter((j) => j.conclusion !== j.expected).map((j) => `${j.name}: ${String(j.conclusion)}`);
    const ranTwice = jobs.filter((j) => (runnersOf.get(j.id)?.size ?? 0) > 1 || new Set(j.startedIn).size > 1).map((j) => j.name);
    const wronglyCancelled = jobs.filter((j) => j.conclusion === 'cancelled' && j.expected !== 'cancelled').map((j) => j.name);
    const toClaim = Math.max(...waited.map((j) => (j.times.claimed ?? Number.NaN) - j.times.dispatched));
    const toRun = Math.max(...waited.map((j) => (j.times.running ?? Number.NaN) - j.times.dispatched));
    // The sweep's own part: dispatch → its `enqueued` line (the rest is waiting for a free slot).
    const enqueuedAt = new Map(handlerLines(ENQUEUED).map((l) => [Number(l.workflowJobID), Date.parse(String(l.time))]));
    const toEnqueue = Math.max(...waited.map((j) => (enqueuedAt.get(j.id) ?? Number.NaN) - j.times.dispatched));
    return { lost, ranTwice, wronglyCancelled, toClaim, toRun, toEnqueue };
  }

  it('runs jobs whose queued webhook GitHub never sent, and removes a waiting job whose completed webhook it never sent', async () => {
    // A job no host can fit waits in the store; its run is cancelled and GitHub drops that `completed`.
    const [huge] = fleet.dispatch({ name: 'huge', tag: 'huge', expect: 'cancelled' });
    await until('a host to refuse the huge job', () => handlerLines('host does not have enough resources to run vm').some((l) => Number(l.workflowJobID) === huge!.id), 120_000);
    const dropped = fleet.sim.control.droppedDeliveries();
    fleet.sim.control.dropNextDeliveries({ count: 1, action: 'completed' });
    fleet.sim.control.cancelRun(huge!.runId);

    // Six jobs, of which GitHub never sends the first three `queued` webhooks.
    fleet.sim.control.dropNextDeliveries({ count: 3, action: 'queued' });
    const jobs = fleet.dispatch(Array.from({ length: 6 }, (_, i) => ({ name: `dropped-${i}`, conclusion: 'success' as const, durationMs: 500 })));
    await fleet.sim.control.deliveriesSettled();
    expect(fleet.sim.control.droppedDeliveries() - dropped).toBe(4);
    const queuedDelivered = new Set(fleet.sim.control.deliveries().filter((d) => d.action === 'queued').map((d) => deliveredJob(d).id));
    const neverSent = jobs.filter((j) => !queuedDelivered.has(j.id));
    expect(neverSent.map((j) => j.name)).toEqual(['dropped-0', 'dropped-1', 'dropped-2']);

    const done = await fleet.waitForAll({ timeoutMs: 240_000 });
    const v = verdict([...jobs, huge!], neverSent);
    console.log(
      `dropped webhooks: ${neverSent.length} queued + 1 completed never sent; lost ${v.lost.length}, ran twice ${v.ranTwice.length}, wrongly cancelled ${v.wronglyCancelled.length}; ` +
        `longest wait of a dropped job: dispatch → enqueued by the sweep ${Math.round(v.toEnqueue)} ms, → claim ${Math.round(v.toClaim)} ms, → its runner took it ${Math.round(v.toRun)} ms (sweep interval ${RECONCILE_SECONDS} s; goal: within two)`,
    );
    expect(done.length).toBe(7);
    expect(v).toMatchObject({ lost: [], ranTwice: [], wronglyCancelled: [] });
    // The sweep, not a webhook, brought each dropped job in; and it recorded the huge job's end,
    // upon which a handler removed it without starting anything.
    const enqueued = new Set(handlerLines(ENQUEUED).map((l) => Number(l.workflowJobID)));
    for (const job of neverSent) expect(enqueued.has(job.id), job.name).toBe(true);
    expect(handlerLines(FINISHED).map((l) => [Number(l.workflowJobID), l.conclusion])).toEqual([[huge!.id, 'cancelled']]);
    await until('the huge job removed by a handler', () => handlerLines('job completed on GitHub while queued; removing it').some((l) => Number(l.workflowJobID) === huge!.id), 120_000);
  }, 420_000);

  it('runs the queued jobs of a Redis restarted with its data deleted, and lets the running ones finish', async () => {
    // Four jobs run (every VM slot), three wait in Redis, stored from their webhooks.
    const running = fleet.dispatch(Array.from({ length: 4 }, (_, i) => ({ name: `running-${i}`, conclusion: 'success' as const, durationMs: 12_000 })));
    await until('four jobs running in their VMs', () => running.every((j) => j.state === 'running'), 180_000);
    const waiting = fleet.dispatch(Array.from({ length: 3 }, (_, i) => ({ name: `waiting-${i}`, conclusion: 'success' as const, durationMs: 500 })));
    for (const job of waiting) await waitForLine(fleet.host('receiver'), 'job pushed to queued queue', job.id);
    const client = new Redis(fleet.redis!.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined); // refused while Redis restarts: expected
    const store = createRedisJobStore({ redis: client, prefix: 'anklet' });
    try {
      expect(await store.stats(fleet.owner)).toMatchObject({ queued: 3, claimed: 4 });
      await fleet.redis!.restartEmpty(500);
      // Gone, finished ids, deliveries and leaderships included.
      await until('Redis back, empty', () => store.stats(fleet.owner).then((s) => s.queued === 0 && s.claimed === 0, () => false), 30_000);
    } finally {
      await store.close();
    }
    const restartedAt = Date.now();

    const jobs = [...running, ...waiting];
    await fleet.waitForAll({ timeoutMs: 240_000 });
    const v = verdict(jobs, waiting);
    const claimedAfter = Math.max(...waiting.map((j) => (j.times.claimed ?? Number.NaN) - restartedAt));
    const enqueuedAfter = new Map(handlerLines(ENQUEUED).filter((l) => Date.parse(String(l.time)) >= restartedAt).map((l) => [Number(l.workflowJobID), Date.parse(String(l.time))]));
    // The running jobs' handlers asked GitHub and wrote their records back (store.restore).
    const restored = new Set(handlerLines('job record written back to the store').map((l) => Number(l.workflowJobID)));
    console.log(
      `Redis restarted empty with ${running.length} jobs running and ${waiting.length} queued: lost ${v.lost.length}, ran twice ${v.ranTwice.length}, wrongly cancelled ${v.wronglyCancelled.length}; ` +
        `running jobs whose record was written back: ${restored.size}/${running.length}; ` +
        `longest wait of a queued job: Redis back → enqueued by the sweep ${Math.round(Math.max(...waiting.map((j) => (enqueuedAfter.get(j.id) ?? Number.NaN) - restartedAt)))} ms, dispatch → claim ${Math.round(v.toClaim)} ms, → its runner took it ${Math.round(v.toRun)} ms; Redis back → last claim ${Math.round(claimedAfter)} ms (sweep interval ${RECONCILE_SECONDS} s)`,
    );
    expect(v).toMatchObject({ lost: [], ranTwice: [], wronglyCancelled: [] });
    const enqueued = new Set(handlerLines(ENQUEUED).map((l) => Number(l.workflowJobID)));
    for (const job of waiting) expect(enqueued.has(job.id), job.name).toBe(true);
    // Each running job's handler noticed the vanished record and let GitHub decide (none was torn down:
    // wrongly cancelled 0 above); the ones GitHub said still ran got their record written back.
    const decided = new Set(handlerLines('job record vanished from the store; GitHub decides how the attempt ends').map((l) => Number(l.workflowJobID)));
    for (const job of running) expect(restored.has(job.id) || decided.has(job.id), job.name).toBe(true);
    for (const id of restored) expect(running.map((j) => j.id)).toContain(id);
  }, 420_000);
});
