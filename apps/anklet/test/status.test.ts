import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection, createRedisJobStore, type RedisConnection } from '@anklet/redis';
import type { JobStore } from '@anklet/core';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import type { LoadedConfig } from '../src/config/load-config.js';
import type { FleetStatus } from '../src/status/fleet-status.js';
import { formatAge, readFleetStatus, renderFleetStatus, renderTable } from '../src/status/fleet-status.js';
import { makeTmp, msg, runCli, RunningAnklet, seedPlugins, writeFile } from './helpers.js';

/**
 * `anklet status` on the real binary against a real Redis: one live host (a running anklet), one
 * old Go host written through the store, and jobs waiting in a queue.
 */
let redis: RedisServer;
let client: RedisConnection;
let store: JobStore;
beforeAll(async () => {
  redis = await startRedisServer();
  client = createRedisConnection({ url: redis.url });
  store = createRedisJobStore({ redis: client, prefix: 'anklet' });
}, 60_000);
afterAll(async () => {
  await store?.close();
  await redis?.stop();
});

function redisKeys(): string {
  const { hostname, port } = new URL(redis.url);
  return `global_database_url: ${hostname}\nglobal_database_port: ${port}\n`;
}

/** A Go anklet's snapshot (no `anklet` extension), last written two minutes ago. */
function goSnapshot(at: Date): string {
  return JSON.stringify({
    last_update: at.toISOString(),
    total_running_vms: 1,
    host_cpu_usage_percentage: 12.4,
    host_memory_usage_percentage: 50,
    host_disk_usage_percentage: 61.6,
    plugins: [
      {
        Name: 'GO_HANDLER',
        PluginName: 'github',
        OwnerName: 'acme',
        RepoName: '',
        Status: 'in_progress',
        StatusSince: at.toISOString(),
        TotalSuccessfulRunsSinceStart: 7,
        TotalFailedRunsSinceStart: 1,
      },
    ],
  });
}

