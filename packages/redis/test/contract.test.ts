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

describeJobStoreContract('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'anklet-embedded-'));
  // One process holds one embedded store: a second handle is the same store until it is closed
  // (a restart), then a new instance reads the directory back.
  let current: EmbeddedJobStore | undefined;
  return {
    open: () => {
      if (!current || current.isClosed) current = new EmbeddedJobStore({ dir });
      return current;
    },
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
      // A key of another type under an indexed name is skipped too.
      await raw.zadd('anklet:metrics:hosts', Date.now(), 'acme-go-key/BROKEN');
      const keys = (await store.listHostSnapshots({ includeUnindexed: true })).map((s) => s.key);
      expect(keys).toContain('acme-go-key/RUNNER1');
      expect(keys).not.toContain('acme-go-key/BROKEN');
    } finally {
      await raw.del('anklet/metrics/acme-go-key/RUNNER1', 'anklet/metrics/acme-go-key/BROKEN', 'anklet:metrics:hosts');
      await store.close();
      await connection.close();
    }
  });

  it('lists indexed hosts without SCAN, and Go hosts (not indexed) only when asked', async () => {
    const connection = createRedisConnection({ url: server.url, ...fastRetry });
    const prefix = `${server.prefix}-idx`;
    const store = createRedisJobStore({ redis: connection, prefix, closeConnection: false });
    const raw = connection.client;
    const scans = async () => Number(/cmdstat_scan:calls=(\d+)/.exec(String(await raw.info('commandstats')))?.[1] ?? 0);
    try {
      await store.putHostSnapshot('acme/TS-HOST', '{"plugins":[]}', 60_000);
      // What a Go anklet host writes: the snapshot key alone.
      await raw.set(`${prefix}/metrics/veertuinc/GO-HOST`, '{"plugins":[]}', 'EX', 60);
      // The history a busy fleet keeps, which the aggregator must not walk.
      await raw.mset(Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`${prefix}:jobs:{q}:done:${i}`, '1'])));
      const before = await scans();
      const indexed = await store.listHostSnapshots();
      expect(indexed.map((s) => s.key)).toEqual(['acme/TS-HOST']);
      expect(await scans()).toBe(before);

      const all = await store.listHostSnapshots({ includeUnindexed: true });
      expect(all.map((s) => s.key)).toEqual(['acme/TS-HOST', 'veertuinc/GO-HOST']);
      // The Go host has no index time: the reader goes by its last_update.
      expect(all.find((s) => s.key === 'veertuinc/GO-HOST')!.updatedAt).toBeUndefined();
      expect(await scans()).toBeGreaterThan(before);
      // The scan result is reused within the rescan interval: a second call scans no more.
      const after = await scans();
      expect((await store.listHostSnapshots({ includeUnindexed: true })).map((s) => s.key)).toEqual(['acme/TS-HOST', 'veertuinc/GO-HOST']);
      expect(await scans()).toBe(after);

      await store.deleteHostSnapshot('acme/TS-HOST');
      expect(await raw.zscore(`${prefix}:metrics:hosts`, 'acme/TS-HOST')).toBeNull();
      expect(await raw.exists(`${prefix}/metrics/acme/TS-HOST`)).toBe(0);
    } finally {
      await store.close();
      await connection.close();
    }
  });

  it('scores hosts on the Redis server clock and converts to this process clock', async () => {
    const connection = createRedisConnection({ url: server.url, ...fastRetry });
    const prefix = `${server.prefix}-clock`;
    const store = createRedisJobStore({ redis: connection, prefix, closeConnection: false });
    try {
      await store.putHostSnapshot('acme/H', '{"plugins":[]}', 60_000);
      const [seconds, micros] = await connection.client.time();
      const serverMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const score = Number(await connection.client.zscore(`${prefix}:metrics:hosts`, 'acme/H'));
      expect(score).toBeLessThanOrEqual(serverMs);
      expect(serverMs - score).toBeLessThan(5_000);
    } finally {
      await store.close();
      await connection.close();
    }
  });
});
