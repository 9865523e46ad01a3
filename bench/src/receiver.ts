/**
 * Receiver throughput and latency: signed `workflow_job` webhooks, 50 concurrent keep-alive
 * connections, against (a) the receiver's express app and (b) a bare `node:http` baseline doing the
 * same work (verify the signature, parse, one store write). Same Redis, same payloads, one run.
 * Each server runs in its own process (receiver-server.ts); rounds alternate between the two.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '@anklet/testing';

const SECRET = 'bench-secret';
const CONCURRENCY = 50;
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;

function payload(id: number): { body: string; signature: string } {
  const body = JSON.stringify({
    action: 'queued',
    workflow_job: { id, run_id: id, name: 'build', status: 'queued', labels: ['self-hosted', 'anka-template:c0847bc9-5d2d-4dbc-ba6a-240f7ff08032', `${id}-0`], html_url: `https://github.com/acme/app/actions/runs/${id}/job/${id}` },
    repository: { name: 'app', full_name: 'acme/app', owner: { login: 'acme' }, private: true, visibility: 'private' },
  });
  return { body, signature: `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` };
}

interface Round {
  latencies: number[];
  errors: number;
  seconds: number;
}

interface Summary {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  count: number;
}

function summarise(rounds: Round[]): Summary {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors: rounds.reduce((sum, r) => sum + r.errors, 0), count: latencies.length };
}

/** Sends signed webhooks over CONCURRENCY keep-alive connections for `durationMs`. */
async function load(port: number, firstId: number, durationMs: number): Promise<Round> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let errors = 0;
  let next = firstId;
  const end = Date.now() + durationMs;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const { body, signature } = payload((next += 1));
      const started = performance.now();
      const req = request(
        { host: '127.0.0.1', port, path: '/jobs/v1/receiver', method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': `d-${next}`, 'x-hub-signature-256': signature } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - started);
            else errors += 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end(body);
    });
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < end) await one();
  }));
  const seconds = (Date.now() - t0) / 1000;
  agent.destroy();
  return { latencies, errors, seconds };
}

/** Starts one server process and resolves with its port. */
async function startServer(kind: 'baseline' | 'receiver', redisUrl: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./receiver-server.js', import.meta.url)), kind, redisUrl, SECRET], { stdio: ['ignore', 'pipe', 'inherit'] });
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
const redis = await startRedisServer({ allowExternal: false });
const servers: ChildProcess[] = [];
try {
  const baseline = await startServer('baseline', redis.url);
  const receiver = await startServer('receiver', redis.url);
  servers.push(baseline.child, receiver.child);
  let id = 1e9;
  // Warm both up, then interleave rounds so a change in machine load hits both sides alike.
  await load(baseline.port, (id += 1e7), 1000);
  await load(receiver.port, (id += 1e7), 1000);
  const totals = { baseline: [] as Round[], receiver: [] as Round[] };
  for (let round = 0; round < ROUNDS; round += 1) {
    totals.baseline.push(await load(baseline.port, (id += 1e7), DURATION_MS / ROUNDS));
    totals.receiver.push(await load(receiver.port, (id += 1e7), DURATION_MS / ROUNDS));
  }
  const base = summarise(totals.baseline);
  const ours = summarise(totals.receiver);
  const row = (name: string, r: Summary) => `| ${name} | ${r.count} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} |`;
  console.log(`| server | requests | req/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n${row('node:http baseline', base)}\n${row('receiver (express)', ours)}`);
  console.log(`\nreceiver / baseline throughput: ${((ours.rps / base.rps) * 100).toFixed(0)}% (goal >= 70%); receiver p99 ${ours.p99.toFixed(2)} ms (goal < 25 ms)`);
} finally {
  for (const child of servers) child.kill('SIGTERM');
  await redis.stop();
}
