import { describe, expect, it } from 'vitest';
import { compareRunnerVersions, runnerChecksumsOf, runnerVersionVerdict } from '../src/index.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-01T00:00:00Z');
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();

describe('runner releases', () => {
  it('compares versions by number, not text', () => {
    expect(compareRunnerVersions('2.330.0', '2.99.0')).toBeGreaterThan(0);
    expect(compareRunnerVersions('v2.330.0', '2.330.0')).toBe(0);
    expect(compareRunnerVersions('2.329.9', '2.330.0')).toBeLessThan(0);
  });

  it('accepts a runner until a newer release is more than 30 days old', () => {
    const releases = [{ version: '2.330.0', publishedAt: ago(10) }, { version: '2.329.0', publishedAt: ago(45) }, { version: '2.328.0', publishedAt: ago(80) }];
    expect(runnerVersionVerdict('2.330.0', releases, NOW)).toEqual({ accepted: true, latest: '2.330.0' });
    // 2.330.0 is newer but only 10 days old: 2.329.0 still gets jobs.
    expect(runnerVersionVerdict('2.329.0', releases, NOW)).toEqual({ accepted: true, latest: '2.330.0' });
    expect(runnerVersionVerdict('2.328.0', releases, NOW)).toEqual({ accepted: false, latest: '2.330.0', outdatedBy: '2.329.0' });
    expect(runnerVersionVerdict('2.300.0', releases, NOW)).toEqual({ accepted: false, latest: '2.330.0', outdatedBy: '2.328.0' });
  });

  it('reads the SHA-256 markers of a release body and skips malformed ones', () => {
    const sha = 'ab'.repeat(32);
    const body = [
      `- actions-runner-osx-arm64-2.330.0.tar.gz <!-- BEGIN SHA osx-arm64 -->${sha.toUpperCase()}<!-- END SHA osx-arm64 -->`,
      '- actions-runner-osx-x64-2.330.0.tar.gz <!-- BEGIN SHA osx-x64 -->not-a-sha<!-- END SHA osx-x64 -->',
      `- <!-- BEGIN SHA linux-x64 -->${sha}<!-- END SHA win-x64 -->`,
    ].join('\r\n');
    expect(runnerChecksumsOf(body)).toEqual({ 'osx-arm64': sha });
    expect(runnerChecksumsOf(null)).toEqual({});
  });
});
