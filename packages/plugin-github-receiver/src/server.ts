import { once } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { handleDelivery, type IntakeOptions } from './intake.js';

/** The webhook path (as in Go). */
export const RECEIVER_PATH = '/jobs/v1/receiver';

/** Why a request body could not be read: the status to answer (413, 415) or `null` when the client went away. */
class BodyError extends Error {
  constructor(
    readonly status: 413 | 415 | null,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads the raw request body (the signature covers the exact bytes GitHub sent). A declared
 * `Content-Length` over `limit` fails at once, before a byte is read; a chunked body fails as soon
 * as it grows over `limit`.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new BodyError(413, 'body too large'));
  const encoding = req.headers['content-encoding'];
  // The HMAC is over the bytes as sent; GitHub never compresses webhooks, so we do not inflate.
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return Promise.reject(new BodyError(415, 'unsupported Content-Encoding'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: BodyError | null) => {
      req.off('data', onData).off('end', onEnd).off('error', onClose).off('close', onClose);
      if (error) reject(error);
      // Most webhooks arrive in one chunk: no copy then.
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(new BodyError(413, 'body too large'));
      else chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    // `error` (ECONNRESET "aborted") or `close` before `end`: the client gave up mid-body.
    const onClose = () => finish(new BodyError(null, 'client closed the request'));
    req.on('data', onData).on('end', onEnd).on('error', onClose).on('close', onClose);
  });
}

/** Writes a short plain-text answer (with its length, so no chunked framing). */
function answer(res: ServerResponse, status: number, body: string, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  // After a refused body the rest of it is not worth reading: close the connection instead.
  if (close) headers.connection = 'close';
  res.writeHead(status, headers).end(body);
}

/** `POST /jobs/v1/receiver`: read the raw body, hand it to the intake, write its answer. */
async function serveWebhook(intake: IntakeOptions, bodyLimitBytes: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req, bodyLimitBytes);
  } catch (error) {
    const { status, message } = error as BodyError;
    // The client is gone: nothing to answer, nothing stored.
    if (status === null) return;
    intake.metrics?.count('webhooks_rejected', { reason: status === 413 ? 'too_large' : 'bad_request' });
    answer(res, status, message, true);
    return;
  }
  try {
    const result = await handleDelivery(intake, req.headers, body);
    answer(res, result.status, result.body);
  } catch (error) {
    intake.logger.error('receiver request failed', { error: (error as Error).message });
    answer(res, 500, 'internal error');
  }
}

/**
 * The receiver's request listener. `POST /jobs/v1/receiver` is answered straight from node:http,
 * because express's router costs more per request than the webhook's own work (see bench/README.md);
 * everything else goes to an express app: `/healthcheck`, the Go `/jobs` answer, 405 for other
 * methods on the webhook path, and 404. Express also routes the webhook requests the exact-match
 * shortcut leaves to it (a query string, an absolute URL), to the same handler.
 */
export function createReceiverApp(intake: IntakeOptions, bodyLimitBytes: number): RequestListener {
  const webhook = (req: IncomingMessage, res: ServerResponse) => void serveWebhook(intake, bodyLimitBytes, req, res);
  const app = express();
  app.disable('x-powered-by');
  // GitHub never revalidates an answer: skip hashing every response body for an ETag.
  app.set('etag', false);
  // Go paths are exact: `/jobs/v1/receiver/` is a 404 there too.
  app.set('strict routing', true);
  app.all('/healthcheck', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.all('/jobs', (_req, res) => {
    res.status(501).type('text/plain').send('please use /jobs/v1');
  });
  app.post(RECEIVER_PATH, webhook);
  app.all(RECEIVER_PATH, (_req, res) => {
    res.status(405).set('allow', 'POST').type('text/plain').send('use POST');
  });
  return (req, res) => {
    if (req.method === 'POST' && req.url === RECEIVER_PATH) webhook(req, res);
    else app(req, res);
  };
}

/** A listening receiver. */
export interface ReceiverServer {
  readonly server: Server;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (at most `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

/** Listens on `host:port`; rejects when the port is taken. */
export async function listen(listener: RequestListener, port: number, host: string): Promise<ReceiverServer> {
  const server = createServer(listener);
  // A slow client must not hold a connection for ever; GitHub itself gives up after 10 s.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.listen(port, host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw error;
    }),
  ]);
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close(graceMs = 5_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
