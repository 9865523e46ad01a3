import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from '@anklet/core';
import { compareRunnerVersions, runnerChecksumsOf, type RunnerReleaseInfo } from '@anklet/github';
import { z } from 'zod';
import { sleep } from './backoff.js';
import type { HandlerConfig } from './config.js';

/** A runner tarball on this host, checked against its release's SHA-256. */
export interface CachedRunner {
  readonly version: string;
  /** Absolute path of the `.tar.gz`. */
  readonly path: string;
}

/** What the cache knows about one release (kept in `state.json`). */
interface ReleaseRecord {
  version: string;
  publishedAt: string;
  /** Asset per platform (`osx-arm64`): download URL and the SHA-256 the release body publishes. */
  assets: Record<string, { name: string; url: string; sha256: string }>;
}

interface CacheState {
  /** ETag of the last release list read, for `If-None-Match`. */
  etag?: string | undefined;
  /** When GitHub was last asked (epoch ms), answered 200 or 304. */
  checkedAt?: number | undefined;
  /** Newest first. */
  releases: ReleaseRecord[];
}

const stateSchema = z.object({
  etag: z.string().optional(),
  checkedAt: z.number().optional(),
  releases: z.array(z.object({
    version: z.string(),
    publishedAt: z.string(),
    assets: z.record(z.string(), z.object({ name: z.string(), url: z.string(), sha256: z.string() })),
  })),
});

/** The parts of GitHub's `release` objects the cache reads; anything else in the answer is ignored. */
const releasesAnswer = z.array(z.object({
  tag_name: z.string().regex(/^v?\d+\.\d+\.\d+$/),
  draft: z.boolean().optional(),
  prerelease: z.boolean().optional(),
  published_at: z.string().nullable(),
  body: z.string().nullable().optional(),
  assets: z.array(z.object({ name: z.string(), browser_download_url: z.string().url() })),
}));

/** Releases kept on disk: the newest and the one before it (a fallback while the newest is fresh). */
const KEEP_RELEASES = 2;
/** Release records kept in `state.json`, enough to judge the 30-day rule for any template. */
const KEEP_RECORDS = 30;
/** Downloads of one tarball before the cache gives up on it until the next lookup. */
const DOWNLOAD_TRIES = 3;
/** After a failed lookup, the next one waits at most this long (not a whole check interval). */
const FAILED_LOOKUP_RETRY_MS = 60_000;

/** The release platform of this host's VMs: Anka VMs have the host's architecture. */
export function runnerPlatformOf(arch: string = process.arch): string {
  return arch === 'arm64' ? 'osx-arm64' : 'osx-x64';
}

export interface RunnerCacheOptions {
  /** `<work_dir>/runner-cache`. */
  readonly dir: string;
  /** GitHub's REST API base URL (`https://api.github.com`, GHES `https://host/api/v3`, or the sim). */
  readonly apiBaseUrl: string;
  /** At most one lookup per this many milliseconds (304s included). */
  readonly checkIntervalMs: number;
}

/**
 * The host's cache of actions runner tarballs, one per release and platform, under
 * `<work_dir>/runner-cache/<version>/`. GitHub's release list is read at most once per check
 * interval with `If-None-Match` (a 304 costs nothing), without credentials (the releases of
 * actions/runner are public, and the job's rate limit is not spent). Each tarball is downloaded
 * once, checked against the SHA-256 in its release body (a mismatch is deleted and downloaded
 * again), and kept for the newest {@link KEEP_RELEASES} releases. An answer that cannot be read,
 * an unreachable GitHub or a rate limit leave the cache as it was: the newest tarball on disk is
 * used.
 *
 * One instance serves every handler of a process (see {@link runnerCacheFor}). Files are written
 * under a temporary name and renamed once verified, so two anklet processes sharing a work dir
 * never see a partial tarball (at worst both download it).
 */
