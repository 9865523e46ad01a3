/**
 * Store benchmark: the embedded SQLite store and the Redis store (on a private redis-server this
 * run starts) side by side, at 1k / 10k / 100k queued jobs and with 100k finished jobs of history.
 *
 * Per row: enqueue, claim, finish and stats latency (p50 / p99), a claim that must pass every queued
 * job (all of a template the claimer refused) to reach the one it may take, the worst event-loop
 * stall while those calls ran (`perf_hooks.monitorEventLoopDelay`), RSS, the time a restarted
 * process needs before its first claim, and bytes per job. The machine's load is printed before
 * and after: numbers from a shared machine are only comparable within one run.
 *
 * Filling: Redis through the store's own `enqueue` (and `claim` + `finish` for the history);
 * SQLite with the same rows written in one transaction through a second connection (one
 * fsync per job would take minutes at 100k and measures nothing the timed enqueues do not).
 *
 * Run: pnpm --filter @anklet/bench bench:store
 * Sizes: BENCH_SIZES=1000,10000,100000 BENCH_HISTORY=100000 BENCH_SAMPLES=500 BENCH_STORES=sqlite,redis
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import type { JobLease, JobStore } from '@anklet/core';
import { createRedisConnection, createRedisJobStore } from '@anklet/redis';
import { EMBEDDED_STORE_FILE, EmbeddedJobStore } from '@anklet/redis/embedded';
import { startRedisServer, uniquePrefix, type RedisServer } from '@anklet/testing';
import { goQueueJob } from './go-queue-job.js';

const numbers = (name: string, fallback: string): number[] => (process.env[name] ?? fallback).split(',').map(Number);
const SIZES = numbers('BENCH_SIZES', '1000,10000,100000');
const HISTORY = numbers('BENCH_HISTORY', '100000')[0] ?? 100_000;
const SAMPLES = numbers('BENCH_SAMPLES', '500')[0] ?? 500;
const STORES = (process.env['BENCH_STORES'] ?? 'sqlite,redis').split(',');
const QUEUE = 'veertuinc';
const TEMPLATE = '84266873';

interface Scenario {
  readonly queued: number;
  readonly history: number;
}

interface Backend {
  readonly name: string;
  /** Fills a fresh store with `scenario` and returns it, with the bytes it took per job. */
  prepare(scenario: Scenario): Promise<{ store: JobStore; bytesPerJob: number; bytesPerFinished: number | null }>;
  /** Opens the same data again, as a restarted process would. */
  reopen(): JobStore;
  /** Resident memory of whatever holds the data (this process for SQLite, the server for Redis). */
  rss(): Promise<number>;
  dispose(): Promise<void>;
  /** Releases what the backend holds across scenarios. */
  close?(): Promise<void>;
}

const payloadOf = (id: number): unknown => goQueueJob(id);

