import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEnv, CLI, makeTmp, REPO_ROOT, writeFile } from './helpers.js';

/**
 * Every shell block of README.md and docs/*.md marked runnable, run as a reader would: each in an
 * empty folder of its own with an empty HOME, `anklet` on the PATH (this checkout's CLI, as
 * `npm install -g anklet` would put it there), under `bash -eo pipefail`, with a time limit.
 *
 * The marker (CONTRIBUTING.md): a fenced block whose info string is `sh runnable`, optionally with
 * `exit=<code>` (default 0) and `timeout=<seconds>` (default 60). A block right after it with the
 * info string `text output` must be exactly what it printed (stdout, then stderr), with `/path/to`
 * standing for the folder it ran in.
 */
const DOC_FILES = ['README.md', ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

interface RunnableBlock {
  readonly doc: string;
  readonly line: number;
  readonly script: string;
  readonly exit: number;
  readonly timeoutSeconds: number;
  readonly output: string | undefined;
}

/** The runnable blocks of one Markdown file, each with the output block that follows it, if any. */
function runnableBlocks(doc: string, markdown: string): RunnableBlock[] {
  const fences = [...markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    info: m[1]!.trim().split(/\s+/),
    body: m[2]!,
    start: m.index,
    end: m.index + m[0].length,
  }));
  const blocks: RunnableBlock[] = [];
  fences.forEach((fence, i) => {
    if (fence.info[0] !== 'sh' || fence.info[1] !== 'runnable') return;
    const option = (name: string, fallback: number) => Number(fence.info.find((w) => w.startsWith(`${name}=`))?.slice(name.length + 1) ?? fallback);
    const next = fences[i + 1];
    const between = next ? markdown.slice(fence.end, next.start) : '';
    const output = next && next.info[0] === 'text' && next.info[1] === 'output' && between.trim() === '' ? next.body : undefined;
    blocks.push({
      doc,
      line: markdown.slice(0, fence.start).split('\n').length,
      script: fence.body,
      exit: option('exit', 0),
      timeoutSeconds: option('timeout', 60),
      output,
    });
  });
  return blocks;
}

/** A folder with an `anklet` command that runs this checkout's CLI. */
function ankletOnPath(): string {
  const bin = makeTmp('anklet-bin-');
  const shim = writeFile(path.join(bin, 'anklet'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(shim, 0o755);
  return bin;
}

function run(block: RunnableBlock): Promise<{ code: number | null; stdout: string; stderr: string; dir: string }> {
  const dir = makeTmp('anklet-doc-');
  const bin = ankletOnPath();
  const env = childEnv(makeTmp('anklet-doc-home-'), { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` });
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-eo', 'pipefail', '-c', block.script], { cwd: dir, env, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      // The whole process group: a block may have started children.
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`${block.doc}:${block.line}: still running after ${block.timeoutSeconds} s\n${stdout}${stderr}`));
    }, block.timeoutSeconds * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, dir });
    });
  });
}

const blocks = DOC_FILES.flatMap((doc) => runnableBlocks(doc, readFileSync(path.join(REPO_ROOT, doc), 'utf8')));

describe('runnable shell blocks of README.md and docs/*.md', () => {
  it('finds the marked blocks, and reads the marker as documented', () => {
    expect(blocks.length).toBeGreaterThan(0);
    const sample = runnableBlocks('x.md', 'a\n```sh runnable exit=1 timeout=5\nfalse\n```\n\n```text output\nno\n```\n```sh\nnot runnable\n```\n');
    expect(sample).toEqual([{ doc: 'x.md', line: 2, script: 'false\n', exit: 1, timeoutSeconds: 5, output: 'no\n' }]);
  });

  for (const block of blocks) {
    const first = block.script.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#')) ?? '';
    it(`${block.doc}:${block.line}: ${first}`, async () => {
      const result = await run(block);
      const printed = `${result.stdout}${result.stderr}`;
      expect(result.code, `${block.doc}:${block.line} printed:\n${printed}`).toBe(block.exit);
      if (block.output !== undefined) expect(printed.replaceAll(result.dir, '/path/to')).toBe(block.output);
    }, (block.timeoutSeconds + 10) * 1000);
  }
});
