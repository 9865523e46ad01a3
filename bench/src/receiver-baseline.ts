/**
 * The baseline of bench:receiver, in its own process so that the load generator never shares its
 * event loop: a bare `node:http` server doing the least a webhook receiver must do — read the body,
 * verify `X-Hub-Signature-256` (HMAC-SHA256, compared with `timingSafeEqual`), `JSON.parse` it, one
 * `RPUSH` of the body to a Redis list — and nothing else (no validation, no dedupe, no log, no
 * metrics). `node receiver-baseline.js <redis-url>`; the secret is the first line on stdin (never on
 * the command line or in the environment). Prints `port <n>` when listening; exits on SIGTERM.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

const [redisUrl] = process.argv.slice(2) as [string];
let input = '';
process.stdin.setEncoding('utf8');
while (!input.includes('\n')) input += ((await once(process.stdin, 'data')) as [string])[0];
process.stdin.destroy();
const secret = input.slice(0, input.indexOf('\n'));
const redis = new Redis(redisUrl);
const LIST = 'bench-baseline/jobs/github/queued/acme';

function verified(body: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=') || header.length !== 71) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(header.slice(7), 'hex');
  return given.length === expected.length && timingSafeEqual(expected, given);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verified(body, req.headers['x-hub-signature-256'])) {
      res.writeHead(401, { 'content-length': 0 }).end();
      return;
    }
    let event: { action?: unknown };
    try {
      event = JSON.parse(body.toString('utf8')) as { action?: unknown };
    } catch {
      res.writeHead(400, { 'content-length': 0 }).end();
      return;
    }
    if (event.action !== 'queued') {
      res.writeHead(200, { 'content-length': 7 }).end('ignored');
      return;
    }
    // With its length, as the receiver answers: no chunked framing on either side.
    redis.rpush(LIST, body).then(
      () => res.writeHead(200, { 'content-length': 8 }).end('enqueued'),
      () => res.writeHead(503, { 'content-length': 0 }).end(),
    );
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`);
process.on('SIGTERM', () => process.exit(0));
