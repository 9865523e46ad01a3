import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, startRedisServer, uniquePrefix, deleteKeysWithPrefix, type RedisCluster, type RedisServer } from '@anklet/testing';
import Database from 'better-sqlite3';
import type { Cluster, Redis } from 'ioredis';
import { EMBEDDED_STORE_FILE } from '../src/embedded-job-store.js';
import { EmbeddedJobStore, createRedisConnection, createRedisJobStore } from '../src/index.js';
import { queueKeys } from '../src/keys.js';
import { describeJobStoreContract, type ContractOptions, type ContractStoreOptions } from './contract.js';

let server: RedisServer;
let cluster: RedisCluster;

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.stop(), cluster?.stop()]);
});

const fastRetry = { max_retries: 2, retry_delay: 50, retry_backoff_factor: 2 };

/**
 * Records anklet did not write, made by hand in Redis: what an operator's mistake, another tool
 * sharing the database or a crash could leave under a job key (record format 2, see
 * lua/_lib.lua; records of the older format are covered by migration.test.ts).
 */
const redisPoison: Record<string, (raw: Redis | Cluster, key: string) => Promise<unknown>> = {
  'wrong key type (WRONGTYPE)': async (raw, key) => {
    await raw.del(key);
    return raw.rpush(key, 'not a hash');
  },
  'hash without its format marker': (raw, key) => raw.hdel(key, 'v'),
  'hash without enqueue time': (raw, key) => raw.hdel(key, 't'),
  'wrong-type field (attempts not a number)': (raw, key) => raw.hset(key, 'a', 'many'),
  'wrong-type field (fencing token not a number)': (raw, key) => raw.hset(key, 'k', 'x1'),
  'unknown phase': (raw, key) => raw.hset(key, 'f', 'exploded'),
  'unknown state': (raw, key) => raw.hset(key, 's', 'z'),
  'unexpected field': (raw, key) => raw.hset(key, 'colour', 'blue'),
  'payload not JSON': (raw, key) => raw.hset(key, '0', '{ not json'),
  'payload missing': (raw, key) => raw.hdel(key, '0'),
  'record missing (id still listed)': (raw, key) => raw.del(key),
};
const redisOptions: ContractOptions = { poisonVariants: Object.keys(redisPoison) };

function redisBackend(prefix: string, connect: () => ReturnType<typeof createRedisConnection>, dispose: () => Promise<void>) {
  const raw = connect();
  return {
    open: (options?: ContractStoreOptions) => createRedisJobStore({ redis: connect(), prefix, ...options }),
    writePoison: async (queue: string, jobId: string, variant: string) => {
      const write = redisPoison[variant];
      if (!write) throw new Error(`unknown poison variant ${variant}`);
      await write(raw.client, queueKeys(prefix, queue).job(jobId));
    },
    loseJob: async (queue: string, jobId: string) => {
      const k = queueKeys(prefix, queue);
      await raw.client.del(k.job(jobId));
      await raw.client.zrem(k.leases, jobId);
    },
    dispose: async () => {
      await raw.close();
      await dispose();
    },
  };
}

describeJobStoreContract(
  'standalone Redis',
  async () => {
    const prefix = uniquePrefix('contract');
    return redisBackend(
      prefix,
      () => createRedisConnection({ url: server.url, ...fastRetry }),
      () => (server.external ? deleteKeysWithPrefix(server.url, prefix) : Promise.resolve()),
    );
  },
  redisOptions,
);

describeJobStoreContract(
  'Redis Cluster (three nodes)',
  async () => {
    const seed = cluster.nodes[0]!;
    return redisBackend(
      uniquePrefix('contract'),
      () => createRedisConnection({ url: seed.host, port: seed.port, cluster_mode: true, ...fastRetry }),
      () => Promise.resolve(),
    );
  },
  redisOptions,
);

