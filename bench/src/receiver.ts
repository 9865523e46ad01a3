/**
 * Receiver throughput and latency: signed `workflow_job` webhooks, 50 concurrent keep-alive
 * connections (wrk), against three servers in one run, rounds alternating:
 *   (a) baseline: a bare `node:http` server doing HMAC verify + `JSON.parse` + one `RPUSH`
 *       (receiver-baseline.ts; not our enqueue script, no log, no metrics);
 *   (b) ours on Redis: the real `anklet` host with the receiver plugin, its JSON logger writing to a
 *       file at the default level, its metrics service on, the Redis store (receiver-host.ts);
 *   (c) ours on the embedded store: the same host with no database configured.
 * Same Redis server, same payloads. Writes bench/results/receiver.md. Definitions: bench/README.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { installFleetPlugins } from '@anklet/fleet';
import { startRedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { startReceiverHost } from './receiver-host.js';

const SECRET = 'bench-secret';
const CONCURRENCY = 50;
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 12) * 1000;
/** Unique webhooks written for a round; doubled (and the round run again) when a round used them all. */
let poolSize = 60_000;

function payload(id: number): { body: string; signature: string } {
  const body = JSON.stringify({
    action: 'queued',
    workflow_job: { id, run_id: id, name: 'build', status: 'queued', labels: ['self-hosted', 'anka-template:c0847bc9-5d2d-4dbc-ba6a-240f7ff08032', `${id}-0`], html_url: `https://github.com/acme/app/actions/runs/${id}/job/${id}` },
    repository: { name: 'app', full_name: 'acme/app', owner: { login: 'acme' }, private: true, visibility: 'private' },
  });
  return { body, signature: `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` };
}

interface Round {
  requests: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
  /** CPU the server process and redis-server used during the round, ms. */
  serverCpuMs: number;
  redisCpuMs: number;
}

interface Summary {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  count: number;
  /** CPU per request, µs: the server process, and redis-server. */
  serverCpuUs: number;
  redisCpuUs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** Rounds are summed for throughput; wrk reports percentiles per round, so the median round's are shown. */
function summarise(rounds: Round[]): Summary {
  const count = rounds.reduce((sum, r) => sum + r.requests, 0);
  const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
  const cpu = (pick: (r: Round) => number) => (rounds.reduce((sum, r) => sum + pick(r), 0) * 1000) / Math.max(1, count);
  return {
    rps: count / seconds,
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    count,
    serverCpuUs: cpu((r) => r.serverCpuMs),
    redisCpuUs: cpu((r) => r.redisCpuMs),
  };
}

const WRK_THREADS = 2;
const wrkScript = fileURLToPath(new URL('../receiver.lua', import.meta.url));
const poolFile = path.join(tmpdir(), `anklet-bench-receiver-${process.pid}.tsv`);

/** Writes `count` unique signed webhooks for wrk to replay (signing is not part of what we measure). */
function writePool(firstId: number, count: number): void {
  const lines: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const { body, signature } = payload(firstId + i);
    lines.push(`d-${firstId + i}\t${signature}\t${body}`);
  }
  writeFileSync(poolFile, `${lines.join('\n')}\n`);
}

/** One wrk round: CONCURRENCY keep-alive connections for `durationMs`, unique jobs from the pool. */
function load(url: string, firstId: number, durationMs: number): Round {
  for (;;) {
    const round = loadOnce(url, firstId, durationMs);
    if (round) return round;
  }
}

