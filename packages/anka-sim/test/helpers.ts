import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { ankaSimBinPath, createAnkaSimHome, type AnkaSimHome, type AnkaSimOptions, type Envelope } from '../src/index.js';

export interface AnkaResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const homes: AnkaSimHome[] = [];
const scratch: string[] = [];

/** A temporary host directory, removed after the test. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** A fresh simulated host, removed after the test. */
export function makeHome(options: AnkaSimOptions = {}): AnkaSimHome {
  const home = createAnkaSimHome(options);
  homes.push(home);
  return home;
}

afterEach(() => {
  for (const home of homes.splice(0)) home.remove();
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Spawns the real `anka` executable (the built bin) against `home`. */
export function anka(
  home: AnkaSimHome | undefined,
  args: ReadonlyArray<string>,
  options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<AnkaResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, ...home?.env, ...options.env };
    if (!home) delete env.ANKA_SIM_HOME;
    const child = spawn(ankaSimBinPath(), args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ exitCode, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs `anka -j ...` and parses the last non-empty stdout line, as anklet does. */
export async function ankaJson(home: AnkaSimHome | undefined, args: ReadonlyArray<string>, options: { input?: string } = {}) {
  const result = await anka(home, ['-j', ...args], options);
  const lines = result.stdout.split('\n').filter((line) => line.trim() !== '');
  const last = lines.at(-1);
  if (last === undefined) throw new Error(`no JSON from anka ${args.join(' ')}: ${result.stderr}`);
  return { ...result, envelope: JSON.parse(last) as Envelope, lines };
}

export const GiB = 1024 ** 3;

/** A registry with one template in two tags, like the Go anklet's test fleet. */
export function registryHome(options: AnkaSimOptions = {}): AnkaSimHome {
  return makeHome({
    registry: {
      templates: [
        {
          name: 'anklet',
          uuid: '84266873-da90-4e0d-903b-ed0233471f9f',
          tags: [
            { tag: '6c14r', cpuCores: 6, ramBytes: 14 * GiB, imageSizeBytes: 28 * GiB },
            { tag: '6c14r-40gb', cpuCores: 6, ramBytes: 14 * GiB, imageSizeBytes: 40 * GiB },
          ],
        },
      ],
    },
    ...options,
  });
}
