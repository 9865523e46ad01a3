import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobStore } from '@anklet/core';
import { createRedisConnection, createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import { HostMetrics, MetricsExporter, startAggregator, startHostMetrics, type AggregatorOptions, type MetricsServer, type StatusView } from '../src/index.js';
import { createMemoryLogger, goHostRecord, promtoolCheck } from './helpers.js';

let redis: RedisServer;
let store: JobStore;
const servers: MetricsServer[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  // The real key prefix, so the keys are Go's `anklet/metrics/<owner>/<name>`. The server is this
  // test's own (never the machine's Redis), so nothing else lives under it.
  store = createRedisJobStore({ redis: createRedisConnection({ url: redis.url }), prefix: 'anklet' });
}, 60_000);
afterAll(async () => {
  await store?.close();
  await redis?.stop();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const { key } of await store.listHostSnapshots()) await store.deleteHostSnapshot(key);
});

/** A TypeScript host with a receiver and a handler, exported through the real exporter. */
async function exportTsHost(name: string) {
  const metrics = new HostMetrics({ version: '1.2.3', hostName: `${name}.local`, hostState: () => ({ vmSlotsTotal: 2, vmSlotsUsed: 1, draining: true }) });
  const receiver = metrics.forPlugin({ name: `${name}-RECEIVER`, plugin: 'github_receiver', owner: 'acme', repo: '', kind: 'receiver' });
  const handler = metrics.forPlugin({ name: `${name}-RUNNER1`, plugin: 'github', owner: 'acme', repo: '' });
  receiver.setStatus('running');
  handler.setStatus('in_progress');
  handler.vmStarted();
  handler.recordRun('success', 'https://github.com/acme/app/actions/runs/7/job/8');
  handler.observe('job_queue_wait_seconds', 12);
  receiver.gauge('queue_depth', 5, { queue: 'acme' });
  receiver.gauge('queue_oldest_job_age_seconds', 125, { queue: 'acme' });
  const exporter = new MetricsExporter({ store, key: `acme/${name}-RECEIVER`, snapshot: () => metrics.snapshot(), intervalMs: 50, ttlMs: 60_000 });
  await exporter.start();
  return { metrics, exporter, handler };
}

async function seedRaw(key: string, value: string): Promise<void> {
  await store.putHostSnapshot(key, value, 60_000);
}

async function seedFleet(): Promise<() => Promise<void>> {
  const ts = await exportTsHost('mac-01');
  await seedRaw('veertuinc/GO-RUNNER', goHostRecord('GO-RUNNER', new Date().toISOString()));
  await seedRaw('veertuinc/BROKEN', '{"plugins": "not a list"');
  return () => ts.exporter.stop({ remove: false });
}

async function aggregator(fleet?: AggregatorOptions['fleet']) {
  const logger = createMemoryLogger();
  const server = await startAggregator({ store, logger, address: '127.0.0.1', startPort: await findFreePort(), fleet });
  servers.push(server);
  return { logger, base: `http://127.0.0.1:${server.port}` };
}

describe('metrics export to the store', () => {
  it('writes the Go JSON every interval with an expiry and removes it on a clean stop', async () => {
    const { exporter, handler } = await exportTsHost('mac-02');
    const first = (await store.listHostSnapshots()).find((s) => s.key === 'acme/mac-02-RECEIVER');
    expect(first).toBeDefined();
    const parsed = JSON.parse(first!.json) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([...Object.keys(parsed)].sort());
    expect(parsed).toMatchObject({ total_running_vms: 1, total_successful_runs_since_start: 1 });
    handler.recordRun('failure', 'https://github.com/acme/app/actions/runs/9/job/10');
    await expect
      .poll(async () => JSON.parse((await store.listHostSnapshots()).find((s) => s.key === 'acme/mac-02-RECEIVER')!.json).total_failed_runs_since_start)
      .toBe(1);
    await exporter.stop();
    expect((await store.listHostSnapshots()).map((s) => s.key)).not.toContain('acme/mac-02-RECEIVER');
  });

  it('writes a status change at once, not at the next tick (a finished job is not shown in progress)', async () => {
    const logger = createMemoryLogger();
    // An interval no test waits for: only the change can bring the new status to the store.
    const service = await startHostMetrics({
      version: '1.0.0',
      hostName: 'mac-03',
      logger,
      address: '127.0.0.1',
      startPort: await findFreePort(),
      export: { store, key: 'mac-03', intervalMs: 3_600_000 },
    });
    try {
      const handler = service.metrics.forPlugin({ name: 'MAC_3_HANDLER1', plugin: 'github', owner: 'acme', repo: '' });
      const stored = async () => {
        const json = (await store.listHostSnapshots()).find((s) => s.key === 'mac-03')?.json;
        const snapshot = json ? (JSON.parse(json) as { total_running_vms: number; plugins: Array<{ Status: string }> }) : undefined;
        return snapshot && [snapshot.plugins[0]?.Status, snapshot.total_running_vms];
      };
      handler.setStatus('in_progress');
      handler.vmStarted();
      await expect.poll(stored, { timeout: 5_000 }).toEqual(['in_progress', 1]);
      handler.vmStopped();
      handler.recordRun('success');
      handler.setStatus('idle');
      await expect.poll(stored, { timeout: 5_000 }).toEqual(['idle', 0]);
    } finally {
      await service.stop();
    }
  });
});

