import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('README examples', () => {
  it('the quickstart in the README is examples/quickstart.mjs, and it runs', async () => {
    const example = readFileSync(`${root}/examples/quickstart.mjs`, 'utf8');
    expect(readFileSync(`${root}/README.md`, 'utf8')).toContain(example.trim());
    // The example imports the package by name, as a user would; Node resolves it to dist/.
    const { stdout } = await promisify(execFile)(process.execPath, ['examples/quickstart.mjs'], { cwd: root });
    expect(stdout).toBe([
      'webhook workflow_job.queued',
      'webhook workflow_job.in_progress',
      'webhook workflow_job.completed',
      'runner completed: job matches, success',
      'queued=200 in_progress=200 completed=200',
      '',
    ].join('\n'));
  });
});
