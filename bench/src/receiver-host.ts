/**
 * "Ours" in bench:receiver: the real `anklet` host (apps/anklet/dist/cli.js) running one
 * `github_receiver` plugin installed by `anklet plugins install`, as a user runs it: its stdout and
 * stderr go to a log file (as launchd's `StandardOutPath` or systemd's append: does), `LOG_LEVEL`
 * unset (INFO JSON lines: one per webhook), the host's metrics service on (prom-client counters,
 * sampler, export to the store every 10 s), and the job store from the host's own factory: the
 * Redis store when `redisPort` is given, else the embedded store in the work dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, childEnv } from '@anklet/fleet';
import { findFreePort } from '@anklet/testing';

export interface ReceiverHostOptions {
  /** Folder of this host: config, work dir and log file. */
  readonly dir: string;
  readonly pluginsPath: string;
  readonly secret: string;
  /** Redis on 127.0.0.1:<port> (`global_database_*`); none means the embedded store. */
  readonly redisPort?: number | undefined;
  /** Writes a V8 CPU profile of the host process here when it stops. */
  readonly profileDir?: string | undefined;
}

export interface ReceiverHost {
  readonly port: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startReceiverHost(options: ReceiverHostOptions): Promise<ReceiverHost> {
  const port = await findFreePort();
  const metricsPort = await findFreePort();
  const home = path.join(options.dir, 'home');
  const workDir = path.join(options.dir, 'work');
  mkdirSync(home, { recursive: true });
  mkdirSync(workDir, { recursive: true });
  let yaml = `plugins_path: ${options.pluginsPath}\nwork_dir: ${workDir}\n`;
  if (options.redisPort !== undefined) yaml += `global_database_url: 127.0.0.1\nglobal_database_port: ${options.redisPort}\n`;
  yaml += `global_receiver_secret: ${options.secret}\nmetrics:\n  port: ${metricsPort}\n  address: 127.0.0.1\nplugins:\n`;
  yaml += `  - name: BENCH_RECEIVER\n    plugin: github_receiver\n    port: ${port}\n    listen_address: 127.0.0.1\n    owner: acme\n    skip_redeliver: true\n`;
  const config = path.join(options.dir, 'config.yml');
  // The secret is in the config file (mode 600), never on the command line or in the environment.
  writeFileSync(config, yaml, { mode: 0o600 });
  const logFile = path.join(options.dir, 'anklet.log');
  const log = openSync(logFile, 'a');
  const profile = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const child = spawn(process.execPath, [...profile, CLI, '-c', config], { env: childEnv(home), cwd: home, stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the anklet host exited before its receiver answered; see ${logFile}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the anklet host's receiver did not answer within 60 s; see ${logFile}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthcheck`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return { port, logFile, child, stop };
}
