import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, type Run } from './anklet-process.js';
import { REPO_ROOT } from './paths.js';

/** The first-party plugins a fleet runs, and the workspace package they need that is not on npm. */
export const FLEET_PLUGIN_DIRS = ['packages/github', 'packages/plugin-github-receiver', 'packages/plugin-github-handler'] as const;

/** Packs workspace packages (paths relative to the repository root) into `dir` with `pnpm pack`; returns every tarball in `dir`. */
export function packPackages(packageDirs: readonly string[], dir: string): string[] {
  for (const packageDir of packageDirs) {
    execFileSync('pnpm', ['pack', '--pack-destination', dir], { cwd: path.join(REPO_ROOT, packageDir), stdio: 'pipe' });
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => path.join(dir, f));
}

/**
 * Installs tarballs (or package names) into `pluginsPath` with the real `anklet plugins install`,
 * preferring npm's cache so that a machine without network can install what it installed before.
 */
export function installPlugins(pluginsPath: string, tarballs: readonly string[], options: { home?: string; timeoutMs?: number } = {}): Promise<Run> {
  return runCli(['plugins', 'install', ...tarballs, '--plugins-path', pluginsPath], {
    home: options.home ?? path.dirname(pluginsPath),
    env: { npm_config_prefer_offline: 'true' },
    timeoutMs: options.timeoutMs ?? 240_000,
  });
}

/**
 * Packs workspace packages with `pnpm pack` into `dir` and installs all the tarballs with one
 * `anklet plugins install` (unpublished workspace dependencies must come from tarballs, or npm looks
 * for them on the registry). `packageDirs` are relative to the repository root.
 */
export async function packAndInstall(packageDirs: string[], dir: string, pluginsPath: string): Promise<{ tarballs: string[]; install: Run }> {
  const tarballs = packPackages(packageDirs, dir);
  const install = await installPlugins(pluginsPath, tarballs, { home: dir });
  return { tarballs, install };
}

/** Where installed fleet plugins are kept between test processes, one folder per tarball hash. */
const CACHE_ROOT = path.join(REPO_ROOT, 'node_modules', '.cache', 'anklet-fleet');

let cached: Promise<string> | undefined;

/**
 * What `pnpm pack` of a workspace package puts in its tarball, hashed: its package.json, README and
 * LICENSE, and every file under its `files` entries. Same fingerprint, same tarball, without packing
 * (which costs seconds per package).
 */
function packageFingerprint(packageDir: string, hash: ReturnType<typeof createHash>): void {
  const root = path.join(REPO_ROOT, packageDir);
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { files?: string[] };
  const files: string[] = [];
  const walk = (rel: string): void => {
    const at = path.join(root, rel);
    if (!existsSync(at)) return;
    if (statSync(at).isDirectory()) for (const entry of readdirSync(at).sort()) walk(path.join(rel, entry));
    else files.push(rel);
  };
  for (const entry of ['package.json', ...readdirSync(root).filter((f) => /^(readme|license)/i.test(f)).sort(), ...(manifest.files ?? [])]) walk(entry);
  for (const rel of files) {
    hash.update(`${packageDir}/${rel}\0`);
    hash.update(readFileSync(path.join(root, rel)));
  }
}

/**
 * The fleet's plugins (`@anklet/github`, the receiver, the handler), packed with `pnpm pack` and
 * installed with the real `anklet plugins install` into a cache folder named after the packed
 * files' hash (see packageFingerprint), so that test processes and demo runs of the same build pack
 * and install once and copy after that. Build them first (`turbo run build`). Once per process.
 */
export function fleetPluginsCache(): Promise<string> {
  cached ??= (async () => {
    const hash = createHash('sha256');
    for (const dir of FLEET_PLUGIN_DIRS) packageFingerprint(dir, hash);
    const target = path.join(CACHE_ROOT, hash.digest('hex').slice(0, 16));
    if (existsSync(path.join(target, COMPLETE))) return target;
    const packDir = mkdtempSync(path.join(tmpdir(), 'anklet-fleet-pack-'));
    try {
      const tarballs = packPackages(FLEET_PLUGIN_DIRS, packDir).sort();
      // Install beside the target and rename: a concurrent process either wins or finds it done.
      mkdirSync(CACHE_ROOT, { recursive: true });
      const staging = mkdtempSync(path.join(CACHE_ROOT, 'staging-'));
      try {
        const install = await installPlugins(staging, tarballs, { home: packDir });
        if (install.code !== 0) throw new Error(`anklet plugins install failed (exit ${String(install.code)}):\n${install.stdout}\n${install.stderr}`);
        writeFileSync(path.join(staging, COMPLETE), `${new Date().toISOString()}\n`);
        try {
          renameSync(staging, target);
        } catch (error) {
          if (!existsSync(path.join(target, COMPLETE))) throw error;
        }
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
      pruneCache(CACHE_ROOT, target);
      return target;
    } finally {
      rmSync(packDir, { recursive: true, force: true });
    }
  })();
  cached.catch(() => (cached = undefined));
  return cached;
}

const COMPLETE = '.anklet-fleet-complete';
/** Installed builds kept besides the current one; older ones go once they are an hour old. */
const CACHE_KEEP = 3;
const CACHE_MIN_AGE_MS = 60 * 60 * 1000;

/**
 * Removes old builds from the cache: every build makes a new entry of about 20 MB. The newest
 * {@link CACHE_KEEP} stay, and so does anything younger than an hour (another process may be
 * copying from it), and `current`. Stale staging folders of crashed installs go the same way.
 * Exported for its test only.
 */
export function pruneCache(root: string, current: string, now = Date.now()): void {
  try {
    const entries = readdirSync(root)
      .map((name) => path.join(root, name))
      .filter((dir) => dir !== current)
      .map((dir) => {
        const marker = path.join(dir, COMPLETE);
        return { dir, at: existsSync(marker) ? statSync(marker).mtimeMs : statSync(dir).mtimeMs };
      })
      .sort((a, b) => b.at - a.at);
    for (const [index, entry] of entries.entries()) {
      if (index < CACHE_KEEP || now - entry.at < CACHE_MIN_AGE_MS) continue;
      rmSync(entry.dir, { recursive: true, force: true });
    }
  } catch {
    // A cache that cannot be tidied is still a cache.
  }
}

/** Installs the fleet's plugins into `pluginsPath` (a copy of {@link fleetPluginsCache}); throws with npm's output on failure. */
export async function installFleetPlugins(pluginsPath: string): Promise<void> {
  copyInstalledTree(await fleetPluginsCache(), pluginsPath);
}

/**
 * Copies an installed npm prefix. Links inside the tree stay relative; links that leave it (npm's
 * `file:` link to the host's `@anklet/core`) are re-pointed at their absolute target.
 */
function copyInstalledTree(from: string, to: string): void {
  cpSync(from, to, { recursive: true, verbatimSymlinks: true, filter: (src) => path.basename(src) !== COMPLETE });
  const walk = (dir: string, depth: number): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const at = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        const target = readlinkSync(at);
        if (path.isAbsolute(target)) continue;
        const original = path.resolve(path.join(from, path.relative(to, dir)), target);
        if (original === from || original.startsWith(from + path.sep)) continue;
        rmSync(at);
        symlinkSync(original, at);
      } else if (entry.isDirectory() && depth < 2 && (entry.name === 'node_modules' || entry.name.startsWith('@') || depth === 0)) {
        walk(at, depth + 1);
      }
    }
  };
  walk(path.join(to, 'node_modules'), 0);
}
