import { mkdirSync, mkdtempSync, readdirSync, readFileSync, existsSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createAnkaSimHome } from '@anklet/anka-sim';
import type { JobStore, TimelineEvent } from '@anklet/core';
import { startGitHubSim } from '@anklet/github-sim';
import { readJobsView } from '@anklet/metrics';
import { createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_SH, RUN_SH, RUNNER_CLI, msg, runCli } from '../../../apps/anklet/test/helpers.js';
import { GiB, TEMPLATE, withInstalledPlugins } from './setup.js';
import { ankletVms, hostConfig, prometheusOf, startHost, type World } from './world.js';

/**
 * Runner diagnostics (issue #18 item 5), with the packed plugins and the real `anklet` binary on
 * anka-sim, github-sim and Redis. One host, two handlers, five jobs at once: a runner GitHub never
 * gives its job (registration timeout), a runner that exits at once (a template whose run.sh
 * fails), a job that fails in its VM, one that succeeds, and one that fails in a VM whose logs
 * cannot be copied out. Every runner of the main template
 * writes canary secrets into its logs (its JIT config in every form, GitHub tokens, the host's own
 * token) and a 96 KiB log; the kept files must hold none of the secrets and stay within
 * `runner_diagnostics_max_mb`. Old folders planted before the start must be swept.
 */
const { shared, pluginsPath } = withInstalledPlugins('anklet-diagnostics-');
const TOKEN = 'ghp_e2e_diagnostics_canary_host_token_0001';
const CANARY_GHS = 'ghs_e2eDiagnosticsCanaryInstallationToken01';
const CANARY_PAT = 'github_pat_11AAAAAAA0e2eDiagnosticsCanaryFineGrained01';
const EARLY_TEMPLATE = '5b0d6c1e-7a52-4c47-9d3e-2b8a1f0c9e11';
const MAX_MB = 0.03;
const MAX_BYTES = Math.floor(MAX_MB * 1024 * 1024);
const QUEUE = 'acme';
/** The webhook secret {@link hostConfig} writes. */
const WEBHOOK_SECRET = 'e2e-world-webhook-secret';

/**
 * run.sh of the main template: before the simulated runner starts, it writes what a careless
 * runner or job could print: its JIT config (encoded, decoded, the access token inside), tokens,
 * and a large old log. It also leaves the JIT config in `$CANARY_DIR` on the host (the sim's guest
 * is a host process), so the test knows the exact values to look for.
 */
const CANARY_RUN_SH = RUN_SH.replace(
  'cd "$(dirname "$0")"\n',
  `cd "$(dirname "$0")"
mkdir -p _diag
if [[ -n "$ACTIONS_RUNNER_INPUT_JITCONFIG" ]]; then
  printf '%s\\n' "$ACTIONS_RUNNER_INPUT_JITCONFIG" >> "$CANARY_DIR/jit-configs.txt"
  decoded="$(printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" | base64 -d)"
  access="$(printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const f=JSON.parse(Buffer.from(s,"base64"));console.log(JSON.parse(Buffer.from(f[".credentials"],"base64")).data.accessToken)})')"
  echo "canary jit: $ACTIONS_RUNNER_INPUT_JITCONFIG"
  echo "canary decoded: $decoded"
  echo "[2026-01-01 00:00:00Z INFO Runner] canary access token: $access" >> _diag/Runner_20260101-000000-utc.log
  echo "[2026-01-01 00:00:00Z INFO Runner] canary settings: $decoded" >> _diag/Runner_20260101-000000-utc.log
fi
echo "canary tokens: ${TOKEN} ${CANARY_GHS} ${CANARY_PAT} Authorization: Bearer ${CANARY_GHS}"
echo "[2026-01-01 00:00:00Z INFO Runner] canary tokens: ${TOKEN} ${CANARY_GHS} ${CANARY_PAT}" >> _diag/Runner_20260101-000000-utc.log
head -c 98304 /dev/zero | tr '\\0' 'x' | fold -w 120 > _diag/Worker_20260101-000000-utc.log
touch -t 202601010000 _diag/Worker_20260101-000000-utc.log _diag/Runner_20260101-000000-utc.log
`,
);
/** run.sh of a runner that exits before it ever connects (a runner too old to take jobs). */
const EARLY_RUN_SH = `#!/usr/bin/env bash
cd "$(dirname "$0")"
mkdir -p _diag
echo "[2026-01-01 00:00:00Z ERR  Runner] Runner version v2.100.0 is deprecated and cannot receive messages." >> "_diag/Runner_$(date -u +%Y%m%d-%H%M%S)-utc.log"
echo "An error occurred: Runner version v2.100.0 is deprecated and cannot receive messages." >&2
exit 1
`;
const files = (run: string) => ({ 'actions-runner/run.sh': { content: run, mode: 0o755 }, 'actions-runner/config.sh': { content: CONFIG_SH, mode: 0o755 } });

