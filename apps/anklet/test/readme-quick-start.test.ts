import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEnv, makeTmp, REPO_ROOT } from './helpers.js';

/**
 * The "set up one host by hand" block of the top-level README, run as written by bash from the
 * repository root: only `/tmp/anklet-demo` becomes a temp folder, and `pnpm install` / `pnpm build`
 * are left to the test run (the packages are built before tests). The last line, anklet itself,
 * runs until the example plugin has said hello twice, then Ctrl-C (SIGINT) must stop it with exit 0.
 * It runs with an empty HOME, which must still be empty afterwards: the example writes only inside
 * its own folder (the plugins, npm's cache, the simulated Anka, anklet's work_dir).
 */
function quickStart(): string[] {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('/tmp/anklet-demo'));
  if (!block) throw new Error('README.md: no sh block with /tmp/anklet-demo');
  return block.split('\n');
}

describe('README quick start', () => {
  it('runs as written: pack and install the example plugin, simulated anka, validate, run, Ctrl-C', async () => {
    const lines = quickStart();
    expect(lines.slice(0, 2)).toEqual(['pnpm install', 'pnpm build']);
    const dir = makeTmp('anklet-demo-');
    const body = lines.slice(2).join('\n').replaceAll('/tmp/anklet-demo', dir).trimEnd().split('\n');
    const last = body.pop()!;
    expect(last).toMatch(/^LOG_LEVEL=dev node apps\/anklet\/dist\/cli\.js -c \S+\/config\.yml$/);
    // `exec` makes bash become anklet, so the SIGINT below reaches anklet as Ctrl-C would.
    const script = ['set -euo pipefail', ...body, `exec ${last.replace(/^LOG_LEVEL=dev /, 'env LOG_LEVEL=dev ')}`].join('\n');
    const home = makeTmp('anklet-home-');
    const child = spawn('bash', ['-c', script], { cwd: REPO_ROOT, env: childEnv(home) });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const greeted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no hello within 200 s:\n${output}`)), 200_000);
      const check = () => {
        if ((output.match(/hello from HELLO1/g) ?? []).length >= 2) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', check);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the quick start ended early:\n${output}`));
      });
    });
    await greeted;
    expect(output).toContain('installed anklet-plugin-hello@0.1.0 (handler)');
    expect(output).toMatch(/config OK: \S+\/config\.yml\n[\s\S]*HELLO1: anklet-plugin-hello → anklet-plugin-hello@0\.1\.0 \(handler\)/);
    child.kill('SIGINT');
    expect(await exited, output).toBe(0);
    expect(output).toContain('anklet (and all plugins) shut down');
    expect(readdirSync(home, { recursive: true }), 'the README example wrote into HOME').toEqual([]);
    // What anklet keeps (the embedded store, each plugin's data) went to work_dir, in the folder.
    expect(existsSync(path.join(dir, 'work', 'store'))).toBe(true);
    expect(existsSync(path.join(dir, 'work', 'data', 'HELLO1'))).toBe(true);
  }, 240_000);
});
