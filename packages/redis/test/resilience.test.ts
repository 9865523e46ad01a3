import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, uniquePrefix, type RedisServer } from '@anklet/testing';
import { isAnkletError, ErrorCodes } from '@anklet/core';
import { createRedisConnection, createRedisJobStore, queueKeys } from '../src/index.js';
import { createMemoryLogger } from './helpers.js';

describe('Redis going away', () => {
  let server: RedisServer;
  beforeAll(async () => {
    // These tests stop and start the server, so never a shared REDIS_URL one.
    server = await startRedisServer({ allowExternal: false });
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('retries with the configured backoff, then fails with a clear error instead of hanging', async () => {
    const logger = createMemoryLogger();
    const store = createRedisJobStore({
      redis: createRedisConnection({ url: '127.0.0.1', port: server.port, max_retries: 3, retry_delay: 100, retry_backoff_factor: 2 }),
      prefix: uniquePrefix('down'),
      logger,
    });
    try {
      await store.enqueue({ id: '1', queue: 'q', payload: {} });
      await server.kill();
      const started = Date.now();
      const error = await store.claim({ queue: 'q', owner: 'h', leaseMs: 1000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      expect(isAnkletError(error) && error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect((error as Error).message).toMatch(/job store unreachable: claim job failed after 3 retries on 127\.0\.0\.1:\d+/);
      const delays = logger.lines.filter((l) => l.msg.startsWith('retrying claim job')).map((l) => l.msg);
      expect(delays).toEqual([
        'retrying claim job in 100ms (attempt 1/3)',
        'retrying claim job in 200ms (attempt 2/3)',
        'retrying claim job in 400ms (attempt 3/3)',
      ]);
      // 700 ms of backoff plus a reconnect attempt per try; far from "forever".
      expect(elapsed).toBeGreaterThanOrEqual(700);
      expect(elapsed).toBeLessThan(5000);
    } finally {
      await server.start();
      await store.close();
    }
  });

  it('rides out a restart in the middle of work and keeps every job', async () => {
    const prefix = uniquePrefix('restart');
    const store = createRedisJobStore({ redis: createRedisConnection({ url: server.url, max_retries: 6, retry_delay: 100, retry_backoff_factor: 1.5 }), prefix });
    try {
      for (const id of ['a', 'b', 'c']) await store.enqueue({ id, queue: 'q', payload: { id } });
      const a = await store.claim({ queue: 'q', owner: 'h', leaseMs: 60_000 });
      const restarting = server.restart(300);
      // Issued while the server is down: retried until it is back.
      const b = await store.claim({ queue: 'q', owner: 'h', leaseMs: 60_000 });
      await restarting;
      expect(b?.job.id).toBe('b');
      await store.finish(a!, 'success');
      expect(await store.stats('q')).toMatchObject({ queued: 1, claimed: 1 });
      // The restarted server lost its script cache; EVALSHA falls back to EVAL transparently.
      expect((await store.claim({ queue: 'q', owner: 'h', leaseMs: 60_000 }))?.job.id).toBe('c');
    } finally {
      await store.close();
    }
  });

  it('reports a bad password without retrying and without the password in the message', async () => {
    const secured = await startRedisServer({ allowExternal: false, args: ['--requirepass', 'right-horse-battery'] });
    const store = createRedisJobStore({
      redis: createRedisConnection({ url: '127.0.0.1', port: secured.port, password: 'wrong-staple-secret', max_retries: 5, retry_delay: 1000 }),
      prefix: uniquePrefix('auth'),
    });
    try {
      const started = Date.now();
      const error = await store.stats('q').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isAnkletError(error) && error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect(JSON.stringify({ m: (error as Error).message, d: (error as { details?: unknown }).details })).not.toContain('wrong-staple-secret');
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      await store.close();
      await secured.stop();
    }
  });
});

describe('malformed records', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('are logged with their key, quarantined, and never block the queue', async () => {
    const prefix = uniquePrefix('bad');
    const logger = createMemoryLogger();
    const store = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix, logger });
    const raw = new Redis(server.url);
    try {
      const k = queueKeys(prefix, 'q');
      // Left by an older anklet (record format 1), ahead of a good job: a member without a record,
      // a record without id, a payload that is not JSON.
      const old = k.legacy;
      await raw.zadd(old.queued, -3, 'ghost', -2, 'noid', -1, 'notjson');
      await raw.hset(old.job('noid'), 'payload', '{}');
      await raw.hset(old.job('notjson'), 'id', 'notjson', 'queue', 'q', 'payload', '{not json', 'state', 'queued');
      await store.enqueue({ id: 'good', queue: 'q', payload: { ok: true } });

      const lease = await store.claim({ queue: 'q', owner: 'h', leaseMs: 10_000 });
      expect(lease?.job).toMatchObject({ id: 'good', payload: { ok: true } });
      const notes = await store.listQuarantined('q');
      expect(notes.map((n) => [n.jobId, n.key]).sort()).toEqual([
        ['ghost', old.job('ghost')],
        ['noid', old.job('noid')],
        ['notjson', old.job('notjson')],
      ]);
      expect(await store.stats('q')).toMatchObject({ queued: 0, claimed: 1, quarantined: 3 });
      // The unreadable payload was logged by the store with its key and kept aside for a person.
      expect(logger.lines).toContainEqual({ level: 'error', msg: 'malformed job record quarantined', fields: { key: old.job('notjson'), reason: 'payload is not JSON' } });
      expect(await raw.hget(k.bad('notjson'), 'payload')).toBe('{not json');
      expect(await raw.exists(k.bad('noid'))).toBe(1);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});