describe('aggregator', () => {
  it('serves a mixed Go/TypeScript fleet as Go v1 and v2 JSON, skipping and logging a broken record', async () => {
    const stop = await seedFleet();
    const { base, logger } = await aggregator();

    const v2 = (await (await fetch(`${base}/metrics/v2?format=json`)).json()) as Array<Record<string, unknown>>;
    expect(v2.map((r) => r.custom_name).sort()).toEqual(['GO-RUNNER', 'mac-01-RECEIVER', 'mac-01-RUNNER1']);
    const go = v2.find((r) => r.custom_name === 'GO-RUNNER')!;
    expect(Object.keys(go)).toEqual([
      'repo_name', 'plugin_name', 'custom_name', 'owner_name', 'last_update', 'plugin_status', 'plugin_last_successful_run',
      'plugin_last_failed_run', 'plugin_last_canceled_run', 'plugin_status_since', 'plugin_total_ran_vms',
      'plugin_total_successful_runs_since_start', 'plugin_total_failed_runs_since_start', 'plugin_total_canceled_runs_since_start',
      'plugin_last_successful_run_job_url', 'plugin_last_failed_run_job_url', 'plugin_last_canceled_run_job_url', 'host_cpu_count',
      'host_cpu_used_count', 'host_cpu_usage_percentage', 'host_memory_total_bytes', 'host_memory_used_bytes', 'host_memory_available_bytes',
      'host_memory_usage_percentage', 'host_disk_total_bytes', 'host_disk_used_bytes', 'host_disk_available_bytes', 'host_disk_usage_percentage',
    ]);
    // Times lose their fractions and keep their offset, as the Go aggregator writes them.
    expect(go).toMatchObject({ plugin_status_since: '2025-01-07T11:52:47-06:00', plugin_last_successful_run: '2025-01-07T11:58:02-06:00', plugin_total_ran_vms: 3 });

    const v1 = (await (await fetch(`${base}/metrics/v1?format=json`)).json()) as Record<string, Record<string, unknown>>;
    expect(Object.keys(v1)).toEqual(['GO-RUNNER', 'mac-01-RECEIVER', 'mac-01-RUNNER1']);
    expect(v1['mac-01-RECEIVER']).toMatchObject({ plugin_status: 'running', plugin_name: 'github_receiver' });
    expect(v1['mac-01-RUNNER1']).toMatchObject({ plugin_status: 'in_progress', plugin_total_successful_runs_since_start: 1 });

    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: 'skipping unreadable metrics record', fields: expect.objectContaining({ key: 'anklet/metrics/veertuinc/BROKEN' }) }),
    );
    await stop();
  });

  it('serves the fleet as valid Prometheus text, each host labelled, plus /healthcheck and 400 on a bad format', async () => {
    const stop = await seedFleet();
    const { base } = await aggregator();
    // Without `histograms=1` the hosts' histograms are left out: they are most of the text.
    const lean = await (await fetch(`${base}/metrics`)).text();
    expect(promtoolCheck(lean).output).toBe('');
    expect(lean).toContain('anklet_draining{host="acme/mac-01-RECEIVER"} 1');
    expect(lean).not.toContain('anklet_job_queue_wait_seconds');
    for (const path of ['/metrics?histograms=1', '/metrics/v1?format=prometheus&histograms=true', '/metrics/v2?format=prometheus&histograms=1']) {
      const text = await (await fetch(`${base}${path}`)).text();
      const verdict = promtoolCheck(text);
      expect(verdict.output, path).toBe('');
      expect(verdict.ok).toBe(true);
      expect(text).toContain('anklet_plugin_status{plugin="GO-RUNNER",status="idle",host="veertuinc/GO-RUNNER"} 1');
      expect(text).toContain('anklet_plugin_status{plugin="mac-01-RECEIVER",status="running",host="acme/mac-01-RECEIVER"} 1');
      expect(text).toContain('anklet_host_cpu_cores{host="veertuinc/GO-RUNNER"} 12');
      expect(text).toContain('anklet_draining{host="acme/mac-01-RECEIVER"} 1');
      expect(text).toMatch(/anklet_job_queue_wait_seconds_count\{plugin="mac-01-RUNNER1",host="acme\/mac-01-RECEIVER"\} 1/);
      expect(text).not.toContain('BROKEN');
      expect(text).not.toContain('github.com');
    }
    expect((await fetch(`${base}/metrics/v2?format=xml`)).status).toBe(400);
    expect(await (await fetch(`${base}/metrics/v1`, { method: 'POST' })).text()).toContain('# TYPE anklet_plugin_status gauge');
    const health = await fetch(`${base}/healthcheck`);
    expect([health.status, await health.text()]).toEqual([200, 'ok']);
    await stop();
  });

  it('answers an empty fleet with {} and []', async () => {
    const { base } = await aggregator();
    expect(await (await fetch(`${base}/metrics/v1?format=json`)).text()).toBe('{}\n');
    expect(await (await fetch(`${base}/metrics/v2?format=json`)).text()).toBe('[]\n');
  });
});