function sqliteBackend(): Backend {
  let dir = '';
  const fileBytes = async (): Promise<number> => {
    let total = 0;
    for (const name of await readdir(dir)) if (name.startsWith(EMBEDDED_STORE_FILE)) total += (await stat(join(dir, name))).size;
    return total;
  };
  return {
    name: 'SQLite (embedded)',
    async prepare({ queued, history }) {
      dir = await mkdtemp(join(tmpdir(), 'anklet-bench-store-'));
      new EmbeddedJobStore({ dir }).close();
      const raw = new Database(join(dir, EMBEDDED_STORE_FILE));
      const empty = await fileBytes();
      const now = Date.now();
      const until = now + 7 * 24 * 3600 * 1000;
      const insert = raw.prepare(
        `INSERT INTO jobs (queue, id, state, pos, owner_filter, template, payload, phase, enqueued_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, 'queued', ?)`,
      );
      const done = raw.prepare(`INSERT INTO done (queue, id, until, kind, by_owner, token, outcome) VALUES (?, ?, ?, 'finished', 'h', 1, 'success')`);
      const delivery = raw.prepare('INSERT INTO deliveries (queue, id, until) VALUES (?, ?, ?)');
      raw.transaction(() => {
        for (let i = 0; i < queued; i += 1) insert.run(QUEUE, `q${i}`, i + 1, QUEUE, TEMPLATE, JSON.stringify(payloadOf(i)), now);
      })();
      raw.pragma('wal_checkpoint(TRUNCATE)');
      const afterJobs = await fileBytes();
      raw.transaction(() => {
        for (let i = 0; i < history; i += 1) {
          done.run(QUEUE, `f${i}`, until);
          delivery.run(QUEUE, `d-f${i}`, until);
        }
      })();
      raw.pragma('wal_checkpoint(TRUNCATE)');
      const afterHistory = await fileBytes();
      raw.close();
      return {
        store: new EmbeddedJobStore({ dir }),
        bytesPerJob: queued > 0 ? (afterJobs - empty) / queued : 0,
        bytesPerFinished: history > 0 ? (afterHistory - afterJobs) / history : null,
      };
    },
    reopen: () => new EmbeddedJobStore({ dir }),
    rss: async () => process.memoryUsage().rss,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

function redisBackend(server: RedisServer): Backend {
  const admin = new Redis(server.url);
  let prefix = '';
  const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 0);
  const open = (): JobStore => createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
  return {
    name: 'Redis',
    async prepare({ queued, history }) {
      await admin.flushdb();
      prefix = uniquePrefix('bench-store');
      const store = open();
      const before = await usedMemory();
      for (let i = 0; i < history; i += 500) {
        const ids = Array.from({ length: Math.min(500, history - i) }, (_, k) => i + k);
        await Promise.all(ids.map((n) => store.enqueue({ id: `f${n}`, queue: QUEUE, payload: payloadOf(n), deliveryId: `d-f${n}`, repositoryOwner: QUEUE, template: TEMPLATE })));
        const leases = await Promise.all(ids.map(() => store.claim({ queue: QUEUE, owner: 'h', leaseMs: 60_000 })));
        await Promise.all(leases.map((l) => (l ? store.finish(l, 'success') : undefined)));
      }
      const afterHistory = await usedMemory();
      for (let i = 0; i < queued; i += 500) {
        const ids = Array.from({ length: Math.min(500, queued - i) }, (_, k) => i + k);
        await Promise.all(ids.map((n) => store.enqueue({ id: `q${n}`, queue: QUEUE, payload: payloadOf(n), repositoryOwner: QUEUE, template: TEMPLATE })));
      }
      const afterJobs = await usedMemory();
      return {
        store,
        bytesPerJob: queued > 0 ? (afterJobs - afterHistory) / queued : 0,
        bytesPerFinished: history > 0 ? (afterHistory - before) / history : null,
      };
    },
    reopen: open,
    rss: async () => Number(/used_memory_rss:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 0),
    dispose: async () => {
      await admin.flushdb();
    },
    close: async () => {
      await admin.quit();
    },
  };
}

/** Milliseconds: p50 and p99 of `samples`. */
function percentiles(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * Times one call. It starts from a fresh turn of the event loop, as a webhook or a handler's timer
 * would: calls chained in one turn would let the delay monitor's timer see one long block.
 */
async function timed<T>(into: number[], call: () => Promise<T>): Promise<T> {
  await new Promise((resolve) => setImmediate(resolve));
  const t0 = performance.now();
  const result = await call();
  into.push(performance.now() - t0);
  return result;
}

interface Row {
  store: string;
  scenario: Scenario;
  enqueue: { p50: number; p99: number };
  claim: { p50: number; p99: number };
  finish: { p50: number; p99: number };
  stats: { p50: number; p99: number };
  starved: { p50: number; p99: number };
  /** Starvation claims that did not return the one job the claimer may take. */
  starvedMisses: number;
  stallMs: number;
  rssMb: number;
  restartMs: number;
  bytesPerJob: number;
  bytesPerFinished: number | null;
}

async function run(backend: Backend, scenario: Scenario): Promise<Row> {
  const { store, bytesPerJob, bytesPerFinished } = await backend.prepare(scenario);
  const times = { enqueue: [] as number[], claim: [] as number[], finish: [] as number[], stats: [] as number[], starved: [] as number[] };
  const stall = monitorEventLoopDelay({ resolution: 1 });
  stall.enable();
  for (let i = 0; i < SAMPLES; i += 1) {
    await timed(times.enqueue, () => store.enqueue({ id: `n${i}`, queue: QUEUE, payload: payloadOf(i), deliveryId: `d-n${i}`, repositoryOwner: QUEUE, template: TEMPLATE }));
    const lease = await timed(times.claim, () => store.claim<unknown>({ queue: QUEUE, owner: 'bench-h1', leaseMs: 60_000, repositoryOwners: [QUEUE] }));
    if (!lease) throw new Error('queue ran dry');
    await timed(times.finish, () => store.finish(lease, 'success'));
    await timed(times.stats, () => store.stats(QUEUE));
  }
  let starvedMisses = 0;
  // Starvation: one job of another template behind everything queued; the claimer refuses the rest.
  for (let i = 0; i < Math.min(SAMPLES, 200); i += 1) {
    await store.enqueue({ id: `s${i}`, queue: QUEUE, payload: payloadOf(i), repositoryOwner: QUEUE, template: 'small' });
    const lease = (await timed(times.starved, () => store.claim({ queue: QUEUE, owner: 'bench-h2', leaseMs: 60_000, repositoryOwners: [QUEUE], refusedTemplates: [TEMPLATE] }))) as JobLease | null;
    if (lease?.job.id !== `s${i}`) starvedMisses += 1;
    if (lease) await store.finish(lease, 'success');
  }
  stall.disable();
  const rssMb = (await backend.rss()) / 1024 / 1024;
  await store.close();
  const t0 = performance.now();
  const reopened = backend.reopen();
  await reopened.stats(QUEUE);
  const first = await reopened.claim({ queue: QUEUE, owner: 'bench-h3', leaseMs: 60_000 });
  const restartMs = performance.now() - t0;
  if (scenario.queued > SAMPLES && !first) throw new Error('nothing to claim after the restart');
  await reopened.close();
  await backend.dispose();
  return {
    store: backend.name,
    scenario,
    enqueue: percentiles(times.enqueue),
    claim: percentiles(times.claim),
    finish: percentiles(times.finish),
    stats: percentiles(times.stats),
    starved: percentiles(times.starved),
    starvedMisses,
    stallMs: stall.max / 1e6,
    rssMb,
    restartMs,
    bytesPerJob,
    bytesPerFinished,
  };
}

const f = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const pair = (p: { p50: number; p99: number }): string => `${f(p.p50)} / ${f(p.p99)}`;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

/** p50 / p99 of fdatasync of a 4 KiB write in the temp dir: the floor under a durable commit. */
async function fsyncFloor(): Promise<{ p50: number; p99: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'anklet-bench-fsync-'));
  const fd = openSync(join(dir, 'probe'), 'w');
  const block = Buffer.alloc(4096);
  const times: number[] = [];
  for (let i = 0; i < 200; i += 1) {
    writeSync(fd, block);
    const t0 = performance.now();
    fdatasyncSync(fd);
    times.push(performance.now() - t0);
  }
  closeSync(fd);
  await rm(dir, { recursive: true, force: true });
  return percentiles(times);
}

