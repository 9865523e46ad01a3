/**
 * The aggregator's status page tells the truth about a fleet with a dead host: a handler host
 * SIGKILLed while its VMs run leaves its last snapshot in Redis (it had no chance to remove it),
 * and once that snapshot is older than `metrics.stale_after_seconds` the page lists the host apart
 * and counts none of its VMs or queues. Real `anklet` hosts and aggregator, real Redis, headless
 * Chromium (Debian `chromium` + playwright-core).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '@anklet/testing';
import { RunningAnklet, msg, startFleet, type Fleet } from '../../src/index.js';
import { dumpLogsOnFailure, until } from './helpers.js';

/** Longer than a host's export period (10 s) with room for a loaded machine, so live hosts never look stale. */
const STALE_AFTER_SECONDS = 20;
const OUTPUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.tmp/test-output');

describe('acceptance: the aggregator status page with a SIGKILLed host', () => {
  let fleet: Fleet;
  let aggregator: RunningAnklet;
  let base: string;
  let browser: Browser;

  dumpLogsOnFailure(() => fleet);

  beforeAll(async () => {
    fleet = await startFleet({
      store: 'redis',
      prePull: true,
      hosts: [
        { name: 'receiver', receiver: true },
        { name: 'mac-1', handlers: 2 },
        { name: 'mac-2', handlers: 2 },
      ],
    });
    const port = await findFreePort();
    const home = path.join(fleet.dir, 'aggregator');
    const config = path.join(home, 'config.yml');
    mkdirSync(home, { recursive: true });
    writeFileSync(
      config,
      `global_database_url: 127.0.0.1\nglobal_database_port: ${fleet.redis!.port}\nmetrics:\n  aggregator: true\n  address: 127.0.0.1\n  port: ${port}\n  stale_after_seconds: ${STALE_AFTER_SECONDS}\n`,
    );
    aggregator = new RunningAnklet(['-c', config], { home });
    await aggregator.waitFor(msg(`metrics aggregator started on port ${port}`), { timeoutMs: 60_000 });
    base = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (aggregator?.running) aggregator.signal('SIGTERM');
    await aggregator?.exited;
    await fleet?.stop();
  });

  it('leaves the dead host out of the cards and names it apart', async () => {
    // Four long jobs fill the four handlers (two VMs per host); two more wait in the queue.
    const running = fleet.dispatch(Array.from({ length: 4 }, (_, i) => ({ name: `long-${i}`, durationMs: 600_000 })));
    await until('four jobs running', () => running.every((j) => j.state === 'running') || undefined, 120_000);
    fleet.dispatch([{ name: 'waits-1' }, { name: 'waits-2' }]);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${base}/`);
    const card = (id: string) => page.locator(`#c-${id}`).textContent();
    await expect.poll(() => card('vms'), { timeout: 30_000 }).toBe('4');
    await expect.poll(() => card('queued'), { timeout: 30_000 }).toBe('2');
    expect(await card('hosts')).toBe('3');

    await fleet.killHost('mac-1');
    // Its snapshot stays in Redis; once it is older than the stale mark the page moves it apart.
    // The page refreshes itself every 5 s: no reload.
    await expect.poll(() => page.locator('#stale-line').textContent(), { timeout: (STALE_AFTER_SECONDS + 30) * 1000, interval: 1000 }).toMatch(
      /^Stale hosts \(not counted above\): mac-1, last seen \d+s ago$/,
    );
    expect(await card('hosts')).toBe('2');
    // mac-2's two VMs only; the queue as the live hosts read it from the store.
    expect(await card('vms')).toBe('2');
    expect(await card('queued')).toBe('2');
    expect(await page.locator('section.host.stale[data-host="mac-1"]').count()).toBe(1);
    const live = await page.locator('section.host:not(.stale)').evaluateAll((s) => s.map((e) => e.getAttribute('data-host')));
    expect(live.sort()).toEqual(['mac-2', 'receiver']);

    // The fleet's Prometheus text carries only the stale mark of the dead host, so sums leave it out too.
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('anklet_host_stale{host="mac-1"} 1');
    expect(text).not.toMatch(/^anklet_running_vms\{host="mac-1"\}/m);
    expect(text).toMatch(/^anklet_running_vms\{host="mac-2"\} 2$/m);

    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'aggregator-stale-host.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
