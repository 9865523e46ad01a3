import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createAnkaSimHome, type AnkaSimHome } from '@anklet/anka-sim';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import type { JobStore } from '@anklet/core';
import { Redis } from 'ioredis';
import { afterEach, describe, it, type TestContext } from 'vitest';
import { RUNNER_CLI, RunningAnklet, msg, runnerFiles, writeFile } from '../../../apps/anklet/test/helpers.js';
import { GiB, TEMPLATE, withInstalledPlugins } from './setup.js';

/**
 * The handler the way a user gets it: `pnpm pack` @anklet/github, the receiver and the handler,
 * install the tarballs with `anklet plugins install`, and run the real `anklet` binary (receiver +
 * handler in one process) against github-sim, anka-sim and a real Redis. Inside each simulated VM
 * the shipped runner scripts start github-sim's simulated runner, baked into the template as
 * `actions-runner/run.sh`. After every test: no VM in anka-sim, no runner in github-sim, no job
 * claimed in the store.
 *
 * Every test is its own world: its own Anka host (anka-sim home), github-sim, redis-server and
 * anklet home, so the scenarios share nothing (VM slots, faults, queues) and run concurrently:
 * most of their time is spent waiting on jobs, time-outs and back-offs. The longest come first.
 */
const { shared, pluginsPath } = withInstalledPlugins('anklet-handler-e2e-');
const SECRET = 'e2e-webhook-secret-value';
const TOKEN = 'ghp_e2e_handler_token_never_logged';

interface World {
  sim: GitHubSim;
  store: JobStore;
  redis: RedisServer;
  anka: AnkaSimHome;
  home: string;
  config: string;
  metricsPort: number;
  runs: RunningAnklet[];
  start(): RunningAnklet;
  /** Runs the simulated `anka` of this world's host. */
  ankaCli(...args: string[]): void;
  /** This host's `anklet-vm-*` VMs. */
  ankletVms(): Array<{ name: string }>;
}
/** The world of each running test, by test id (the tests run concurrently). */
const worlds = new Map<string, World>();

interface WorldOptions {
  simOptions?: Parameters<typeof startGitHubSim>[0];
  /**
   * The tag of the template already on the host (as left by an earlier job on a real host), or
   * null for a host that has to pull it first.
   */
  localTag?: string | null;
}

/** A fresh host (anka-sim), github-sim, Redis and config; `handlers` are the handler entries' extra YAML lines. */
async function makeWorld(ctx: TestContext, handlers: string[] = [''], options: WorldOptions = {}): Promise<World> {
  // Not the helpers' makeTmp: it empties every test's folders after each test, and these run concurrently.
  const home = mkdtempSync(path.join(shared, 'home-'));
  const localTag = options.localTag === undefined ? '1c2r' : options.localTag;
  const anka = createAnkaSimHome({
    registry: {
      pullDurationMs: 200,
      templates: [
        {
          name: 'anklet',
          uuid: TEMPLATE,
          tags: [
            { tag: '1c2r', cpuCores: 1, ramBytes: 2 * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles },
            { tag: '2c4r', cpuCores: 2, ramBytes: 4 * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles },
            { tag: '64c512r', cpuCores: 64, ramBytes: 512 * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles },
          ],
        },
      ],
    },
    templates: localTag === null ? [] : [{ name: 'anklet', uuid: TEMPLATE, tag: localTag, files: runnerFiles }],
    guestEnv: { GITHUB_SIM_RUNNER: RUNNER_CLI },
  });
  const [redis, port, metricsPort] = await Promise.all([startRedisServer({ allowExternal: false }), findFreePort(), findFreePort()]);
  const sim = await startGitHubSim({
    tokens: [TOKEN],
    hooks: [{ org: 'acme', url: `http://127.0.0.1:${port}/jobs/v1/receiver`, secret: SECRET }],
    ...options.simOptions,
  });
  const handlerBlocks = handlers
    .map(
      (extra, i) => `  - name: GITHUB_HANDLER${i + 1}
    plugin: github
    owner: acme
    github_base_url: ${sim.url}
    sleep_interval: 1
${extra
  .split('\n')
  .filter(Boolean)
  .map((l) => `    ${l}`)
  .join('\n')}
`,
    )
    .join('');
  const config = writeFile(
    path.join(home, 'config.yml'),
    `plugins_path: ${pluginsPath}
global_database_url: 127.0.0.1
global_database_port: ${redis.port}
global_receiver_secret: ${SECRET}
global_token: ${TOKEN}
metrics:
  port: ${metricsPort}
  address: 127.0.0.1
plugins:
  - name: GITHUB_RECEIVER1
    plugin: github_receiver
    port: ${port}
    listen_address: 127.0.0.1
    owner: acme
    skip_redeliver: true
${handlerBlocks}`,
  );
  const store = createRedisJobStore({ redis: new Redis(redis.url), prefix: 'anklet' });
  const w: World = {
    sim,
    store,
    redis,
    anka,
    home,
    config,
    metricsPort,
    runs: [],
    start() {
      // The child finds this host's simulated `anka` first on its PATH.
      const run = new RunningAnklet(['-c', config], { home, env: anka.env });
      w.runs.push(run);
      return run;
    },
    ankaCli(...args) {
      execFileSync('anka', ['-j', ...args], { env: { ...process.env, ...anka.env }, stdio: 'pipe' });
    },
    ankletVms: () => anka.readState().vms.filter((vm) => vm.name.startsWith('anklet-vm-')),
  };
  worlds.set(ctx.task.id, w);
  return w;
}

