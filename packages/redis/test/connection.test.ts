import { describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { createRedisConnection, loadScripts, resolveDatabaseConfig, resolveRetryPolicy, retryDelay } from '../src/index.js';

describe('database config', () => {
  it('applies the Go defaults and honours the retry keys', () => {
    expect(resolveRetryPolicy({})).toEqual({ maxRetries: 5, retryDelayMs: 1000, backoffFactor: 2 });
    expect(resolveRetryPolicy({ max_retries: -1, retry_delay: 0, retry_backoff_factor: 0 })).toEqual({ maxRetries: 0, retryDelayMs: 1000, backoffFactor: 2 });
    const policy = resolveRetryPolicy({ max_retries: 3, retry_delay: 250, retry_backoff_factor: 3 });
    expect([1, 2, 3].map((n) => retryDelay(policy, n))).toEqual([250, 750, 2250]);
  });

  it('takes each field from the globals when set, else from the plugin block', () => {
    expect(resolveDatabaseConfig({}, undefined)).toBeNull();
    expect(resolveDatabaseConfig({ global_database_url: '' }, { port: 1 })).toBeNull();
    expect(
      resolveDatabaseConfig(
        { global_database_url: 'redis.global', global_database_password: 'pw', global_database_cluster_mode: true },
        { url: 'redis.plugin', port: 6380, password: 'plugin-pw', database: 2, retry_delay: 10 },
      ),
    ).toMatchObject({ url: 'redis.global', port: 6380, password: 'pw', database: 2, cluster_mode: true, retry_delay: 10 });
  });

  it('builds a Cluster client with TLS from cluster_mode and tls_* and never connects until asked', async () => {
    const connection = createRedisConnection({ url: 'redis.example', port: 7000, cluster_mode: true, tls_enabled: true, tls_insecure: true, password: 'pw' }, { connect: false });
    expect(connection.cluster).toBe(true);
    expect(connection.client).toBeInstanceOf(Cluster);
    const options = (connection.client as Cluster).options.redisOptions;
    expect(options?.tls).toMatchObject({ rejectUnauthorized: false, servername: 'redis.example' });
    expect(connection.target).toBe('redis.example:7000');
    await connection.close();
  });

  it('ships every Lua script with a KEYS/ARGV header and a key count in its name', () => {
    const scripts = [...loadScripts().values()];
    expect(scripts.length).toBeGreaterThanOrEqual(10);
    for (const script of scripts) {
      expect(script.source, script.name).toMatch(/^--\[\[/);
      if (script.numKeys > 0) expect(script.source, script.name).toContain(`KEYS[${script.numKeys}]`);
      // No script may walk the keyspace.
      expect(script.source, script.name).not.toMatch(/'KEYS'|'SCAN'/);
    }
  });
});