export class RunnerCache {
  readonly #options: RunnerCacheOptions;
  #state: CacheState;
  #lookup: Promise<void> | undefined;
  #nextLookupAt = 0;
  #baked: Record<string, BakedRunnerRecord>;
  readonly #downloads = new Map<string, Promise<CachedRunner | undefined>>();

  constructor(options: RunnerCacheOptions) {
    this.#options = options;
    mkdirSync(options.dir, { recursive: true });
    this.#state = this.#readState();
    this.#baked = readBakedRunners(options.dir);
    if (this.#state.checkedAt !== undefined) this.#nextLookupAt = this.#state.checkedAt + options.checkIntervalMs;
  }

  /** The releases last read from GitHub, for the 30-day rule (empty before the first lookup). */
  releases(): RunnerReleaseInfo[] {
    return this.#state.releases.map((r) => ({ version: r.version, publishedAt: r.publishedAt }));
  }

  /**
   * The newest verified tarball for `platform`: looks releases up when the check interval has
   * passed, downloads the newest release's tarball when it is not on disk yet, and falls back to
   * the newest one on disk when GitHub cannot be reached. Undefined when none is cached.
   */
  async runnerFor(platform: string, log: Logger, signal?: AbortSignal): Promise<CachedRunner | undefined> {
    await this.refresh(log);
    const newest = this.#state.releases.find((r) => r.assets[platform]);
    if (newest && !this.#onDisk(newest.version, platform)) await this.#download(newest, platform, log, signal);
    return this.newestCached(platform);
  }

  /** The newest tarball on disk for `platform`, without asking GitHub. */
  newestCached(platform: string): CachedRunner | undefined {
    const versions = this.#versionsOnDisk().sort((a, b) => compareRunnerVersions(b, a));
    for (const version of versions) {
      const file = this.#onDisk(version, platform);
      if (file) return { version, path: file };
    }
    return undefined;
  }

  /** Reads the release list when the check interval has passed (one lookup at a time for the whole host). */
  async refresh(log: Logger): Promise<void> {
    if (Date.now() < this.#nextLookupAt) return;
    this.#lookup ??= this.#lookUp(log).finally(() => {
      this.#lookup = undefined;
    });
    await this.#lookup;
  }

  async #lookUp(log: Logger): Promise<void> {
    const url = `${this.#options.apiBaseUrl.replace(/\/$/, '')}/repos/actions/runner/releases?per_page=${KEEP_RECORDS}`;
    const headers: Record<string, string> = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'anklet-runner-cache' };
    if (this.#state.etag && this.#state.releases.length > 0) headers['if-none-match'] = this.#state.etag;
    const failed = (reason: string, fields: Record<string, unknown> = {}): void => {
      this.#nextLookupAt = Date.now() + Math.min(this.#options.checkIntervalMs, FAILED_LOOKUP_RETRY_MS);
      log.warn('could not read the actions runner releases from GitHub; the runner cache stays as it was', { reason, ...fields, cachedReleases: this.#state.releases.length });
    };
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
      text = response.status === 304 ? '' : await response.text();
    } catch (err) {
      return failed('unreachable', { error: (err as Error).message });
    }
    if (response.status === 304) {
      this.#saveState({ ...this.#state, checkedAt: Date.now() });
      this.#nextLookupAt = Date.now() + this.#options.checkIntervalMs;
      log.debug('actions runner releases unchanged (304)');
      return;
    }
    if (response.status !== 200) return failed(response.status === 403 || response.status === 429 ? 'rate_limited' : `status_${response.status}`, { status: response.status });
    let parsed: z.infer<typeof releasesAnswer>;
    try {
      parsed = releasesAnswer.parse(JSON.parse(text));
    } catch (err) {
      return failed('unreadable_answer', { error: err instanceof z.ZodError ? err.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message });
    }
    const releases: ReleaseRecord[] = [];
    for (const release of parsed) {
      if (release.draft || release.prerelease || !release.published_at) continue;
      const version = release.tag_name.replace(/^v/, '');
      const sums = runnerChecksumsOf(release.body);
      const assets: ReleaseRecord['assets'] = {};
      for (const [platform, sha256] of Object.entries(sums)) {
        const asset = release.assets.find((a) => a.name === `actions-runner-${platform}-${version}.tar.gz`);
        if (asset) assets[platform] = { name: asset.name, url: asset.browser_download_url, sha256 };
      }
      releases.push({ version, publishedAt: release.published_at, assets });
    }
    if (releases.length === 0) return failed('unreadable_answer', { error: 'no published release in the answer' });
    releases.sort((a, b) => compareRunnerVersions(b.version, a.version));
    const before = this.#state.releases[0]?.version;
    this.#saveState({ etag: response.headers.get('etag') ?? undefined, checkedAt: Date.now(), releases: releases.slice(0, KEEP_RECORDS) });
    this.#nextLookupAt = Date.now() + this.#options.checkIntervalMs;
    if (before !== releases[0]!.version) log.info('newest actions runner release', { version: releases[0]!.version, previous: before });
  }

  /** Downloads and verifies one tarball; concurrent callers share the download. */
  #download(release: ReleaseRecord, platform: string, log: Logger, signal?: AbortSignal): Promise<CachedRunner | undefined> {
    const key = `${release.version}/${platform}`;
    let pending = this.#downloads.get(key);
    if (!pending) {
      pending = this.#downloadWithRetries(release, platform, log, signal).finally(() => this.#downloads.delete(key));
      this.#downloads.set(key, pending);
    }
    return pending;
  }