/** Stops every anklet of the test and checks nothing is left behind. */
afterEach(async ({ task, expect }) => {
  const w = worlds.get(task.id);
  worlds.delete(task.id);
  if (!w) return;
  try {
    for (const run of w.runs) {
      if (run.child.exitCode === null && run.child.signalCode === null) run.signal('SIGTERM');
      const result = await run.exited;
      for (const output of [result.stdout, result.stderr]) expect(output).not.toContain(TOKEN);
    }
    expect(w.ankletVms().map((vm) => vm.name)).toEqual([]);
    expect(w.sim.control.runners()).toEqual([]);
    const stats = await w.store.stats('acme');
    expect(stats.claimed).toBe(0);
    // No secret ever reached a host command line.
    for (const call of w.anka.calls()) for (const arg of call.argv) expect(arg.length < 400 && !arg.includes(TOKEN), arg.slice(0, 80)).toBe(true);
  } finally {
    await w.store.close();
    await w.sim.close();
    await w.redis.stop();
    w.anka.remove();
    rmSync(w.home, { recursive: true, force: true });
  }
});

/** Resolves once `check` holds (looked at every 50 ms), rejects after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A job's timeline once its last event is `finished` (looked at every 100 ms, for up to 30 s). */
async function finishedTimeline(w: World, jobId: number) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const timeline = await w.store.getTimeline!('acme', String(jobId));
    if (timeline?.events.at(-1)?.type === 'finished' || Date.now() > deadline) return timeline;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const labels = (name: string, tag = '1c2r') => [`anka-template:${TEMPLATE}`, `anka-template-tag:${tag}`, `${name}-0`];

