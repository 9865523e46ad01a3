import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { accountJson, iso } from './objects.js';
import { runnerRootFiles, SIM_RUNNER_VERSION } from './runner-files.js';
import type { Account, World } from './world.js';

/** The platforms each simulated runner release has an asset for (`actions-runner-<platform>-<v>.tar.gz`). */
export const RUNNER_PLATFORMS = ['osx-x64', 'osx-arm64', 'linux-x64'] as const;

/** One published release of `actions/runner`. */
export interface RunnerReleaseSeed {
  /** `2.330.0` (the tag is `v2.330.0`). */
  version: string;
  /** How long ago it was published, in days (default 0: now). */
  ageDays?: number;
}

interface Release {
  id: number;
  version: string;
  publishedAt: number;
  /** Asset id and archive per platform; every platform's archive holds the same simulated runner. */
  assets: Map<string, { id: number; name: string; bytes: Buffer; sha256: string; downloads: number }>;
}

/** What the release API and the downloads do on their next requests (the control API sets these). */
export interface RunnerReleaseFaults {
  /** The next N tarball downloads send bytes that do not match the published SHA-256. */
  corruptDownloads?: number;
  /** The next N answers of the releases API are cut-off JSON (status 200). */
  garbleApi?: number;
  /** While true, the releases API and the downloads drop the connection, as an unreachable GitHub would. */
  offline?: boolean;
}

const DAY_MS = 86_400_000;

/** Packs the simulated runner of `version` into a `.tar.gz`, laid out like the real one (`./run.sh`, `./config.sh`). */
function packRunner(version: string): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'github-sim-runner-'));
  try {
    const root = path.join(dir, 'root');
    for (const [name, file] of Object.entries(runnerRootFiles(version))) {
      const target = path.join(root, name);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, file.content);
      chmodSync(target, file.mode);
    }
    const archive = path.join(dir, 'runner.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', root, '.'], { stdio: 'ignore' });
    return readFileSync(archive);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The `actions/runner` releases the sim publishes: the release API answers
 * (`GET /repos/actions/runner/releases[/latest]`), the tarballs behind each asset's
 * `browser_download_url`, a download counter, and the faults a host's runner cache must survive.
 */
export class RunnerReleases {
  readonly #world: World;
  readonly #releases: Release[] = [];
  #nextId = 180_000_000;
  faults: Required<RunnerReleaseFaults> = { corruptDownloads: 0, garbleApi: 0, offline: false };

  constructor(world: World, seeds: ReadonlyArray<RunnerReleaseSeed> = [{ version: SIM_RUNNER_VERSION, ageDays: 10 }]) {
    this.#world = world;
    for (const seed of seeds) this.publish(seed);
  }