/** One wrk round, or undefined when it ran out of unique webhooks (the pool is then made larger). */
function loadOnce(url: string, firstId: number, durationMs: number): Round | undefined {
  writePool(firstId, poolSize);
  const out = execFileSync(
    'wrk',
    ['-t', String(WRK_THREADS), '-c', String(CONCURRENCY), '-d', `${Math.max(1, Math.round(durationMs / 1000))}s`, '--timeout', '10s', '-s', wrkScript, url, '--', poolFile, String(WRK_THREADS)],
    { encoding: 'utf8' },
  );
  const m = /RESULT requests=(\d+) errors=(\d+) non2xx=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+)/.exec(out);
  if (!m) throw new Error(`unexpected wrk output:\n${out}`);
  const [requests, errors, non2xx, durationUs, p50, p99] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (requests > poolSize) {
    // wrk started over at the top of the file: repeated deliveries, not what we measure.
    console.error(`a round needed ${requests} webhooks, more than the ${poolSize} written: running it again with ${poolSize * 2}`);
    poolSize *= 2;
    return undefined;
  }
  return { requests, errors: errors + non2xx, seconds: durationUs / 1e6, p50: p50 / 1000, p99: p99 / 1000, serverCpuMs: 0, redisCpuMs: 0 };
}

/** BENCH_PROFILE=<dir>: every server process writes a V8 CPU profile there when it stops. */
const profileArgs = () => (process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []);

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
/** CPU time (user + system) a process has used, ms, from /proc/<pid>/stat. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** CPU time redis-server has used, ms (`INFO cpu`). */
async function redisCpuMs(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return (read('used_cpu_sys') + read('used_cpu_user')) * 1000;
}

/** Starts the baseline process and resolves with its port (the secret goes over stdin). */
async function startBaseline(redisUrl: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [...profileArgs(), fileURLToPath(new URL('./receiver-baseline.js', import.meta.url)), redisUrl], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.end(`${SECRET}\n`);
  const [line] = (await once(child.stdout!.pipe(split()), 'data')) as [string];
  return { port: Number(/port (\d+)/.exec(line)![1]), child };
}

/** Splits a byte stream into lines. */
function split(): Transform {
  let rest = '';
  return new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer, _enc, done) {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) this.push(line);
      done();
    },
  });
}

const ROUNDS = 4;
const RESULTS = fileURLToPath(new URL('../results/receiver.md', import.meta.url));
/** The machine is shared: say how busy it was, before and after. */
const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const say = (text: string) => process.stderr.write(`${text}\n`);
type Target = 'baseline' | 'redis' | 'embedded';
const LABELS: Record<Target, string> = {
  baseline: 'node:http + HMAC + JSON.parse + RPUSH (baseline)',
  redis: 'anklet host, receiver on Redis',
  embedded: 'anklet host, receiver on the embedded store',
};
/** BENCH_TARGETS=baseline,redis (for a quick look or a profile); default all three. */
const chosen = (process.env.BENCH_TARGETS ?? 'baseline,redis,embedded').split(',').map((t) => t.trim()) as Target[];
if (!chosen.includes('baseline') || chosen.some((t) => !(t in LABELS))) throw new Error('BENCH_TARGETS: a comma-separated subset of baseline,redis,embedded that includes baseline');

