/**
 * The Jobs section of the status page on a live fleet: a handler host with one handler runs a job
 * to the end, then holds a long one while a third waits. The handler host's page and the
 * aggregator's page both list the queued, the running and the finished job (from `/jobs.json`,
 * which validates against `JobsViewSchema`), follow the fleet without a reload when the long job is
 * cancelled on GitHub, log no console error, and do not scroll sideways on a 390 px phone. Real
 * `anklet` hosts and aggregator, real Redis, headless Chromium (Debian `chromium` + playwright-core);
 * screenshots go to the test output folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobsViewSchema, type JobsView } from '@anklet/metrics';
import { findFreePort } from '@anklet/testing';
import { RunningAnklet, msg, startFleet, type Fleet, type FleetJob } from '../../src/index.js';
import { dumpLogsOnFailure, until } from './helpers.js';

const OUTPUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.tmp/test-output');

describe('acceptance: the Jobs section of the host and aggregator status pages', () => {
  let fleet: Fleet;
  let aggregator: RunningAnklet;
  let aggregatorUrl: string;
  let browser: Browser;
  const pages: Array<{ name: string; page: Page; errors: string[] }> = [];

  dumpLogsOnFailure(() => fleet);

  beforeAll(async () => {
    fleet = await startFleet({
      store: 'redis',
      prePull: true,
      hosts: [
        { name: 'receiver', receiver: true },
        // One handler: one job at a time, so a second one waits in the queue.
        { name: 'mac-1', handlers: 1 },
      ],
    });
    const port = await findFreePort();
    const home = path.join(fleet.dir, 'aggregator');
    const config = path.join(home, 'config.yml');
    mkdirSync(home, { recursive: true });
    writeFileSync(config, `global_database_url: 127.0.0.1\nglobal_database_port: ${fleet.redis!.port}\nmetrics:\n  aggregator: true\n  address: 127.0.0.1\n  port: ${port}\n`);
    aggregator = new RunningAnklet(['-c', config], { home });
    await aggregator.waitFor(msg(`metrics aggregator started on port ${port}`), { timeoutMs: 60_000 });
    aggregatorUrl = `http://127.0.0.1:${port}/`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (aggregator?.running) aggregator.signal('SIGTERM');
    await aggregator?.exited;
    await fleet?.stop();
  });

  async function open(name: string, url: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    pages.push({ name, page, errors });
    return page;
  }

  /** The ids listed in one table of the Jobs section. */
  const rows = (page: Page, state: string) => page.locator(`#jobs tr[data-state="${state}"]`).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-job')));
  const cell = (page: Page, state: string, id: number, column: number) => page.locator(`#jobs tr[data-state="${state}"][data-job="${id}"] td`).nth(column).textContent();

  async function jobsJson(url: string): Promise<JobsView> {
    const res = await fetch(`${url}jobs.json`);
    expect(res.status).toBe(200);
    return JobsViewSchema.parse(await res.json());
  }

  it('lists a queued, a running and a finished job, and follows them without a reload', async () => {
    const hostUrl = fleet.host('mac-1').metricsUrl;
    const [quick] = fleet.dispatch([{ name: 'quick', durationMs: 300 }]);
    await until('the quick job done', () => quick!.state === 'done' || undefined, 60_000);

    // The pages are open before the next jobs come: what follows shows up without a reload.
    const hostPage = await open('host', hostUrl);
    const aggregatorPage = await open('aggregator', aggregatorUrl);
    const [long] = fleet.dispatch([{ name: 'long', durationMs: 600_000 }]);
    await until('the long job running', () => long!.state === 'running' || undefined, 60_000);
    const [waits] = fleet.dispatch([{ name: 'waits', durationMs: 300 }]);

    for (const page of [hostPage, aggregatorPage]) {
      await expect.poll(() => rows(page, 'queued'), { timeout: 30_000 }).toEqual([String(waits!.id)]);
      expect(await rows(page, 'running')).toEqual([String(long!.id)]);
      expect(await rows(page, 'finished')).toEqual([String(quick!.id)]);
      // Running: host, handler, VM, phase.
      expect(await cell(page, 'running', long!.id, 1)).toBe('mac-1');
      expect(await cell(page, 'running', long!.id, 2)).toBe(long!.handler);
      expect(await cell(page, 'running', long!.id, 3)).toBe(long!.vmName);
      expect(await cell(page, 'running', long!.id, 4)).toBe('in progress');
      // Queued: why it waits (the host's only handler is busy).
      await expect.poll(() => cell(page, 'queued', waits!.id, 6), { timeout: 15_000 }).toMatch(/^waiting for a free host with template [0-9a-f-]+ tag \S+: every handler is busy$/);
      // Finished: the conclusion and seconds per phase.
      expect(await cell(page, 'finished', quick!.id, 1)).toBe('success');
    }

    // The same on /jobs.json, in the documented shape, from the host and from the aggregator.
    for (const url of [hostUrl, aggregatorUrl]) {
      const view = await jobsJson(url);
      expect(view.queued.map((j) => j.id)).toEqual([String(waits!.id)]);
      expect(view.running).toMatchObject([{ id: String(long!.id), host: 'mac-1', handler: long!.handler, vm: long!.vmName, phase: 'in_progress', name: 'long' }]);
      expect(view.finished).toMatchObject([{ id: String(quick!.id), conclusion: 'success', outcome: 'success', attempts: 1, reasons: [] }]);
      expect(view.finished[0]!.phases.run).not.toBeNull();
    }

    mkdirSync(OUTPUT_DIR, { recursive: true });
    for (const { name, page } of pages) await page.screenshot({ path: path.join(OUTPUT_DIR, `jobs-${name}.png`), fullPage: true });

    // Cancelled on GitHub: the long job finishes, the waiting one runs and finishes. The open
    // pages follow (they refresh themselves every 5 s).
    fleet.sim.control.cancelRun(long!.runId);
    const done = (j: FleetJob | undefined) => j!.state === 'done';
    await until('both jobs done', () => (done(long) && done(waits)) || undefined, 60_000);
    for (const page of [hostPage, aggregatorPage]) {
      await expect.poll(() => rows(page, 'finished'), { timeout: 30_000 }).toEqual([waits, long, quick].map((j) => String(j!.id)));
      expect(await page.locator('#jobs [data-empty="queued"]').count()).toBe(1);
      expect(await page.locator('#jobs [data-empty="running"]').count()).toBe(1);
      expect(await cell(page, 'finished', long!.id, 1)).toMatch(/^cancelled/);
    }
  }, 240_000);

  it('fits a 390 px phone and logged no console error', async () => {
    expect(pages).toHaveLength(2);
    for (const { name, page, errors } of pages) {
      await page.setViewportSize({ width: 390, height: 844 });
      // (A string: this package's TypeScript has no DOM types.)
      const widths = await page.evaluate<{ scroll: number; client: number }>('({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })');
      expect(widths.scroll, name).toBeLessThanOrEqual(widths.client);
      await page.screenshot({ path: path.join(OUTPUT_DIR, `jobs-${name}-390.png`), fullPage: true });
      expect(errors, name).toEqual([]);
    }
  });
});