  async #downloadWithRetries(release: ReleaseRecord, platform: string, log: Logger, signal?: AbortSignal): Promise<CachedRunner | undefined> {
    const asset = release.assets[platform]!;
    const dir = path.join(this.#options.dir, release.version);
    mkdirSync(dir, { recursive: true });
    const target = path.join(dir, asset.name);
    for (let attempt = 1; attempt <= DOWNLOAD_TRIES; attempt++) {
      const partial = `${target}.${process.pid}.partial`;
      const started = Date.now();
      try {
        const response = await fetch(asset.url, { signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(600_000)]) : AbortSignal.timeout(600_000) });
        if (response.status !== 200 || !response.body) throw new Error(`download answered ${response.status}`);
        const hash = createHash('sha256');
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), hashing, createWriteStream(partial));
        const sha256 = hash.digest('hex');
        if (sha256 !== asset.sha256) {
          // Never kept, never copied into a VM.
          rmSync(partial, { force: true });
          log.error('downloaded actions runner does not match the SHA-256 its release publishes; deleted it', { version: release.version, asset: asset.name, expected: asset.sha256, actual: sha256, attempt });
        } else {
          renameSync(partial, target);
          log.info('downloaded actions runner into the host cache', { version: release.version, asset: asset.name, seconds: (Date.now() - started) / 1000 });
          this.#prune(platform);
          return { version: release.version, path: target };
        }
      } catch (err) {
        rmSync(partial, { force: true });
        if (signal?.aborted) return undefined;
        log.warn('could not download the actions runner', { version: release.version, asset: asset.name, attempt, error: (err as Error).message });
      }
      if (attempt < DOWNLOAD_TRIES) await sleep(1000 * attempt, signal).catch(() => undefined);
    }
    return undefined;
  }

  /** Keeps the tarballs of the newest {@link KEEP_RELEASES} releases on disk for `platform`. */
  #prune(platform: string): void {
    const versions = this.#versionsOnDisk().filter((v) => this.#onDisk(v, platform)).sort((a, b) => compareRunnerVersions(b, a));
    for (const old of versions.slice(KEEP_RELEASES)) {
      for (const file of readdirSync(path.join(this.#options.dir, old))) {
        if (file.startsWith(`actions-runner-${platform}-`)) rmSync(path.join(this.#options.dir, old, file), { force: true });
      }
      if (readdirSync(path.join(this.#options.dir, old)).length === 0) rmSync(path.join(this.#options.dir, old), { recursive: true, force: true });
    }
  }

  #versionsOnDisk(): string[] {
    try {
      return readdirSync(this.#options.dir, { withFileTypes: true }).filter((e) => e.isDirectory() && /^\d+\.\d+\.\d+$/.test(e.name)).map((e) => e.name);
    } catch {
      return [];
    }
  }

  #onDisk(version: string, platform: string): string | undefined {
    const file = path.join(this.#options.dir, version, `actions-runner-${platform}-${version}.tar.gz`);
    return existsSync(file) ? file : undefined;
  }

  /** The probe of a template's baked runner, when this host made one. */
  bakedRunner(template: string, tag: string): BakedRunnerRecord | undefined {
    return this.#baked[`${template}:${tag}`];
  }

  /** Remembers a probe (in memory and in `templates.json`), so each template:tag is probed once. */
  recordBakedRunner(record: BakedRunnerRecord): void {
    this.#baked = { ...readBakedRunners(this.#options.dir), ...this.#baked, [`${record.template}:${record.tag}`]: record };
    const file = path.join(this.#options.dir, 'templates.json');
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(this.#baked, null, 1)}\n`);
    renameSync(temp, file);
  }

  #readState(): CacheState {
    try {
      return stateSchema.parse(JSON.parse(readFileSync(path.join(this.#options.dir, 'state.json'), 'utf8')));
    } catch {
      return { releases: [] };
    }
  }

  #saveState(state: CacheState): void {
    this.#state = state;
    const file = path.join(this.#options.dir, 'state.json');
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(state, null, 1)}\n`);
    renameSync(temp, file);
  }
}

/** What one probe of a template's baked runner found (kept in `templates.json` for `anklet doctor`). */
export interface BakedRunnerRecord {
  readonly template: string;
  readonly tag: string;
  /** The runner version `config.sh --version` printed, or null when the template carries none. */
  readonly version: string | null;
  readonly probedAt: string;
}

const bakedSchema = z.record(z.string(), z.object({ template: z.string(), tag: z.string(), version: z.string().nullable(), probedAt: z.string() }));

/** The baked runners probed on this host, by `template:tag` (read by `anklet doctor`). */
export function readBakedRunners(dir: string): Record<string, BakedRunnerRecord> {
  try {
    return bakedSchema.parse(JSON.parse(readFileSync(path.join(dir, 'templates.json'), 'utf8')));
  } catch {
    return {};
  }
}

/** The releases a cache dir knows (read by `anklet doctor`), newest first. */
export function readCachedReleases(dir: string): RunnerReleaseInfo[] {
  try {
    return stateSchema.parse(JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8'))).releases.map((r) => ({ version: r.version, publishedAt: r.publishedAt }));
  } catch {
    return [];
  }
}

/**
 * The cache folder of a host: `<work_dir>/runner-cache/`. A plugin's data dir is
 * `<work_dir>/data/<name>`, so the host's work dir is two levels up.
 */
export function runnerCacheDirOf(dataDir: string): string {
  return path.resolve(dataDir, '..', '..', 'runner-cache');
}

/** The runner cache of the handler's host, or undefined when `runner_cache` is off. */
export function hostRunnerCache(ctx: { readonly config: HandlerConfig; readonly paths: { readonly dataDir: string } }): RunnerCache | undefined {
  if (!ctx.config.runner_cache) return undefined;
  return runnerCacheFor({ dir: runnerCacheDirOf(ctx.paths.dataDir), apiBaseUrl: ctx.config.github_base_url, checkIntervalMs: ctx.config.runner_cache_check_interval_seconds * 1000 });
}

const caches = new Map<string, RunnerCache>();

/**
 * The host's runner cache for a work dir: every handler of this process shares one (and so one
 * lookup and one download per release). The first handler's options win.
 */
export function runnerCacheFor(options: RunnerCacheOptions): RunnerCache {
  const key = path.resolve(options.dir);
  let cache = caches.get(key);
  if (!cache) {
    cache = new RunnerCache(options);
    caches.set(key, cache);
  }
  return cache;
}
