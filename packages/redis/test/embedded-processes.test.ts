import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedJobStore } from '../src/index.js';

const WORKER = fileURLToPath(new URL('./fixtures/sqlite-worker.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/embedded-job-store.js', import.meta.url));

interface Worker {
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  kill(): void;
}

function startWorker(dir: string, ...args: string[]): Worker {
  const child = spawn(process.execPath, [WORKER, dir, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const worker = { lines, exited, kill: () => child.kill('SIGKILL') };
  running.add(child);
  void exited.then(() => running.delete(child));
  return worker;
}

/** Every worker still alive; a failed assertion must not leave claim loops behind. */
const running = new Set<ReturnType<typeof spawn>>();

const idsOf = (workers: ReadonlyArray<Worker>, verb: string): string[] =>
  workers.flatMap((w) => w.lines.filter((l) => l.startsWith(`${verb} `)).map((l) => l.slice(verb.length + 1)));

/** Resolves once `worker` printed `count` lines starting with `verb` (a bounded poll, not a sleep). */
async function until(worker: Worker, verb: string, count: number): Promise<void> {
  for (let i = 0; i < 3000 && idsOf([worker], verb).length < count; i += 1) await sleep(10);
  expect(idsOf([worker], verb).length).toBeGreaterThanOrEqual(count);
}

/** The first of `workers` to print `count` lines starting with `verb` (a bounded poll). */
async function firstTo(workers: ReadonlyArray<Worker>, verb: string, count: number): Promise<Worker> {
  for (let i = 0; i < 3000; i += 1) {
    const found = workers.find((w) => idsOf([w], verb).length >= count);
    if (found) return found;
    await sleep(10);
  }
  throw new Error(`no worker printed ${count} "${verb}" lines in 30 s`);
}

describe('several processes on one embedded store', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(DIST)) throw new Error('build @anklet/redis first: pnpm --filter @anklet/redis build');
  });
  afterEach(async () => {
    for (const child of running) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged job and finishes none twice, with a receiver and a handler killed mid-run', async () => {
    dir = await mkdtemp(join(tmpdir(), 'anklet-sqlite-procs-'));
    const receivers = [startWorker(dir, 'enqueue', 'a', '400'), startWorker(dir, 'enqueue', 'b', '400'), startWorker(dir, 'enqueue', 'c', '400')];
    // A short lease: the killed handler's job comes back through the reaper below.
    const handlers = [startWorker(dir, 'claim', 'h1', '300', '50'), startWorker(dir, 'claim', 'h2', '300', '50'), startWorker(dir, 'claim', 'h3', '300', '50')];
    await until(receivers[0]!, 'acked', 100);
    receivers[0]!.kill();
    // SQLite's lock is not fair: one busy process may take most claims, so the handler killed is
    // the first to have claimed 20 (mid-run: the receivers are still writing).
    const victim = await firstTo(handlers, 'claimed', 20);
    victim.kill();
    const receiverCodes = await Promise.all(receivers.map((w) => w.exited));
    // Handlers stop once the queue stays empty after every receiver is done, never before.
    await writeFile(join(dir, 'receivers-done'), '');
    const handlerCodes = await Promise.all(handlers.map((w) => w.exited));
    expect(receiverCodes).toEqual([null, 0, 0]);
    expect(handlerCodes).toEqual(handlers.map((h) => (h === victim ? null : 0)));

    const acked = idsOf(receivers, 'acked');
    expect(acked.length).toBeGreaterThanOrEqual(900);
    expect(new Set(acked).size).toBe(acked.length);
    // What the dead handler held comes back once its lease ran out; then this process drains the rest.
    const store = createEmbeddedJobStore({ dir });
    const finishedHere: string[] = [];
    try {
      for (let round = 0; round < 100; round += 1) {
        await store.reapExpired('shared');
        const lease = await store.claim({ queue: 'shared', owner: 'test', leaseMs: 60_000 });
        if (lease) {
          await store.finish(lease, 'success');
          finishedHere.push(lease.job.id);
          continue;
        }
        if ((await store.stats('shared')).claimed === 0) break;
        await sleep(50);
      }
      expect(await store.stats('shared')).toMatchObject({ queued: 0, claimed: 0, handedOff: 0, quarantined: 0 });
      const finished = [...idsOf(handlers, 'finished'), ...finishedHere];
      const duplicated = finished.length - new Set(finished).size;
      // A job the killed handler finished just before it died may not have been printed: the
      // store's memory of finished ids (a redelivery is refused) is what says it is done.
      const printed = new Set(finished);
      const lost: string[] = [];
      for (const id of acked) {
        if (printed.has(id)) continue;
        if ((await store.enqueue({ id, queue: 'shared', payload: {} })) !== 'duplicate_job') lost.push(id);
      }
      expect({ lost, duplicated }).toEqual({ lost: [], duplicated: 0 });
      // Every job finished in the handlers was one that a receiver stored.
      const stored = new Set(acked);
      const unacked = finished.filter((id) => !stored.has(id));
      // Only the killed receiver may have stored a job it never got to acknowledge.
      expect(unacked.every((id) => id.startsWith('a-'))).toBe(true);
      expect(unacked.length).toBeLessThanOrEqual(1);
    } finally {
      await store.close();
    }
  }, 120_000);
});
