import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { handleDelivery, type IntakeOptions } from './intake.js';

/** The webhook path (as in Go). */
export const RECEIVER_PATH = '/jobs/v1/receiver';

/** The express app: `POST /jobs/v1/receiver`, `/healthcheck`, and the Go `/jobs` answer. */
export function createReceiverApp(intake: IntakeOptions, bodyLimitBytes: number): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // GitHub never revalidates a webhook answer: skip hashing every response body for an ETag.
  app.set('etag', false);
  // Go paths are exact: `/jobs/v1/receiver/` is a 404 there too.
  app.set('strict routing', true);
  app.all('/healthcheck', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.all('/jobs', (_req, res) => {
    res.status(501).type('text/plain').send('please use /jobs/v1');
  });
  app.post(
    RECEIVER_PATH,
    // The signature covers the exact bytes GitHub sent, so the body is kept raw whatever its type.
    express.raw({ type: () => true, limit: bodyLimitBytes, inflate: false }),
    (req: Request, res: Response, next: NextFunction) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      handleDelivery(intake, req.headers, body).then((answer) => {
        // Plain end(): the answer is a short fixed text, no content negotiation needed.
        res.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8' }).end(answer.body);
      }, next);
    },
  );
  app.all(RECEIVER_PATH, (_req, res) => {
    res.status(405).set('allow', 'POST').type('text/plain').send('use POST');
  });
  // Body errors: too large → 413 (GitHub shows it); anything else about the request → 400.
  app.use((error: { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    void _next;
    const status = error.type === 'entity.too.large' || error.status === 413 ? 413 : error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) intake.logger.error('receiver request failed', { error: String((error as Error).message ?? error) });
    if (!res.headersSent) res.status(status).type('text/plain').send(status === 413 ? 'body too large' : status === 500 ? 'internal error' : 'bad request');
  });
  return app;
}

/** A listening receiver. */
export interface ReceiverServer {
  readonly server: Server;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (at most `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

/** Listens on `host:port`; rejects when the port is taken. */
export async function listen(app: express.Express, port: number, host: string): Promise<ReceiverServer> {
  const server = app.listen(port, host);
  // A slow client must not hold a connection for ever; GitHub itself gives up after 10 s.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
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
