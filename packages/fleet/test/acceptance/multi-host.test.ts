/**
 * The Go acceptance scenarios that need several hosts (go-anklet-handler.md §11.5, 11.6 and
 * go-anklet-receiver.md §7.2), on the real `anklet` binaries at simulator speed. One fleet serves
 * them all, set up as Go's `5-test-success-queue_name`: two receiver-only hosts sharing
 * `queue_name: shared_queue` (github-sim delivers every webhook to both), `mac-8-8` (two handlers,
 * simulated 8 CPU/8 GB) and `mac-8-16` (one handler, 8 CPU/16 GB) whose config says
 * `queue_name: will-be-overridden-by-env` and whose environment override
 * `MAC_8_16_HANDLER1_QUEUE_NAME=shared_queue` must win. The receivers redeliver failed deliveries.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet, type FleetHost, type FleetJob } from '../../src/index.js';
import { deliveredJob, dumpLogsOnFailure, goTemplates, linesWith, until, waitForIdle, waitForLine } from './helpers.js';

const JOB_MS = 1500;
const QUEUE = 'shared_queue';

describe('acceptance: several hosts (Go §11.5, §11.6, receiver §7.2)', () => {
  let fleet: Fleet;
  let small: FleetHost;
  let big: FleetHost;
  let receivers: FleetHost[];

  dumpLogsOnFailure(() => fleet);

  beforeAll(async () => {
    const receiver = { receiver: true, receiverConfig: `queue_name: ${QUEUE}`, redeliver: true };
    fleet = await startFleet({
      store: 'redis',
      templates: goTemplates(),
      prePull: true,
      hosts: [
        { name: 'recv-a', ...receiver },
        { name: 'recv-b', ...receiver },
        { name: 'mac-8-8', handlers: 2, hardware: { cpuCores: 8, memoryGiB: 8 }, handlerConfig: `queue_name: ${QUEUE}` },
        {
          name: 'mac-8-16',
          handlers: 1,
          hardware: { cpuCores: 8, memoryGiB: 16 },
          handlerConfig: 'queue_name: will-be-overridden-by-env',
          env: { MAC_8_16_HANDLER1_QUEUE_NAME: QUEUE },
          start: false,
        },
      ],
    });
    small = fleet.host('mac-8-8');
    big = fleet.host('mac-8-16');
    receivers = [fleet.host('recv-a'), fleet.host('recv-b')];
  });

  afterAll(async () => {
    const left = await fleet?.stop();
    expect(left).toEqual({ vms: [], runners: [], claimed: 0, queued: 0 });
  });

  /** Both hosts took one of the jobs. */
  const expectOnBothHosts = (jobs: FleetJob[]) => {
    for (const host of [small, big]) expect(jobs.filter((j) => linesWith(host, 'queued job found', j.id).length > 0).length, host.name).toBeGreaterThanOrEqual(1);
  };

  // §11.5 step 1, failover: the small host cannot fit 6 CPU/14 GB; the big one, started later, runs it.
  it('hands a job the small host cannot fit to a bigger host started later', async () => {
    const [job] = fleet.dispatch({ name: 't2-6c14r-1', tag: '6c14r', conclusion: 'success', durationMs: 300 });
    const line = await waitForLine(small, 'host does not have enough resources to run vm', job!.id);
    expect(String(line.reason)).toMatch(/memory/);
    await fleet.startHost('mac-8-16');
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect([job!.conclusion, job!.host, job!.starts]).toEqual(['success', 'mac-8-16', 1]);
    expect(linesWith(big, 'queued job found', job!.id)).toHaveLength(1);
  });

  // §11.6: the environment override wins over the file; both receivers store into the shared queue,
  // and the store keeps one copy of each job.
  it('shares queue_name between two receivers and handlers, with the env override winning', async () => {
    expect(linesWith(big, 'github handler started').map((l) => l.queue)).toEqual([QUEUE]);
    expect(new Set(linesWith(small, 'github handler started').map((l) => l.queue))).toEqual(new Set([QUEUE]));
    for (const r of receivers) expect(linesWith(r, 'receiver listening').map((l) => l.queue)).toEqual([QUEUE]);
    const [job] = fleet.jobs();
    const pushed = receivers.flatMap((r) => linesWith(r, 'job pushed to queued queue', job!.id));
    const skipped = receivers.flatMap((r) => linesWith(r, 'job already present in queued queue, skipping enqueue', job!.id));
    expect([pushed.length, skipped.length]).toEqual([1, 1]);
    expect(pushed[0]!.queue).toBe(QUEUE);
    const redis = new Redis(fleet.redis!.url);
    try {
      const keys = await redis.keys('*');
      expect(keys.some((k) => k.includes(QUEUE))).toBe(true);
      expect(keys.filter((k) => /(^|[:/{])acme([:/}]|$)/.test(k) && /queue|jobs/.test(k) && !k.includes(QUEUE))).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  // §11.5 steps 2–3 (and §11.6 step 2): two jobs of one run, each 6 CPU, so that no host fits both
  // at once: both hosts take one.
  it('spreads a dual run and a matrix run over both hosts', async () => {
    const dual = fleet.dispatchRun(
      [1, 2].map((i) => ({ name: `t2-dual-without-tag (${i})`, tag: '6c6r', conclusion: 'success' as const, durationMs: JOB_MS })),
      { workflowName: 't2-dual-without-tag' },
    );
    await fleet.waitForAll({ timeoutMs: 240_000 });
    const matrix = fleet.dispatchRun(
      [1, 2].map((node) => ({ name: `t1-with-tag-1-matrix-nodes-2 (${node})`, tag: '6c6r', conclusion: 'success' as const, durationMs: JOB_MS })),
      { workflowName: 't1-with-tag-1-matrix-nodes-2' },
    );
    await fleet.waitForAll({ timeoutMs: 240_000 });
    for (const jobs of [dual, matrix]) {
      expect(jobs.map((j) => [j.conclusion, j.starts])).toEqual([['success', 1], ['success', 1]]);
      expectOnBothHosts(jobs);
    }
    await waitForIdle(fleet, ['mac-8-8', 'mac-8-16', 'recv-a', 'recv-b']);
  });

  // Receiver §7.2 6-test-redelivery: the receivers are down when the job is queued; the delivery
  // fails on github-sim; at their start one of them asks GitHub to redeliver it, and the job runs.
  it('redelivers a job queued while the receivers were down', async () => {
    await fleet.stopReceiver('SIGINT');
    const [job] = fleet.dispatch({ name: 't1-with-tag-1', tag: '3c6r', conclusion: 'success', durationMs: 300 });
    await fleet.sim.control.deliveriesSettled();
    const failed = fleet.sim.control.deliveries().filter((d) => d.action === 'queued' && !d.success && deliveredJob(d).id === job!.id);
    expect(failed).toHaveLength(2);
    await fleet.startReceiver();
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(job!.conclusion).toBe('success');
    const redelivered = receivers.flatMap((r) => linesWith(r, 'redelivering hook').filter((l) => Number(l.workflow_job_id) === job!.id));
    expect(redelivered.length).toBeGreaterThanOrEqual(1);
    expect(receivers.flatMap((r) => linesWith(r, 'job pushed to queued queue', job!.id))).toHaveLength(1);
    const ran = job!.host === 'mac-8-8' ? small : big;
    for (const text of ['queued job found', 'handling anka workflow run job', 'job completed']) expect(linesWith(ran, text, job!.id), text).toHaveLength(1);
    expect(receivers.flatMap((r) => linesWith(r, 'error running plugin'))).toEqual([]);
    await until('every plugin idle', async () => {
      await waitForIdle(fleet, ['mac-8-8', 'mac-8-16', 'recv-a', 'recv-b']);
      return true;
    });
  });
});
