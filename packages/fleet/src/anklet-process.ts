import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './paths.js';

/** One JSON log line of anklet. */
export type LogLine = Record<string, unknown>;

/** The JSON log lines of an output (other lines are skipped). */
export function jsonLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split('\n')) {
    const parsed = parseLine(line);
    if (parsed) lines.push(parsed);
  }
  return lines;
}

function parseLine(line: string): LogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return undefined;
  }
}

/** A matcher for {@link RunningAnklet.waitFor}: the line whose `msg` is `text`. */
export const msg = (text: string) => (line: LogLine) => line.msg === text;

/** How a finished `anklet` ended, with all it printed. */
export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for a child anklet: an isolated HOME, JSON logs, no inherited ANKLET_* noise. */
export function childEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('ANKLET_') && key !== 'LOG_LEVEL') env[key] = value;
  return { ...env, HOME: home, ...extra };
}

// Every anklet this process started; an exit hook kills what is left, so that neither a failed
// test nor a Ctrl-C'd demo leaves a host running.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** Runs the real `anklet` binary to completion. */
export function runCli(args: string[], options: { home: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(options.home, options.env), cwd: options.cwd ?? options.home });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`anklet ${args.join(' ')} did not exit in time\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A running `anklet` process whose JSON log lines can be awaited and followed. */
export class RunningAnklet {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Run>;
  /** Parsed as they arrive (a long fleet run prints many thousand lines). */
  readonly #lines: LogLine[] = [];
  #partial = '';
  #listeners: Array<(line: LogLine | undefined) => void> = [];

  /** `nodeArgs` go before the CLI (e.g. `--import <module>`); `env` on top of {@link childEnv}. */
  constructor(args: string[], options: { home: string; env?: Record<string, string>; nodeArgs?: string[]; cwd?: string }) {
    this.child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], { env: childEnv(options.home, options.env), cwd: options.cwd ?? options.home });
    track(this.child);
    this.child.stdout!.on('data', (d: Buffer) => {
      const text = d.toString();
      this.stdout += text;
      const parts = (this.#partial + text).split('\n');
      this.#partial = parts.pop() ?? '';
      for (const part of parts) {
        const line = parseLine(part);
        if (!line) continue;
        this.#lines.push(line);
        for (const listener of [...this.#listeners]) listener(line);
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }));
    });
  }

  /** Every JSON log line so far. */
  get lines(): LogLine[] {
    return this.#lines;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Calls `listener` with every JSON log line from now on; returns the unsubscribe function. */
  onLine(listener: (line: LogLine) => void): () => void {
    const wrapped = (line: LogLine | undefined) => {
      if (line) listener(line);
    };
    this.#listeners.push(wrapped);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== wrapped);
    };
  }

  /** Resolves when `count` log lines match, rejects after `timeoutMs` with the output so far. */
  waitFor(match: (line: LogLine) => boolean, options: { count?: number; timeoutMs?: number } = {}): Promise<void> {
    const count = options.count ?? 1;
    return new Promise((resolve, reject) => {
      let seen = this.#lines.filter(match).length;
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for a log line\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, options.timeoutMs ?? 20_000);
      const listener = (line: LogLine | undefined) => {
        if (line && match(line)) seen++;
        if (seen >= count) {
          cleanup();
          resolve();
        }
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== listener);
      };
      if (seen >= count) {
        cleanup();
        resolve();
        return;
      }
      this.#listeners.push(listener);
      void this.exited.then(() => {
        if (!this.#listeners.includes(listener)) return;
        cleanup();
        reject(new Error(`anklet exited before the line appeared\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      });
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}