let w: World;
let workDir: string;
let canaryDir: string;
let config: string;

beforeAll(async () => {
  canaryDir = mkdtempSync(path.join(shared, 'canary-'));
  const home = mkdtempSync(path.join(shared, 'home-'));
  workDir = path.join(home, 'work');
  const anka = createAnkaSimHome({
    registry: {
      pullDurationMs: 100,
      templates: [
        { name: 'anklet', uuid: TEMPLATE, tags: [{ tag: '1c2r', cpuCores: 1, ramBytes: 2 * GiB, imageSizeBytes: 5 * GiB, files: files(CANARY_RUN_SH) }] },
        { name: 'early', uuid: EARLY_TEMPLATE, tags: [{ tag: '1c2r', cpuCores: 1, ramBytes: 2 * GiB, imageSizeBytes: 5 * GiB, files: files(EARLY_RUN_SH) }] },
      ],
    },
    templates: [
      { name: 'anklet', uuid: TEMPLATE, tag: '1c2r', files: files(CANARY_RUN_SH) },
      { name: 'early', uuid: EARLY_TEMPLATE, tag: '1c2r', files: files(EARLY_RUN_SH) },
    ],
    guestEnv: { GITHUB_SIM_RUNNER: RUNNER_CLI, CANARY_DIR: canaryDir },
  });
  const [redis, receiverPort] = await Promise.all([startRedisServer({ allowExternal: false }), findFreePort()]);
  const sim = await startGitHubSim({ tokens: [TOKEN], hooks: [{ org: 'acme', url: `http://127.0.0.1:${receiverPort}/jobs/v1/receiver`, secret: WEBHOOK_SECRET }] });
  const store: JobStore = createRedisJobStore({ redis: new Redis(redis.url), prefix: 'anklet' });
  w = { redis, anka, macs: [anka], sim, store, receiverPort, runs: [], homes: [home], token: TOKEN, pluginsPath, shared };

  // Planted before the start: one folder past runner_diagnostics_keep_hours (168), one within it.
  const plant = (job: string, hoursAgo: number) => {
    const dir = path.join(workDir, 'diagnostics', job, 'attempt-1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'anklet-runner.log'), 'planted\n');
    const at = new Date(Date.now() - hoursAgo * 3_600_000);
    utimesSync(dir, at, at);
  };
  plant('1000001', 200);
  plant('1000002', 100);

  const handler = `registration_timeout_seconds: 10
job_retry_attempts: 1
retry_backoff_seconds: 0.5
runner_diagnostics_max_mb: ${MAX_MB}`;
  config = await hostConfig(w, home, { GITHUB_HANDLER1: handler, GITHUB_HANDLER2: handler }, true);
  writeFileSync(config, `work_dir: ${workDir}\n${readFileSync(config, 'utf8')}`);
  startHost(w, config, home);
  await w.runs[0]!.waitFor(msg('github handler started'), { count: 2, timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  if (!w) return;
  try {
    for (const run of w.runs) {
      if (run.running) run.signal('SIGTERM');
      await run.exited;
    }
    expect(ankletVms(w.anka)).toEqual([]);
  } finally {
    await w.store.close();
    await w.sim.close();
    await w.redis.stop();
    w.anka.remove();
  }
}, 60_000);

const labels = (template: string, name: string) => [`anka-template:${template}`, 'anka-template-tag:1c2r', `${name}-0`];

/** Resolves with the job's timeline once `done` says so (looked at every 250 ms); rejects after `timeoutMs`. */
async function timelineUntil(jobId: number, done: (events: ReadonlyArray<TimelineEvent>) => boolean, timeoutMs = 90_000): Promise<ReadonlyArray<TimelineEvent>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = (await w.store.getTimeline!(QUEUE, String(jobId)))?.events ?? [];
    if (done(events)) return events;
    if (Date.now() > deadline) throw new Error(`timed out; timeline of ${jobId}: ${events.map((e) => e.type).join(', ')}; host said: ${w.runs[0]!.lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every file under `dir`, relative, with its content. */
function filesUnder(dir: string, prefix = ''): Array<{ rel: string; abs: string; text: string }> {
  const out: Array<{ rel: string; abs: string; text: string }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...filesUnder(abs, rel));
    else out.push({ rel, abs, text: readFileSync(abs, 'utf8') });
  }
  return out;
}

/** The sum of `anklet_runner_diagnostics_kept_total{reason}` over every handler's series. */
function keptCount(metrics: string, reason: string): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    const m = /^anklet_runner_diagnostics_kept_total\{([^}]*)\} (\d+)/.exec(line);
    if (m && m[1]!.includes(`reason="${reason}"`)) sum += Number(m[2]);
  }
  return sum;
}

const kept = (events: ReadonlyArray<TimelineEvent>) => events.filter((e) => e.type === 'diagnostics_kept');
const isFinished = (events: ReadonlyArray<TimelineEvent>) => events.some((e) => e.type === 'finished');

describe('runner diagnostics', () => {
  // The jobs run at once; the first takes the registration race (its runner registers and
  // never gets the job), so it is dispatched alone and the others once its runner is registered.
  let timeoutJob: number;
  let earlyJob: number;
  let failedJob: number;
  let successJob: number;
  let brokenCopyJob: number;
  let results: Record<string, ReadonlyArray<TimelineEvent>>;

  beforeAll(async () => {
    w.sim.control.setRegistrationRace({ next: 1 });
    timeoutJob = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(TEMPLATE, 'diag-timeout'), name: 'diag-timeout', durationMs: 500 }).id;
    await timelineUntil(timeoutJob, (events) => events.some((e) => e.type === 'runner_registered'));
    earlyJob = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(EARLY_TEMPLATE, 'diag-early'), name: 'diag-early', durationMs: 500 }).id;
    failedJob = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(TEMPLATE, 'diag-failed'), name: 'diag-failed', durationMs: 500, conclusion: 'failure' }).id;
    successJob = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(TEMPLATE, 'diag-success'), name: 'diag-success', durationMs: 500 }).id;
    // A job that fails in a VM whose logs cannot be copied out: every `anka cp` naming its VM
    // fails from the moment its runner is registered (it runs 4 s, so it is still running then).
    brokenCopyJob = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(TEMPLATE, 'diag-broken-copy'), name: 'diag-broken-copy', durationMs: 4000, conclusion: 'failure' }).id;
    const brokenVm = (await timelineUntil(brokenCopyJob, (events) => events.some((e) => e.type === 'runner_registered'), 150_000)).find((e) => e.type === 'vm_cloned')!.detail!;
    w.anka.setFaults([{ command: 'cp', vm: brokenVm, error: { message: 'failed to copy: Input/output error' } }]);
    const all = await Promise.all([timeoutJob, earlyJob, failedJob, successJob, brokenCopyJob].map((id) => timelineUntil(id, isFinished, 150_000)));
    results = { timeout: all[0]!, early: all[1]!, failed: all[2]!, success: all[3]!, brokenCopy: all[4]! };
  }, 180_000);

  const folderOf = (jobId: number) => path.join(workDir, 'diagnostics', String(jobId));

  it('keeps the logs of a runner that never got its job (registration timeout); the successful retry keeps none', () => {
    const events = kept(results.timeout!);
    expect(events).toEqual([expect.objectContaining({ reason: 'registration_timeout', detail: `diagnostics/${timeoutJob}` })]);
    expect(readdirSync(folderOf(timeoutJob))).toEqual(['attempt-1']);
    const got = filesUnder(path.join(folderOf(timeoutJob), 'attempt-1'));
    const runnerLog = got.find((f) => /^_diag\/Runner_\d{8}-\d{6}-utc\.log$/.test(f.rel) && !f.rel.includes('20260101'));
    expect(runnerLog?.text, 'the simulated runner\'s own _diag log').toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ INFO Runner\] .*Listening for Jobs$/m);
    expect(got.find((f) => f.rel === 'anklet-runner.log')?.text).toContain('Listening for Jobs');
    expect(results.timeout!.some((e) => e.type === 'completed' && e.conclusion === 'success')).toBe(true);
  });

  it('keeps the logs of a runner that exits early, for each attempt', () => {
    const events = kept(results.early!);
    expect(events.map((e) => [e.reason, e.detail])).toEqual([
      ['registration_timeout', `diagnostics/${earlyJob}`],
      ['registration_timeout', `diagnostics/${earlyJob}`],
    ]);
    expect(readdirSync(folderOf(earlyJob)).sort()).toEqual(['attempt-1', 'attempt-2']);
    for (const attempt of ['attempt-1', 'attempt-2']) {
      const got = filesUnder(path.join(folderOf(earlyJob), attempt));
      expect(got.find((f) => f.rel === 'anklet-runner.log')?.text).toContain('cannot receive messages');
      expect(got.some((f) => f.rel.startsWith('_diag/Runner_') && f.text.includes('is deprecated'))).toBe(true);
    }
    // Given up after job_retry_attempts: the run was cancelled.
    expect(results.early!.some((e) => e.type === 'cancelled')).toBe(true);
  });

  it('keeps the logs of a job that failed in its VM, the worker log included', () => {
    expect(kept(results.failed!)).toEqual([expect.objectContaining({ reason: 'job_failed', detail: `diagnostics/${failedJob}` })]);
    const got = filesUnder(path.join(folderOf(failedJob), 'attempt-1'));
    const worker = got.find((f) => /^_diag\/Worker_\d{8}-\d{6}-utc\.log$/.test(f.rel) && !f.rel.includes('20260101'));
    expect(worker?.text).toMatch(/Job result after all job steps finish: Failed/);
    expect(got.find((f) => f.rel === 'anklet-diagnostics.txt')?.text).toContain('reason: job_failed');
    // The host said where, in a log line.
    const line = w.runs[0]!.lines.find((l) => l.msg === 'runner diagnostics kept' && String(l.folder).endsWith(path.join(String(failedJob), 'attempt-1')));
    expect(line?.folder).toBe(path.join(folderOf(failedJob), 'attempt-1'));
  });

  it('is named by `anklet explain`: the failed attempt, its reason and where the runner log was kept', async () => {
    const run = await runCli(['-c', config, 'explain', String(earlyJob), '--json'], { home: w.homes[0]!, env: w.anka.env, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    const answer = JSON.parse(run.stdout) as { state: string; answer: string; details: string[]; diagnostics?: { path: string } };
    expect(answer.state, answer.answer).toBe('finished');
    expect(answer.diagnostics?.path).toBe(`diagnostics/${earlyJob}`);
    expect(answer.details, answer.answer).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`^failed: runner did not pick the job within 10 s \\(attempt \\d+/\\d+\\), runner log kept at diagnostics/${earlyJob}`))]),
    );
  });

  it('is linked from the jobs view of the finished job', async () => {
    const view = await readJobsView(w.store, { queues: [QUEUE], states: ['finished'], limit: 50 });
    const entry = (id: number) => view.finished.find((j) => j.id === String(id));
    expect(entry(failedJob)?.diagnostics).toBe(`diagnostics/${failedJob}`);
    expect(entry(successJob)?.diagnostics).toBeNull();
  });

  it('keeps nothing for a job that succeeded', () => {
    expect(results.success!.some((e) => e.type === 'completed' && e.conclusion === 'success')).toBe(true);
    expect(kept(results.success!)).toEqual([]);
    expect(existsSync(folderOf(successJob))).toBe(false);
  });

  it('a copy that fails costs the logs only: WARN, the VM deleted all the same, the job\'s outcome unchanged', () => {
    const events = results.brokenCopy!;
    expect(events.some((e) => e.type === 'completed' && e.conclusion === 'failure')).toBe(true);
    expect(kept(events)).toEqual([]);
    expect(events.some((e) => e.type === 'cleaned_up')).toBe(true);
    expect(existsSync(folderOf(brokenCopyJob))).toBe(false);
    const vm = events.find((e) => e.type === 'vm_cloned')!.detail!;
    const warnings = w.runs[0]!.lines.filter((l) => l.msg === 'error copying a runner log out of the vm; going on without it' && l.vmName === vm);
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.every((l) => l.level === 'WARN')).toBe(true);
    expect(w.anka.readState().vms.map((v) => v.name)).not.toContain(vm);
  });

  it('keeps each job within runner_diagnostics_max_mb, the largest file cut with a marker; folders 0700, files 0600', () => {
    for (const job of [timeoutJob, earlyJob, failedJob]) {
      const got = filesUnder(folderOf(job));
      const total = got.reduce((sum, f) => sum + statSync(f.abs).size, 0);
      expect(total, `job ${job}`).toBeLessThanOrEqual(MAX_BYTES);
      for (const f of got) expect(statSync(f.abs).mode & 0o777, f.rel).toBe(0o600);
      for (const dir of [folderOf(job), ...readdirSync(folderOf(job)).map((a) => path.join(folderOf(job), a))]) expect(statSync(dir).mode & 0o777).toBe(0o700);
    }
    expect(statSync(path.join(workDir, 'diagnostics')).mode & 0o777).toBe(0o700);
    const big = filesUnder(path.join(folderOf(failedJob), 'attempt-1')).find((f) => f.rel === '_diag/Worker_20260101-000000-utc.log');
    expect(big?.text).toMatch(/^\[anklet: the start of this file was cut to keep runner_diagnostics_max_mb; \d+ bytes in the VM\]\n/);
    expect(big!.text.length).toBeGreaterThan(1000);
  });

  it('scrubs every canary secret from what is kept, and none reaches the logs or metrics', async () => {
    const jits = readFileSync(path.join(canaryDir, 'jit-configs.txt'), 'utf8').split('\n').filter(Boolean);
    expect(jits.length).toBeGreaterThanOrEqual(4);
    const secrets = [TOKEN, CANARY_GHS, CANARY_PAT];
    for (const jit of jits) {
      const decoded = Buffer.from(jit, 'base64').toString('utf8');
      const credentials = JSON.parse(Buffer.from((JSON.parse(decoded) as Record<string, string>)['.credentials']!, 'base64').toString('utf8')) as { data: { accessToken: string } };
      secrets.push(jit, decoded, credentials.data.accessToken);
    }
    const keptFiles = [timeoutJob, earlyJob, failedJob].flatMap((job) => filesUnder(folderOf(job)));
    // The canaries were there and were scrubbed, not merely left behind.
    const runnerLogs = keptFiles.filter((f) => f.rel.endsWith('/anklet-runner.log') && f.text.includes('canary jit:'));
    expect(runnerLogs.length).toBeGreaterThanOrEqual(2);
    for (const f of runnerLogs) expect(f.text).toMatch(/canary jit: \[REDACTED\]\ncanary decoded: \[REDACTED\]\ncanary tokens: \[REDACTED\] \[REDACTED\] \[REDACTED\] Authorization: Bearer \[REDACTED\]/);
    const metrics = await prometheusOf(config);
    const output = w.runs[0]!.lines.map((l) => JSON.stringify(l)).join('\n');
    for (const secret of secrets) {
      for (const f of keptFiles) expect(f.text.includes(secret), `${secret.slice(0, 12)}… in ${f.rel}`).toBe(false);
      expect(output.includes(secret), `${secret.slice(0, 12)}… in the host's log`).toBe(false);
      expect(metrics.includes(secret)).toBe(false);
    }
    // Summed over the two handlers' series: the timeout job once, the early runner twice; the failed job once.
    expect(keptCount(metrics, 'registration_timeout')).toBe(3);
    expect(keptCount(metrics, 'job_failed')).toBe(1);
  });

  it('sweeps folders older than runner_diagnostics_keep_hours at start and keeps younger ones', () => {
    expect(existsSync(path.join(workDir, 'diagnostics', '1000001'))).toBe(false);
    expect(readFileSync(path.join(workDir, 'diagnostics', '1000002', 'attempt-1', 'anklet-runner.log'), 'utf8')).toBe('planted\n');
    expect(w.runs[0]!.lines.some((l) => l.msg === 'removed runner diagnostics older than runner_diagnostics_keep_hours' && l.removed === 1)).toBe(true);
  });
});
