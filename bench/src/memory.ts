/**
 * Redis memory per queued job: the `used_memory` delta (INFO memory) over N enqueued jobs with the
 * Go `QueueJob` payload the receiver stores and a webhook delivery id each (as the receiver
 * enqueues), for
 *
 * - anklet record format 2 (this store: a listpack hash per job, one list entry, a delivery id in
 *   a small hash);
 * - anklet record format 1 (what anklet wrote before store v2, written here key by key the way its
 *   enqueue script did: a hash with long field names and the payload in one field, a sorted-set
 *   member, a delivery string key with a TTL);
 * - the Go anklet (the QueueJob JSON pushed on a list; no delivery de-duplication).
 *
 * Also prints MEMORY USAGE and OBJECT ENCODING of one record of each format.
 *
 * Run: pnpm --filter @anklet/bench bench:memory   (BENCH_JOBS, default 10000)
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { createRedisJobStore, queueKeys } from '@anklet/redis';
import { startRedisServer } from '@anklet/testing';
import { goQueueJob } from './go-queue-job.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 10_000);
const QUEUE = 'veertuinc';
const TEMPLATE = '84266873-da90-4e0d-903b-ed0233471f9f';
const FIRST_ID = 28_000_000_000;

async function usedMemory(raw: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1] ?? 0);
}

interface Row {
  readonly format: string;
  readonly perJob: number;
  readonly record: string;
}

async function measure(raw: Redis, format: string, sampleKey: string, write: (from: number, count: number) => Promise<void>): Promise<Row> {
  await raw.flushall();
  const before = await usedMemory(raw);
  for (let i = 0; i < JOBS; i += 500) await write(FIRST_ID + i, Math.min(500, JOBS - i));
  const perJob = ((await usedMemory(raw)) - before) / JOBS;
  const usage = await raw.memory('USAGE', sampleKey, 'SAMPLES', 0);
  const encoding = await raw.object('ENCODING', sampleKey);
  return { format, perJob, record: `${String(usage)} B, ${String(encoding)}` };
}

async function main(): Promise<void> {
  const server = await startRedisServer({ allowExternal: false });
  const raw = new Redis(server.url);
  const loadBefore = loadavg()[0]?.toFixed(2);
  try {
    const payloadBytes = JSON.stringify(goQueueJob(FIRST_ID)).length;
    const k = queueKeys('anklet', QUEUE);
    const rows: Row[] = [];

    const store = createRedisJobStore({ redis: new Redis(server.url), prefix: 'anklet' });
    rows.push(
      await measure(raw, 'anklet record format 2 (store v2)', k.job(String(FIRST_ID)), async (from, count) => {
        if (from === FIRST_ID) await store.stats(QUEUE); // the one-time format check, outside the count
        await Promise.all(
          Array.from({ length: count }, (_, i) =>
            store.enqueue({ id: String(from + i), queue: QUEUE, payload: goQueueJob(from + i), deliveryId: randomUUID(), repositoryOwner: QUEUE, template: TEMPLATE }),
          ),
        );
      }),
    );
    await store.close();

    rows.push(
      await measure(raw, 'anklet record format 1 (before store v2)', k.legacy.job(String(FIRST_ID)), async (from, count) => {
        const pipe = raw.pipeline();
        for (let i = 0; i < count; i += 1) {
          const id = String(from + i);
          const delivery = randomUUID();
          const now = Date.now();
          pipe.hset(k.legacy.job(id), 'id', id, 'queue', QUEUE, 'payload', JSON.stringify(goQueueJob(from + i)), 'attempts', 0, 'phase', 'queued', 'state', 'queued', 'enqueuedAt', now, 'token', 0, 'deliveryId', delivery, 'repositoryOwner', QUEUE, 'template', TEMPLATE);
          pipe.zadd(k.legacy.queued, from + i - FIRST_ID + 1, id);
          pipe.set(k.legacy.delivery(delivery), id, 'PX', 7 * 24 * 3600 * 1000);
        }
        await pipe.exec();
      }),
    );

    const goKey = 'anklet/jobs/github/queued/veertuinc';
    rows.push(
      await measure(raw, 'Go anklet (QueueJob JSON on a list)', goKey, async (from, count) => {
        await raw.rpush(goKey, ...Array.from({ length: count }, (_, i) => JSON.stringify(goQueueJob(from + i))));
      }),
    );

    const info = await raw.info('server');
    console.log(`redis-server ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}, ${JOBS.toLocaleString('en-US')} queued jobs, payload ${payloadBytes} B (Go QueueJob JSON)\n`);
    console.log('| format | bytes per queued job (INFO used_memory delta) | one record (MEMORY USAGE, encoding) |');
    console.log('|---|---:|---|');
    for (const r of rows) console.log(`| ${r.format} | ${r.perJob.toFixed(0)} | ${r.record} |`);
    const [v2, v1, go] = rows;
    if (v2 && v1 && go) console.log(`\nformat 2 uses ${(v2.perJob / v1.perJob).toFixed(2)}x the memory of format 1 and ${(v2.perJob / go.perJob).toFixed(2)}x Go's (which keeps no delivery ids).`);
    console.log(`load average (1 min): before ${loadBefore}, after ${loadavg()[0]?.toFixed(2)}`);
  } finally {
    raw.disconnect();
    await server.stop();
  }
}

await main();
