/**
 * Aggregator benchmark: the fleet view at 10 / 100 / 500 hosts, with and without 100k other keys
 * (the job history a busy fleet keeps for 7 days), on a private redis-server.
 *
 * - ours: hosts write compact snapshots and register in the host index; the aggregator reads the
 *   index and one MGET (`startAggregator`, real HTTP);
 * - baseline, measured in the same run: the approach before the index, replayed against the same
 *   server: SCAN of the whole keyspace (`MATCH <prefix>/metrics/*`, COUNT 100) and one GET per key,
 *   of snapshots carrying prom-client's JSON, served by the same aggregator code;
 * - floor: a bare MGET of the N compact snapshot keys (what no aggregator can beat).
 *
 * Each host looks like a busy handler host: two handlers with jobs on `--templates` templates
 * (default 20), every phase observed. Latency is wall-clock per HTTP request; the load average is
 * printed beside every row because the machine is shared.
 *
 * Then the jobs view: `/jobs.json` of the aggregator with `--jobs-hosts` hosts (default 500) and
 * `--jobs` finished jobs (default 10,000) in the store's job history, each made by the store's own
 * calls (enqueue, claim, the handler's timeline events, completed, finish), plus 200 queued and 100
 * running jobs; timed as the status page asks (default limit) and at the largest page (1,000
 * finished jobs).
 *
 * Run: pnpm --filter @anklet/bench bench:aggregator [-- --hosts 10,100,500 --history 0,100000 --reps 10 --jobs 10000 --jobs-hosts 500]
 * (`--skip-fleet` measures the jobs view only; `--jobs 0` skips it.)
 */
import os from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { HostSnapshot, JobStore } from '@anklet/core';
import { HostMetrics, JobsViewSchema, startAggregator, type MetricsServer } from '@anklet/metrics';
import { createRedisConnection, createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer } from '@anklet/testing';
import type { Redis } from 'ioredis';

const { values: args } = parseArgs({
  // `pnpm run x -- --hosts ...` passes the `--` along.
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    hosts: { type: 'string', default: '10,100,500' },
    history: { type: 'string', default: '0,100000' },
    templates: { type: 'string', default: '20' },
    reps: { type: 'string', default: '10' },
    'baseline-reps': { type: 'string', default: '3' },
    out: { type: 'string', default: 'results/aggregator.md' },
    jobs: { type: 'string', default: '10000' },
    'jobs-hosts': { type: 'string', default: '500' },
    'skip-fleet': { type: 'boolean', default: false },
  },
});
const HOSTS = args.hosts.split(',').map(Number);
const HISTORY = args.history.split(',').map(Number);
const TEMPLATES = Number(args.templates);
const REPS = Number(args.reps);
const BASELINE_REPS = Number(args['baseline-reps']);
const JOBS = Number(args.jobs);
const JOBS_HOSTS = Number(args['jobs-hosts']);
const PHASES = ['pull', 'clone', 'start', 'runner_registration', 'job_run', 'cleanup'];

/** One busy host's registry; the snapshot text is made once and written under every host key. */
async function hostSnapshots(templates: number): Promise<{ compact: string; legacy: string }> {
  const metrics = new HostMetrics({ version: '0.1.0', hostName: 'mac-bench' });
  for (const name of ['RUNNER1', 'RUNNER2']) {
    const p = metrics.forPlugin({ name, plugin: 'github', owner: 'acme', repo: '' });
    p.setStatus('in_progress');
    p.recordRun('success', 'https://github.com/acme/app/actions/runs/1/job/2');
    p.vmStarted();
    for (const phase of PHASES) for (const s of [0.5, 7, 42, 400]) p.observe('job_phase_duration_seconds', s, { phase });
    for (let t = 0; t < templates; t++) {
      p.observe('job_queue_wait_seconds', 3 + t, { template: `macos-15-xcode-${t}` });
      p.gauge('template_pull_progress_percent', 100, { template: `macos-15-xcode-${t}` });
    }
    p.count('jobs_claimed', {}, 40);
    p.gauge('queue_depth', 3, { queue: 'acme' });
  }
  const snapshot = await metrics.snapshot();
  // What hosts wrote before the compact form: prom-client's JSON in `anklet.metrics`.
  const legacy = { ...snapshot, anklet: { ...snapshot.anklet!, families: undefined, metrics: await metrics.registry.getMetricsAsJSON() } };
  return { compact: JSON.stringify(snapshot), legacy: JSON.stringify(legacy) };
}

