import { Redis, Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedisCluster, startRedisServer } from '../src/index.js';

describe('startRedisServer', () => {
  it('starts a private server on a free port that survives a restart with its data', async () => {
    const server = await startRedisServer({ allowExternal: false });
    expect(server.port).not.toBe(6379);
    const client = new Redis(server.url, { maxRetriesPerRequest: 20 });
    client.on('error', () => undefined);
    try {
      await client.set(`${server.prefix}:k`, 'v');
      await server.restart(50);
      expect(await client.get(`${server.prefix}:k`)).toBe('v');
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});

describe('startRedisCluster', () => {
  it('creates a three-node cluster with every slot served', async () => {
    const cluster = await startRedisCluster();
    const client = new Cluster(cluster.nodes.map((node) => ({ host: node.host, port: node.port })));
    try {
      expect(cluster.nodes).toHaveLength(3);
      // Keys in different slots land on different nodes and are all reachable.
      for (let i = 0; i < 20; i += 1) await client.set(`${cluster.prefix}:${i}`, String(i));
      expect(await client.get(`${cluster.prefix}:7`)).toBe('7');
      expect(String(await client.call('CLUSTER', 'INFO'))).toContain('cluster_state:ok');
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  }, 40_000);
});
