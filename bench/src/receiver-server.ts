/**
 * One server for the receiver benchmark, in its own process so that the load generator never
 * shares its event loop: `node receiver-server.js <baseline|receiver> <redis-url> <secret>`. The
 * receiver is the plugin's own request listener (`createReceiverApp`), served by its `listen`.
 * Prints `port <n>` when listening; exits on SIGTERM.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createReceiverApp, listen, verifySignature, type IntakeOptions } from '@anklet/plugin-github-receiver';
import { createRedisJobStore } from '@anklet/redis';
import { Redis } from 'ioredis';

const [kind, redisUrl, secret] = process.argv.slice(2) as [string, string, string];
const noop = () => undefined;
const logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger, addSecret: noop } as unknown as IntakeOptions['logger'];
const store = createRedisJobStore({ redis: new Redis(redisUrl), prefix: `bench-${kind}` });

let port: number;
if (kind === 'baseline') {
  // The same essential work with nothing but node:http: read, verify, parse, one store write.
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!verifySignature({ secret, body, sha256: req.headers['x-hub-signature-256'] as string })) {
        res.writeHead(401, { 'content-length': 0 }).end();
        return;
      }
      const event = JSON.parse(body.toString('utf8')) as { workflow_job: { id: number } };
      // With its length, as the receiver answers: no chunked framing on either side.
      store.enqueue({ id: String(event.workflow_job.id), queue: 'acme', payload: event, deliveryId: req.headers['x-github-delivery'] as string }).then(
        () => res.writeHead(200, { 'content-length': 8 }).end('enqueued'),
        () => res.writeHead(503, { 'content-length': 0 }).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
} else {
  const intake: IntakeOptions = { secret, allowSha1: false, queue: 'acme', store, logger, storeTimeoutMs: 8000, workflows: { include: [], exclude: [] } };
  port = (await listen(createReceiverApp(intake, 5 * 1024 * 1024), 0, '127.0.0.1')).port;
}
process.stdout.write(`port ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
