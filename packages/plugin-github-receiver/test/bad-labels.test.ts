import type { JobStore } from '@anklet/core';
import { startGitHubSim } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, uniquePrefix, type RedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createReceiver } from '../src/receiver.js';
import { receiverContext } from './context.js';

/**
 * Label near-misses and event order, on github-sim: GitHub dispatches the job and delivers its
 * signed webhooks to a real receiver on a real Redis; the run's state is read back from the sim.
 */
const SECRET = 'bad-labels-test-secret';
const TOKEN = 'ghp_bad_labels';
const TEMPLATE = 'c0847bc9-5d2d-4dbc-ba6a-240f7ff08032';

let redis: RedisServer;
const stops: Array<() => Promise<void>> = [];
const stores: JobStore[] = [];
beforeAll(async () => {
  redis = await startRedisServer({ allowExternal: false });
});
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
});

async function world(block: Record<string, unknown> = {}) {
  const port = await findFreePort();
  const sim = await startGitHubSim({ tokens: [TOKEN], hooks: [{ org: 'acme', url: `http://127.0.0.1:${port}/jobs/v1/receiver`, secret: SECRET }] });
  stops.push(() => sim.close());
  const store = createRedisJobStore({ redis: new Redis(redis.url), prefix: uniquePrefix('badlabels') });
  stores.push(store);
  const made = receiverContext(store, {
    port,
    listen_address: '127.0.0.1',
    secret: SECRET,
    owner: 'acme',
    skip_redeliver: true,
    token: TOKEN,
    github_base_url: sim.url,
    ...block,
  });
  const receiver = createReceiver(made.ctx, { writeSpacingMs: 0 });
  await receiver.start!();
  stops.push(async () => {
    made.controller.abort();
    await receiver.stop!();
  });
  return { sim, store, ...made };
}

const nearMisses: ReadonlyArray<{ name: string; labels: string[]; reason: RegExp }> = [
  { name: 'anka-template without a colon', labels: ['self-hosted', 'anka-template'], reason: /has no ":".*did you mean "anka-template:<template-uuid>"/ },
  { name: 'anka-template: with no template', labels: ['self-hosted', 'anka-template:'], reason: /has no template/ },
  { name: 'a plural prefix', labels: ['self-hosted', 'anka-templates:x'], reason: /"anka-templates:x" is not "anka-template:<value>".*did you mean "anka-template:x"/ },
  { name: 'text before the prefix', labels: ['self-hosted', 'my-anka-template:x'], reason: /has text before "anka-template:".*did you mean "anka-template:x"/ },
  { name: 'two template labels', labels: ['self-hosted', `anka-template:${TEMPLATE}`, 'anka-template:other'], reason: /two templates/ },
  { name: 'an empty tag', labels: ['self-hosted', `anka-template:${TEMPLATE}`, 'anka-template-tag:'], reason: /"anka-template-tag:" has no tag/ },
];

describe('label near-misses (on_bad_labels: cancel, the default)', () => {
  for (const { name, labels, reason } of nearMisses) {
    it(`${name}: stored, counted, logged at ERROR with the reason, and its run cancelled`, async () => {
      const { sim, store, logger, metrics } = await world();
      const job = sim.control.dispatchJob({ repository: 'acme/app', labels, name, durationMs: 600_000 });
      await sim.control.waitForJob(job.id, 'completed', 20_000);
      await sim.control.deliveriesSettled();
      expect(sim.control.job(job.id)).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
      const error = logger.lines.find((l) => l.level === 'ERROR' && l.msg === 'job labels look like anka labels but do not parse; cancelling its workflow run');
      expect(error?.reason).toMatch(reason);
      expect(error?.workflowJobID).toBe(job.id);
      expect(metrics.counters.get('jobs_bad_labels{"action":"cancel"}')).toBe(1);
      // The record stays until its `completed` is known, so a handler never runs it.
      const stored = await store.get('acme', String(job.id));
      expect(stored?.events.completed).toMatchObject({ conclusion: 'cancelled' });
    });
  }

  it('leaves jobs whose labels are clearly not anka labels alone', async () => {
    const { sim, store, logger } = await world();
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'macos', 'arm64'], name: 'other', durationMs: 600_000 });
    await sim.control.deliveriesSettled();
    expect(sim.control.job(job.id)).toMatchObject({ status: 'queued' });
    expect(await store.get('acme', String(job.id))).toBeNull();
    expect(logger.lines.filter((l) => l.level === 'ERROR')).toEqual([]);
  });
});

describe('on_bad_labels: ignore', () => {
  it('leaves the job queued on GitHub, stores nothing, and says so once at WARN', async () => {
    const { sim, store, logger, metrics } = await world({ on_bad_labels: 'ignore' });
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'my-anka-template:x'], name: 'ignored', durationMs: 600_000 });
    await sim.control.deliveriesSettled();
    expect(sim.control.job(job.id)).toMatchObject({ status: 'queued' });
    expect(await store.get('acme', String(job.id))).toBeNull();
    expect(logger.lines.filter((l) => l.level === 'WARN' && /on_bad_labels: ignore/.test(l.msg))).toHaveLength(1);
    expect(metrics.counters.get('jobs_bad_labels{"action":"ignore"}')).toBe(1);
  });
});
