import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { findFreePort } from './free-port.js';
import { startRedisServer, uniquePrefix, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

/** A Redis Cluster for one test run. */
export interface RedisCluster {
  /** Seed nodes, `{ host, port }` each. */
  readonly nodes: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** A key prefix unique to this handle. */
  readonly prefix: string;
  /** True when `REDIS_CLUSTER_NODES` pointed at a cluster this harness did not start. */
  readonly external: boolean;
  /** Stops every node and removes their directories (no-op for an external cluster). */
  stop(): Promise<void>;
}

/** Options for {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Number of primaries (default 3, the smallest cluster `redis-cli --cluster create` accepts). */
  readonly size?: number;
  /** How long to wait for `cluster_state:ok` (default 20 s). */
  readonly timeoutMs?: number;
}

async function clusterIsOk(host: string, port: number, size: number): Promise<boolean> {
  const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const info = String(await client.call('CLUSTER', 'INFO'));
    return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${size}`) && info.includes('cluster_slots_ok:16384');
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Starts `size` (default three) `redis-server --cluster-enabled yes` nodes on free ports, joins them
 * with `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`, and waits until every
 * node reports `cluster_state:ok`. With `REDIS_CLUSTER_NODES=host:port,...` set, uses that cluster.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const externalNodes = process.env['REDIS_CLUSTER_NODES'];
  if (externalNodes) {
    const nodes = externalNodes.split(',').map((entry) => {
      const [host = '127.0.0.1', port = '6379'] = entry.trim().split(':');
      return { host, port: Number(port) };
    });
    return { nodes, prefix: uniquePrefix('ext-cluster'), external: true, stop: () => Promise.resolve() };
  }

  const size = options.size ?? 3;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const servers: RedisServer[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    for (let i = 0; i < size; i += 1) {
      const port = await findFreePort({ withBusPort: true });
      servers.push(
        await startRedisServer({
          allowExternal: false,
          port,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--appendonly', 'no'],
        }),
      );
    }
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: timeoutMs });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(servers.map((server) => clusterIsOk('127.0.0.1', server.port, size)));
      if (states.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error(`Redis Cluster on ${addresses.join(', ')} did not reach cluster_state:ok within ${timeoutMs} ms`);
      await sleep(50);
    }
    return {
      nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
      prefix: uniquePrefix('cluster'),
      external: false,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