describe('fleet view from the host index', () => {
  it('marks silent hosts stale, lists them apart and out of the sums, drops them later, and finds Go hosts only when asked', async () => {
    const raw = createRedisConnection({ url: redis.url }).client;
    const now = Date.now();
    const age = async (key: string, seconds: number) => raw.zadd('anklet:metrics:hosts', now - seconds * 1000, key);
    try {
      await seedRaw('acme/FRESH', goHostRecord('FRESH', new Date().toISOString()));
      await seedRaw('acme/STALE', goHostRecord('STALE', new Date(now - 90_000).toISOString(), 'running'));
      await seedRaw('acme/GONE', goHostRecord('GONE', new Date(now - 660_000).toISOString()));
      // The index says when each last wrote: STALE 90 s ago, GONE 11 min ago.
      await age('acme/STALE', 90);
      await age('acme/GONE', 660);
      // Go hosts write the snapshot key only (7-day expiry), never the index.
      await raw.set('anklet/metrics/veertuinc/GO-LIVE', goHostRecord('GO-LIVE', new Date(now - 5_000).toISOString()), 'EX', 604800);
      await raw.set('anklet/metrics/veertuinc/GO-DEAD', goHostRecord('GO-DEAD', new Date(now - 20 * 60_000).toISOString()), 'EX', 604800);

      const { base } = await aggregator({ includeUnindexed: true });
      const view = (await (await fetch(`${base}/status.json`)).json()) as StatusView;
      expect(view.hosts.map((h) => h.key)).toEqual(['acme/FRESH', 'veertuinc/GO-LIVE']);
      expect(view.stale_hosts.map((h) => [h.key, h.stale, h.age_seconds! >= 90])).toEqual([['acme/STALE', true, true]]);

      const text = await (await fetch(`${base}/metrics`)).text();
      expect(promtoolCheck(text).output).toBe('');
      expect(text).toContain('anklet_host_stale{host="acme/STALE"} 1');
      expect(text).toContain('anklet_host_stale{host="acme/FRESH"} 0');
      expect(text).toMatch(/^anklet_last_update_timestamp_seconds\{host="acme\/STALE"\} \d+/m);
      // A stale host's figures are old: none of them is served, so fleet sums leave it out.
      expect(text).not.toMatch(/anklet_plugin_status\{[^}]*host="acme\/STALE"/);
      expect(text).not.toMatch(/anklet_host_cpu_cores\{host="acme\/STALE"\}/);
      expect(text).not.toContain('GONE');
      expect(text).not.toContain('GO-DEAD');
      // Dropped hosts leave the index (they come back with their next write).
      expect(await raw.zscore('anklet:metrics:hosts', 'acme/GONE')).toBeNull();

      // Without the fallback, a Go host is not seen (the default: no SCAN of the keyspace).
      const plain = await aggregator();
      const plainView = (await (await fetch(`${plain.base}/status.json`)).json()) as StatusView;
      expect([...plainView.hosts, ...plainView.stale_hosts].map((h) => h.key)).toEqual(['acme/FRESH', 'acme/STALE']);
    } finally {
      await raw.del('anklet/metrics/veertuinc/GO-LIVE', 'anklet/metrics/veertuinc/GO-DEAD', 'anklet/metrics/acme/GONE');
      raw.disconnect();
    }
  });
});

