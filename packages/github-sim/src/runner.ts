import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJitConfig } from './jit-config.js';
import type { JobConclusion } from './options.js';

/** How the simulated runner registers: a JIT config, or `config.sh`-style arguments. */
export interface SimulatedRunnerOptions {
  /** The `encoded_jit_config` from `generate-jitconfig` (a secret: never pass it on argv). */
  jitConfig?: string;
  registration?: {
    /** `--url`: `https://github.com/owner/repo`, `…/org`, `…/enterprises/slug`, or the same paths on the sim. */
    url: string;
    /** `--token`: a registration token (a secret). */
    token: string;
    name: string;
    labels: string[];
    runnerGroup?: string;
    ephemeral?: boolean;
    replace?: boolean;
    /** Without it the runner adds `self-hosted`, `macOS`, `ARM64`, like the real one on Apple silicon. */
    noDefaultLabels?: boolean;
    /** The sim's base URL when `url` points at github.com; default: `url`'s origin. */
    serverUrl?: string;
  };
  /** Used when neither the dispatch nor the sim's rules choose an outcome. */
  defaultConclusion?: JobConclusion;
  defaultDurationMs?: number;
  /** Stop waiting for a job after this long; default: wait until the registration is deleted. */
  maxIdleMs?: number;
  /** Long-poll length of each job request, in seconds (default 5). */
  pollSeconds?: number;
  /** How often a running job checks for cancellation (default 200 ms). */
  heartbeatMs?: number;
  signal?: AbortSignal;
  /** Progress lines, in the spirit of the real runner's console output. Never includes secrets. */
  log?: (line: string) => void;
  /**
   * The runner's `_diag` folder: like the real runner, it writes `Runner_<time>-utc.log` (the
   * listener) and, once a job comes, `Worker_<time>-utc.log` there. No secret is written.
   */
  diagDir?: string;
}

