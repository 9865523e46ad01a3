import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createAnkaSimHome, type AnkaSimHome } from '@anklet/anka-sim';
import type { JobStore } from '@anklet/core';
import { startGitHubSim, templateRunnerFiles, type GitHubSim } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNNER_CLI, RunningAnklet, msg, runCli, writeFile } from '../../../apps/anklet/test/helpers.js';
import { GiB, withInstalledPlugins } from './setup.js';

/**
 * The host runner cache (issue 19 item 1) with the packed plugins and the real `anklet` binary, on
 * one world shared by the scenarios, which run in order: the cache fills once and serves many
 * jobs, refuses a corrupted download, replaces a template's outdated runner, works offline, hands a
 * job back when there is no runner at all, and `runner_cache: false` downloads in every VM (Go).
 */
const { shared, pluginsPath } = withInstalledPlugins('anklet-runner-cache-');
const SECRET = 'e2e-runner-cache-webhook-secret';
const TOKEN = 'ghp_e2e_runner_cache_token_never_logged';

/** Three templates on the host: a current runner baked in, a runner GitHub refuses, and none. */
const CURRENT = { name: 'current', uuid: '5b0f3b6e-1a57-4a39-9d3c-0c4a3c7d0001', files: templateRunnerFiles('2.330.0') };
const STALE = { name: 'stale', uuid: '5b0f3b6e-1a57-4a39-9d3c-0c4a3c7d0002', files: templateRunnerFiles('2.300.0') };
const BARE = { name: 'bare', uuid: '5b0f3b6e-1a57-4a39-9d3c-0c4a3c7d0003', files: {} };
const TAG = 'v1';
/** The simulated Mac here is x86_64 (Linux): the cache keeps the osx-x64 tarball. */
const asset = (version: string) => `actions-runner-osx-x64-${version}.tar.gz`;

let redis: RedisServer;
let sim: GitHubSim;
let anka: AnkaSimHome;
let store: JobStore;
let home: string;
let workDir: string;
let cacheDir: string;
let receiverPort: number;
let host: RunningAnklet;
let jobCounter = 0;

async function configWith(extra: string): Promise<string> {
  return writeFile(
    path.join(home, 'config.yml'),
    `plugins_path: ${pluginsPath}
work_dir: ${workDir}
global_database_url: 127.0.0.1
global_database_port: ${redis.port}
global_receiver_secret: ${SECRET}
global_token: ${TOKEN}
metrics:
  port: ${await findFreePort()}
  address: 127.0.0.1
plugins:
  - name: GITHUB_RECEIVER1
    plugin: github_receiver
    port: ${receiverPort}
    listen_address: 127.0.0.1
    owner: acme
    skip_redeliver: true
  - name: GITHUB_HANDLER1
    plugin: github
    owner: acme
    github_base_url: ${sim.url}
    sleep_interval: 1
    retry_backoff_seconds: 1
    runner_cache_check_interval_seconds: 1
${extra}`,
  );
}

async function startHost(extra = ''): Promise<RunningAnklet> {
  const run = new RunningAnklet(['-c', await configWith(extra)], { home, env: anka.env });
  await run.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
  return run;
}

async function stopHost(): Promise<void> {
  host.signal('SIGTERM');
  const result = await host.exited;
  expect(result.code).toBe(0);
  for (const output of [result.stdout, result.stderr]) expect(output).not.toContain(TOKEN);
}