/** Screenshots go to the package's `.tmp/` (gitignored), where CI can pick them up. */
const OUTPUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../.tmp/test-output');

describe('status page', () => {
  it('shows the seeded fleet in headless Chromium and refreshes itself', async () => {
    const stop = await seedFleet();
    // A host silent for two minutes: shown apart, counted in no total.
    await seedRaw('acme/OLD-MAC', goHostRecord('OLD-RUNNER', new Date(Date.now() - 120_000).toISOString()));
    const raw = createRedisConnection({ url: redis.url }).client;
    await raw.zadd('anklet:metrics:hosts', Date.now() - 120_000, 'acme/OLD-MAC');
    raw.disconnect();
    const { base } = await aggregator();
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // A missing /favicon.ico shows as a console error ("Failed to load resource: 404").
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(`${base}/`);
      await page.waitForSelector('section.host[data-host="acme/mac-01-RECEIVER"]');
      expect(await page.locator('#mode').textContent()).toBe('fleet (aggregator)');
      expect(await page.locator('#c-hosts').textContent()).toBe('2');
      expect(await page.locator('#c-plugins').textContent()).toBe('3');
      expect(await page.locator('#c-vms').textContent()).toBe('1');
      expect(await page.locator('#c-queued').textContent()).toBe('5');
      expect(await page.locator('#c-oldest').textContent()).toBe('2m 5s');
      expect(await page.locator('#c-runs').textContent()).toBe('4 / 0');
      const status = (plugin: string) => page.locator(`tr[data-plugin="${plugin}"] .status`).textContent();
      expect(await status('mac-01-RECEIVER')).toBe('running');
      expect(await status('mac-01-RUNNER1')).toBe('in_progress');
      expect(await status('GO-RUNNER')).toBe('idle');
      const tsHost = page.locator('section.host[data-host="acme/mac-01-RECEIVER"]');
      expect(await tsHost.textContent()).toContain('draining');
      expect(await tsHost.locator('.queues').textContent()).toBe('Queues: acme 5 queued, oldest 2m 5s');
      // The last success links to the job; the broken record is not shown at all.
      expect(await page.locator('tr[data-plugin="GO-RUNNER"] a').getAttribute('href')).toBe('https://github.com/veertuinc/anklet/actions/runs/1/job/2');
      expect(await page.locator('section.host:not(.stale)').count()).toBe(2);
      expect(await page.locator('#stale-heading').textContent()).toContain('Stale hosts (1)');
      expect(await page.locator('section.host.stale[data-host="acme/OLD-MAC"]').textContent()).toContain('STALE: last report 2m');
      expect(await page.locator('#stale-line').textContent()).toMatch(/^Stale hosts \(not counted above\): acme\/OLD-MAC, last seen 2m \d+s ago$/);
      // Headless Chromium does not fetch icons itself: fetch the one the page links to.
      // (A string: this package's TypeScript has no DOM types.)
      const icon = await page.evaluate(`(async () => {
        const res = await fetch(document.querySelector('link[rel="icon"]').href);
        return [new URL(res.url).pathname, res.status, res.headers.get('content-type')];
      })()`);
      expect(icon).toEqual(['/favicon.ico', 200, 'image/x-icon']);

      // It refreshes on its own: a status change shows up without a reload.
      await store.putHostSnapshot('veertuinc/GO-RUNNER', goHostRecord('GO-RUNNER', new Date().toISOString(), 'limit_paused'), 60_000);
      await expect.poll(() => status('GO-RUNNER'), { timeout: 15_000 }).toBe('limit_paused');

      mkdirSync(OUTPUT_DIR, { recursive: true });
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'status-page.png'), fullPage: true });

      // On a phone (390 px) nothing is wider than the screen: wide tables scroll inside their host.
      await page.setViewportSize({ width: 390, height: 844 });
      const widths = await page.evaluate('({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth })');
      expect(widths).toEqual({ page: 390, body: 390, view: 390 });
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'status-page-390px.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await stop();
    }
  }, 60_000);
});
