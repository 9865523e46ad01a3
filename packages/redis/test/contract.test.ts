import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, startRedisServer, uniquePrefix, deleteKeysWithPrefix, type RedisCluster, type RedisServer } from '@anklet/testing';
import { EmbeddedJobStore, createRedisConnection, createRedisJobStore } from '../src/index.js';
import { describeJobStoreContract } from './contract.js';

let server: RedisServer;
let cluster: RedisCluster;

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.stop(), cluster?.stop()]);
});

const fastRetry = { max_retries: 2, retry_delay: 50, retry_backoff_factor: 2 };

describeJobStoreContract('standalone Redis', async () => {
  const prefix = uniquePrefix('contract');
  return {
    open: () => createRedisJobStore({ redis: createRedisConnection({ url: server.url, ...fastRetry }), prefix }),
    dispose: () => (server.external ? deleteKeysWithPrefix(server.url, prefix) : Promise.resolve()),
  };
});

describeJobStoreContract('Redis Cluster (three nodes)', async () => {
  const prefix = uniquePrefix('contract');
  const seed = cluster.nodes[0]!;
  return {
    open: () => createRedisJobStore({ redis: createRedisConnection({ url: seed.host, port: seed.port, cluster_mode: true, ...fastRetry }), prefix }),
    dispose: () => Promise.resolve(),
  };
});

describeJobStoreContract('embedded (SQLite)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'anklet-embedded-'));
  // Every handle is its own connection to the same database file, as another process would be;
  // reopening after close() is a restart.
  return {
    open: () => new EmbeddedJobStore({ dir }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('metrics snapshots in Redis', () => {
  it('uses the Go key anklet/metrics/<owner>/<name> and skips keys of another type', async () => {
    const connection = createRedisConnection({ url: server.url, ...fastRetry });
    const store = createRedisJobStore({ redis: connection, prefix: 'anklet', closeConnection: false });
    const raw = connection.client;
    try {
      await store.putHostSnapshot('acme-go-key/RUNNER1', '{"plugins":[]}', 60_000);
      expect(await raw.get('anklet/metrics/acme-go-key/RUNNER1')).toBe('{"plugins":[]}');
      const ttl = await raw.pttl('anklet/metrics/acme-go-key/RUNNER1');
      expect(ttl).toBeGreaterThan(50_000);
      await raw.rpush('anklet/metrics/acme-go-key/BROKEN', 'x');
      const keys = (await store.listHostSnapshots()).map((s) => s.key);
      expect(keys).toContain('acme-go-key/RUNNER1');
      expect(keys).not.toContain('acme-go-key/BROKEN');
    } finally {
      await raw.del('anklet/metrics/acme-go-key/RUNNER1', 'anklet/metrics/acme-go-key/BROKEN');
      await store.close();
      await connection.close();
    }
  });
});