  /** Publishes a release; the newest by publication time is `latest`. */
  publish(seed: RunnerReleaseSeed): { version: string; published_at: string } {
    if (!/^\d+\.\d+\.\d+$/.test(seed.version)) throw new Error(`version must look like 2.330.0, got ${JSON.stringify(seed.version)}`);
    if (this.#releases.some((r) => r.version === seed.version)) throw new Error(`release v${seed.version} exists already`);
    const bytes = packRunner(seed.version);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const assets = new Map<string, { id: number; name: string; bytes: Buffer; sha256: string; downloads: number }>();
    for (const platform of RUNNER_PLATFORMS) {
      assets.set(platform, { id: this.#nextId++, name: `actions-runner-${platform}-${seed.version}.tar.gz`, bytes, sha256, downloads: 0 });
    }
    const release: Release = { id: this.#nextId++, version: seed.version, publishedAt: this.#world.now() - (seed.ageDays ?? 0) * DAY_MS, assets };
    this.#releases.push(release);
    this.#releases.sort((a, b) => b.publishedAt - a.publishedAt);
    return { version: release.version, published_at: iso(release.publishedAt) };
  }

  /** Sets the faults (fields left out keep their value). */
  setFaults(faults: RunnerReleaseFaults): Required<RunnerReleaseFaults> {
    this.faults = { ...this.faults, ...Object.fromEntries(Object.entries(faults).filter(([, v]) => v !== undefined)) };
    return this.faults;
  }

  /** Downloads served so far (corrupted ones included), in total and per asset name. */
  downloads(): { total: number; byAsset: Record<string, number> } {
    const byAsset: Record<string, number> = {};
    let total = 0;
    for (const release of this.#releases) {
      for (const asset of release.assets.values()) {
        if (asset.downloads > 0) byAsset[asset.name] = asset.downloads;
        total += asset.downloads;
      }
    }
    return { total, byAsset };
  }

  /** The published releases, newest first. */
  list(): Array<{ version: string; published_at: string; sha256: string }> {
    return this.#releases.map((r) => ({ version: r.version, published_at: iso(r.publishedAt), sha256: [...r.assets.values()][0]!.sha256 }));
  }

  /** The release API's JSON (the `release` schema), newest first. */
  releasesJson(): Array<Record<string, unknown>> {
    return this.#releases.map((r) => this.#json(r));
  }

  /** The tarball behind a download URL, or undefined when no asset has that name. */
  download(version: string, name: string): Buffer | undefined {
    const asset = [...(this.#releases.find((r) => r.version === version)?.assets.values() ?? [])].find((a) => a.name === name);
    if (!asset) return undefined;
    asset.downloads++;
    if (this.faults.corruptDownloads > 0) {
      this.faults.corruptDownloads--;
      // Same length, different bytes: only the checksum tells them apart.
      const corrupted = Buffer.from(asset.bytes);
      const middle = corrupted.length >> 1;
      corrupted[middle] = (corrupted[middle] ?? 0) ^ 0xff;
      return corrupted;
    }
    return asset.bytes;
  }

  #json(release: Release): Record<string, unknown> {
    const api = this.#world.apiBaseUrl;
    const html = this.#world.settings.htmlBaseUrl;
    const tag = `v${release.version}`;
    const at = iso(release.publishedAt);
    // Runner releases are published by the Actions bot; only the fields the schema needs matter.
    // URLs carry the login percent-encoded (`github-actions%5Bbot%5D`), as GitHub's do.
    const author = Object.fromEntries(
      Object.entries(accountJson(this.#world, { login: 'github-actions[bot]', id: 41898282, type: 'Bot' } as unknown as Account))
        .map(([key, value]) => [key, key !== 'login' && typeof value === 'string' ? value.replace('github-actions[bot]', 'github-actions%5Bbot%5D') : value]),
    );
    const assets = [...release.assets.values()].map((asset) => ({
      url: `${api}/repos/actions/runner/releases/assets/${asset.id}`,
      id: asset.id,
      node_id: `RA_${asset.id}`,
      name: asset.name,
      label: '',
      uploader: author,
      content_type: 'application/octet-stream',
      state: 'uploaded',
      size: asset.bytes.length,
      digest: `sha256:${asset.sha256}`,
      download_count: asset.downloads,
      created_at: at,
      updated_at: at,
      // Real downloads live on the web host (github.com/.../releases/download/...); the sim serves both.
      browser_download_url: `${api}/actions/runner/releases/download/${tag}/${asset.name}`,
    }));
    return {
      url: `${api}/repos/actions/runner/releases/${release.id}`,
      assets_url: `${api}/repos/actions/runner/releases/${release.id}/assets`,
      upload_url: `https://uploads.github.com/repos/actions/runner/releases/${release.id}/assets{?name,label}`,
      html_url: `${html}/actions/runner/releases/tag/${tag}`,
      id: release.id,
      author,
      node_id: `RE_${release.id}`,
      tag_name: tag,
      target_commitish: 'main',
      name: tag,
      draft: false,
      prerelease: false,
      immutable: false,
      created_at: at,
      updated_at: at,
      published_at: at,
      assets,
      tarball_url: `${api}/repos/actions/runner/tarball/${tag}`,
      zipball_url: `${api}/repos/actions/runner/zipball/${tag}`,
      body: releaseBody(release.version, [...release.assets.entries()].map(([platform, a]) => ({ platform, name: a.name, sha256: a.sha256 })), html),
    };
  }
}

/**
 * A release body in the layout of actions/runner's releases: notes, install commands, and one
 * `<!-- BEGIN SHA <platform> -->hex<!-- END SHA <platform> -->` marker per package, which is where
 * tools read the checksums from.
 */
function releaseBody(version: string, assets: Array<{ platform: string; name: string; sha256: string }>, html: string): string {
  const tag = `v${version}`;
  const lines = [
    '## What\'s Changed',
    `* Simulated runner release ${version} (github-sim)`,
    '',
    '## macOS arm64 (Apple silicon)',
    '',
    '```bash',
    '# Create a folder',
    'mkdir actions-runner && cd actions-runner',
    '# Download the latest runner package',
    `curl -O -L ${html}/actions/runner/releases/download/${tag}/actions-runner-osx-arm64-${version}.tar.gz`,
    '# Extract the installer',
    `tar xzf ./actions-runner-osx-arm64-${version}.tar.gz`,
    '```',
    '',
    '## SHA-256 Checksums',
    '',
    'The SHA-256 checksums for the packages included in this build are shown below:',
    '',
    ...assets.map((a) => `- ${a.name} <!-- BEGIN SHA ${a.platform} -->${a.sha256}<!-- END SHA ${a.platform} -->`),
  ];
  return lines.join('\r\n');
}
