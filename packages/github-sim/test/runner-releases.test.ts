import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitHubSim, type GitHubSim } from '../src/index.js';
import { openApiErrors, type Json } from './helpers.js';

const TOKEN = 'ghp_runner_releases';

/** The checksum a release body publishes for a platform, read the way tools read it. */
function shaMarker(body: string, platform: string): string | undefined {
  return new RegExp(`<!-- BEGIN SHA ${platform} -->([0-9a-f]{64})<!-- END SHA ${platform} -->`).exec(body)?.[1];
}

describe('actions/runner releases', () => {
  let sim: GitHubSim;
  const get = (p: string, headers: Record<string, string> = {}) => fetch(`${sim.url}${p}`, { headers: { authorization: `token ${TOKEN}`, ...headers } });
  const control = (p: string, body: unknown) => fetch(`${sim.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    sim = await startGitHubSim({ tokens: [TOKEN], runnerReleases: [{ version: '2.329.0', ageDays: 45 }, { version: '2.330.0', ageDays: 10 }] });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('answers the list and latest in the OpenAPI shapes, newest first, with conditional requests', async () => {
    const list = await get('/repos/actions/runner/releases');
    expect(list.status).toBe(200);
    const releases = (await list.json()) as Json[];
    expect(openApiErrors('GET /repos/{owner}/{repo}/releases', 200, releases)).toEqual([]);
    expect(releases.map((r) => r.tag_name)).toEqual(['v2.330.0', 'v2.329.0']);

    const latest = await get('/repos/actions/runner/releases/latest');
    const body = (await latest.json()) as Json;
    expect(openApiErrors('GET /repos/{owner}/{repo}/releases/latest', 200, body)).toEqual([]);
    expect(body.tag_name).toBe('v2.330.0');
    const etag = latest.headers.get('etag')!;
    const again = await get('/repos/actions/runner/releases/latest', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    // A 304 costs no rate limit.
    expect(again.headers.get('x-ratelimit-remaining')).toBe(latest.headers.get('x-ratelimit-remaining'));
  });

  it('serves tarballs that match the SHA-256 markers of the body and hold the simulated runner, and counts downloads', async () => {
    const release = (await (await get('/repos/actions/runner/releases/latest')).json()) as { body: string; assets: Array<{ name: string; browser_download_url: string; digest: string }> };
    const asset = release.assets.find((a) => a.name === 'actions-runner-osx-arm64-2.330.0.tar.gz')!;
    const before = sim.control.runnerReleaseState().downloads.total;
    // No credentials: downloads are public, as on github.com.
    const response = await fetch(asset.browser_download_url);
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(shaMarker(release.body, 'osx-arm64')).toBe(sha);
    expect(asset.digest).toBe(`sha256:${sha}`);
    expect(sim.control.runnerReleaseState().downloads).toMatchObject({ total: before + 1, byAsset: { [asset.name]: 1 } });

    const dir = mkdtempSync(path.join(tmpdir(), 'runner-tarball-'));
    try {
      writeFileSync(path.join(dir, 'runner.tar.gz'), bytes);
      execFileSync('tar', ['-xzf', 'runner.tar.gz'], { cwd: dir });
      expect(readFileSync(path.join(dir, 'run.sh'), 'utf8')).toContain('GITHUB_SIM_RUNNER');
      expect(execFileSync(path.join(dir, 'config.sh'), ['--version'], { encoding: 'utf8' }).trim()).toBe('2.330.0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('publishes a new release through the control API, which changes the ETag', async () => {
    const first = await get('/repos/actions/runner/releases/latest');
    const etag = first.headers.get('etag')!;
    expect((await control('/_sim/runner-releases', { version: '2.331.0' })).status).toBe(201);
    const after = await get('/repos/actions/runner/releases/latest', { 'if-none-match': etag });
    expect(after.status).toBe(200);
    expect(((await after.json()) as Json).tag_name).toBe('v2.331.0');
    expect((await control('/_sim/runner-releases', { version: 'latest' })).status).toBe(400);
  });

  it('corrupts the next download, garbles the next API answer, and goes offline on request', async () => {
    const release = (await (await get('/repos/actions/runner/releases/latest')).json()) as { body: string; assets: Array<{ name: string; browser_download_url: string }> };
    const url = release.assets.find((a) => a.name.includes('osx-x64'))!.browser_download_url;
    expect((await control('/_sim/faults/runner-releases', { corruptDownloads: 1 })).status).toBe(200);
    const hash = async () => createHash('sha256').update(Buffer.from(await (await fetch(url)).arrayBuffer())).digest('hex');
    expect(await hash()).not.toBe(shaMarker(release.body, 'osx-x64'));
    expect(await hash()).toBe(shaMarker(release.body, 'osx-x64'));

    await control('/_sim/faults/runner-releases', { garbleApi: 1 });
    const garbled = await get('/repos/actions/runner/releases/latest');
    expect(garbled.status).toBe(200);
    await expect(garbled.json()).rejects.toThrow();
    expect((await get('/repos/actions/runner/releases/latest')).status).toBe(200);

    await control('/_sim/faults/runner-releases', { offline: true });
    await expect(get('/repos/actions/runner/releases/latest')).rejects.toThrow();
    await expect(fetch(url)).rejects.toThrow();
    await control('/_sim/faults/runner-releases', { offline: false });
    expect((await get('/repos/actions/runner/releases/latest')).status).toBe(200);
    expect((await control('/_sim/faults/runner-releases', { corruptDownloads: -1 })).status).toBe(400);
  });
});
