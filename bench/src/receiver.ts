/**
 * Receiver throughput and latency: signed `workflow_job` webhooks, 50 concurrent keep-alive
 * connections, against (a) the receiver's express app and (b) a bare `node:http` baseline doing the
 * same work (verify the signature, parse, one store write). Same Redis, same payloads, one run.
 */
import { createHmac } from 'node:crypto';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createReceiverApp, listen, verifySignature, type IntakeOptions } from '@anklet/plugin-github-receiver';
import { createRedisJobStore } from '@anklet/redis';
import { startRedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';

const SECRET = 'bench-secret';
const CONCURRENCY = 50;
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const noop = () => undefined;
const logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger, addSecret: noop } as unknown as IntakeOptions['logger'];

function payload(id: number): { body: string; signature: string } {
  const body = JSON.stringify({
    action: 'queued',
    workflow_job: { id, run_id: id, name: 'build', status: 'queued', labels: ['self-hosted', 'anka-template:c0847bc9-5d2d-4dbc-ba6a-240f7ff08032', `${id}-0`], html_url: `https://github.com/acme/app/actions/runs/${id}/job/${id}` },
    repository: { name: 'app', full_name: 'acme/app', owner: { login: 'acme' }, private: true, visibility: 'private' },
  });
  return { body, signature: `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` };
}

async function load(port: number, firstId: number): Promise<{ rps: number; p50: number; p99: number; errors: number; count: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let errors = 0;
  let next = firstId;
  const end = Date.now() + DURATION_MS;
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
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors, count: latencies.length };
}

const redis = await startRedisServer({ allowExternal: false });
try {
  const store = createRedisJobStore({ redis: new Redis(redis.url), prefix: 'bench' });
  const intake: IntakeOptions = { secret: SECRET, allowSha1: false, queue: 'acme', store, logger, storeTimeoutMs: 8000, workflows: { include: [], exclude: [] } };

  // Baseline: the same work with nothing but node:http.
  const baseline: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!verifySignature({ secret: SECRET, body, sha256: req.headers['x-hub-signature-256'] as string })) {
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(body.toString('utf8')) as { workflow_job: { id: number }; repository: { owner: { login: string } } };
      store.enqueue({ id: String(event.workflow_job.id), queue: 'acme-baseline', payload: event, deliveryId: req.headers['x-github-delivery'] as string }).then(
        () => res.writeHead(200).end('enqueued'),
        () => res.writeHead(503).end(),
      );
    });
  });
  await new Promise<void>((resolve) => baseline.listen(0, '127.0.0.1', resolve));
  const receiver = await listen(createReceiverApp(intake, 5 * 1024 * 1024), 0, '127.0.0.1');

  await load((baseline.address() as AddressInfo).port, 1e9); // warm-up
  await load(receiver.port, 2e9);
  const base = await load((baseline.address() as AddressInfo).port, 3e9);
  const ours = await load(receiver.port, 4e9);
  const row = (name: string, r: typeof base) => `| ${name} | ${r.count} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} |`;
  console.log(`| server | requests | req/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n${row('node:http baseline', base)}\n${row('receiver (express)', ours)}`);
  console.log(`\nreceiver / baseline throughput: ${((ours.rps / base.rps) * 100).toFixed(0)}%`);
  await receiver.close();
  baseline.close();
  await store.close();
} finally {
  await redis.stop();
}