/** Dispatches jobs on a template and waits until each completed with success. */
async function runJobs(template: { uuid: string }, count: number): Promise<number[]> {
  const jobs = Array.from({ length: count }, () => {
    const name = `job${++jobCounter}`;
    return sim.control.dispatchJob({ repository: 'acme/app', labels: [`anka-template:${template.uuid}`, `anka-template-tag:${TAG}`, name], name, durationMs: 100 });
  });
  for (const job of jobs) expect((await sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
  return jobs.map((j) => j.id);
}

/** `anka run`s of install-runner.bash (the in-VM download of the Go behaviour). */
const installScriptRuns = () => anka.calls().filter((c) => c.argv.includes('run') && c.argv.some((a) => a.endsWith('install-runner.bash'))).length;
const downloads = () => sim.control.runnerReleaseState().downloads;
const linesOf = (text: string) => host.lines.filter(msg(text));
const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const releaseSha = (version: string) => sim.control.runnerReleaseState().releases.find((r) => r.version === version)!.sha256;

beforeAll(async () => {
  home = mkdtempSync(path.join(shared, 'home-'));
  workDir = path.join(home, 'work');
  cacheDir = path.join(workDir, 'runner-cache');
  [redis, receiverPort] = await Promise.all([startRedisServer({ allowExternal: false }), findFreePort()]);
  // 2.329.0 is 45 days old: a runner older than it (2.300.0) no longer gets jobs; 2.330.0 is current.
  sim = await startGitHubSim({
    tokens: [TOKEN],
    hooks: [{ org: 'acme', url: `http://127.0.0.1:${receiverPort}/jobs/v1/receiver`, secret: SECRET }],
    runnerReleases: [{ version: '2.300.0', ageDays: 200 }, { version: '2.329.0', ageDays: 45 }, { version: '2.330.0', ageDays: 10 }],
  });
  const templates = [CURRENT, STALE, BARE];
  anka = createAnkaSimHome({
    disk: { totalBytes: 1000 * GiB },
    registry: { templates: templates.map((t) => ({ name: t.name, uuid: t.uuid, tags: [{ tag: TAG, cpuCores: 1, ramBytes: 2 * GiB, imageSizeBytes: 5 * GiB, files: t.files }] })) },
    templates: templates.map((t) => ({ name: t.name, uuid: t.uuid, tag: TAG, files: t.files })),
    // RUNNER_RELEASES_API: where install-runner.bash looks when the cache is off (Go behaviour).
    guestEnv: { GITHUB_SIM_RUNNER: RUNNER_CLI, RUNNER_RELEASES_API: `${sim.url}/repos/actions/runner/releases/latest` },
  });
  store = createRedisJobStore({ redis: new Redis(redis.url), prefix: 'anklet' });
  host = await startHost();
}, 120_000);

afterAll(async () => {
  try {
    if (host?.running) await stopHost();
    expect(anka.readState().vms.filter((vm) => vm.name.startsWith('anklet-vm-'))).toEqual([]);
    expect(sim.control.runners()).toEqual([]);
    expect((await store.stats('acme')).claimed).toBe(0);
  } finally {
    await store?.close();
    await sim?.close();
    await redis?.stop();
    anka?.remove();
  }
}, 60_000);

describe.sequential('host runner cache', { timeout: 180_000 }, () => {
  it('downloads the runner once for many jobs on a template without one, and copies it into each VM', async () => {
    await runJobs(BARE, 3);
    expect(downloads()).toEqual({ total: 1, byAsset: { [asset('2.330.0')]: 1 } });
    expect(linesOf('installed the cached runner into the vm').map((l) => l.runnerVersion)).toEqual(['2.330.0', '2.330.0', '2.330.0']);
    // In through `anka cp`, never a download inside the VM: install-runner.bash did not run.
    expect(installScriptRuns()).toBe(0);
    expect(anka.calls().filter((c) => c.argv.includes('cp') && c.argv.some((a) => a.endsWith(asset('2.330.0'))))).toHaveLength(3);
    expect(sha256Of(path.join(cacheDir, '2.330.0', asset('2.330.0')))).toBe(releaseSha('2.330.0'));
    // One probe of the template, remembered for doctor.
    const probed = JSON.parse(readFileSync(path.join(cacheDir, 'templates.json'), 'utf8')) as Record<string, { version: string | null }>;
    expect(probed[`${BARE.uuid}:${TAG}`]?.version).toBeNull();
    expect(linesOf('probed the runner baked into the template')).toHaveLength(1);
  });

  it('uses a current baked runner as it is, and replaces an outdated one with the cached runner, with a WARN naming both versions', async () => {
    await runJobs(CURRENT, 1);
    await runJobs(STALE, 1);
    const warns = linesOf('template runner is older than GitHub accepts; installing the cached runner instead');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 'WARN', template: STALE.uuid, tag: TAG, templateRunnerVersion: '2.300.0', cachedRunnerVersion: '2.330.0', outdatedBy: '2.329.0' });
    expect(downloads().total).toBe(1);
    const probed = JSON.parse(readFileSync(path.join(cacheDir, 'templates.json'), 'utf8')) as Record<string, { version: string | null }>;
    expect(probed[`${CURRENT.uuid}:${TAG}`]?.version).toBe('2.330.0');
    expect(probed[`${STALE.uuid}:${TAG}`]?.version).toBe('2.300.0');
  });

  it('refuses a corrupted download of a new release, deletes it and downloads it again', async () => {
    sim.control.publishRunnerRelease({ version: '2.331.0' });
    sim.control.setRunnerReleaseFaults({ corruptDownloads: 1 });
    await runJobs(BARE, 1);
    const refused = linesOf('downloaded actions runner does not match the SHA-256 its release publishes; deleted it');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 'ERROR', version: '2.331.0', expected: releaseSha('2.331.0') });
    expect(downloads().byAsset[asset('2.331.0')]).toBe(2);
    expect(linesOf('installed the cached runner into the vm').at(-1)?.runnerVersion).toBe('2.331.0');
    // Only verified tarballs are kept, for the newest two releases.
    expect(readdirSync(path.join(cacheDir, '2.331.0'))).toEqual([asset('2.331.0')]);
    expect(sha256Of(path.join(cacheDir, '2.331.0', asset('2.331.0')))).toBe(releaseSha('2.331.0'));
    expect(existsSync(path.join(cacheDir, '2.330.0', asset('2.330.0')))).toBe(true);
  });

  it('keeps the cache as it was when the releases answer cannot be read, and works from it offline', async () => {
    const before = JSON.parse(readFileSync(path.join(cacheDir, 'state.json'), 'utf8')) as { releases: unknown[] };
    sim.control.setRunnerReleaseFaults({ garbleApi: 1 });
    // The job's preparation looks releases up (the check interval, 1 s, has passed) and gets the garbled answer.
    await runJobs(BARE, 1);
    expect(host.lines.some((l) => l.msg === 'could not read the actions runner releases from GitHub; the runner cache stays as it was' && l.reason === 'unreadable_answer')).toBe(true);
    expect(linesOf('installed the cached runner into the vm').at(-1)?.runnerVersion).toBe('2.331.0');
    const after = JSON.parse(readFileSync(path.join(cacheDir, 'state.json'), 'utf8')) as { releases: unknown[] };
    expect(after.releases).toEqual(before.releases);

    sim.control.setRunnerReleaseFaults({ offline: true });
    const total = downloads().total;
    try {
      await runJobs(BARE, 1);
    } catch (error) {
      sim.control.setRunnerReleaseFaults({ offline: false });
      throw error;
    }
    expect(linesOf('installed the cached runner into the vm').at(-1)?.runnerVersion).toBe('2.331.0');
    expect(host.lines.some((l) => l.msg === 'could not read the actions runner releases from GitHub; the runner cache stays as it was' && l.reason === 'unreachable')).toBe(true);
    expect(downloads().total).toBe(total);
  });

  it('hands a job back with reason no_runner_available when neither the template nor the cache has a runner, and runs it once GitHub answers', async () => {
    rmSync(path.join(cacheDir, '2.330.0'), { recursive: true, force: true });
    rmSync(path.join(cacheDir, '2.331.0'), { recursive: true, force: true });
    const name = `job${++jobCounter}`;
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: [`anka-template:${BARE.uuid}`, `anka-template-tag:${TAG}`, name], name, durationMs: 100 });
    await host.waitFor(msg('no actions runner for the vm: the template has none and the host cache is empty; handing the job back'), { timeoutMs: 60_000 });
    const handedBack = linesOf('no actions runner for the vm: the template has none and the host cache is empty; handing the job back')[0]!;
    expect(handedBack).toMatchObject({ level: 'WARN', template: BARE.uuid, tag: TAG, reason: 'no_runner_available' });
    try {
      // The hand-back reaches the store's timeline right after the WARN: poll for it, bounded.
      const handedBackInTimeline = async () => (await store.getTimeline!('acme', String(job.id)))?.events.some((e) => e.type === 'handed_back' && e.reason === 'no_runner_available') ?? false;
      for (let i = 0; i < 100 && !(await handedBackInTimeline()); i++) await sleep(100);
      expect(await handedBackInTimeline()).toBe(true);
      expect((await store.getTimeline!('acme', String(job.id)))?.events.some((e) => e.type === 'retried')).toBe(false);
    } finally {
      sim.control.setRunnerReleaseFaults({ offline: false });
    }
    expect((await sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    expect(sha256Of(path.join(cacheDir, '2.331.0', asset('2.331.0')))).toBe(releaseSha('2.331.0'));
  });

  it('with runner_cache: false, install-runner.bash downloads the runner inside every VM (Go behaviour)', async () => {
    await stopHost();
    host = await startHost('    runner_cache: false\n');
    const total = downloads().total;
    await runJobs(BARE, 2);
    expect(downloads().total).toBe(total + 2);
    expect(installScriptRuns()).toBe(2);
    expect(linesOf('installed the cached runner into the vm')).toEqual([]);
  });

  it('anklet doctor lists the template whose runner GitHub refuses', async () => {
    const run = await runCli(['-c', path.join(home, 'config.yml'), 'doctor', '--json'], { home, env: anka.env, timeoutMs: 60_000 });
    const report = JSON.parse(run.stdout) as { checks: Array<{ check: string; status: string; detail: string; fix?: string }> };
    const row = report.checks.find((c) => c.check === 'template runners');
    expect(row?.status).toBe('warn');
    expect(row?.detail).toContain(`${STALE.uuid}:${TAG} runner 2.300.0`);
    expect(row?.detail).not.toContain(CURRENT.uuid);
    expect(row?.detail).not.toContain(BARE.uuid);
    expect(row?.fix).toContain('cached runner 2.331.0');
  });
});
