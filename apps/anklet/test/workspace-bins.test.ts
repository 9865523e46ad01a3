import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers.js';

/**
 * `pnpm install` links every workspace package's bins into its dependents before anything is built:
 * a bin that points into dist/ makes a fresh clone print "Failed to create bin". Every bin must be
 * a file committed to the repository (a shim that imports dist).
 */
describe('workspace bins', () => {
  it('point at committed files with a node shebang, never into dist/', () => {
    const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n'));
    const manifests = [...tracked].filter((f) => /^(apps|packages|examples)\/[^/]+\/package\.json$/.test(f) || f === 'bench/package.json');
    const bins: string[] = [];
    for (const manifest of manifests) {
      const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, manifest), 'utf8')) as { name: string; private?: boolean; bin?: string | Record<string, string> };
      if (!pkg.bin) continue;
      const entries = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : pkg.bin;
      for (const [name, target] of Object.entries(entries)) {
        const file = path.posix.join(path.dirname(manifest), target);
        bins.push(`${pkg.name}:${name}`);
        // Only packages others depend on get their bins linked; a private leaf (the demo) may point at dist.
        if (pkg.private) continue;
        expect(tracked.has(file), `${pkg.name} bin ${name} -> ${target} is not a committed file`).toBe(true);
        expect(readFileSync(path.join(REPO_ROOT, file), 'utf8').startsWith('#!/usr/bin/env node\n'), file).toBe(true);
      }
    }
    expect(bins).toEqual(expect.arrayContaining(['anklet:anklet', '@anklet/github-sim:github-sim', '@anklet/anka-sim:anka']));
  });
});
