import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '@anklet/core';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunnerCache } from '../src/runner-cache.js';

/** Log lines as `level msg`, for assertions. */
function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: (msg) => lines.push(`debug ${msg}`),
    info: (msg) => lines.push(`info ${msg}`),
    warn: (msg, fields) => lines.push(`warn ${msg} ${String(fields?.reason ?? '')}`),
    error: (msg) => lines.push(`error ${msg}`),
    child: () => logger,
    addSecret: () => undefined,
  };
  return logger;
}

/** The host runner cache against github-sim over real HTTP: what the end-to-end test does not reach. */
describe('RunnerCache', () => {
  let sim: GitHubSim;
  let dir: string;
  let requests: string[];
  let lines: string[];
  let log: Logger;

  beforeEach(async () => {
    requests = [];
    lines = [];
    log = recordingLogger(lines);
    sim = await startGitHubSim({ log: (line) => requests.push(line) });
    dir = mkdtempSync(path.join(tmpdir(), 'runner-cache-'));
  });
  afterEach(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const releaseLookups = (status: number) => requests.filter((r) => r.includes('GET /repos/actions/runner/releases ->') && r.includes(`-> ${status}`)).length;

  it('shares one download between concurrent callers, asks again with If-None-Match (304), and keeps the newest two releases', async () => {
    const cache = new RunnerCache({ dir, apiBaseUrl: sim.url, checkIntervalMs: 0 });
    await cache.refresh(log);
    // Nothing changed (no release, no download, whose count is part of the answer): 304.
    await cache.refresh(log);
    expect(releaseLookups(200), requests.join('\n')).toBe(1);
    expect(releaseLookups(304)).toBe(1);

    const got = await Promise.all(Array.from({ length: 5 }, () => cache.runnerFor('osx-arm64', log)));
    expect(new Set(got.map((g) => g?.version))).toEqual(new Set(['2.330.0']));
    expect(sim.control.runnerReleaseState().downloads.total).toBe(1);

    sim.control.publishRunnerRelease({ version: '2.331.0' });
    expect((await cache.runnerFor('osx-arm64', log))?.version).toBe('2.331.0');
    sim.control.publishRunnerRelease({ version: '2.332.0' });
    expect((await cache.runnerFor('osx-arm64', log))?.version).toBe('2.332.0');
    expect(readdirSync(dir).filter((d) => /^\d/.test(d)).sort()).toEqual(['2.331.0', '2.332.0']);
    // A new cache on the same folder (a restart) knows the releases and the ETag.
    const again = new RunnerCache({ dir, apiBaseUrl: sim.url, checkIntervalMs: 0 });
    expect(again.releases().map((r) => r.version)).toEqual(['2.332.0', '2.331.0', '2.330.0']);
    const before = releaseLookups(304);
    await again.refresh(log);
    await again.refresh(log);
    expect(releaseLookups(304)).toBeGreaterThan(before);
  });

  it('looks up at most once per check interval', async () => {
    const cache = new RunnerCache({ dir, apiBaseUrl: sim.url, checkIntervalMs: 3_600_000 });
    await cache.runnerFor('osx-x64', log);
    sim.control.publishRunnerRelease({ version: '2.331.0' });
    expect((await cache.runnerFor('osx-x64', log))?.version).toBe('2.330.0');
    expect(releaseLookups(200) + releaseLookups(304)).toBe(1);
  });

  it('leaves the cache as it was on a garbled answer or a rate limit, and never keeps a tarball that fails its checksum', async () => {
    const cache = new RunnerCache({ dir, apiBaseUrl: sim.url, checkIntervalMs: 0 });
    await cache.runnerFor('osx-arm64', log);
    const state = readFileSync(path.join(dir, 'state.json'), 'utf8');

    sim.control.publishRunnerRelease({ version: '2.331.0' });
    sim.control.setRunnerReleaseFaults({ garbleApi: 1 });
    expect((await cache.runnerFor('osx-arm64', log))?.version).toBe('2.330.0');
    expect(readFileSync(path.join(dir, 'state.json'), 'utf8')).toBe(state);
    expect(lines).toContain('warn could not read the actions runner releases from GitHub; the runner cache stays as it was unreadable_answer');

    // Every try of the new release is corrupted: none is kept, the old one still serves.
    sim.control.setRunnerReleaseFaults({ corruptDownloads: 3 });
    const fresh = new RunnerCache({ dir, apiBaseUrl: sim.url, checkIntervalMs: 0 });
    expect((await fresh.runnerFor('osx-arm64', log))?.version).toBe('2.330.0');
    expect(lines.filter((l) => l.startsWith('error downloaded actions runner does not match'))).toHaveLength(3);
    expect(existsSync(path.join(dir, '2.331.0', 'actions-runner-osx-arm64-2.331.0.tar.gz'))).toBe(false);
    expect(readdirSync(path.join(dir, '2.331.0'))).toEqual([]);

    const known = readFileSync(path.join(dir, 'state.json'), 'utf8');
    sim.control.publishRunnerRelease({ version: '2.332.0' });
    sim.control.injectRateLimit({ kind: 'primary', count: 1, match: 'actions/runner/releases' });
    // 2.332.0 stays unknown; the release known before (whose download now works) is used.
    expect((await fresh.runnerFor('osx-arm64', log))?.version).toBe('2.331.0');
    expect(readFileSync(path.join(dir, 'state.json'), 'utf8')).toBe(known);
    expect(lines).toContain('warn could not read the actions runner releases from GitHub; the runner cache stays as it was rate_limited');
  }, 30_000);
});
