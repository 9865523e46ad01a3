import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '@anklet/testing';
import { checkRedisPersistence, createRedisConnection } from '../src/index.js';

// Real servers, each started the way an operator might run one. The harness's default is AOF on.
const servers: Record<string, RedisServer> = {};
let cluster: RedisCluster;

beforeAll(async () => {
  const [aof, none, rdb, noConfig, lazyFsync] = await Promise.all([
    startRedisServer({ allowExternal: false }),
    startRedisServer({ allowExternal: false, args: ['--appendonly', 'no', '--save', ''] }),
    startRedisServer({ allowExternal: false, args: ['--appendonly', 'no', '--save', '60 1'] }),
    // What managed services do: CONFIG is not available to clients.
    startRedisServer({ allowExternal: false, args: ['--appendonly', 'no', '--rename-command', 'CONFIG', ''] }),
    startRedisServer({ allowExternal: false, args: ['--appendfsync', 'no'] }),
  ]);
  Object.assign(servers, { aof, none, rdb, noConfig, lazyFsync });
  // The harness's cluster nodes run without AOF or save rules.
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await Promise.all([...Object.values(servers).map((s) => s.stop()), cluster?.stop()]);
});

async function check(server: RedisServer) {
  const connection = createRedisConnection({ url: server.url, max_retries: 0 });
  try {
    return await checkRedisPersistence(connection.client);
  } finally {
    await connection.close();
  }
}

describe('checkRedisPersistence', () => {
  it('passes AOF with everysec', async () => {
    expect(await check(servers.aof!)).toEqual({ mode: 'aof', detail: 'AOF on (appendfsync everysec)' });
  });

  it('says a server with no AOF and no save rule loses every job on restart, and what to run', async () => {
    const report = await check(servers.none!);
    expect(report.mode).toBe('none');
    expect(report.detail).toContain('a restart of Redis loses every queued job');
    expect(report.fix).toContain('appendfsync everysec');
  });

  it('tells RDB-only apart: a crash loses the jobs since the last snapshot', async () => {
    const report = await check(servers.rdb!);
    expect(report.mode).toBe('rdb');
    expect(report.detail).toContain('save 60 1');
    expect(report.fix).toContain('appendonly yes');
  });

  it('says it could not check when CONFIG is refused, rather than guessing', async () => {
    const report = await check(servers.noConfig!);
    expect(report.mode).toBe('unknown');
    expect(report.detail).toMatch(/^persistence could not be checked \(CONFIG GET refused: ERR unknown command/);
    expect(report.fix).toContain('managed Redis with persistence');
  });

  it('flags appendfsync no', async () => {
    const report = await check(servers.lazyFsync!);
    expect(report.mode).toBe('aof');
    expect(report.fix).toBe('set appendfsync everysec');
  });

  it('asks every master of a cluster and reports the weakest', async () => {
    const seed = cluster.nodes[0]!;
    const connection = createRedisConnection({ url: seed.host, port: seed.port, cluster_mode: true, max_retries: 0 });
    try {
      await connection.client.ping();
      const report = await checkRedisPersistence(connection.client);
      expect(report.mode).toBe('none');
      expect(report.detail).toContain('(3 of 3 masters)');
    } finally {
      await connection.close();
    }
  });
});
