import { createServer } from 'node:net';

/** The port of the machine's own Redis; the harness never binds or talks to it. */
const RESERVED_PORTS = new Set([6379, 16379]);

/** True when `port` can be bound on 127.0.0.1 right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Finds a free TCP port on 127.0.0.1. With `withBusPort`, port + 10000 must be free too (a Redis
 * Cluster node listens on both), so the search stays below 55536.
 */
export async function findFreePort(options: { withBusPort?: boolean } = {}): Promise<number> {
  for (let i = 0; i < 200; i += 1) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (RESERVED_PORTS.has(port)) continue;
    if (!(await isPortFree(port))) continue;
    if (options.withBusPort && !(await isPortFree(port + 10000))) continue;
    return port;
  }
  throw new Error('no free TCP port found on 127.0.0.1');
}