/** `20261206-025102`, as the real runner names its `_diag` files. */
const fileStamp = (date: Date) => date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/** Appends `[2026-12-06 02:51:02Z INFO <component>] text` lines to one `_diag` file, as the real runner does. */
function diagWriter(dir: string, prefix: 'Runner' | 'Worker', component: string): (line: string, level?: string) => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${prefix}_${fileStamp(new Date())}-utc.log`);
  return (line, level = 'INFO') => {
    const time = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    appendFileSync(file, `[${time} ${level} ${component}] ${line}\n`);
  };
}

export interface SimulatedRunnerResult {
  /**
   * `completed`: ran a job and reported its conclusion. `cancelled`: the run was cancelled while
   * the job ran. `removed`: the registration was deleted before a job came (what a handler's
   * watchdog does after the registration race). `idle-timeout`: `maxIdleMs` passed without a job.
   * `aborted`: the signal fired.
   */
  outcome: 'completed' | 'cancelled' | 'removed' | 'idle-timeout' | 'aborted';
  runnerId: number;
  runnerName: string;
  jobId?: number;
  jobName?: string;
  conclusion?: JobConclusion;
}

class RunnerRemoved extends Error {}

const DEFAULT_LABELS = ['self-hosted', 'macOS', 'ARM64'];

/**
 * What the in-VM scripts start instead of the actions runner: registers with github-sim, takes
 * one job whose `runs-on` labels it satisfies, "runs" it for the planned duration, reports the
 * planned conclusion, and returns. An ephemeral runner is then gone from GitHub's list.
 */
export async function runSimulatedRunner(options: SimulatedRunnerOptions): Promise<SimulatedRunnerResult> {
  const diag = options.diagDir !== undefined ? diagWriter(options.diagDir, 'Runner', 'Runner') : undefined;
  diag?.('Runner is starting (github-sim simulated runner)');
  const print = options.log ?? (() => {});
  const log = (line: string) => {
    print(line);
    diag?.(line);
  };
  const signal = options.signal;
  let serverUrl: string;
  let credential: string;
  let runnerId: number;
  let runnerName: string;

  const call = async (method: string, path: string, body?: unknown, auth?: string): Promise<{ status: number; json: unknown }> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth) headers.authorization = `Bearer ${auth}`;
    // The sim may be restarting or briefly busy; retry connection errors for a few seconds.
    for (let attempt = 0; ; attempt++) {
      try {
        const init: RequestInit = { method, headers };
        if (body !== undefined) init.body = JSON.stringify(body);
        const response = await fetch(`${serverUrl}${path}`, init);
        const text = await response.text();
        return { status: response.status, json: text ? (JSON.parse(text) as unknown) : undefined };
      } catch (error) {
        if (attempt >= 10 || signal?.aborted) throw error;
        await sleep(500);
      }
    }
  };

  if (options.jitConfig !== undefined) {
    const decoded = decodeJitConfig(options.jitConfig);
    serverUrl = decoded.settings.serverUrl;
    credential = decoded.credential;
    runnerId = decoded.settings.agentId;
    runnerName = decoded.settings.agentName;
  } else if (options.registration) {
    const reg = options.registration;
    serverUrl = (reg.serverUrl ?? new URL(reg.url).origin).replace(/\/$/, '');
    if (/^https:\/\/github\.com$/i.test(serverUrl)) {
      throw new Error('the runner URL points at github.com; give the sim address (GITHUB_SIM_URL or --sim-url)');
    }
    const labels = reg.noDefaultLabels ? reg.labels : [...DEFAULT_LABELS, ...reg.labels.filter((l) => !DEFAULT_LABELS.includes(l))];
    const { status, json } = await call('POST', '/_sim/runner/register', {
      url: reg.url, token: reg.token, name: reg.name, labels, runnerGroup: reg.runnerGroup, ephemeral: reg.ephemeral ?? false, replace: reg.replace ?? false,
    });
    if (status !== 201) throw new Error(`registration failed (${status}): ${(json as { message?: string })?.message ?? ''}`);
    const registered = json as { runner_id: number; name: string; credential: string };
    credential = registered.credential;
    runnerId = registered.runner_id;
    runnerName = registered.name;
    log(`√ Runner successfully added (id ${runnerId}, name ${runnerName})`);
  } else {
    throw new Error('give a JIT config or registration arguments');
  }

  const base = { runnerId, runnerName };
  const authed = async (method: string, path: string, body?: unknown) => {
    const result = await call(method, path, body, credential);
    if (result.status === 404 && path !== '/_sim/runner/sessions') throw new RunnerRemoved();
    return result;
  };

  try {
    const session = await authed('POST', '/_sim/runner/sessions');
    if (session.status === 404) throw new RunnerRemoved();
    log('√ Connected to GitHub');
    log(`${new Date().toISOString()}: Listening for Jobs`);

    const idleSince = Date.now();
    let assigned: { job: { id: number; name: string }; plan: { conclusion: JobConclusion; durationMs: number } } | undefined;
    const defaults: Record<string, unknown> = {};
    if (options.defaultConclusion) defaults.conclusion = options.defaultConclusion;
    if (options.defaultDurationMs !== undefined) defaults.durationMs = options.defaultDurationMs;
    while (!assigned) {
      if (signal?.aborted) return { outcome: 'aborted', ...base };
      if (options.maxIdleMs !== undefined && Date.now() - idleSince >= options.maxIdleMs) {
        log('No job arrived in time; exiting');
        await call('DELETE', '/_sim/runner/sessions', undefined, credential).catch(() => undefined);
        return { outcome: 'idle-timeout', ...base };
      }
      let wait = options.pollSeconds ?? 5;
      if (options.maxIdleMs !== undefined) wait = Math.max(0, Math.min(wait, (options.maxIdleMs - (Date.now() - idleSince)) / 1000));
      const { status, json } = await authed('POST', `/_sim/runner/acquire?wait=${wait}`, { defaults });
      if (status === 200) assigned = json as typeof assigned;
      else if (status !== 204) throw new Error(`job request failed with ${status}`);
    }

    const { job, plan } = assigned;
    log(`${new Date().toISOString()}: Running job: ${job.name}`);
    const worker = options.diagDir !== undefined ? diagWriter(options.diagDir, 'Worker', 'Worker') : undefined;
    worker?.(`Job message received: jobId ${job.id}, jobDisplayName ${job.name}`);
    worker?.('Starting the job');
    const heartbeatMs = options.heartbeatMs ?? 200;
    const deadline = Date.now() + plan.durationMs;
    while (Date.now() < deadline) {
      if (signal?.aborted) {
        // A runner told to shut down mid-job fails the job, as the real one does.
        await authed('POST', `/_sim/runner/jobs/${job.id}/complete`, { conclusion: 'failure' }).catch(() => undefined);
        return { outcome: 'aborted', ...base, jobId: job.id, jobName: job.name, conclusion: 'failure' };
      }
      await sleep(Math.min(heartbeatMs, Math.max(0, deadline - Date.now())));
      const beat = await authed('POST', `/_sim/runner/jobs/${job.id}/heartbeat`).catch((error: unknown) => {
        if (error instanceof RunnerRemoved) return { status: 404, json: { status: 'completed', conclusion: 'cancelled' } };
        throw error;
      });
      const state = beat.json as { status: string; conclusion: JobConclusion | null };
      if (state.status === 'completed') {
        log(`${new Date().toISOString()}: Job ${job.name} completed with result: Canceled`);
        return { outcome: 'cancelled', ...base, jobId: job.id, jobName: job.name, conclusion: state.conclusion ?? 'cancelled' };
      }
    }
    await authed('POST', `/_sim/runner/jobs/${job.id}/complete`, { conclusion: plan.conclusion }).catch((error: unknown) => {
      if (!(error instanceof RunnerRemoved)) throw error;
    });
    const word = plan.conclusion === 'success' ? 'Succeeded' : plan.conclusion === 'failure' ? 'Failed' : 'Canceled';
    worker?.(`Job result after all job steps finish: ${word}`, plan.conclusion === 'success' ? 'INFO' : 'ERR ');
    log(`${new Date().toISOString()}: Job ${job.name} completed with result: ${word}`);
    await call('DELETE', '/_sim/runner/sessions', undefined, credential).catch(() => undefined);
    return { outcome: 'completed', ...base, jobId: job.id, jobName: job.name, conclusion: plan.conclusion };
  } catch (error) {
    if (error instanceof RunnerRemoved) {
      log('The runner registration has been deleted from the server; exiting');
      return { outcome: 'removed', ...base };
    }
    throw error;
  }
}
