import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { hostCoreDir } from '../src/plugins/installer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLI = path.resolve(here, '../dist/cli.js');
export const FIXTURE_PLUGINS = path.join(here, 'fixtures', 'plugins');
export const FIXTURE_CONFIGS = path.join(here, 'fixtures', 'configs');
export const REPO_ROOT = path.resolve(here, '../../..');

const tmpDirs: string[] = [];
afterEach(() => {
  for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temp folder removed after the test. */
export function makeTmp(prefix = 'anklet-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

/** Writes a file (creating folders) and returns its path. */
export function writeFile(file: string, content: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

/** Makes `pluginsPath` hold the host's core (as `anklet plugins install` does) and the named fixture packages. */
export function seedPlugins(pluginsPath: string, fixtures: string[]): void {
  const modules = path.join(pluginsPath, 'node_modules');
  mkdirSync(path.join(modules, '@anklet'), { recursive: true });
  symlinkSync(hostCoreDir(), path.join(modules, '@anklet', 'core'), 'dir');
  for (const name of fixtures) cpSync(path.join(FIXTURE_PLUGINS, name), path.join(modules, name), { recursive: true });
}

/** The JSON log lines of an output (other lines are skipped). */
export function jsonLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

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

/** Runs the real `anklet` binary to completion. */
export function runCli(args: string[], options: { home: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(options.home, options.env), cwd: options.cwd ?? options.home });
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

/** A running `anklet` process whose output can be awaited line by line. */
export class RunningAnklet {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Run>;
  #listeners: Array<() => void> = [];

  constructor(args: string[], options: { home: string; env?: Record<string, string> }) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: childEnv(options.home, options.env), cwd: options.home });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      for (const listener of this.#listeners) listener();
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }));
    });
  }

  get lines(): Array<Record<string, unknown>> {
    return jsonLines(this.stdout);
  }

  /** Resolves when `count` log lines match, rejects after `timeoutMs` with the output so far. */
  waitFor(match: (line: Record<string, unknown>) => boolean, options: { count?: number; timeoutMs?: number } = {}): Promise<void> {
    const count = options.count ?? 1;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.lines.filter(match).length >= count) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for a log line\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, options.timeoutMs ?? 20_000);
      const cleanup = () => {
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== check);
      };
      this.#listeners.push(check);
      void this.exited.then(() => {
        check();
        if (this.#listeners.includes(check)) {
          cleanup();
          reject(new Error(`anklet exited before the line appeared\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
        }
      });
      check();
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

export const msg = (text: string) => (line: Record<string, unknown>) => line.msg === text;

/**
 * Packs workspace packages with `pnpm pack` into `dir` and installs all the tarballs with one
 * `anklet plugins install` (unpublished workspace dependencies must come from tarballs, or npm looks
 * for them on the registry). `packageDirs` are relative to the repository root.
 */
export async function packAndInstall(packageDirs: string[], dir: string, pluginsPath: string): Promise<{ tarballs: string[]; install: Run }> {
  for (const packageDir of packageDirs) {
    execFileSync('pnpm', ['pack', '--pack-destination', dir], { cwd: path.join(REPO_ROOT, packageDir), stdio: 'pipe' });
  }
  const tarballs = readdirSync(dir)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => path.join(dir, f));
  const install = await runCli(['plugins', 'install', ...tarballs, '--plugins-path', pluginsPath], { home: dir, timeoutMs: 240_000 });
  return { tarballs, install };
}