async function main(): Promise<void> {
  console.log(`bench:store  node ${process.version}  samples ${SAMPLES}  load average at start: ${load()}`);
  console.log(`fdatasync of 4 KiB in ${tmpdir()} (one per durable commit): p50 / p99 ${pair(await fsyncFloor())} ms`);
  const server = STORES.includes('redis') ? await startRedisServer() : undefined;
  const backends = [...(STORES.includes('sqlite') ? [sqliteBackend()] : []), ...(server ? [redisBackend(server)] : [])];
  const scenarios: Scenario[] = [...SIZES.map((queued) => ({ queued, history: 0 })), ...(HISTORY > 0 ? [{ queued: SIZES[0] ?? 1000, history: HISTORY }] : [])];
  const rows: Row[] = [];
  try {
    for (const scenario of scenarios) {
      for (const backend of backends) {
        const row = await run(backend, scenario);
        rows.push(row);
        console.error(`done: ${row.store} ${row.scenario.queued} queued, ${row.scenario.history} history (load ${load()})`);
      }
    }
  } finally {
    for (const backend of backends) await backend.close?.();
    await server?.stop();
  }
  console.log('\n| store | queued | history | enqueue p50 / p99 ms | claim p50 / p99 ms | finish p50 / p99 ms | stats p50 / p99 ms | claim behind all (refused template) p50 / p99 ms | worst stall ms | RSS MB | restart ms | bytes / queued job | bytes / finished id |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.store} | ${r.scenario.queued.toLocaleString('en')} | ${r.scenario.history.toLocaleString('en')} | ${pair(r.enqueue)} | ${pair(r.claim)} | ${pair(r.finish)} | ${pair(r.stats)} | ${pair(r.starved)}${r.starvedMisses > 0 ? ` (missed ${r.starvedMisses})` : ''} | ${f(r.stallMs)} | ${f(r.rssMb)} | ${f(r.restartMs)} | ${f(r.bytesPerJob)} | ${r.bytesPerFinished === null ? '' : f(r.bytesPerFinished)} |`,
    );
  }
  console.log(`\nload average at end: ${load()}`);
}

await main();