describe('anklet status', () => {
  it('shows the hosts, their plugins and the queues, as a table and as JSON', async () => {
    const home = makeTmp();
    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, ['metrics-probe']);
    const port = await findFreePort();
    const config = writeFile(
      path.join(home, 'config.yml'),
      `plugins_path: ${pluginsPath}\n${redisKeys()}metrics:\n  address: 127.0.0.1\n  port: ${port}\n  host_name: recv-1\n  include_unindexed_hosts: true\nplugins:\n  - { name: RECEIVER, plugin: metrics-probe, owner: acme, mode: serve }\n`,
    );
    // A Go anklet host writes its snapshot key only (no host index): found by the SCAN fallback.
    await client.client.set('anklet/metrics/acme/GO_HANDLER', goSnapshot(new Date(Date.now() - 120_000)), 'EX', 60);
    await store.enqueue({ id: '101', queue: 'acme', payload: {} });
    await store.enqueue({ id: '102', queue: 'acme', payload: {} });
    await store.enqueue({ id: '201', queue: 'shared', payload: {} });
    await store.enqueue({ id: '202', queue: 'shared', payload: {} });
    // A failed attempt waiting out its back-off counts as delayed, not queued.
    const lease = await store.claim({ queue: 'shared', owner: 'GO_HANDLER', leaseMs: 60_000 });
    expect(lease?.job.id).toBe('201');
    await store.requeue(lease!, 'test', { delayMs: 600_000 });

    const anklet = new RunningAnklet(['-c', config], { home });
    try {
      await anklet.waitFor(msg(`metrics server started on port ${port}`));
      await expect.poll(() => client.client.get('anklet/metrics/recv-1'), { timeout: 15_000 }).toBeTruthy();
      // The receiver's status changes to running once every plugin has started and the host exports again.
      await expect.poll(async () => JSON.parse((await client.client.get('anklet/metrics/recv-1'))!).plugins[0].Status, { timeout: 15_000 }).toBe('running');

      const json = await runCli(['-c', config, 'status', '--json', '--queue', 'shared'], { home });
      expect(json.code, json.stderr).toBe(0);
      const status = JSON.parse(json.stdout) as FleetStatus;
      expect(status.hosts.map((h) => [h.key, h.stale, h.plugins.map((p) => `${p.name}:${p.status}`)])).toEqual([['recv-1', false, ['RECEIVER:running']]]);
      // Silent for 2 minutes (past the 60 s stale mark): listed apart.
      expect(status.stale_hosts.map((h) => [h.key, h.stale, h.plugins.map((p) => `${p.name}:${p.status}`)])).toEqual([
        ['acme/GO_HANDLER', true, ['GO_HANDLER:in_progress']],
      ]);
      const live = status.hosts[0]!;
      expect(live.version).toBe('0.1.0');
      // A host without handlers runs no VMs.
      expect([live.host_name, live.vm_slots_total]).toEqual(['recv-1', 0]);
      expect(status.queues.map((q) => [q.queue, q.queued, q.delayed, q.claimed])).toEqual([
        ['acme', 2, 0, 0],
        ['shared', 1, 1, 0],
      ]);
      expect(status.queues[0]!.oldest_queued_age_seconds).toBeGreaterThanOrEqual(0);

      const text = await runCli(['-c', config, 'status', '--queue', 'shared'], { home });
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^fleet from redis 127\.0\.0\.1:\d+: 1 host \(and 1 stale\), 1 plugin/);
      expect(text.stdout).toMatch(/acme\/GO_HANDLER\s+-\s+\(go\)\s+2m\d*s? ago STALE\s+1\s+no/);
      expect(text.stdout).toMatch(/RECEIVER\s+recv-1\s+metrics-probe\s+acme\s+running/);
      expect(text.stdout).toMatch(/GO_HANDLER\s+acme\/GO_HANDLER\s+github\s+acme\s+in_progress\s+2m\d*s?\s+7\s+1\s+0/);
      expect(text.stdout).toMatch(/QUEUE\s+QUEUED\s+HANDED OFF\s+DELAYED\s+CLAIMED\s+QUARANTINED\s+OLDEST JOB\nacme\s+2\s+0\s+0\s+0\s+0\s+\d+s\nshared\s+1\s+0\s+1\s+0\s+0\s+\d+s/);
    } finally {
      anklet.signal('SIGINT');
    }
    expect((await anklet.exited).code).toBe(0);
  }, 60_000);

  it('says what to set when the config names no Redis, and when Redis does not answer', async () => {
    const home = makeTmp();
    const none = writeFile(path.join(home, 'none.yml'), 'plugins: []\n');
    const noDb = await runCli(['-c', none, 'status'], { home });
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toContain('names no Redis, and anklet status reads the fleet from Redis');
    expect(noDb.stderr).toContain('set global_database_url (or metrics.database.url)');

    const closed = await findFreePort();
    const down = writeFile(path.join(home, 'down.yml'), `global_database_url: 127.0.0.1\nglobal_database_port: ${closed}\nglobal_database_max_retries: 0\n`);
    const run = await runCli(['-c', down, 'status', '--json'], { home });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`unable to access database at 127.0.0.1:${closed}`);
  }, 30_000);

  it('lists the newest quarantined records of a queue with their key and reason', async () => {
    const queue = 'status-quarantine';
    await store.enqueue({ id: 'q1', queue, payload: { shape: 'wrong' } });
    const lease = await store.claim({ queue, owner: 'h', leaseMs: 60_000 });
    await store.quarantine(lease!, 'payload is not a workflow job');
    const config = { raw: {}, plugins: [] } as unknown as LoadedConfig;
    const status = await readFleetStatus(store, config, { queues: [queue] });
    const row = status.queues.find((q) => q.queue === queue);
    expect(row).toMatchObject({ quarantined: 1, recent_quarantined: [{ key: `anklet:jobs:{${queue}}:j:q1`, job_id: 'q1', reason: 'payload is not a workflow job' }] });
    const text = renderFleetStatus(status, 'redis test').join('\n');
    expect(text).toContain('quarantined records (newest first, at most 5 per queue):');
    expect(text).toMatch(new RegExp(`${queue}\\s+anklet:jobs:\\{${queue}\\}:j:q1\\s+payload is not a workflow job`));
  });

  it('lists delayed jobs with the reason they wait, such as a give-up whose cancel GitHub has not confirmed', async () => {
    const queue = 'status-delayed';
    await store.enqueue({ id: 'd1', queue, payload: { n: 1 } });
    const lease = await store.claim({ queue, owner: 'h', leaseMs: 60_000 });
    await store.requeue(lease!, 'cancel_pending: max_attempts_exceeded: error_obtaining_anka_vm', { countAttempt: false, delayMs: 600_000 });
    const config = { raw: {}, plugins: [] } as unknown as LoadedConfig;
    const status = await readFleetStatus(store, config, { queues: [queue] });
    expect(status.queues.find((q) => q.queue === queue)).toMatchObject({
      delayed: 1,
      delayed_jobs: [{ job_id: 'd1', attempts: 0, reason: 'cancel_pending: max_attempts_exceeded: error_obtaining_anka_vm' }],
    });
    const text = renderFleetStatus(status, 'redis test').join('\n');
    expect(text).toMatch(new RegExp(`${queue}\\s+d1\\s+0\\s+cancel_pending: max_attempts_exceeded: error_obtaining_anka_vm`));
  });

  it('formats ages and tables for people', () => {
    expect([formatAge(null), formatAge(5), formatAge(60), formatAge(75), formatAge(3 * 3600 + 120), formatAge(90_000)]).toEqual(['-', '5s', '1m', '1m15s', '3h2m', '1d1h']);
    expect(renderTable(['A', 'BB'], [['xyz', '1']])).toEqual(['A    BB', 'xyz  1']);
  });
});
