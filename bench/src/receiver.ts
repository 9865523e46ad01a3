/**
 * Receiver throughput and latency: signed `workflow_job` webhooks, 50 concurrent keep-alive
 * connections, against (a) the receiver (`createReceiverApp`: node:http serves the webhook path,
 * express the rest) and (b) a bare `node:http` baseline doing the same essential work (verify the
 * signature, parse, one store write); (c) is the receiver again, with a query string on the path so
 * that express's router serves the webhook (the design before the node:http fast path). Same Redis,
 * same payloads, one run. Each server runs in its own process (receiver-server.ts); rounds alternate.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '@anklet/testing';

const SECRET = 'bench-secret';
const CONCURRENCY = 50;
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 12) * 1000;
/** Unique webhooks per round; far more than one round can send on this machine. */
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
}

interface Summary {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  count: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** Rounds are summed for throughput; wrk reports percentiles per round, so the median round's are shown. */
function summarise(rounds: Round[]): Summary {
  const count = rounds.reduce((sum, r) => sum + r.requests, 0);
  const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
  return { rps: count / seconds, p50: median(rounds.map((r) => r.p50)), p99: median(rounds.map((r) => r.p99)), errors: rounds.reduce((sum, r) => sum + r.errors, 0), count };
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
  return { requests, errors: errors + non2xx, seconds: durationUs / 1e6, p50: p50 / 1000, p99: p99 / 1000 };
}

/** Starts one server process and resolves with its port. */
async function startServer(kind: 'baseline' | 'receiver', redisUrl: string): Promise<{ port: number; child: ChildProcess }> {
  // BENCH_PROFILE=<dir>: each server writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, fileURLToPath(new URL('./receiver-server.js', import.meta.url)), kind, redisUrl, SECRET], { stdio: ['ignore', 'pipe', 'inherit'] });
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
/** The machine is shared: say how busy it was, before and after. */
const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const loadBefore = loadAverage();
const redis = await startRedisServer({ allowExternal: false });
const servers: ChildProcess[] = [];
try {
  const baseline = await startServer('baseline', redis.url);
  const receiver = await startServer('receiver', redis.url);
  servers.push(baseline.child, receiver.child);
  const targets = {
    baseline: `http://127.0.0.1:${baseline.port}/jobs/v1/receiver`,
    receiver: `http://127.0.0.1:${receiver.port}/jobs/v1/receiver`,
    // Not the exact path, so the fast path leaves it to express, which routes it to the same handler.
    viaExpress: `http://127.0.0.1:${receiver.port}/jobs/v1/receiver?via=express`,
  };
  const names = Object.keys(targets) as Array<keyof typeof targets>;
  let id = 1e9;
  // Warm every target up, then interleave rounds so a change in machine load hits all of them alike.
  for (const name of names) load(targets[name], (id += 1e7), 1000);
  const totals = { baseline: [] as Round[], receiver: [] as Round[], viaExpress: [] as Round[] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const name of names) totals[name].push(load(targets[name], (id += 1e7), DURATION_MS / ROUNDS));
  }
  const base = summarise(totals.baseline);
  const ours = summarise(totals.receiver);
  const old = summarise(totals.viaExpress);
  const row = (name: string, r: Summary) => `| ${name} | ${r.count} | ${r.rps.toFixed(0)} | ${((r.rps / base.rps) * 100).toFixed(0)}% | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} |`;
  console.log(
    [
      '| server | requests | req/s | of baseline | p50 ms | p99 ms | errors |',
      '|---|---:|---:|---:|---:|---:|---:|',
      row('node:http baseline', base),
      row('receiver (node:http fast path)', ours),
      row('receiver through express routing', old),
    ].join('\n'),
  );
  console.log(`\nload average (1/5/15 min) before: ${loadBefore}; after: ${loadAverage()}`);
  console.log(`receiver / baseline throughput: ${((ours.rps / base.rps) * 100).toFixed(0)}% (goal >= 70%); receiver p99 ${ours.p99.toFixed(2)} ms (goal < 25 ms)`);
} finally {
  for (const child of servers) child.kill('SIGTERM');
  rmSync(poolFile, { force: true });
  await redis.stop();
}
