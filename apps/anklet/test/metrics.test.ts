import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection, type RedisConnection } from '@anklet/redis';
import { findFreePort, promtoolCheck, startRedisServer, type RedisServer } from '@anklet/testing';
import { makeTmp, msg, runCli, RunningAnklet, seedPlugins, writeFile } from './helpers.js';

/**
 * Metrics end to end on the real `anklet` binary: a host with two plugins on a real Redis serves
 * valid Prometheus text and the Go JSON, exports its snapshot, and an aggregator process serves it.
 */
let redis: RedisServer;
let client: RedisConnection;
beforeAll(async () => {
  redis = await startRedisServer();
  client = createRedisConnection({ url: redis.url });
}, 60_000);
afterAll(async () => {
  await client?.close();
  await redis?.stop();
});

function hostConfig(home: string, port: number): string {
  const pluginsPath = path.join(home, 'plugins');
  seedPlugins(pluginsPath, ['metrics-probe']);
  const { hostname, port: redisPort } = new URL(redis.url);
  return writeFile(
    path.join(home, 'config.yml'),
    `plugins_path: ${pluginsPath}
global_database_url: ${hostname}
global_database_port: ${redisPort}
metrics:
  address: 127.0.0.1
  port: ${port}
  host_name: mac-test-1
plugins:
  - { name: RECEIVER, plugin: metrics-probe, owner: acme, mode: serve }
  - { name: LIMITED, plugin: metrics-probe, owner: acme, mode: limit }
`,
  );
}

describe('anklet metrics (real binary)', () => {
  it('serves, exports and aggregates metrics; shows running and limit_paused; removes its snapshot on exit', async () => {
    const home = makeTmp();
    const port = await findFreePort();
    const config = hostConfig(home, port);
    const anklet = new RunningAnklet(['-c', config], { home });
    try {
      await anklet.waitFor(msg(`metrics server started on port ${port}`));
      const base = `http://127.0.0.1:${port}`;
      await expect.poll(async () => (await fetch(`${base}/readyz`)).status, { timeout: 15_000 }).toBe(200);
      await expect
        .poll(async () => ((await (await fetch(`${base}/metrics?format=json`)).json()) as { plugins: Array<{ Status: string }> }).plugins.map((p) => p.Status))
        .toEqual(['running', 'limit_paused']);

      const text = await (await fetch(`${base}/metrics`)).text();
      expect(promtoolCheck(text)).toEqual({ ok: true, output: '' });
      expect(text).toContain('anklet_plugin_status{plugin="RECEIVER",status="running"} 1');
      expect(text).toContain('anklet_plugin_status{plugin="LIMITED",status="limit_paused"} 1');
      expect(text).toContain('anklet_webhooks_received_total{event="workflow_job",plugin="RECEIVER"} 2');
      expect(text).toContain('anklet_github_rate_limit_remaining{plugin="LIMITED",resource="core"} 0');
      expect((await fetch(`${base}/healthcheck`)).status).toBe(200);
      expect(await (await fetch(`${base}/`)).text()).toContain('<title>anklet status</title>');

      // Exported under the host's name (metrics.host_name), with an expiry, holding Go's field names;
      // a host without handlers has no VM slots.
      await expect.poll(() => client.client.get('anklet/metrics/mac-test-1'), { timeout: 15_000 }).toBeTruthy();
      const stored = JSON.parse((await client.client.get('anklet/metrics/mac-test-1'))!) as { plugins: Array<{ Name: string }>; anklet: { host_name: string; vm_slots_total: number } };
      expect(stored.plugins.map((p) => p.Name)).toEqual(['RECEIVER', 'LIMITED']);
      expect([stored.anklet.host_name, stored.anklet.vm_slots_total]).toEqual(['mac-test-1', 0]);
      expect(text).toContain('anklet_vm_slots_capacity 0');
      expect(await client.client.ttl('anklet/metrics/mac-test-1')).toBeGreaterThan(6 * 24 * 3600);

      // A second host on the same explicit port: Go's message, and exit 4 (the port may free up).
      const home2 = makeTmp();
      const busy = await runCli(['-c', hostConfig(home2, port)], { home: home2 });
      expect(busy.code).toBe(4);
      expect(busy.stdout).toContain('"msg":"metrics port already in use"');

      // The aggregator: no plugins, the fleet from Redis.
      const aggPort = await findFreePort();
      const { hostname, port: redisPort } = new URL(redis.url);
      const aggHome = makeTmp();
      const aggConfig = writeFile(
        path.join(aggHome, 'config.yml'),
        `metrics:\n  aggregator: true\n  address: 127.0.0.1\n  port: ${aggPort}\n  database:\n    url: ${hostname}\n    port: ${redisPort}\n`,
      );
      const aggregator = new RunningAnklet(['-c', aggConfig], { home: aggHome });
      try {
        await aggregator.waitFor(msg(`metrics aggregator started on port ${aggPort}`));
        const statuses = async () => {
          const v1 = (await (await fetch(`http://127.0.0.1:${aggPort}/metrics/v1?format=json`)).json()) as Record<string, { plugin_status: string }>;
          return [v1.RECEIVER?.plugin_status, v1.LIMITED?.plugin_status];
        };
        await expect.poll(statuses, { timeout: 15_000 }).toEqual(['running', 'limit_paused']);
        const fleetText = await (await fetch(`http://127.0.0.1:${aggPort}/metrics`)).text();
        expect(promtoolCheck(fleetText).ok).toBe(true);
        expect(fleetText).toContain('anklet_plugin_status{plugin="LIMITED",status="limit_paused",host="mac-test-1"} 1');
      } finally {
        aggregator.signal('SIGINT');
        expect((await aggregator.exited).code).toBe(0);
      }
    } finally {
      anklet.signal('SIGINT');
    }
    const run = await anklet.exited;
    expect(run.code, run.stdout).toBe(0);
    expect(await client.client.exists('anklet/metrics/mac-test-1')).toBe(0);
  }, 90_000);
});
