import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createAnkaSimHome } from '@anklet/anka-sim';
import { startGitHubSim } from '@anklet/github-sim';
import { findFreePort, startRedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RUNNER_CLI, RunningAnklet, runnerFiles, writeFile } from '../../../apps/anklet/test/helpers.js';
import { GiB, TEMPLATE, withInstalledPlugins } from './setup.js';

/**
 * Secrets never reach a child process, a log, a metric or a store value. A real `anklet` (receiver +
 * handler) runs jobs on anka-sim, github-sim and a real Redis with its token and webhook secret
 * given only as environment overrides, holding unique canary values. While the jobs run, every
 * descendant of the host process (`anka`, and what `anka run` starts in the simulated guests) is
 * sampled through /proc; afterwards the logs, the metrics page and every Redis value are read.
 */
const { shared, pluginsPath } = withInstalledPlugins('anklet-canary-');
// The `encoded_jit_config` github-sim hands out is base64 of `{".runner":...`: this is its start.
const JIT_MARKER = Buffer.from('{".runner"').toString('base64').slice(0, 12);

interface Sample {
  readonly pid: number;
  readonly cmdline: string;
  readonly environ: string;
}

/** pid → parent pid, for every process /proc shows. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(Number(entry), ppid);
    } catch {
      // Gone meanwhile.
    }
  }
  return map;
}

/**
 * The cmdline and environ of every descendant of `root` (not `root` itself), and of every process of
 * the simulated guests under `guestDir`: a runner the guest starts in the background leaves the
 * `anka run` that started it and is reparented, so it is found by its guest root, not its parent.
 */
function sampleDescendants(root: number, guestDir: string): Sample[] {
  const byParent = new Map<number, number[]>();
  const all = parents();
  for (const [pid, ppid] of all) byParent.set(ppid, [...(byParent.get(ppid) ?? []), pid]);
  const samples: Sample[] = [];
  const seen = new Set<number>();
  const read = (pid: number, onlyGuests: boolean) => {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').replace(/\0/g, '\n');
      if (onlyGuests && !environ.includes(`ANKA_SIM_GUEST_ROOT=${guestDir}`)) return;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      seen.add(pid);
      samples.push({ pid, cmdline, environ });
    } catch {
      // Exited between the walk and the read.
    }
  };
  const todo = [...(byParent.get(root) ?? [])];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    todo.push(...(byParent.get(pid) ?? []));
    read(pid, false);
  }
  for (const pid of all.keys()) if (pid !== root && !seen.has(pid)) read(pid, true);
  return samples;
}