describe.concurrent('github handler, packed and run by the real anklet binary', () => {
  it('retries on a new VM after the registration race', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, ['registration_timeout_seconds: 6\njob_retry_attempts: 1\nretry_backoff_seconds: 1']);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    w.sim.control.setRegistrationRace({ next: 1 });
    const once = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('race-once'), name: 'race-once', durationMs: 300 });
    expect((await w.sim.control.waitForJob(once.id, 'completed', 90_000)).conclusion).toBe('success');
    await anklet.waitFor(msg('job completed'), { timeoutMs: 30_000 });
    expect(anklet.lines.filter(msg('waiting for runner registration timed out, will retry'))).toHaveLength(1);
    // The timeline shows both attempts: the first runner's logs kept, the retry with its reason,
    // the hand-back, a second VM.
    const kinds = (await finishedTimeline(w, once.id))?.events.map((e) => e.type) ?? [];
    const attempt = ['claimed', 'pull_started', 'pull_finished', 'vm_cloned', 'vm_started', 'runner_registered'];
    // `in_progress` comes whenever the runner takes the job; `completed` twice would be the webhook and the API both telling it.
    expect(kinds.filter((k, i) => k !== 'in_progress' && (k !== 'completed' || kinds.indexOf(k) === i)), kinds.join(' ')).toEqual(['received', 'queued', ...attempt, 'diagnostics_kept', 'cleaned_up', 'retried', 'handed_back', ...attempt, 'completed', 'cleaned_up', 'finished']);
    const timeline = await w.store.getTimeline!('acme', String(once.id));
    expect(timeline?.events.find((e) => e.type === 'retried')?.reason).toBe('waiting_for_runner_registration_timed_out');
    expect(timeline?.events.find((e) => e.type === 'handed_back')).toMatchObject({ reason: 'waiting_for_runner_registration_timed_out', detail: 'requeue' });
    // Job lines carry the Go handler's fields, workflowJobURL among them (not "jobURL").
    const completed = anklet.lines.find(msg('job completed'))!;
    expect(completed).toMatchObject({ workflowJobID: once.id, workflowJobURL: expect.stringContaining(`/actions/runs/`) });
    expect(completed).not.toHaveProperty('jobURL');
  });

  it('gives up after job_retry_attempts when every runner loses the registration race', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, ['registration_timeout_seconds: 6\njob_retry_attempts: 1\nretry_backoff_seconds: 1']);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    w.sim.control.setRegistrationRace({ next: 5 });
    const always = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('race-always'), name: 'race-always', durationMs: 300 });
    expect((await w.sim.control.waitForJob(always.id, 'completed', 90_000)).conclusion).toBe('cancelled');
    await anklet.waitFor(msg('job has attempts > max attempts, cancelling it'), { timeoutMs: 30_000 });
    await anklet.waitFor(msg('job cancelled'), { timeoutMs: 30_000 });
    // The first attempt and its one retry, each on a new VM.
    expect(anklet.lines.filter(msg('waiting for runner registration timed out, will retry'))).toHaveLength(2);
    expect(anklet.lines.filter(msg('vm started'))).toHaveLength(2);
  });

  it('two handlers on one host share the two VM slots', async (ctx) => {
    const { expect } = ctx;
    // The template is on the host beforehand, so that neither handler hands a job back because the other one is pulling.
    const w = await makeWorld(ctx, ['', '']);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { count: 2, timeoutMs: 60_000 });
    const jobs = [0, 1, 2].map((i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(`pair-${i}`), name: `pair-${i}`, durationMs: 3000 }));
    for (const job of jobs) expect((await w.sim.control.waitForJob(job.id, 'completed', 120_000)).conclusion).toBe('success');
    await anklet.waitFor(msg('job completed'), { count: 3, timeoutMs: 30_000 });
    const handlersUsed = new Set(anklet.lines.filter(msg('job completed')).map((l) => (l.attributes as { name?: string } | undefined)?.name));
    expect(handlersUsed.size).toBe(2);
    expect(anklet.stdout).not.toContain('maximum number of running instances exceeded');
  });

  it('a transient anka failure is repeated in place, a lasting one is retried on a new VM after a back-off', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, ['retry_backoff_seconds: 2']);
    w.anka.setFaults([
      { command: 'start', times: 1, error: { message: '{vm}: failed to start: No child processes' } },
      { command: 'cp', times: 3, error: { message: 'failed to copy: No child processes' } },
    ]);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('flaky-start'), name: 'flaky-start', durationMs: 300 });
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    await anklet.waitFor(msg('cleanup | finished'), { count: 2, timeoutMs: 30_000 });
    // The start failure was repeated on the same VM; the copy failed three times and cost an attempt.
    const repeats = anklet.lines.filter(msg('anka command failed; repeating the step'));
    expect(repeats.map((l) => l.step)).toEqual(['obtaining_anka_vm', 'executing_anka_copy', 'executing_anka_copy']);
    const retried = anklet.lines.filter(msg('pushing job back to the queue for another attempt'));
    expect(retried.map((l) => l.reason)).toEqual(['error_executing_anka_copy']);
    const delay = Number(retried[0]!.retryInSeconds);
    expect(delay).toBeGreaterThanOrEqual(1);
    expect(delay).toBeLessThanOrEqual(2);
    // Not taken again before the back-off ended.
    const claims = anklet.lines.filter(msg('queued job found'));
    expect(claims).toHaveLength(2);
    expect(Date.parse(String(claims[1]!.time)) - Date.parse(String(retried[0]!.time))).toBeGreaterThanOrEqual(delay * 1000 - 100);
    const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics/v1?format=prometheus`)).text();
    expect(text).toMatch(/^anklet_step_retries_total\{.*step="executing_anka_copy".*\} 2$/m);
    expect(text).toMatch(/^anklet_job_retries_total\{.*reason="error_executing_anka_copy".*\} 1$/m);
  });

  it('a clone that finds the template tag gone (another pull replaced it) hands the job back without counting an attempt', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    // Between the check that the tag is on the host and the clone, another handler's pull of
    // another tag replaced it: Anka's clone answers code 3 `<template>: not found`.
    w.anka.setFaults([{ command: 'clone', times: 1, error: { message: '{vm}: not found', code: 3 } }]);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('tag-replaced'), name: 'tag-replaced', durationMs: 300 });
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    await anklet.waitFor(msg('cleanup | finished'), { count: 2, timeoutMs: 30_000 });
    const replaced = anklet.lines.filter(msg('template tag replaced on the host by another pull before the clone; handing the job back'));
    expect(replaced).toHaveLength(1);
    expect(String(replaced[0]!.reason)).toContain('not found');
    expect(anklet.lines.filter(msg('handing job back to the queue'))).toHaveLength(1);
    // Not the job's failure: no attempt counted, nothing cancelled, and it ran on the next claim.
    expect(anklet.lines.filter(msg('pushing job back to the queue for another attempt'))).toHaveLength(0);
    expect(anklet.lines.filter(msg('queued job found'))).toHaveLength(2);
    expect(w.sim.control.job(job.id)?.conclusion).toBe('success');
    const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics/v1?format=prometheus`)).text();
    expect(text).toMatch(/^anklet_job_retries_total\{.*reason="template_tag_replaced_on_host".*\} 1$/m);
    expect(w.ankletVms()).toHaveLength(0);
  });

  it('first SIGINT while the job runs: the VM is left running, and the next start adopts and finishes it', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const first = w.start();
    await first.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('adopt'), name: 'adopt', durationMs: 8000 });
    await first.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 60_000 });
    first.signal('SIGINT');
    expect((await first.exited).code).toBe(0);
    expect(w.ankletVms()).toHaveLength(1);
    const second = w.start();
    await second.waitFor(msg('found job of a previous run still in its vm; watching it'), { timeoutMs: 60_000 });
    expect((await w.sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await second.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
  });

  it('overcommit: skip_cpu_and_memory_resource_checks runs two VMs that do not fit together', async (ctx) => {
    const { expect } = ctx;
    // 2c4r on the host beforehand: with one pull per host, the second job would otherwise wait for the first's pull.
    const w = await makeWorld(ctx, ['skip_cpu_and_memory_resource_checks: true', 'skip_cpu_and_memory_resource_checks: true'], { localTag: '2c4r' });
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { count: 2, timeoutMs: 60_000 });
    // Two 2-CPU VMs on this 2-CPU host: only with the checks skipped do both run at once. The jobs
    // are long enough for the second VM to be ready before the first job ends on a busy machine.
    const jobs = [0, 1].map((i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(`over-${i}`, '2c4r'), name: `over-${i}`, durationMs: 15_000 }));
    await w.sim.control.waitFor(() => (jobs.every((j) => w.sim.control.job(j.id)?.status === 'in_progress') ? true : undefined), 90_000);
    for (const job of jobs) expect((await w.sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await anklet.waitFor(msg('cleanup | finished'), { count: 2, timeoutMs: 30_000 });
    expect(anklet.lines.some(msg('skipping VM CPU and memory resource checks; this plugin may overcommit host resources; use at your own risk'))).toBe(true);
    expect(anklet.lines.filter(msg('job found registered runner and is now in progress')).length).toBeGreaterThanOrEqual(2);
  });

  it('second SIGINT exits at once; the next start cleans up the VM and runs the job', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    w.anka.setFaults([{ command: 'run', times: 1, delayMs: 5000 }]);
    const first = w.start();
    await first.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('twice'), name: 'twice', durationMs: 300 });
    await first.waitFor(msg('installing github runner inside of vm'), { timeoutMs: 60_000 });
    first.signal('SIGINT');
    await first.waitFor(msg('best effort graceful shutdown, interrupting the job as soon as possible...'), { timeoutMs: 10_000 });
    first.signal('SIGINT');
    await first.exited;
    w.anka.setFaults([]);
    const second = w.start();
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    // The job's own clean-up (the recovery above logs a `cleanup | finished` of its own).
    await second.waitFor((l) => l.msg === 'cleanup | finished' && l.outcome === 'done', { timeoutMs: 30_000 });
    // Either the first process still cleaned up, or the second found what it left.
    const leftBehind = second.lines.some(msg('cleaning up job left by a previous run')) || second.lines.some(msg('deleting orphaned vm that no job owns'));
    const cleanedByFirst = first.lines.some(msg('cleanup | finished'));
    expect(leftBehind || cleanedByFirst).toBe(true);
  });

  it('runs a job in a fresh VM with a JIT runner, then removes runner, VM and job', async (ctx) => {
    const { expect } = ctx;
    // A host without the template: the first job pulls it.
    const w = await makeWorld(ctx, [''], { localTag: null });
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('ok'), name: 'ok', durationMs: 500 });
    const done = await w.sim.control.waitForJob(job.id, 'completed', 90_000);
    expect(done.conclusion).toBe('success');
    expect(done.runner_name).toMatch(/^anklet-vm-/);
    await anklet.waitFor(msg('job completed'), { timeoutMs: 30_000 });
    await anklet.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    for (const text of [
      'queued job found',
      'handling anka workflow run job',
      'vm has enough resources now to run; starting runner',
      'job found registered runner and is now in progress',
      'cleanup | anka.VM | queuedJob',
      'cleanup | WorkflowJobPayload | queuedJob',
    ]) {
      expect(anklet.lines.some(msg(text)), text).toBe(true);
    }
    const completedLine = anklet.lines.find(msg('job completed'))!;
    expect(completedLine.conclusion).toBe('success');
    expect(await w.store.get('acme', String(job.id))).toBeNull();
    // The job's timeline: the store's events and the handler's, in order, kept after the finish.
    const timeline = await w.store.getTimeline!('acme', String(job.id));
    expect(timeline?.state).toBe('finished');
    const kinds = timeline!.events.map((e) => e.type);
    const phases = ['received', 'queued', 'claimed', 'pull_started', 'pull_finished', 'vm_cloned', 'vm_started', 'runner_registered', 'completed', 'cleaned_up', 'finished'];
    // `completed` twice would be the webhook and the API both telling it, a race the handler allows.
    const once = (k: string, i: number) => k !== 'completed' || kinds.indexOf(k) === i;
    expect(kinds.filter((k, i) => phases.includes(k) && once(k, i)), kinds.join(' ')).toEqual(phases);
    // The runner may take the job before the handler writes `runner_registered`: only its place after the VM start is fixed.
    const inProgress = kinds.indexOf('in_progress');
    expect(inProgress, kinds.join(' ')).toBeGreaterThan(kinds.indexOf('vm_started'));
    expect(inProgress).toBeLessThan(kinds.indexOf('completed'));
    const event = (type: string) => timeline!.events.find((e) => e.type === type);
    expect(event('claimed')?.by).toMatch(/^GITHUB_HANDLER1(@[0-9a-f]{16})?$/);
    expect(event('vm_cloned')?.by).toBe(event('claimed')?.by);
    expect(event('pull_finished')?.detail).toBe('pulled');
    expect(event('vm_started')?.detail).toBe(done.runner_name);
    expect(event('completed')?.conclusion).toBe('success');
    expect(event('finished')?.conclusion).toBe('success');
    expect(JSON.stringify(timeline)).not.toContain(TOKEN);
    const recent = await w.store.listRecentJobs!('acme', 'finished');
    expect(recent.map((j) => j.id)).toEqual([String(job.id)]);
    expect(recent[0]?.last.type).toBe('finished');
    // The JIT config went in through stdin: nothing long or secret on any anka command line.
    expect(w.anka.calls().some((c) => c.argv.includes('--jit'))).toBe(true);
    // Metrics: the claim, the phase durations and the status back to idle.
    const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics/v1?format=prometheus`)).text();
    const line = (re: RegExp) => text.split('\n').find((l) => re.test(l));
    expect(line(/^anklet_jobs_claimed_total\{.*GITHUB_HANDLER1.*\} 1$/), text).toBeDefined();
    for (const phase of ['pull', 'clone', 'start', 'runner_registration', 'job_run', 'cleanup']) {
      expect(line(new RegExp(`^anklet_job_phase_duration_seconds_count\\{.*phase="${phase}".*\\} 1$`)), phase).toBeDefined();
    }
    expect(line(/^anklet_plugin_status\{.*GITHUB_HANDLER1.*idle.*\} 1$/), text).toBeDefined();
  });

  it('SIGQUIT finishes the running job and takes no new one', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const running = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('quit-running'), name: 'quit-running', durationMs: 5000 });
    await anklet.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 60_000 });
    anklet.signal('SIGQUIT');
    const waiting = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('quit-waiting'), name: 'quit-waiting' });
    const exit = await anklet.exited;
    expect(exit.code).toBe(0);
    expect(w.sim.control.job(running.id)?.conclusion).toBe('success');
    expect(anklet.lines.some(msg('cleanup | finished'))).toBe(true);
    expect((await w.store.get('acme', String(waiting.id)))?.owner).toBeUndefined();
    w.sim.control.cancelRun(waiting.run_id);
  });

  it('drain file: no new jobs, status draining; removing it resumes', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const drain = writeFile(path.join(w.home, '.config', 'anklet', '.drain'), '');
    const anklet = w.start();
    await anklet.waitFor(msg('drain file present; not picking up new jobs'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('drained'), name: 'drained', durationMs: 300 });
    await w.sim.control.deliveriesSettled();
    // Three turns of the handler's loop (sleep_interval: 1) with the job in the queue.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await w.store.get('acme', String(job.id)))?.owner).toBeUndefined();
    rmSync(drain);
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    await anklet.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
  });

  it('reports a job that fails inside the VM as failed, and still cleans up', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('fails'), name: 'fails', conclusion: 'failure', durationMs: 300 });
    const done = await w.sim.control.waitForJob(job.id, 'completed', 90_000);
    expect(done.conclusion).toBe('failure');
    await anklet.waitFor((l) => l.msg === 'job completed' && l.conclusion === 'failure', { timeoutMs: 30_000 });
    await anklet.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
  });

  it('cancels the run when the template label is missing, or the template or tag is not in the registry', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const noLabel = w.sim.control.dispatchJob({ repository: 'acme/app', labels: ['anka-template-tag:vanilla', 'nolabel-0'], name: 'no-template-label' });
    const noTemplate = w.sim.control.dispatchJob({
      repository: 'acme/app',
      labels: ['anka-template:c092c6f6-198c-470f-9526-9c998efe7ab5', 'anka-template-tag:vanilla', 'notpl-0'],
      name: 'no-template',
    });
    const noTag = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('notag', 'not-a-tag'), name: 'no-tag' });
    for (const job of [noLabel, noTemplate, noTag]) {
      const done = await w.sim.control.waitForJob(job.id, 'completed', 90_000);
      expect(done.conclusion, String(done.name)).toBe('cancelled');
    }
    await anklet.waitFor(msg('job cancelled'), { count: 3, timeoutMs: 30_000 });
    expect(anklet.lines.some(msg('anka-template label missing from workflow job; cancelling job'))).toBe(true);
    expect(anklet.lines.filter(msg('anka template or tag not found in registry; cancelling job'))).toHaveLength(2);
    // The timeline says why: cancelled with the reason, then finished, with no VM on the way.
    const timeline = await finishedTimeline(w, noTag.id);
    // GitHub's `completed` webhook for the cancelled run may come in before the finish (or after: then the job is gone and it is not recorded).
    const kinds = timeline?.events.map((e) => e.type).filter((k) => k !== 'completed');
    expect(kinds).toEqual(['received', 'queued', 'claimed', 'pull_started', 'cleaned_up', 'cancelled', 'finished']);
    expect(timeline?.events.find((e) => e.type === 'cancelled')?.reason).toBe('anka_template_or_tag_not_found');
    expect(timeline?.events.at(-1)?.conclusion).toBe('cancelled: anka_template_or_tag_not_found');
  });

  it('a GitHub rate limit on runner registration pauses and then goes on', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    w.sim.control.injectRateLimit({ kind: 'primary', count: 1, resetInSeconds: 2, match: 'generate-jitconfig' });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('limited'), name: 'limited', durationMs: 300 });
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    await anklet.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    expect(anklet.lines.some(msg('GitHub API rate limit exceeded, pausing until reset'))).toBe(true);
  });

  it('a job whose webhooks were lost is found completed by asking the API', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, ['status_check_interval_seconds: 5\nregistration_timeout_seconds: 60']);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('lost-hooks'), name: 'lost-hooks', durationMs: 300 });
    await anklet.waitFor(msg('queued job found'), { timeoutMs: 60_000 });
    // in_progress and completed never reach the receiver.
    w.sim.control.failNextDeliveries({ count: 2 });
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    await anklet.waitFor((l) => l.msg === 'job completed' && l.conclusion === 'success', { timeoutMs: 30_000 });
    await anklet.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    expect(anklet.lines.some(msg('waiting for runner registration timed out, will retry'))).toBe(false);
  });

  it('host_to_guest_folder_mounts: the host folder is mounted into the VM', async (ctx) => {
    const { expect } = ctx;
    const hostDir = mkdtempSync(path.join(shared, 'mount-'));
    writeFile(path.join(hostDir, '.anklet_ci_mount_probe'), 'anklet-ci-mount-ok');
    const w = await makeWorld(ctx, [`host_to_guest_folder_mounts: ["${hostDir}:anklet_mount_test"]`]);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('mount'), name: 'mount', durationMs: 300 });
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    await anklet.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    const mounted = anklet.lines.find(msg('mounted host folder into guest vm'));
    expect(String(mounted?.mountSpec)).toContain('anklet_mount_test');
    expect(anklet.lines.some(msg('handling anka workflow run job'))).toBe(true);
  });

  it('registration_method: token registers with config.sh through the shipped scripts (token on stdin)', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx, ['registration_method: token']);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('token-mode'), name: 'token-mode', durationMs: 300 });
    const done = await w.sim.control.waitForJob(job.id, 'completed', 90_000);
    expect(done.conclusion).toBe('success');
    expect(done.runner_name).toMatch(/^anklet-vm-/);
    await anklet.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    expect(anklet.lines.some(msg('job found registered runner and is now in progress'))).toBe(true);
    // The registration URL, name and labels are arguments; the token is not.
    const register = w.anka.calls().find((c) => c.argv.some((a) => a.endsWith('register-runner.bash')) && c.argv.includes('-'));
    expect(register?.argv).toContain(`${new URL(w.sim.url).origin}/acme`);
  });

  it('first SIGINT before the runner runs: the job goes back with attempts unchanged and the VM is deleted', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    w.anka.setFaults([{ command: 'run', delayMs: 4000 }]);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('sigint'), name: 'sigint' });
    await anklet.waitFor(msg('installing github runner inside of vm'), { timeoutMs: 60_000 });
    anklet.signal('SIGINT');
    expect((await anklet.exited).code).toBe(0);
    const stored = await w.store.get('acme', String(job.id));
    expect(stored).toMatchObject({ attempts: 0, phase: 'queued' });
    w.sim.control.cancelRun(job.run_id);
  });

  it('leaves a job too big for this host in the queue without spending attempts', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('huge', '64c512r'), name: 'huge' });
    await anklet.waitFor(msg('host does not have enough resources to run vm'), { timeoutMs: 60_000 });
    await anklet.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    const stored = await w.store.get('acme', String(job.id));
    expect(stored?.attempts).toBe(0);
    expect(stored?.owner).toBeUndefined();
    anklet.signal('SIGINT');
    expect((await anklet.exited).code).toBe(0);
    w.sim.control.cancelRun(job.run_id);
  });

  it('first SIGINT during the template pull: the job goes back with attempts unchanged, no VM is made', async (ctx) => {
    const { expect } = ctx;
    // A host without the template, and a slow pull.
    const w = await makeWorld(ctx, [''], { localTag: null });
    w.anka.setFaults([{ command: 'registry pull', delayMs: 8000 }]);
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('sigint-pull'), name: 'sigint-pull' });
    await anklet.waitFor(msg('handling anka workflow run job'), { timeoutMs: 60_000 });
    // The pull has begun (anka-sim logs every call as it starts).
    await until(() => w.anka.calls().some((c) => c.argv.includes('registry') && c.argv.includes('pull')), 'the template pull starts');
    anklet.signal('SIGINT');
    expect((await anklet.exited).code).toBe(0);
    expect(await w.store.get('acme', String(job.id))).toMatchObject({ attempts: 0, phase: 'queued' });
    expect(anklet.lines.some(msg('vm started'))).toBe(false);
    w.sim.control.cancelRun(job.run_id);
  });

  it('start-up leaves anklet-vm-* VMs that are not provably its own', async (ctx) => {
    const { expect } = ctx;
    const w = await makeWorld(ctx);
    // A Go-style name, or another handler's: no token of this instance, so not ours to delete.
    w.ankaCli('clone', TEMPLATE, 'anklet-vm-orphan-1');
    const anklet = w.start();
    await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(anklet.lines.some(msg('deleting orphaned vm that no job owns'))).toBe(false);
    expect(w.ankletVms().map((vm) => vm.name)).toEqual(['anklet-vm-orphan-1']);
    w.ankaCli('delete', '--yes', 'anklet-vm-orphan-1');
  });
});