const work = mkdtempSync(path.join(tmpdir(), 'anklet-bench-receiver-'));
const loadBefore = loadAverage();
say(`load average before: ${loadBefore}`);
const redis = await startRedisServer({ allowExternal: false });
const stops: Array<() => Promise<void> | void> = [];
try {
  const pluginsPath = path.join(work, 'plugins');
  say('installing the receiver plugin (anklet plugins install, cached by build)');
  await installFleetPlugins(pluginsPath);
  const ports = new Map<Target, number>();
  const pids = new Map<Target, number>();
  const redisClient = new Redis(redis.url);
  stops.push(() => void redisClient.disconnect());
  const logs = new Map<Target, string>();
  const baseline = await startBaseline(redis.url);
  stops.push(() => void baseline.child.kill('SIGTERM'));
  ports.set('baseline', baseline.port);
  pids.set('baseline', baseline.child.pid!);
  for (const target of chosen.filter((t) => t !== 'baseline')) {
    const host = await startReceiverHost({
      dir: path.join(work, target),
      pluginsPath,
      secret: SECRET,
      redisPort: target === 'redis' ? redis.port : undefined,
      profileDir: process.env.BENCH_PROFILE,
    });
    stops.push(() => host.stop());
    ports.set(target, host.port);
    pids.set(target, host.child.pid!);
    logs.set(target, host.logFile);
  }
  const url = (target: Target) => `http://127.0.0.1:${ports.get(target)!}/jobs/v1/receiver`;
  let id = 1e9;
  // Warm every target up, then interleave rounds so a change in machine load hits all of them alike.
  for (const target of chosen) load(url(target), (id += 1e7), 1000);
  const rounds = new Map<Target, Round[]>(chosen.map((t) => [t, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const target of chosen) {
      const cpu0 = processCpuMs(pids.get(target)!);
      const redis0 = await redisCpuMs(redisClient);
      const result = load(url(target), (id += 1e7), DURATION_MS / ROUNDS);
      result.serverCpuMs = processCpuMs(pids.get(target)!) - cpu0;
      result.redisCpuMs = (await redisCpuMs(redisClient)) - redis0;
      rounds.get(target)!.push(result);
      say(`round ${round + 1}/${ROUNDS} ${target}: ${rounds.get(target)!.at(-1)!.requests} requests`);
    }
  }
  const loadAfter = loadAverage();
  const summaries = new Map(chosen.map((t) => [t, summarise(rounds.get(t)!)]));
  const base = summaries.get('baseline')!;
  const share = (t: Target) => summaries.get(t)!.rps / base.rps;
  const row = (t: Target) => {
    const r = summaries.get(t)!;
    return `| ${LABELS[t]} | ${r.count} | ${r.rps.toFixed(0)} | ${(share(t) * 100).toFixed(0)}% | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} | ${r.serverCpuUs.toFixed(0)} | ${r.redisCpuUs.toFixed(0)} |`;
  };
  // What the hosts wrote: one INFO line per stored webhook shows that the logger did real work.
  const logNote = [...logs].map(([t, file]) => `${t} ${(statSync(file).size / 1024 / 1024).toFixed(1)} MB (${(statSync(file).size / Math.max(1, summaries.get(t)!.count)).toFixed(0)} bytes per request)`).join(', ');
  const goals: string[] = [];
  if (summaries.has('redis')) {
    const r = summaries.get('redis')!;
    goals.push(`Redis: ${(share('redis') * 100).toFixed(0)}% of the baseline (goal >= 85%), p99 ${r.p99.toFixed(2)} ms (goal < 15 ms): ${share('redis') >= 0.85 && r.p99 < 15 ? 'met' : '**not met**'}`);
  }
  if (summaries.has('embedded')) goals.push(`embedded: ${(share('embedded') * 100).toFixed(0)}% of the baseline (goal >= 60%): ${share('embedded') >= 0.6 ? 'met' : '**not met**'}`);
  const markdown = [
    `Node ${process.version}, ${cpus().length} vCPUs (shared), wrk ${WRK_THREADS} threads × ${CONCURRENCY} connections, ${ROUNDS} rounds of ${DURATION_MS / ROUNDS / 1000} s per server, alternating; ${new Date().toISOString()}.`,
    `Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAfter}.`,
    '',
    '| server | requests | req/s | of baseline | p50 ms | p99 ms | errors + non-2xx | server CPU µs/req | Redis CPU µs/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...chosen.map(row),
    '',
    ...goals.map((g) => `- ${g}`),
    `- host log files: ${logNote || 'none'}`,
    '',
  ].join('\n');
  process.stdout.write(markdown);
  if (chosen.length === 3) {
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `# Receiver benchmark results\n\nWritten by \`pnpm --filter @anklet/bench bench:receiver\` (BENCH_SECONDS=${DURATION_MS / 1000}); definitions in ../README.md.\n\n${markdown}`);
    say(`written to ${path.relative(process.cwd(), RESULTS)}`);
  }
} finally {
  for (const stop of stops) await stop();
  rmSync(poolFile, { force: true });
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
}