/** The pre-index read, replayed: SCAN the keyspace 100 keys at a time, then GET each match. */
function scanStore(client: Redis, prefix: string): Pick<JobStore, 'listHostSnapshots'> {
  return {
    async listHostSnapshots(): Promise<HostSnapshot[]> {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}/metrics/*`, 'COUNT', 100);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      const out: HostSnapshot[] = [];
      for (const key of keys.sort()) {
        const json = await client.get(key);
        if (json !== null) out.push({ key: key.slice(`${prefix}/metrics/`.length), json });
      }
      return out;
    },
  };
}

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet, addSecret() {} };

async function serve(store: Pick<JobStore, 'listHostSnapshots'>): Promise<MetricsServer> {
  // The seeded hosts do not write again, and a row takes minutes: nothing may turn stale (a stale
  // host is served as two lines) while it is measured.
  const fleet = { staleAfterSeconds: 1e9, dropAfterSeconds: 0 };
  return startAggregator({ store, logger: quiet, address: '127.0.0.1', startPort: await findFreePort(), fleet });
}

/**
 * p50 and worst of `reps` requests, in ms, the body size, and the p50 CPU time of this process per
 * request (server and client share it): on a machine this loaded, CPU time says more than wall time.
 */
async function time(url: string, reps: number): Promise<{ p50: number; max: number; bytes: number; cpu: number }> {
  const ms: number[] = [];
  const cpu: number[] = [];
  let bytes = 0;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const res = await fetch(url);
    const body = await res.text();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    ms.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
    bytes = Buffer.byteLength(body);
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length / 2)]!, max: ms[ms.length - 1]!, bytes, cpu: cpu[Math.floor(cpu.length / 2)]! };
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const f = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function main(): Promise<void> {
  const server = await startRedisServer({ allowExternal: false });
  const connection = createRedisConnection({ url: server.url });
  const raw = connection.client as Redis;
  const store = createRedisJobStore({ redis: connection, prefix: 'anklet', closeConnection: false });
  const ours = await serve(store);
  const baseline = await serve(scanStore(raw, 'legacy'));
  const { compact, legacy } = await hostSnapshots(TEMPLATES);
  const rows: string[] = [];
  console.log(`snapshot per host (${TEMPLATES} templates, 2 handlers): compact ${compact.length} B, prom-client JSON ${legacy.length} B`);
  let jobsTable = '';
  try {
    for (const history of args['skip-fleet'] ? [] : HISTORY) {
      for (const hosts of HOSTS) {
        // Our own server: start each row from nothing.
        await raw.flushall();
        for (let i = 0; i < history; i += 5000) {
          const batch: string[] = [];
          for (let j = i; j < Math.min(history, i + 5000); j++) batch.push(`anklet:jobs:{acme}:done:${j}`, '1');
          await raw.mset(...batch);
        }
        for (let h = 0; h < hosts; h++) await store.putHostSnapshot(`acme/host-${String(h).padStart(3, '0')}`, compact, 600_000);
        const pipeline = raw.pipeline();
        for (let h = 0; h < hosts; h++) pipeline.set(`legacy/metrics/acme/host-${String(h).padStart(3, '0')}`, legacy, 'EX', 600);
        await pipeline.exec();
        const keyspace = await raw.dbsize();

        const base = (s: MetricsServer) => `http://127.0.0.1:${s.port}`;
        await time(`${base(ours)}/metrics`, 2);
        const metrics = await time(`${base(ours)}/metrics`, REPS);
        const withHistograms = await time(`${base(ours)}/metrics?histograms=1`, Math.min(REPS, 3));
        const status = await time(`${base(ours)}/status.json`, REPS);
        const mgetKeys = Array.from({ length: hosts }, (_, h) => `anklet/metrics/acme/host-${String(h).padStart(3, '0')}`);
        const floorMs: number[] = [];
        for (let i = 0; i < REPS; i++) {
          const t0 = performance.now();
          await raw.mget(mgetKeys);
          floorMs.push(performance.now() - t0);
        }
        floorMs.sort((a, b) => a - b);
        // Before the index every scrape carried every host's histograms: replay that too.
        const old = await time(`${base(baseline)}/metrics?histograms=1`, BASELINE_REPS);
        if (old.bytes < withHistograms.bytes * 0.9) throw new Error(`baseline served ${old.bytes} B, ours ${withHistograms.bytes} B: not the same fleet`);
        const row = [
          hosts,
          history.toLocaleString('en-US'),
          keyspace.toLocaleString('en-US'),
          f(metrics.p50),
          f(metrics.max),
          f(metrics.cpu),
          `${(metrics.bytes / 1024).toFixed(0)} KB`,
          f(status.p50),
          f(floorMs[Math.floor(floorMs.length / 2)]!),
          f(withHistograms.p50),
          `${(withHistograms.bytes / 1024).toFixed(0)} KB`,
          f(old.p50),
          `${(old.p50 / metrics.p50).toFixed(0)}× / ${(old.p50 / withHistograms.p50).toFixed(1)}×`,
          load(),
        ].join(' | ');
        rows.push(`| ${row} |`);
        console.log(row);
      }
    }
    if (JOBS > 0) jobsTable = await benchJobsView(raw, ours, compact);
  } finally {
    await Promise.all([ours.close(), baseline.close()]);
    await store.close();
    await connection.close();
    await server.stop();
  }
  const fleetTable = [
    `Snapshot per host (${TEMPLATES} templates, 2 handlers): compact ${(compact.length / 1024).toFixed(1)} KB; prom-client JSON (before) ${(legacy.length / 1024).toFixed(1)} KB.`,
    `${REPS} requests per figure (baseline ${BASELINE_REPS}); ${os.cpus().length} CPUs; Node ${process.version}; ${new Date().toISOString()}.`,
    '',
    '| hosts | history keys | keyspace | /metrics p50 | /metrics max | /metrics CPU p50 | body | /status.json p50 | bare MGET p50 | ?histograms=1 p50 | body | baseline p50 (SCAN + GET, prom JSON, histograms) | baseline ÷ ours (lean / with histograms) | load 1/5/15 min |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
  const table = [rows.length > 0 ? fleetTable : '', jobsTable].filter(Boolean).join('\n\n');
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(new URL(`../${args.out}`, import.meta.url), `${table}\n`);
  console.log(`\n${table}`);
}

/**
 * Fills the store with `JOBS` finished jobs (their timelines kept: `job_history.max_jobs` raised to
 * that), 200 queued and 100 running ones, with `JOBS_HOSTS` hosts reporting the queue, and times the
 * aggregator's `/jobs.json`.
 */
async function benchJobsView(raw: Redis, ours: MetricsServer, compact: string): Promise<string> {
  await raw.flushall();
  // Written through a store of its own, whose history keeps every finished job's timeline.
  const connection = createRedisConnection({ url: `redis://${raw.options.host}:${raw.options.port}` });
  const store = createRedisJobStore({ redis: connection, prefix: 'anklet', timelineHistory: { maxJobs: JOBS } });
  const t0 = performance.now();
  try {
    // The aggregator reads the queues the hosts report; the benchmark host reports `acme`.
    for (let h = 0; h < JOBS_HOSTS; h++) await store.putHostSnapshot(`acme/host-${String(h).padStart(3, '0')}`, compact, 600_000);
    const payload = (id: number) => ({
      type: 'WorkflowJobPayload',
      workflow_job: { id, name: `build ${id}`, html_url: `https://github.com/acme/app/actions/runs/${id}/job/${id}`, labels: ['self-hosted', 'anka-template:macos-15', 'anka-template-tag:xcode-16'] },
      repository: { owner: 'acme', name: 'app' },
    });
    const queue = 'acme';
    const append = store.appendTimeline?.bind(store);
    if (!append) throw new Error('this store keeps no job timeline');
    /** One job through its life, as a handler takes it: every event of a run on its timeline. */
    const run = async (id: number, finish: boolean) => {
      await store.enqueue({ id: String(id), queue, payload: payload(id), repositoryOwner: 'acme', template: 'macos-15' });
      const lease = await store.claim({ queue, owner: `host-${id % JOBS_HOSTS}-h1@bench`, leaseMs: 3_600_000 });
      if (!lease) throw new Error('nothing to claim');
      const by = lease.owner;
      const jobId = lease.job.id;
      await append(queue, jobId, { by, type: 'pull_started', detail: 'macos-15:xcode-16' });
      await append(queue, jobId, { by, type: 'pull_finished', detail: 'cached' });
      await append(queue, jobId, { by, type: 'vm_cloned', detail: `anklet-vm-${jobId}` });
      await append(queue, jobId, { by, type: 'vm_started', detail: `anklet-vm-${jobId}` });
      await append(queue, jobId, { by, type: 'runner_registered', detail: `anklet-vm-${jobId}` });
      if (!finish) return;
      await store.recordEvent(queue, jobId, { action: 'in_progress', runnerName: `anklet-vm-${jobId}`, at: Date.now() });
      await store.recordEvent(queue, jobId, { action: 'completed', conclusion: jobId.endsWith('7') ? 'failure' : 'success', at: Date.now() });
      await append(queue, jobId, { by, type: 'cleaned_up', detail: `anklet-vm-${jobId}` });
      await store.finish(lease, 'success');
    };
    // 100 jobs at a time: the client pipelines what is in flight.
    for (let i = 0; i < JOBS; i += 100) await Promise.all(Array.from({ length: Math.min(100, JOBS - i) }, (_, j) => run(1_000_000 + i + j, true)));
    await Promise.all(Array.from({ length: 100 }, (_, j) => run(2_000_000 + j, false)));
    for (let i = 0; i < 200; i++) await store.enqueue({ id: String(3_000_000 + i), queue, payload: payload(3_000_000 + i), repositoryOwner: 'acme', template: 'macos-15' });
  } finally {
    await store.close();
  }
  const seeded = performance.now() - t0;
  const base = `http://127.0.0.1:${ours.port}/jobs.json`;
  const check = JobsViewSchema.parse(await (await fetch(`${base}?state=finished&limit=1000`)).json());
  if (check.finished.length !== Math.min(1000, JOBS)) throw new Error(`/jobs.json listed ${check.finished.length} finished jobs`);
  const all = JobsViewSchema.parse(await (await fetch(base)).json());
  if (all.totals.queued !== 200 || all.totals.running !== 100) throw new Error(`/jobs.json totals ${JSON.stringify(all.totals)}`);
  const rows: string[] = [];
  for (const [what, query] of [
    ['default (20 per list, all three lists)', ''],
    ['?state=finished&limit=1000', '?state=finished&limit=1000'],
    ['?limit=1000 (all three lists)', '?limit=1000'],
  ] as const) {
    await time(`${base}${query}`, 1);
    const t = await time(`${base}${query}`, REPS);
    const row = [what, JOBS_HOSTS, JOBS.toLocaleString('en-US'), f(t.p50), f(t.max), f(t.cpu), `${(t.bytes / 1024).toFixed(0)} KB`, load()].join(' | ');
    rows.push(`| ${row} |`);
    console.log(row);
  }
  return [
    `Jobs view: ${JOBS_HOSTS} hosts, ${JOBS.toLocaleString('en-US')} finished jobs kept (seeded through the store in ${(seeded / 1000).toFixed(0)} s), 200 queued, 100 running; ${REPS} requests per figure.`,
    '',
    '| /jobs.json | hosts | finished jobs kept | p50 | max | CPU p50 | body | load 1/5/15 min |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}

await main();
