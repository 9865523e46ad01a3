import { setImmediate as tick } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStore } from '@anklet/core';
import { startRedisServer, uniquePrefix, type RedisServer } from '@anklet/testing';
import { createRedisConnection, createRedisJobStore, queueKeys } from '../src/index.js';
import { Waker } from '../src/wake.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
}, 30_000);
afterAll(async () => {
  await server?.stop();
});

/** Polls `condition` every 10 ms for at most `ms`; true when it held. */
async function until(condition: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return condition();
}

describe('targeted wake-up', () => {
  it('wakes one idle handler per enqueued job, across hosts, out of many waiting', async () => {
    const prefix = uniquePrefix('wake');
    const q = 'acme';
    const k = queueKeys(prefix, q);
    const open = (): JobStore => createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    const hosts = [open(), open(), open()];
    const receiver = open();
    const raw = new Redis(server.url);
    try {
      // A job whose events serve as a barrier: each host's subscriber sees messages in publish order.
      await receiver.enqueue({ id: 'sentinel', queue: q, payload: {} });
      await receiver.claim({ queue: q, owner: 'elsewhere', leaseMs: 60_000 });
      await Promise.all(hosts.map((h) => h.waitForEvent!(q, 'sentinel', 300)));

      let woken = 0;
      const perHost = 8;
      const waits = hosts.flatMap((h) => Array.from({ length: perHost }, () => h.waitForWork(q, 60_000).then(() => (woken += 1))));
      expect(await until(async () => (await raw.zcard(k.idle)) === hosts.length * perHost)).toBe(true);

      for (let i = 0; i < 5; i += 1) await receiver.enqueue({ id: `j${i}`, queue: q, payload: { i } });
      // Each enqueue took exactly one idle token off the set: 5 of 24.
      expect(await raw.zcard(k.idle)).toBe(hosts.length * perHost - 5);
      expect(await until(() => woken === 5)).toBe(true);
      // Barrier: once every host saw an event published after the 5 wake-ups, no more can come.
      const barrier = hosts.map((h) => h.waitForEvent!(q, 'sentinel', 10_000));
      await receiver.recordEvent(q, 'sentinel', { action: 'completed', at: 1 });
      await Promise.all(barrier);
      expect(woken).toBe(5);

      // A woken handler claims; the others keep waiting for jobs still to come.
      for (let i = 0; i < 5; i += 1) expect(await hosts[i % 3]!.claim({ queue: q, owner: `h${i}`, leaseMs: 60_000 })).not.toBeNull();
      await Promise.all(hosts.map((h) => h.close()));
      await Promise.all(waits);
      // Waits that ended without a wake-up took their tokens back.
      expect(await until(async () => (await raw.zcard(k.idle)) === 0)).toBe(true);
    } finally {
      raw.disconnect();
      await Promise.all([...hosts, receiver].map((s) => s.close()));
    }
  });

  it('wakes a handler whose claim found nothing before one that waits without claiming (a host at capacity)', async () => {
    const prefix = uniquePrefix('wake');
    const k = queueKeys(prefix, 'q');
    const full = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    const idle = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    const receiver = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    const raw = new Redis(server.url);
    try {
      let fullWoken = false;
      const fullWait = full.waitForWork('q', 60_000).then(() => (fullWoken = true));
      expect(await until(async () => (await raw.zcard(k.idle)) === 1)).toBe(true);
      expect(await idle.claim({ queue: 'q', owner: 'h', leaseMs: 1000 })).toBeNull();
      const idleWait = idle.waitForWork('q', 60_000);
      expect(await until(async () => (await raw.zcard(k.idle)) === 2)).toBe(true);
      await receiver.enqueue({ id: 'one', queue: 'q', payload: {} });
      await idleWait;
      expect(await raw.zcard(k.idle)).toBe(1);
      expect(fullWoken).toBe(false);
      // With no active waiter left, the next job wakes the passive one.
      await receiver.enqueue({ id: 'two', queue: 'q', payload: {} });
      await fullWait;
    } finally {
      raw.disconnect();
      await Promise.all([full, idle, receiver].map((s) => s.close()));
    }
  });

  it('looks again at once when a job came in between a fruitless claim and the wait', async () => {
    const prefix = uniquePrefix('wake');
    const store = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    const other = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    try {
      expect(await store.claim({ queue: 'q', owner: 'h', leaseMs: 1000 })).toBeNull();
      await other.enqueue({ id: 'late', queue: 'q', payload: {} });
      // Without the look-again the wait would last its ten minutes and the test would time out.
      await store.waitForWork('q', 600_000);
      expect((await store.claim({ queue: 'q', owner: 'h', leaseMs: 1000 }))?.job.id).toBe('late');
    } finally {
      await store.close();
      await other.close();
    }
  });
});

describe('Waker in process', () => {
  it('wakes one waiter per notify and keeps no entry after a wait ends', async () => {
    const waker = new Waker(undefined, undefined);
    let woken = 0;
    const waits = Array.from({ length: 10 }, () => waker.wait('c', 60_000).then(() => (woken += 1)));
    waker.notify('c', 3);
    await tick();
    expect(woken).toBe(3);
    // Event waits for many jobs, each ending (timeout, abort or event): nothing is kept per job.
    const controller = new AbortController();
    const events = Array.from({ length: 1000 }, (_, i) => waker.waitEvent('ev', `job-${i}`, i % 2 === 0 ? 1 : 60_000, controller.signal));
    waker.notifyEvent('ev', 'job-1');
    controller.abort();
    await Promise.all(events);
    waker.notify('c', 7);
    await Promise.all(waits);
    expect(woken).toBe(10);
    expect(waker.size).toEqual({ waiters: 0, tokens: 0, latched: 0 });
    await waker.close();
  });
});
