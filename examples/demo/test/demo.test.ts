import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/main.js');

/** Runs the demo's entry as `pnpm demo` does after its build (stdout is a pipe: plain event lines). */
function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pnpm demo', () => {
  for (const args of [[], ['--redis']]) {
    it(`${args.join(' ') || '(embedded)'}: every job ends as expected, nothing is left behind, exit 0`, async () => {
      const run = await runDemo(args);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(/^JOB +EXPECTED +CONCLUSION +OK +HOST/m);
      for (const [job, conclusion] of [['build', 'success'], ['ui-tests', 'failure'], ['old-xcode', 'cancelled']]) {
        expect(run.stdout).toMatch(new RegExp(`^${job} +${conclusion} +${conclusion} +yes `, 'm'));
      }
      expect(run.stdout).toContain('left behind: 0 VMs, 0 runners, 0 claimed jobs');
      expect(run.stdout).toMatch(/demo passed: \d+ jobs/);
      expect(run.stdout).toMatch(/http:\/\/127\.0\.0\.1:\d+\/metrics/);
      if (args.includes('--redis')) {
        expect(run.stdout).toContain('`anklet status`');
        expect(run.stdout).toMatch(/^ +QUEUE +QUEUED/m);
      }
    });
  }
});
