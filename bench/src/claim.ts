/**
 * Claim benchmark: anklet's one-script claim against a replay of the Go anklet's claim pattern
 * (LLEN, then LRANGE from the target index to the end, then LREM of the first element; handler
 * reference section 4.4 / 2.3), at queue depths 10, 1,000 and 10,000, on a private redis-server;
 * then the handler's whole loop per claim and the starvation case (see claim-loop.ts).
 *
 * Round trips are counted on the client (commands sent during the timed call); latency is
 * wall-clock per claim. The queue is topped up after every claim, outside the timed part, so the
 * depth stays what the row says.
 *
 * Run: pnpm --filter @anklet/bench bench:claim
 * Sizes: BENCH_DEPTHS (default 10,1000,10000), BENCH_INELIGIBLE (default 100000), BENCH_SAMPLES (default 1000).
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createRedisJobStore } from '@anklet/redis';
import { startRedisServer, uniquePrefix } from '@anklet/testing';
import { goQueueJob } from './go-queue-job.js';
import { benchHandlerLoop, printLoopRows, type LoopRow } from './claim-loop.js';

const DEPTHS = (process.env['BENCH_DEPTHS'] ?? '10,1000,10000').split(',').map(Number);
const INELIGIBLE = Number(process.env['BENCH_INELIGIBLE'] ?? 100_000);
const SAMPLE_COUNT = Number(process.env['BENCH_SAMPLES'] ?? 1000);
const SAMPLES = { anklet: SAMPLE_COUNT, go: Math.ceil(SAMPLE_COUNT * 0.3) };
const WARMUP = 50;

/** A Go `QueueJob` record of typical size, as JSON text. */
function goRecord(id: number): string {
  return JSON.stringify(goQueueJob(id));
}

/** Counts the commands a client sends while `counting` is on. */
function countCommands(client: Redis): { start(): void; stop(): number } {
  let count = 0;
  let on = false;
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    if (on) count += 1;
    return send(...args);
  }) as Redis['sendCommand'];
  return {
    start() {
      count = 0;
      on = true;
    },
    stop() {
      on = false;
      return count;
    },
  };
}

interface Row {
  impl: string;
  depth: number;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  roundTrips: number;
}

function summarise(impl: string, depth: number, latencies: number[], commands: number): Row {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { impl, depth, samples: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), roundTrips: commands / sorted.length };
}

async function benchAnklet(url: string, depth: number): Promise<Row> {
  const client = new Redis(url);
  const store = createRedisJobStore({ redis: client, prefix: uniquePrefix('bench') });
  const queue = 'veertuinc';
  let next = 0;
  const add = async (count: number): Promise<void> => {
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < count; i += 1) {
      const id = next++;
      batch.push(store.enqueue({ id: String(id), queue, payload: JSON.parse(goRecord(id)) as unknown, repositoryOwner: 'veertuinc', template: '84266873' }));
      if (batch.length >= 500) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
  };
  await add(depth);
  const counter = countCommands(client);
  const latencies: number[] = [];
  let commands = 0;
  for (let i = 0; i < WARMUP + SAMPLES.anklet; i += 1) {
    counter.start();
    const t0 = performance.now();
    const lease = await store.claim({ queue, owner: 'bench-handler', leaseMs: 60_000, repositoryOwners: ['veertuinc'] });
    const t1 = performance.now();
    const sent = counter.stop();
    if (!lease) throw new Error('queue ran dry');
    if (i >= WARMUP) {
      latencies.push(t1 - t0);
      commands += sent;
    }
    await store.finish(lease, 'success');
    await add(1);
  }
  await store.close();
  return summarise('anklet (claim-job-1.lua)', depth, latencies, commands);
}

async function benchGo(url: string, depth: number): Promise<Row> {
  const client = new Redis(url);
  const key = `${uniquePrefix('bench-go')}:anklet/jobs/github/queued/veertuinc`;
  let next = 0;
  const add = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i += 500) {
      const records = Array.from({ length: Math.min(500, count - i) }, () => goRecord(next++));
      await client.rpush(key, ...records);
    }
  };
  await add(depth);
  const counter = countCommands(client);
  const latencies: number[] = [];
  let commands = 0;
  const targetIndex = 0;
  for (let i = 0; i < WARMUP + SAMPLES.go; i += 1) {
    counter.start();
    const t0 = performance.now();
    // The Go handler: LLEN (reset the index past the end), LRANGE index..-1, take the first, LREM it.
    const length = await client.llen(key);
    const index = targetIndex > length ? 0 : targetIndex;
    const elements = await client.lrange(key, index, -1);
    const first = elements[0];
    const removed = first === undefined ? 0 : await client.lrem(key, 1, first);
    const job = removed === 1 && first !== undefined ? (JSON.parse(first) as unknown) : null;
    const t1 = performance.now();
    const sent = counter.stop();
    if (!job) throw new Error('queue ran dry');
    if (i >= WARMUP) {
      latencies.push(t1 - t0);
      commands += sent;
    }
    await add(1);
  }
  await client.del(key);
  client.disconnect();
  return summarise('Go replay (LLEN+LRANGE+LREM)', depth, latencies, commands);
}

const fmt = (ms: number): string => ms.toFixed(3);

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const server = await startRedisServer({ allowExternal: false });
  const loadBefore = load();
  try {
    const rows: Row[] = [];
    for (const depth of DEPTHS) {
      rows.push(await benchAnklet(server.url, depth));
      rows.push(await benchGo(server.url, depth));
    }
    const info = new Redis(server.url);
    const redisVersion = (await info.info('server')).match(/redis_version:(\S+)/)?.[1] ?? '?';
    info.disconnect();
    console.log(`redis-server ${redisVersion}, Node ${process.version}; latency in ms per claim\n`);
    console.log('| depth | implementation | samples | p50 ms | p95 ms | p99 ms | round trips / claim |');
    console.log('|---:|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.depth.toLocaleString('en-US')} | ${r.impl} | ${r.samples} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${r.roundTrips.toFixed(2)} |`);
    }
    console.log('');
    for (const depth of DEPTHS) {
      const ours = rows.find((r) => r.depth === depth && r.impl.startsWith('anklet'));
      const go = rows.find((r) => r.depth === depth && r.impl.startsWith('Go'));
      if (ours && go) console.log(`depth ${depth.toLocaleString('en-US')}: anklet p50 is ${(go.p50 / ours.p50).toFixed(1)}x faster than the Go pattern`);
    }

    // The handler's loop (stats + claim) at the same depths, then one eligible job behind many it may not take.
    const loops: LoopRow[] = [];
    const samples = Math.ceil(SAMPLE_COUNT / 2);
    for (const depth of DEPTHS) loops.push(await benchHandlerLoop(server.url, { case: 'handler loop (stats + claim)', ahead: depth, ineligible: false, samples, payload: goQueueJob }));
    loops.push(await benchHandlerLoop(server.url, { case: 'starvation: 1 eligible behind ineligible (handler loop)', ahead: INELIGIBLE, ineligible: true, samples, payload: goQueueJob }));
    console.log('\nHandler loop per claim (wall ms) and Redis server time per script call (µs, SLOWLOG):\n');
    printLoopRows(loops);
    console.log(`\nload average (1/5/15 min): before ${loadBefore}, after ${load()}`);
  } finally {
    await server.stop();
  }
}

await main();
