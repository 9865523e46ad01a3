/**
 * Claim benchmark, part 2: what a handler really pays per claim, and a claim behind a deep queue of
 * jobs it may not take.
 *
 * - Handler loop: what `plugin-github-handler` calls per attempt before it has a job:
 *   `stats(queue)` (for its queue-depth gauge), then `claim` with its repository-owner filter and
 *   skipped ids. Wall-clock per loop, and Redis server time per script call.
 * - Starvation: one eligible job behind N ineligible ones (another repository owner, a refused
 *   template), with a few skipped ids at the head of the eligible group. Before store v2 a claim
 *   looked at 1,000 candidates at most and returned nothing here.
 *
 * Server time comes from SLOWLOG with a threshold of 0 µs on the private server (every call logged
 * with its duration), filtered to the script's SHA: Redis's own time for the call, without the
 * network and the client.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createRedisJobStore, loadScripts } from '@anklet/redis';
import { uniquePrefix } from '@anklet/testing';
import { percentile } from './fleet-stats.js';

type JobStore = ReturnType<typeof createRedisJobStore>;
type ClaimRequest = Parameters<JobStore['claim']>[0];

export interface LoopRow {
  readonly case: string;
  readonly ahead: number;
  readonly samples: number;
  readonly wallP50: number;
  readonly wallP99: number;
  /** Server µs per call, by script name. */
  readonly server: Record<string, { p50: number; p99: number; calls: number }>;
}

type SlowlogEntry = [number, number, number, string[]];

/** Runs `work` with every command in SLOWLOG; returns server µs per call of each named script. */
async function serverTimes(raw: Redis, names: ReadonlyArray<string>, work: () => Promise<void>): Promise<LoopRow['server']> {
  const scripts = loadScripts();
  const bySha = new Map(names.map((n) => [scripts.get(n)?.sha ?? '', n]));
  await raw.config('SET', 'slowlog-max-len', '200000');
  await raw.config('SET', 'slowlog-log-slower-than', '0');
  await raw.slowlog('RESET');
  try {
    await work();
  } finally {
    await raw.config('SET', 'slowlog-log-slower-than', '10000');
  }
  const entries = (await raw.slowlog('GET', 200_000)) as SlowlogEntry[];
  await raw.slowlog('RESET');
  const usec = new Map<string, number[]>();
  for (const [, , micros, args] of entries) {
    const name = String(args[0]).toLowerCase() === 'evalsha' ? bySha.get(String(args[1])) : undefined;
    if (name) usec.set(name, [...(usec.get(name) ?? []), micros]);
  }
  return Object.fromEntries(names.map((n) => [n, { p50: percentile(usec.get(n) ?? [], 50), p99: percentile(usec.get(n) ?? [], 99), calls: usec.get(n)?.length ?? 0 }]));
}

/** Fills a queue in batches (one connection: order kept). */
async function fill(store: JobStore, queue: string, count: number, make: (i: number) => { id: string; repositoryOwner?: string; template?: string }, payload: (id: number) => unknown): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, count - i) }, (_, j) => {
        const job = make(i + j);
        return store.enqueue({ ...job, queue, payload: payload(i + j) });
      }),
    );
  }
}

/**
 * One measured case: `ahead` jobs the claimer may not take (or may, for the plain loop), then
 * claims through the handler's loop; after each claim the job is finished and one eligible job is
 * added at the tail, outside the timed part, so every claim meets the same queue.
 */
export async function benchHandlerLoop(url: string, options: { case: string; ahead: number; ineligible: boolean; samples: number; payload: (id: number) => unknown }): Promise<LoopRow> {
  const client = new Redis(url);
  const raw = new Redis(url);
  const store = createRedisJobStore({ redis: client, prefix: uniquePrefix('bench-loop') });
  const queue = 'veertuinc';
  let next = 0;
  const eligible = (): { id: string; repositoryOwner: string; template: string } => ({ id: String(next++), repositoryOwner: 'veertuinc', template: 'small' });
  await fill(
    store,
    queue,
    options.ahead,
    (i) => (!options.ineligible ? eligible() : i % 2 === 0 ? { id: String(next++), repositoryOwner: 'other-org' } : { id: String(next++), repositoryOwner: 'veertuinc', template: 'big' }),
    options.payload,
  );
  // A few ids this handler skips (jobs it handed off and cools down on) at the head of its group.
  const skipped = Array.from({ length: 5 }, () => eligible());
  await fill(store, queue, skipped.length, (i) => skipped[i]!, options.payload);
  await fill(store, queue, 10, () => eligible(), options.payload);
  const request: ClaimRequest = {
    queue,
    owner: 'bench-handler',
    leaseMs: 60_000,
    repositoryOwners: ['veertuinc'],
    refusedTemplates: options.ineligible ? ['big'] : undefined,
    skipJobIds: skipped.map((s) => s.id),
  };
  const wall: number[] = [];
  const server = await serverTimes(raw, ['queue-stats', 'claim-job'], async () => {
    for (let i = 0; i < 20 + options.samples; i += 1) {
      const t0 = performance.now();
      await store.stats(queue);
      const lease = await store.claim(request);
      const t1 = performance.now();
      if (!lease) throw new Error(`${options.case}: the claim found nothing (starved)`);
      if (i >= 20) wall.push(t1 - t0);
      await store.finish(lease, 'success');
      await fill(store, queue, 1, () => eligible(), options.payload);
    }
  });
  await store.close();
  raw.disconnect();
  return { case: options.case, ahead: options.ahead, samples: wall.length, wallP50: percentile(wall, 50), wallP99: percentile(wall, 99), server };
}

export function printLoopRows(rows: ReadonlyArray<LoopRow>): void {
  const f = (n: number, digits = 3): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  console.log('| case | jobs ahead | samples | loop p50 ms | loop p99 ms | server µs stats p50/p99 | server µs claim p50/p99 |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const s = r.server['queue-stats']!;
    const c = r.server['claim-job']!;
    console.log(`| ${r.case} | ${r.ahead.toLocaleString('en-US')} | ${r.samples} | ${f(r.wallP50)} | ${f(r.wallP99)} | ${f(s.p50, 0)} / ${f(s.p99, 0)} | ${f(c.p50, 0)} / ${f(c.p99, 0)} |`);
  }
}
