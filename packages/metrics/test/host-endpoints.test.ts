import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { findFreePort } from '@anklet/testing';
import { HostMetrics, startHostMetrics, type HostMetricsService } from '../src/index.js';
import { createMemoryLogger, promtoolCheck } from './helpers.js';

const services: HostMetricsService[] = [];
const blockers: Server[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await Promise.all(blockers.splice(0).map((b) => new Promise((r) => b.close(r))));
});

function block(port: number): Promise<void> {
  const server = createServer();
  blockers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

async function start(options: { port?: number; startPort?: number; ready?: () => boolean } = {}) {
  const logger = createMemoryLogger();
  const metrics = new HostMetrics({
    version: '9.9.9',
    hostName: 'mac-01',
    logger,
    hostState: () => ({ vmSlotsTotal: 2, vmSlotsUsed: 1, draining: false }),
  });
  const service = await startHostMetrics(
    {
      version: '9.9.9',
      hostName: 'mac-01',
      logger,
      address: '127.0.0.1',
      port: options.port,
      startPort: options.startPort ?? (await findFreePort()),
      readiness: options.ready ? () => ({ ready: options.ready!(), waiting: options.ready!() ? [] : ['RUNNER2'] }) : undefined,
    },
    metrics,
  );
  services.push(service);
  return { service, metrics, logger, base: `http://127.0.0.1:${service.port}` };
}

describe('per-host metrics endpoints', () => {
  it('serves valid Prometheus text with every family the issue lists, and no job URLs', async () => {
    const { metrics, base, logger } = await start();
    const runner = metrics.forPlugin({ name: 'RUNNER1', plugin: 'github', owner: 'acme', repo: 'app' });
    const receiver = metrics.forPlugin({ name: 'RECEIVER', plugin: 'github_receiver', owner: 'acme', repo: '', kind: 'receiver' });
    receiver.setStatus('running');
    receiver.count('webhooks_received', { event: 'workflow_job' }, 3);
    receiver.count('webhooks_rejected', { reason: 'bad_signature' });
    // A hostile label value must come out escaped, not break the exposition.
    receiver.count('webhooks_rejected', { reason: 'weird "quoted"\nnewline\\' });
    runner.setStatus('limit_paused');
    runner.vmStarted();
    runner.recordRun('success', 'https://github.com/acme/app/actions/runs/11/job/22');
    runner.recordRun('failure', 'https://github.com/acme/app/actions/runs/12/job/23');
    runner.count('jobs_claimed');
    runner.count('job_retries', { reason: 'registration_timeout' });
    runner.count('registration_timeouts');
    runner.count('orphans_cleaned', { kind: 'vm' }, 2);
    runner.gauge('queue_depth', 4, { queue: 'acme' });
    runner.gauge('queue_oldest_job_age_seconds', 93, { queue: 'acme' });
    runner.gauge('github_rate_limit_remaining', 4999, { resource: 'core' });
    runner.gauge('github_rate_limit_reset_timestamp_seconds', 1_800_000_000, { resource: 'core' });
    runner.observe('job_queue_wait_seconds', 42, { template: 'xcode16' });
    for (const phase of ['pull', 'clone', 'start', 'runner_registration', 'job_run', 'cleanup']) runner.observe('job_phase_duration_seconds', 7, { phase });
    // An undeclared label is dropped (bounded series), not an error.
    runner.count('jobs_claimed', { job_id: '123456' });

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const verdict = promtoolCheck(text);
    expect(verdict.output).toBe('');
    expect(verdict.ok).toBe(true);

    expect(text).toContain('anklet_plugin_status{plugin="RECEIVER",status="running"} 1');
    expect(text).toContain('anklet_plugin_status{plugin="RUNNER1",status="limit_paused"} 1');
    expect(text).toContain('anklet_plugin_status{plugin="RUNNER1",status="idle"} 0');
    expect(text).toContain('anklet_jobs_completed_total{plugin="RUNNER1",conclusion="success"} 1');
    expect(text).toContain('anklet_webhooks_received_total{event="workflow_job",plugin="RECEIVER"} 3');
    expect(text).toContain('reason="weird \\"quoted\\"\\nnewline\\\\"');
    expect(text).toContain('anklet_jobs_claimed_total{plugin="RUNNER1"} 2');
    expect(text).toMatch(/anklet_job_phase_duration_seconds_bucket\{le="10",phase="runner_registration",plugin="RUNNER1"\} 1/);
    expect(text).toMatch(/anklet_job_queue_wait_seconds_count\{plugin="RUNNER1",template="xcode16"\} 1/);
    expect(text).toContain('anklet_queue_depth{plugin="RUNNER1",queue="acme"} 4');
    expect(text).toContain('anklet_vm_slots_capacity 2');
    expect(text).toContain('anklet_vm_slots_used 1');
    expect(text).toContain('anklet_draining 0');
    expect(text).toContain('anklet_github_rate_limit_remaining{plugin="RUNNER1",resource="core"} 4999');
    expect(text).toContain('anklet_build_info{version="9.9.9"} 1');
    expect(text).toMatch(/^anklet_host_memory_total_bytes [1-9]\d*$/m);
    // Timestamps are Unix seconds, not RFC3339.
    expect(text).toMatch(/^anklet_plugin_status_since_timestamp_seconds\{plugin="RUNNER1"\} 1\d{9}(\.\d+)?$/m);
    expect(text).not.toContain('github.com');
    expect(text).not.toContain('123456');
    expect(logger.lines.some((l) => l.msg === 'undeclared metric label dropped')).toBe(true);

    // The Go path gives the same body.
    const v1 = await fetch(`${base}/metrics/v1?format=prometheus`);
    expect(promtoolCheck(await v1.text()).ok).toBe(true);
  });

  it('serves the Go JSON fields at /metrics?format=json and /metrics/v1?format=json', async () => {
    const { metrics, base } = await start();
    const runner = metrics.forPlugin({ name: 'RUNNER1', plugin: 'github', owner: 'acme', repo: '' });
    runner.setStatus('in_progress');
    runner.vmStarted();
    runner.recordRun('canceled', 'https://github.com/acme/app/actions/runs/1/job/2');
    for (const url of [`${base}/metrics?format=json`, `${base}/metrics/v1?format=json`]) {
      const res = await fetch(url);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({
        total_running_vms: 1,
        total_successful_runs_since_start: 0,
        total_failed_runs_since_start: 0,
        total_canceled_runs_since_start: 1,
      });
      for (const key of [
        'last_update',
        'host_cpu_count',
        'host_cpu_used_count',
        'host_cpu_usage_percentage',
        'host_memory_total_bytes',
        'host_memory_used_bytes',
        'host_memory_available_bytes',
        'host_memory_usage_percentage',
        'host_disk_total_bytes',
        'host_disk_used_bytes',
        'host_disk_available_bytes',
        'host_disk_usage_percentage',
      ]) {
        expect(body, key).toHaveProperty(key);
      }
      expect(body.host_memory_total_bytes as number).toBeGreaterThan(0);
      expect(Object.keys(body)).toEqual([...Object.keys(body)].sort());
      expect(body.plugins).toEqual([
        {
          LastCanceledRun: expect.stringMatching(/^\d{4}-/),
          LastCanceledRunJobUrl: 'https://github.com/acme/app/actions/runs/1/job/2',
          LastFailedRun: '0001-01-01T00:00:00Z',
          LastFailedRunJobUrl: '',
          LastSuccessfulRun: '0001-01-01T00:00:00Z',
          LastSuccessfulRunJobUrl: '',
          Name: 'RUNNER1',
          OwnerName: 'acme',
          PluginName: 'github',
          RepoName: '',
          Status: 'in_progress',
          StatusSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          TotalCanceledRunsSinceStart: 1,
          TotalFailedRunsSinceStart: 0,
          TotalRanVMs: 1,
          TotalSuccessfulRunsSinceStart: 0,
        },
      ]);
    }
    const v2 = (await (await fetch(`${base}/metrics/v2?format=json`)).json()) as Array<Record<string, unknown>>;
    expect(v2[0]).toMatchObject({ custom_name: 'RUNNER1', plugin_status: 'in_progress', owner_name: 'acme' });
  });

  it('answers an unknown format with 400 and the valid ones, and serves /healthcheck', async () => {
    const { base } = await start();
    for (const path of ['/metrics?format=xml', '/metrics/v1?format=yaml', '/metrics?format=json&format=prometheus']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(400);
      const body = await res.text();
      expect(body).toContain('?format=prometheus');
      expect(body).toContain('?format=json');
    }
    const health = await fetch(`${base}/healthcheck`);
    expect([health.status, await health.text()]).toEqual([200, 'ok']);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('routes as Go did: any method on the metrics paths, case and one trailing slash ignored, 404 and 405 otherwise', async () => {
    const { base } = await start();
    const post = await fetch(`${base}/metrics?format=json`, { method: 'POST', body: 'ignored' });
    expect(post.status).toBe(200);
    expect(post.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect((await post.json()) as object).toHaveProperty('host_memory_total_bytes');
    const upper = await fetch(`${base}/METRICS/v1/?format=prometheus`);
    expect(upper.status).toBe(200);
    expect(await upper.text()).toContain('anklet_build_info');
    const missing = await fetch(`${base}/metricsz`);
    expect([missing.status, await missing.text()]).toEqual([404, '404 page not found\n']);
    const head = await fetch(`${base}/readyz`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    const wrong = await fetch(`${base}/readyz`, { method: 'DELETE' });
    expect([wrong.status, wrong.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    await wrong.text();
    const page = await fetch(`${base}/`);
    expect([page.status, page.headers.get('content-type'), page.headers.get('cache-control')]).toEqual([200, 'text/html; charset=utf-8', 'no-store']);
    // The browser asks for /favicon.ico by itself: an icon, not a 404 in its console.
    const icon = await fetch(`${base}/favicon.ico`);
    const bytes = Buffer.from(await icon.arrayBuffer());
    expect([icon.status, icon.headers.get('content-type'), bytes.readUInt16LE(2), bytes.subarray(22, 26).toString('latin1')]).toEqual([200, 'image/x-icon', 1, '\x89PNG']);
    expect(await page.text()).toContain('<html');
  });

  it('does not wait for the first host sample to start, and a scrape meanwhile waits for it rather than showing zeros', async () => {
    const { service, base } = await start();
    // startHostMetrics has returned; the first sample (a CPU measurement over a moment) runs on.
    const body = (await (await fetch(`${base}/metrics?format=json`)).json()) as Record<string, number>;
    expect(body.host_memory_total_bytes).toBeGreaterThan(0);
    expect(body.host_cpu_count).toBeGreaterThan(0);
    expect(service.port).toBeGreaterThan(0);
  });

  it('is not ready until every plugin has started', async () => {
    let ready = false;
    const { base } = await start({ ready: () => ready });
    const before = await fetch(`${base}/readyz`);
    expect(before.status).toBe(503);
    expect(await before.json()).toEqual({ ready: false, waiting: ['RUNNER2'] });
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('takes the next free port when the first is busy, and refuses a busy explicit port', async () => {
    const first = await findFreePort();
    await block(first);
    const { service } = await start({ startPort: first });
    expect(service.port).toBeGreaterThan(first);
    await expect(start({ port: first })).rejects.toMatchObject({
      code: 'ANKLET_ERR_HOST_RESOURCE',
      message: `metrics port already in use: ${first}`,
    });
  });

  it('answers a scrape from the cached host sample, and logs the Go start line', async () => {
    const { base, logger, service } = await start();
    expect(logger.lines.find((l) => l.msg === `metrics server started on port ${service.port}`)).toBeDefined();
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/metrics?format=json`).then((r) => r.text())));
    // Not a timing assertion on speed: only that sampling (hundreds of ms for CPU) is not per request.
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
