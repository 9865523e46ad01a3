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
      // Every hand-back seen live has its reason from the job's timeline, and so has the cancel.
      const detours = run.stdout.split(/why jobs were handed back, retried or cancelled.*\n/)[1]!.split('\n\n')[0]!;
      const rows = detours.split('\n').filter((l) => /^ {2}\S/.test(l) && !/^ {2}JOB /.test(l)).map((l) => l.trim().split(/ {2,}/));
      const live = [...run.stdout.matchAll(/^ *[\d.]+s {2}(\S+) +handed back /gm)].map((m) => m[1]!);
      for (const job of new Set([...live, ...rows.map((r) => r[0]!)])) {
        expect(rows.filter((r) => r[0] === job && r[1]!.startsWith('handed back')).length, `${job} in\n${detours}`).toBe(live.filter((j) => j === job).length);
      }
      for (const row of rows) expect(row[3], row.join(' | ')).not.toMatch(/^no reason recorded/);
      expect(rows.find((r) => r[0] === 'old-xcode' && r[1] === 'cancelled')?.[3]).toMatch(/^anka_template_or_tag_not_found/);
      if (args.includes('--redis')) {
        expect(run.stdout).toContain('`anklet status`');
        expect(run.stdout).toMatch(/^ +QUEUE +QUEUED/m);
        // The status printed after the run matches the end state: no VM, no handler at work, nothing queued.
        const status = run.stdout.split('`anklet status` (reads the fleet from Redis):\n')[1]!.split('\nstopping the fleet')[0]!;
        const cells = (line: string) => line.trim().split(/\s+/);
        const hosts = status.split('\n').filter((l) => /^ +mac-\d /.test(l)).map(cells);
        expect(hosts.map((h) => h[5]), status).toEqual(['0/2', '0/2']);
        const handlers = status.split('\n').filter((l) => /^ +MAC_\d_HANDLER\d /.test(l)).map(cells);
        expect(handlers.map((h) => h[4]), status).toEqual(['idle', 'idle', 'idle', 'idle']);
        expect(status).toMatch(/^ +acme +0 +0 +0 +0 /m);
      }
    });
  }
});
