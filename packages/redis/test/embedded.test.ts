import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isAnkletError, type JobLease } from '@anklet/core';
import { createEmbeddedJobStore } from '../src/index.js';
import { EMBEDDED_STORE_FILE } from '../src/embedded-job-store.js';
import { createMemoryLogger } from './helpers.js';

/** A job-store.json written by the JSON-file store (see fixtures/old-json-store/README.md). */
const OLD_FIXTURE = new URL('./fixtures/old-json-store/job-store.json', import.meta.url);

describe('embedded store files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anklet-embedded-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('commits every change before the call resolves, in a WAL database with synchronous=FULL', async () => {
    const store = createEmbeddedJobStore({ dir });
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.enqueue({ id: String(i), queue: 'q', payload: { i } })));
    // No close(): another connection (a restart after a crash) must already find all 50 jobs.
    const raw = new Database(join(dir, EMBEDDED_STORE_FILE), { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.prepare(`SELECT COUNT(*) FROM jobs WHERE queue = 'q'`).pluck().get()).toBe(50);
    raw.close();
    const again = createEmbeddedJobStore({ dir });
    expect((await again.stats('q')).queued).toBe(50);
    expect((await again.claim({ queue: 'q', owner: 'h', leaseMs: 1000 }))?.job.payload).toEqual({ i: 0 });
    await store.close();
    await again.close();
  });

  it('imports a job-store.json of the old format once, then renames it', async () => {
    await copyFile(OLD_FIXTURE, join(dir, 'job-store.json'));
    const logger = createMemoryLogger();
    const store = createEmbeddedJobStore({ dir, logger });
    const files = await readdir(dir);
    expect(files).not.toContain('job-store.json');
    expect(files.filter((f) => f.startsWith('job-store.json.imported-'))).toHaveLength(1);
    expect(logger.lines.some((l) => l.level === 'info' && l.msg.includes('imported'))).toBe(true);

    // Every part of the queue came across: queued, delayed, handed off, claimed (with its lease), quarantined.
    expect(await store.stats('acme')).toMatchObject({ queued: 1, delayed: 1, handedOff: 1, claimed: 1, quarantined: 1 });
    expect(await store.stats('enterprise-q')).toMatchObject({ queued: 1 });
    const [owned] = await store.listOwned('acme', 'host1-h1');
    expect(owned?.job).toMatchObject({ id: '101', phase: 'vm_started', vmName: 'anklet-vm-101', runnerId: '7', repositoryOwner: 'acme', template: 'macos-14' });
    expect(owned?.job.events['in_progress']).toMatchObject({ runnerName: 'anklet-vm-101', runnerId: 7 });
    expect((await store.list('acme', 'delayed'))[0]).toMatchObject({ id: '103', attempts: 1, lastReason: 'anka start failed' });
    expect((await store.listQuarantined('acme'))[0]).toMatchObject({ jobId: '105', reason: 'payload is not a workflow job' });
    // The old lease is still good, and finished ids and deliveries are still remembered.
    await store.renew(owned as JobLease, 60_000);
    expect(await store.enqueue({ id: '104', queue: 'acme', payload: {} })).toBe('duplicate_job');
    expect(await store.enqueue({ id: '999', queue: 'acme', payload: {}, deliveryId: 'd-106' })).toBe('duplicate_delivery');
    // Hand-offs first (not from the host that made it), then the main queue.
    expect((await store.claim({ queue: 'acme', owner: 'host2-h1', leaseMs: 1000 }))?.job).toMatchObject({ id: '102', handedOffBy: undefined });
    expect((await store.claim({ queue: 'acme', owner: 'host2-h1', leaseMs: 1000 }))?.job).toMatchObject({ id: '106', payload: { job: { id: 106 }, note: 'job 106' } });
    // The leadership fence carries on from the old file's token.
    expect((await store.acquireLeadership('reaper', 'host2', 1000))?.token).toBeGreaterThan(1);
    await store.close();

    // A second start does not import anything again.
    const again = createEmbeddedJobStore({ dir, logger });
    expect(await again.stats('acme')).toMatchObject({ queued: 0, delayed: 1, handedOff: 0, claimed: 3 });
    await again.close();
  });

  it('quarantines malformed records of an old file and moves an unreadable one aside instead of crashing', async () => {
    await writeFile(
      join(dir, 'job-store.json'),
      JSON.stringify({
        version: 1,
        queues: {
          q: {
            queued: ['ghost', 'good', 'typed'],
            handoff: 'not a list',
            jobs: [
              { payload: {} },
              { id: 'good', queue: 'q', payload: {}, attempts: 0, phase: 'queued', state: 'queued', enqueuedAt: 1, token: 0, events: {} },
              { id: 'typed', queue: 'q', payload: {}, attempts: 'many', phase: 'queued', state: 'queued', enqueuedAt: 1, token: 0, events: {} },
            ],
            done: [],
            deliveries: {},
            quarantine: [],
          },
        },
        leaders: [],
        fences: [],
      }),
    );
    const logger = createMemoryLogger();
    const store = createEmbeddedJobStore({ dir, logger });
    expect((await store.claim({ queue: 'q', owner: 'h', leaseMs: 1000 }))?.job.id).toBe('good');
    // The record with a wrong-type field is set aside when the queue reaches it.
    expect(await store.claim({ queue: 'q', owner: 'h', leaseMs: 1000 })).toBeNull();
    expect((await store.listQuarantined('q')).map((n) => n.reason).sort()).toEqual(['attempts is not an integer', 'job record missing', 'job record missing or without id']);
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(3);
    await store.close();

    await writeFile(join(dir, 'job-store.json'), '{ this is not json');
    const fresh = createEmbeddedJobStore({ dir, logger });
    expect((await fresh.stats('q')).quarantined).toBe(3);
    expect((await readdir(dir)).some((f) => f.startsWith('job-store.json.corrupt-'))).toBe(true);
    await fresh.close();
  });

  it('wakes one idle handler per new job, across the stores of one process on the same file', async () => {
    const stores = [createEmbeddedJobStore({ dir }), createEmbeddedJobStore({ dir }), createEmbeddedJobStore({ dir })];
    const [receiver] = stores;
    const stop = new AbortController();
    let woken = 0;
    const waits = stores.flatMap((store) => [0, 1].map(() => store.waitForWork('q', 60_000, stop.signal).then(() => (woken += 1))));
    await receiver!.enqueue({ id: '1', queue: 'q', payload: {} });
    await receiver!.enqueue({ id: '2', queue: 'q', payload: {} });
    // A wake-up is delivered inside enqueue(); one turn of the event loop lets the woken waits settle.
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toBe(2);
    // A duplicate wakes nobody.
    await receiver!.enqueue({ id: '2', queue: 'q', payload: {} });
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toBe(2);
    stop.abort();
    await Promise.all(waits);
    expect(woken).toBe(6);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('moves a database file that is not SQLite aside and starts empty', async () => {
    await writeFile(join(dir, EMBEDDED_STORE_FILE), 'definitely not a database, but long enough to have a header of one page '.repeat(100));
    const logger = createMemoryLogger();
    const store = createEmbeddedJobStore({ dir, logger });
    expect(await store.enqueue({ id: '1', queue: 'q', payload: {} })).toBe('enqueued');
    expect((await readdir(dir)).some((f) => f.startsWith(`${EMBEDDED_STORE_FILE}.corrupt-`))).toBe(true);
    expect(logger.lines.some((l) => l.level === 'error')).toBe(true);
    await store.close();
    const error = await store.stats('q').catch((e: unknown) => e);
    expect(isAnkletError(error) && error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
  });
});
