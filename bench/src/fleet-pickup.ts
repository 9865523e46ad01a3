/**
 * bench:fleet run P: pick-up on Redis, ours and the Go loop replayed (go-replay.ts) against the
 * same redis-server in the same run, one job at a time.
 *
 * Ours: one anklet host (the real binary: receiver + two handlers, `sleep_interval: 10`) through
 * @anklet/fleet. Go: two replayed hosts of two handlers each, `sleep_interval` 0 (Go's default) and
 * 10 (the documented value), each on its own Go queue list. Before the first job the store holds a
 * backlog: `BENCH_FLEET_BACKLOG` (1,000) queued jobs of another organization, in our store and in
 * Go's list of that queue, so neither side starts from an empty store.
 *
 * Each job is dispatched to all three at once: github-sim sends ours its `queued` webhook; the
 * bench `RPUSH`es the Go record (what the Go receiver does) to each Go list. Ours: delivery → claim
 * (`queued job found`) and → `anka clone`. Go: the `RPUSH` answered → `LREM` answered 1 (its
 * receiver's own time is not counted: that favours Go). A Go handler holds its job as long as our
 * handler held the same one (claim → clean-up), then its Run ends and it sleeps. The next job is
 * queued 300 ms after all three have finished with this one.
 */
import type { RegistryTemplateSeed } from '@anklet/anka-sim';
import { startFleet } from '@anklet/fleet';
import { createRedisJobStore } from '@anklet/redis';
import { Redis } from 'ioredis';
import { ankaCalls, deliveriesOf, linesOf, timeOf } from './fleet-records.js';
import { goQueueJob, goQueueKey, startGoHost, type GoClaim } from './go-replay.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (text: string) => process.stderr.write(`${text}\n`);

/** The organization whose jobs make the backlog (its queue is not ours). */
export const BACKLOG_OWNER = 'other-org';
export const GO_SLEEP_INTERVALS = [0, 10] as const;

export interface PickupRun {
  readonly backlog: number;
  readonly jobs: number;
  /** Ours: `queued` delivery → claim, and → `anka clone` start (ms). */
  readonly oursToClaim: number[];
  readonly oursToClone: number[];
  /** Go replay per sleep_interval: `RPUSH` → claim (ms). */
  readonly go: Map<number, number[]>;
  /** Jobs a Go loop had not claimed within the wait (left out of its figures). */
  readonly goMissed: Map<number, number>;
}

/** Fills both stores with `count` queued jobs of {@link BACKLOG_OWNER}. */
async function seedBacklog(redis: Redis, count: number): Promise<void> {
  const store = createRedisJobStore({ redis, prefix: 'anklet', closeConnection: false });
  const go: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = 9_000_000_000 + i;
    const record = goQueueJob(id, BACKLOG_OWNER);
    await store.enqueue({ id: String(id), queue: BACKLOG_OWNER, payload: JSON.parse(record) as unknown, repositoryOwner: BACKLOG_OWNER });
    go.push(record);
  }
  await redis.rpush(goQueueKey(BACKLOG_OWNER), ...go);
}

export async function runPickup(options: { pluginsPath: string; templates: RegistryTemplateSeed[]; jobs: number; backlog: number }): Promise<PickupRun> {
  say(`run P: Redis, one host (receiver + 2 handlers, sleep_interval 10) beside the Go loop replayed with sleep_interval ${GO_SLEEP_INTERVALS.join(' and ')}; backlog ${options.backlog}; ${options.jobs} sequential jobs`);
  const fleet = await startFleet({
    store: 'redis',
    hosts: [{ name: 'host', receiver: true, handlers: 2, sleepInterval: 10 }],
    prePull: true,
    templates: options.templates,
    pluginsPath: options.pluginsPath,
    sim: { defaultJobDurationMs: 100 },
  });
  const redis = new Redis(fleet.redis!.url);
  const goRedis = new Redis(fleet.redis!.url);
  const go = new Map<number, number[]>(GO_SLEEP_INTERVALS.map((s) => [s, []]));
  const goMissed = new Map<number, number>(GO_SLEEP_INTERVALS.map((s) => [s, 0]));
  // Per job: when our handler held it (claim → done), so that the Go handler holds it as long.
  const oursHeld = new Map<number, { promise: Promise<number>; resolve: (ms: number) => void }>();
  const heldFor = (jobId: number) => {
    let entry = oursHeld.get(jobId);
    if (!entry) {
      let resolve!: (ms: number) => void;
      const promise = new Promise<number>((r) => (resolve = r));
      entry = { promise, resolve };
      oursHeld.set(jobId, entry);
    }
    return entry;
  };
  const claims = new Map<string, (claim: GoClaim) => void>();
  const goHosts = GO_SLEEP_INTERVALS.map((sleepInterval) =>
    startGoHost({
      redis: goRedis,
      queueOwner: `acme-go-sleep-${sleepInterval}`,
      sleepIntervalSeconds: sleepInterval,
      async onClaim(claim) {
        claims.get(`${sleepInterval}:${claim.jobId}`)?.(claim);
        const held = await heldFor(claim.jobId).promise;
        await sleep(Math.max(0, claim.at + held - Date.now()));
      },
    }),
  );
  try {
    await seedBacklog(redis, options.backlog);
    const host = fleet.host('host');
    const oursToClaim: number[] = [];
    const oursToClone: number[] = [];
    for (let i = 0; i < options.jobs; i += 1) {
      const [job] = fleet.dispatch({ name: `pickup-${i}`, durationMs: 100 });
      const goClaims = GO_SLEEP_INTERVALS.map(async (sleepInterval) => {
        const claimed = new Promise<GoClaim>((resolve) => claims.set(`${sleepInterval}:${job!.id}`, resolve));
        await redis.rpush(goQueueKey(`acme-go-sleep-${sleepInterval}`), goQueueJob(job!.id, 'acme'));
        const queuedAt = Date.now();
        const claim = await Promise.race([claimed, sleep(120_000).then(() => undefined)]);
        if (claim) go.get(sleepInterval)!.push(claim.at - queuedAt);
        else goMissed.set(sleepInterval, goMissed.get(sleepInterval)! + 1);
      });
      await fleet.waitForAll({ timeoutMs: 120_000 });
      heldFor(job!.id).resolve((job!.times.done ?? Date.now()) - (job!.times.claimed ?? Date.now()));
      await Promise.all(goClaims);
      const delivered = deliveriesOf(fleet, job!.id).get('queued');
      const claim = linesOf(host, 'queued job found').find((l) => Number(l.workflowJobID) === job!.id);
      const clone = ankaCalls(host).find((c) => c.command === 'clone' && c.vm === job!.vmName);
      if (delivered !== undefined && claim && job!.claims === 1) {
        oursToClaim.push(timeOf(claim) - delivered);
        if (clone) oursToClone.push(clone.start - delivered);
      }
      say(`  job ${i + 1}/${options.jobs}: ours ${oursToClaim.at(-1) ?? '–'} ms to claim; Go ${GO_SLEEP_INTERVALS.map((s) => `sleep ${s}: ${go.get(s)!.at(-1) ?? '–'} ms`).join(', ')}`);
      await sleep(300);
    }
    return { backlog: options.backlog, jobs: options.jobs, oursToClaim, oursToClone, go, goMissed };
  } finally {
    await Promise.all(goHosts.map((h) => h.stop()));
    redis.disconnect();
    goRedis.disconnect();
    await fleet.stop();
  }
}
