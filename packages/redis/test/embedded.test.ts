import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEmbeddedJobStore } from '../src/index.js';
import { createMemoryLogger } from './helpers.js';

describe('embedded store files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anklet-embedded-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every change before the call resolves, atomically', async () => {
    const store = createEmbeddedJobStore({ dir });
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.enqueue({ id: String(i), queue: 'q', payload: { i } })));
    // No close(): a crash right now must still find all 50 jobs.
    const files = await readdir(dir);
    expect(files).toEqual(['job-store.json']);
    const snapshot = JSON.parse(await readFile(join(dir, 'job-store.json'), 'utf8')) as { queues: Record<string, { queued: string[] }> };
    expect(snapshot.queues['q']?.queued).toHaveLength(50);
    const again = createEmbeddedJobStore({ dir });
    expect((await again.stats('q')).queued).toBe(50);
    await store.close();
    await again.close();
  });

  it('quarantines malformed records and moves an unreadable file aside instead of crashing', async () => {
    await writeFile(
      join(dir, 'job-store.json'),
      JSON.stringify({
        version: 1,
        queues: { q: { queued: ['ghost', 'good'], handoff: [], jobs: [{ payload: {} }, { id: 'good', queue: 'q', payload: {}, attempts: 0, phase: 'queued', state: 'queued', enqueuedAt: 1, token: 0, events: {} }], done: [], deliveries: [], quarantine: [] } },
        leaders: [],
        fences: [],
      }),
    );
    const logger = createMemoryLogger();
    const store = createEmbeddedJobStore({ dir, logger });
    expect((await store.claim({ queue: 'q', owner: 'h', leaseMs: 1000 }))?.job.id).toBe('good');
    expect((await store.listQuarantined('q')).map((n) => n.reason).sort()).toEqual(['job record missing', 'job record missing or without id']);
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(2);
    await store.close();

    await writeFile(join(dir, 'job-store.json'), '{ this is not json');
    const fresh = createEmbeddedJobStore({ dir, logger });
    expect((await fresh.stats('q')).queued).toBe(0);
    expect((await readdir(dir)).some((f) => f.startsWith('job-store.json.corrupt-'))).toBe(true);
    await fresh.close();
  });
});
