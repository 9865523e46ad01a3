import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isAnkletError, type JobLease } from '@anklet/core';
import { startRedisServer, uniquePrefix, type RedisServer } from '@anklet/testing';
import { createRedisConnection, createRedisJobStore, queueKeys } from '../src/index.js';
import { createMemoryLogger } from './helpers.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
}, 30_000);
afterAll(async () => {
  await server?.stop();
});

const q = 'acme';
/** More than a character's worth of bytes past the first payload piece, so a cut could split one. */
const wide = { workflow_job: { id: 1, name: 'déploiement 🚀 — macOS', labels: ['anka-template:84266873-da90-4e0d-903b-ed0233471f9f'] } };

/** A record as anklet before store v2 wrote it (record format 1). */
function v1(id: string, extra: Record<string, string | number> = {}): Array<string | number> {
  const fields: Record<string, string | number> = { id, queue: q, payload: JSON.stringify({ ...wide, id }), attempts: 0, phase: 'queued', state: 'queued', enqueuedAt: 1_700_000_000_000, token: 0, ...extra };
  return Object.entries(fields).flat();
}

describe('a Redis upgraded in place: format 1 records', () => {
  it('are moved to format 2 in queue order, claimed and owned ones included; unreadable ones are quarantined with their key and reason', async () => {
    const prefix = uniquePrefix('migrate');
    const k = queueKeys(prefix, q);
    const old = k.legacy;
    const raw = new Redis(server.url);
    const logger = createMemoryLogger();
    const store = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix, logger });
    try {
      // What an older anklet left: a deep main queue (more than one migration batch), poison among it,
      // a hand-off, a claimed job with its VM, a delayed job, one older quarantine note.
      await raw.hset(`${k.base}:meta`, 'tail', 1300, 'head', -2);
      await raw.zadd(old.queued, -2, 'a', -1, 'b', 0, 'noqueue', 1, 'wrongtype', 2, 'badattempts', 3, 'badphase', 4, 'gone', 5, 'stranger');
      await raw.hset(old.job('a'), ...v1('a', { repositoryOwner: 'acme', template: 'big', attempts: 2, lastReason: 'anka start failed', 'ev:in_progress': '{"action":"in_progress","at":5}' }));
      await raw.hset(old.job('b'), ...v1('b'));
      await raw.hset(old.job('noqueue'), ...v1('noqueue', {}).filter((_, i, all) => all[i] !== 'queue' && all[i - 1] !== 'queue'));
      await raw.rpush(old.job('wrongtype'), 'not a hash');
      await raw.hset(old.job('badattempts'), ...v1('badattempts', { attempts: 'many' }));
      await raw.hset(old.job('badphase'), ...v1('badphase', { phase: 'exploded' }));
      await raw.hset(old.job('stranger'), ...v1('stranger', { colour: 'blue' }));
      for (let i = 0; i < 1200; i += 100) {
        const batch = Array.from({ length: 100 }, (_, j) => `x${i + j}`);
        await raw.zadd(old.queued, ...batch.flatMap((id, j) => [10 + i + j, id]));
        const pipe = raw.pipeline();
        for (const id of batch) pipe.hset(old.job(id), ...v1(id, { repositoryOwner: 'acme' }));
        await pipe.exec();
      }
      await raw.zadd(old.handoff, 1250, 'h1');
      await raw.hset(old.job('h1'), ...v1('h1', { state: 'handed_off', handedOffBy: 'host1-h1', repositoryOwner: 'acme' }));
      const leaseUntil = Date.now() + 60_000;
      await raw.zadd(k.leases, leaseUntil, 'c1');
      await raw.hset(old.job('c1'), ...v1('c1', { state: 'claimed', phase: 'vm_started', owner: 'old-handler', token: 3, leaseUntil, vmName: 'anklet-vm-c1' }));
      await raw.zadd(k.delayed, Date.now() + 60_000, 'd1');
      await raw.hset(old.job('d1'), ...v1('d1', { notBefore: Date.now() + 60_000, attempts: 1 }));
      await raw.lpush(k.quarantine, JSON.stringify({ key: 'older', reason: 'from before', at: 1 }));

      expect(await store.stats(q)).toMatchObject({ queued: 1202, handedOff: 1, claimed: 1, delayed: 1, quarantined: 7 });
      const notes = await store.listQuarantined(q);
      expect(Object.fromEntries(notes.map((n) => [n.jobId ?? n.key, n.reason]))).toEqual({
        older: 'from before',
        noqueue: 'missing queue',
        wrongtype: expect.stringContaining('not a hash') as unknown,
        badattempts: 'field attempts is not an integer',
        badphase: 'unknown phase exploded',
        gone: 'job record missing',
        stranger: 'unexpected field colour',
      });
      expect(notes.find((n) => n.jobId === 'noqueue')?.key).toBe(old.job('noqueue'));
      expect(logger.lines.filter((l) => l.msg === 'malformed job record quarantined')).toHaveLength(6);
      expect(await raw.exists(old.queued, old.handoff, old.job('a'), old.job('c1'), old.job('x5'))).toBe(0);

      // Queue order kept across batches and groups; the hand-off first for another host.
      const claims: string[] = [];
      for (let i = 0; i < 5; i += 1) claims.push((await store.claim({ queue: q, owner: 'host2-h1', leaseMs: 60_000, repositoryOwners: ['acme'] }))!.job.id);
      expect(claims).toEqual(['h1', 'a', 'b', 'x0', 'x1']);
      const a = await store.get(q, 'a');
      expect(a).toMatchObject({ attempts: 2, lastReason: 'anka start failed', repositoryOwner: 'acme', template: 'big', payload: { ...wide, id: 'a' } });
      expect(a?.events['in_progress']).toEqual({ action: 'in_progress', at: 5 });

      // The claimed job resumes with its token; the delayed one is still delayed.
      const owned = await store.listOwned(q, 'old-handler');
      expect(owned.map((l) => [l.job.id, l.token, l.job.phase, l.job.vmName])).toEqual([['c1', 3, 'vm_started', 'anklet-vm-c1']]);
      await store.renew(owned[0] as JobLease, 60_000);
      expect((await store.list(q, 'delayed')).map((j) => [j.id, j.attempts])).toEqual([['d1', 1]]);
      expect(await store.enqueue({ id: 'b', queue: q, payload: {} })).toBe('duplicate_job');
      const refused = await store.renew({ job: { ...owned[0]!.job, id: 'noqueue' }, owner: 'old-handler', token: 0 }, 1000).catch((e: unknown) => e);
      expect(isAnkletError(refused) && refused.code).toBe(ErrorCodes.JOB_QUARANTINED);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});