/** Rows anklet did not write, made by hand in the database: what another tool or a bad edit could leave. */
const sqlitePoison: Record<string, string> = {
  'payload not JSON': `payload = '{ not json'`,
  'unknown phase': `phase = 'exploded'`,
  'unknown state': `state = 'zombie'`,
  'wrong-type column (attempts text)': `attempts = 'many'`,
  'wrong-type column (fencing token text)': `token = 'x1'`,
  'wrong-type column (enqueued_at text)': `enqueued_at = 'yesterday'`,
  'wrong-type column (position text)': `pos = 'first'`,
  'wrong-type column (payload a number)': `payload = 42.5, vm_name = x'00ff'`,
};

describeJobStoreContract(
  'embedded (SQLite)',
  async () => {
    // The contract is about behaviour, not the disk: on a tmpfs (where there is one) a commit's
    // fsync costs nothing, so cases that make thousands of calls do not time out on a slow disk.
    // Durability across a kill is tested on the real disk (embedded-processes.test.ts).
    const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'anklet-embedded-'));
    // Every handle is its own connection to the same database file, as another process would be;
    // reopening after close() is a restart.
    return {
      open: (options?: ContractStoreOptions) => new EmbeddedJobStore({ dir, ...options }),
      writePoison: async (queue: string, jobId: string, variant: string) => {
        const raw = new Database(join(dir, EMBEDDED_STORE_FILE), { timeout: 5000 });
        try {
          const changed = raw.prepare(`UPDATE jobs SET ${sqlitePoison[variant] ?? 'nothing'} WHERE queue = ? AND id = ?`).run(queue, jobId).changes;
          if (changed !== 1) throw new Error(`no row for ${queue}/${jobId}`);
        } finally {
          raw.close();
        }
      },
      loseJob: async (queue: string, jobId: string) => {
        const raw = new Database(join(dir, EMBEDDED_STORE_FILE), { timeout: 5000 });
        try {
          raw.prepare('DELETE FROM jobs WHERE queue = ? AND id = ?').run(queue, jobId);
        } finally {
          raw.close();
        }
      },
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { poisonVariants: Object.keys(sqlitePoison) },
);

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

describe('batched enqueues in Redis', () => {
  it('a queue list of the wrong type fails only its own jobs, writes nothing of them and lets their redelivery through', async () => {
    const connection = createRedisConnection({ url: server.url, ...fastRetry });
    const prefix = uniquePrefix('batch');
    const store = createRedisJobStore({ redis: connection, prefix, closeConnection: false });
    const raw = connection.client;
    try {
      // A job of group (acme, t1) makes the group's list; then the list is replaced by a string.
      expect(await store.enqueue({ id: 'seed', queue: 'q', payload: {}, repositoryOwner: 'acme', template: 't1' })).toBe('enqueued');
      const k = queueKeys(prefix, 'q');
      const listKeys = (await raw.keys(`${k.base}:q:*`)).filter((key) => key.endsWith('acme' + 't1'));
      expect(listKeys).toHaveLength(1);
      await raw.del(listKeys[0]!);
      await raw.set(listKeys[0]!, 'not a list');
      const settled = await Promise.allSettled([
        store.enqueue({ id: 'ok1', queue: 'q', payload: {}, deliveryId: 'g1', repositoryOwner: 'other', template: 't1' }),
        store.enqueue({ id: 'bad', queue: 'q', payload: {}, deliveryId: 'g2', repositoryOwner: 'acme', template: 't1' }),
        store.enqueue({ id: 'ok2', queue: 'q', payload: {}, deliveryId: 'g3' }),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/is not a list/);
      expect(await raw.exists(k.job('bad'))).toBe(0);
      // Fixed, GitHub's redelivery of the refused webhook (same delivery id) is stored.
      await raw.del(listKeys[0]!);
      expect(await store.enqueue({ id: 'bad', queue: 'q', payload: {}, deliveryId: 'g2', repositoryOwner: 'acme', template: 't1' })).toBe('enqueued');
      expect(await store.enqueue({ id: 'ok3', queue: 'q', payload: {}, deliveryId: 'g1' })).toBe('duplicate_delivery');
    } finally {
      await store.close();
      await deleteKeysWithPrefix(server.url, prefix);
      await connection.close();
    }
  });
});
