import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = (file: string): string => {
  const path = fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing: run "pnpm --filter @anklet/github-sim build" first`);
  return path;
};

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The bins' working folders, removed when the test process exits. */
const binDirs = mkdtempSync(join(tmpdir(), 'github-sim-bins-'));
process.once('exit', () => rmSync(binDirs, { recursive: true, force: true }));

/**
 * Starts a package bin as a real child process, in a new temporary folder (`cwd`: the runner
 * writes its `_diag` logs there); `done` resolves when it exits.
 */
export function startBin(bin: 'runner-cli.js' | 'cli.js', args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): { child: ChildProcess; done: Promise<Finished>; output: () => string; cwd: string } {
  const cwd = mkdtempSync(join(binDirs, 'bin-'));
  const child = spawn(process.execPath, [dist(bin), ...args], {
    cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  else child.stdin!.end();
  const done = new Promise<Finished>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, output: () => stdout, cwd };
}