/** Resolves once a log file of `dir` contains `text` (looked at every 100 ms); rejects after `timeoutMs`. */
async function untilLogged(dir: string, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (readdirSync(dir).some((file) => readFileSync(path.join(dir, file), 'utf8').includes(text))) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${text} in the logs`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every value in a Redis database, as text. */
async function redisDump(url: string): Promise<string> {
  const redis = new Redis(url);
  try {
    const out: string[] = [];
    for (const key of await redis.keys('*')) {
      const type = await redis.type(key);
      out.push(key);
      if (type === 'string') out.push((await redis.get(key)) ?? '');
      else if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') out.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') out.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') out.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
    return out.join('\n');
  } finally {
    redis.disconnect();
  }
}

describe('secrets canary', () => {
  it('token, webhook secret, App key and JIT configs appear in no child process, log, metric or store value', async () => {
    const canary = (what: string) => `canary-${what}-${randomBytes(12).toString('hex')}`;
    const TOKEN = canary('token');
    const SECRET = canary('secret');
    // No GitHub App in this world (github-sim would need its key): the key is only in the
    // environment, under a name that says what it is, where a careless child would inherit it.
    const APP_KEY = `-----BEGIN RSA PRIVATE KEY-----\n${canary('appkey')}\n-----END RSA PRIVATE KEY-----`;
    const home = path.join(shared, 'home');
    const logDir = path.join(home, 'logs');
    mkdirSync(logDir, { recursive: true });
    const anka = createAnkaSimHome({
      registry: { pullDurationMs: 200, templates: [{ name: 'anklet', uuid: TEMPLATE, tags: [{ tag: '1c2r', cpuCores: 1, ramBytes: 2 * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles }] }] },
      templates: [{ name: 'anklet', uuid: TEMPLATE, tag: '1c2r', files: runnerFiles }],
      guestEnv: { GITHUB_SIM_RUNNER: RUNNER_CLI },
    });
    const [redis, port, metricsPort] = await Promise.all([startRedisServer({ allowExternal: false }), findFreePort(), findFreePort()]);
    const sim = await startGitHubSim({ tokens: [TOKEN], hooks: [{ org: 'acme', url: `http://127.0.0.1:${port}/jobs/v1/receiver`, secret: SECRET }] });
    let anklet: RunningAnklet | undefined;
    try {
      // No secret in the file: they come from the environment only.
      const config = writeFile(
        path.join(home, 'config.yml'),
        `plugins_path: ${pluginsPath}
global_database_url: 127.0.0.1
global_database_port: ${redis.port}
log:
  file_dir: ${logDir}
  split_by_plugin: true
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
  - name: GITHUB_HANDLER1
    plugin: github
    owner: acme
    github_base_url: ${sim.url}
    sleep_interval: 1
`,
      );
      anklet = new RunningAnklet(['-c', config], {
        home,
        env: { ...anka.env, ANKLET_GLOBAL_TOKEN: TOKEN, ANKLET_GLOBAL_RECEIVER_SECRET: SECRET, GITHUB_APP_PRIVATE_KEY: APP_KEY },
      });
      // With split_by_plugin the plugins log to their files only.
      await untilLogged(logDir, 'github handler started', 60_000);
      const labels = (name: string) => [`anka-template:${TEMPLATE}`, 'anka-template-tag:1c2r', `${name}-0`];
      // Each job runs 5 s so that a loaded machine still samples its runner while it is alive.
      const jobs = [0, 1, 2, 3].map((i) => sim.control.dispatchJob({ repository: 'acme/app', labels: labels(`canary-${i}`), name: `canary-${i}`, durationMs: 5000 }));

      // Sample the host's descendants until every job is over.
      const sampled = new Map<number, Sample>();
      const leaks: string[] = [];
      const root = anklet.child.pid!;
      let done = false;
      const finished = Promise.all(jobs.map((job) => sim.control.waitForJob(job.id, 'completed', 120_000))).finally(() => (done = true));
      const rootCmdline = readFileSync(`/proc/${root}/cmdline`, 'utf8').replace(/\0/g, ' ');
      while (!done) {
        for (const sample of sampleDescendants(root, anka.dir)) {
          // A child caught between fork and exec still shows the host's own cmdline and
          // environment (the memory it shares with the host); it is sampled again once it runs.
          if (sample.cmdline === rootCmdline) continue;
          sampled.set(sample.pid, sample);
          // The runner itself (run.sh and what it starts) is the JIT config's one recipient: it reads
          // ACTIONS_RUNNER_INPUT_JITCONFIG. On a real host it runs inside the VM; in anka-sim the
          // guest is a host process, so it is told apart here.
          const isRunner = /\brun\.sh\b/.test(sample.cmdline) || sample.cmdline.includes('runner-cli');
          for (const [name, value] of [['token', TOKEN], ['secret', SECRET], ['app key', APP_KEY.split('\n')[1]!], ['jit config', JIT_MARKER]] as const) {
            if (sample.cmdline.includes(value)) leaks.push(`${name} in cmdline of ${sample.pid}: ${sample.cmdline.slice(0, 80)}`);
            if (sample.environ.includes(value) && !(name === 'jit config' && isRunner)) leaks.push(`${name} in environ of ${sample.pid}: ${sample.cmdline.slice(0, 80)}`);
          }
          for (const line of sample.environ.split('\n')) {
            if (/^ANKLET_/.test(line)) leaks.push(`${line.split('=')[0]} in environ of ${sample.pid}`);
          }
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      for (const job of await finished) expect(job.conclusion).toBe('success');
      await untilLogged(logDir, '"job completed"', 30_000);

      // It looked at real children: the `anka` calls and the simulated guests' runners.
      const all = [...sampled.values()];
      expect(all.length, 'child processes sampled').toBeGreaterThanOrEqual(10);
      expect(all.filter((s) => /\banka\b/.test(s.cmdline)).length, 'anka processes sampled').toBeGreaterThanOrEqual(5);
      // The anka-sim guest of a job is a host process too; its runner got the JIT config on stdin.
      expect(all.some((s) => s.cmdline.includes('run.sh') || s.cmdline.includes(RUNNER_CLI)), 'a guest runner sampled').toBe(true);
      // ...and what it needs: PATH, HOME and anka-sim's home.
      const ankaChild = all.find((s) => /\banka\b/.test(s.cmdline))!;
      expect(ankaChild.environ).toMatch(/^PATH=/m);
      expect(ankaChild.environ).toMatch(/^HOME=/m);
      expect(ankaChild.environ).toMatch(/^ANKA_SIM_HOME=/m);
      expect(leaks).toEqual([]);

      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      anklet.signal('SIGTERM');
      const run = await anklet.exited;
      const logs = readdirSync(logDir).map((file) => readFileSync(path.join(logDir, file), 'utf8'));
      expect(logs.join('').length, 'log files written').toBeGreaterThan(0);
      const store = await redisDump(redis.url);
      expect(store.length, 'store values read').toBeGreaterThan(0);
      for (const [where, text] of [['stdout', run.stdout], ['stderr', run.stderr], ['log files', logs.join('\n')], ['metrics', metrics], ['store', store]] as const) {
        for (const value of [TOKEN, SECRET, APP_KEY.split('\n')[1]!, JIT_MARKER]) expect(text.includes(value), `${value.slice(0, 14)} in ${where}`).toBe(false);
      }
    } finally {
      if (anklet && anklet.child.exitCode === null && anklet.child.signalCode === null) {
        anklet.signal('SIGKILL');
        await anklet.exited;
      }
      await sim.close();
      await redis.stop();
      anka.remove();
    }
  }, 240_000);
});
