import type { AddressInfo } from 'node:net';
import { createServer, type RequestListener, type Server } from 'node:http';
import { AnkletError, ErrorCodes } from '@anklet/core';

/** The first port tried when `metrics.port` is not set (as in Go). */
export const DEFAULT_METRICS_PORT = 8080;

export interface ListenOptions {
  /** `metrics.port`: must be free. Unset: the first free port from `startPort` up. */
  readonly port?: number | undefined;
  /** Where automatic selection starts (default 8080). */
  readonly startPort?: number | undefined;
  /** Interface to listen on; all interfaces when unset, as in Go. */
  readonly address?: string | undefined;
}

export interface MetricsServer {
  readonly server: Server;
  readonly port: number;
  /** Stops accepting, ends open connections (the status page keeps one alive) and waits. */
  close(): Promise<void>;
}

function listenOnce(app: RequestListener, port: number, address: string | undefined): Promise<Server> {
  const server = createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: address }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Starts the server. Unlike Go, which probes a port, closes it and listens later, the port chosen is
 * the one listened on, so another process cannot take it in between.
 */
export async function listenMetrics(app: RequestListener, options: ListenOptions = {}): Promise<MetricsServer> {
  const explicit = options.port !== undefined;
  let port = options.port ?? options.startPort ?? DEFAULT_METRICS_PORT;
  for (;;) {
    try {
      const server = await listenOnce(app, port, options.address);
      // Scrapers keep connections open; without this, close() would wait for them to time out.
      server.keepAliveTimeout = 5_000;
      const actual = (server.address() as AddressInfo).port;
      return {
        server,
        port: actual,
        close: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && !explicit && port < 65535) {
        port += 1;
        continue;
      }
      throw new AnkletError(
        ErrorCodes.HOST_RESOURCE,
        code === 'EADDRINUSE' ? `metrics port already in use: ${port}` : `cannot listen on metrics port ${port}: ${(error as Error).message}`,
        {
          operator: true,
          cause: error,
          hint: explicit ? 'free the port, pick another with metrics.port (ANKLET_METRICS_PORT), or remove it to use the first free port from 8080' : undefined,
          details: { port },
        },
      );
    }
  }
}
