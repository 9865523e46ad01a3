import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, uniquePrefix, deleteKeysWithPrefix, type RedisServer } from '@anklet/testing';
import type { JobLease, JobStore } from '@anklet/core';
import { createRedisConnection, createRedisJobStore } from '../src/index.js';

const CLAIMER = fileURLToPath(new URL('./fixtures/claimer.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

let server: RedisServer;
beforeAll(async () => {
  if (!existsSync(DIST)) throw new Error('build @anklet/redis first: pnpm --filter @anklet/redis build');
  server = await startRedisServer();
}, 30_000);
afterAll(async () => {
  await server?.stop();
});

interface Claimer {
  lines: string[];
  exited: Promise<number | null>;
  kill(): void;
}

function startClaimer(prefix: string, queue: string, owner: string, leaseMs: number, mode: 'finish' | 'hold'): Claimer {
  const child = spawn(process.execPath, [CLAIMER, server.url, prefix, queue, owner, String(leaseMs), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { lines, exited, kill: () => child.kill('SIGKILL') };
}

async function fill(store: JobStore, queue: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `job-${i}`);
  for (let i = 0; i < ids.length; i += 100) {
    await Promise.all(ids.slice(i, i + 100).map((id) => store.enqueue({ id, queue, payload: { id } })));
  }
  return ids;
}

const ids = (lines: string[], verb: string): string[] => lines.filter((l) => l.startsWith(`${verb} `)).map((l) => l.slice(verb.length + 1));

describe('concurrent claimers in separate processes', () => {
  it('never claim one job twice and never lose one over a deep queue', async () => {
    const prefix = uniquePrefix('conc');
    const store = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    try {
      const all = await fill(store, 'deep', 2000);
      const claimers = Array.from({ length: 8 }, (_, i) => startClaimer(prefix, 'deep', `h${i}`, 30_000, 'finish'));
      const codes = await Promise.all(claimers.map((c) => c.exited));
      expect(codes.every((code) => code === 0)).toBe(true);
      const claimed = claimers.flatMap((c) => ids(c.lines, 'claimed'));
      expect(claimed.length).toBe(all.length);
      expect(new Set(claimed).size).toBe(all.length);
      // Every process took part: the test really exercised contention.
      expect(claimers.filter((c) => ids(c.lines, 'claimed').length > 0).length).toBeGreaterThan(1);
      expect(await store.stats('deep')).toMatchObject({ queued: 0, claimed: 0, handedOff: 0 });
    } finally {
      await store.close();
      if (server.external) await deleteKeysWithPrefix(server.url, prefix);
    }
  }, 60_000);

  it('loses nothing when a claimer is killed with SIGKILL holding jobs: leases expire and the jobs come back', async () => {
    const prefix = uniquePrefix('kill');
    const store = createRedisJobStore({ redis: createRedisConnection({ url: server.url }), prefix });
    const claimers: Claimer[] = [];
    try {
      const all = await fill(store, 'q', 400);
      // One claimer grabs jobs and never finishes them, while honest claimers drain the rest.
      const doomed = startClaimer(prefix, 'q', 'doomed', 400, 'hold');
      claimers.push(doomed);
      // The honest claimers start once the doomed one holds jobs (on a loaded machine they could
      // otherwise drain the queue before it claims anything).
      for (let waited = 0; ids(doomed.lines, 'claimed').length < 3; waited += 5) {
        if (waited > 40_000) throw new Error(`the doomed claimer claimed ${ids(doomed.lines, 'claimed').length} jobs in 40 s`);
        await sleep(5);
      }
      const honest = Array.from({ length: 3 }, (_, i) => startClaimer(prefix, 'q', `h${i}`, 30_000, 'finish'));
      claimers.push(...honest);
      doomed.kill();
      await doomed.exited;
      await Promise.all(honest.map((c) => c.exited));
      const held = ids(doomed.lines, 'claimed');
      expect(held.length).toBeGreaterThan(0);

      // The reaper brings back what the dead process held once its leases run out.
      await sleep(450);
      const reaped = await store.reapExpired('q', { limit: 1000 });
      // It may have claimed one more that it never got to print: the claim committed, the process died.
      expect(reaped.requeued).toEqual(expect.arrayContaining(held));
      const recovered: string[] = [];
      for (let lease = await store.claim({ queue: 'q', owner: 'rescuer', leaseMs: 30_000 }); lease; lease = await store.claim({ queue: 'q', owner: 'rescuer', leaseMs: 30_000 })) {
        expect(lease.job.attempts).toBe(1);
        recovered.push(lease.job.id);
        await store.finish(lease as JobLease, 'success');
      }
      const finished = [...honest.flatMap((c) => ids(c.lines, 'finished')), ...recovered];
      expect(finished.length).toBe(all.length);
      expect(new Set(finished)).toEqual(new Set(all));
    } finally {
      // A failed run must not leave a claimer behind (the doomed one never exits by itself).
      for (const claimer of claimers) claimer.kill();
      await store.close();
      if (server.external) await deleteKeysWithPrefix(server.url, prefix);
    }
  }, 120_000);
});
