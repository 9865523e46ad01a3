import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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

let packed: { dir: string; tarballs: Promise<string[]> } | undefined;

/**
 * The fleet's plugins (`@anklet/github`, the receiver, the handler) packed once per process into a
 * temporary folder that is removed when the process exits. Build them first (`turbo run build`).
 */
export function packFleetPlugins(): Promise<string[]> {
  if (!packed) {
    const dir = mkdtempSync(path.join(tmpdir(), 'anklet-fleet-pack-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    packed = { dir, tarballs: Promise.resolve().then(() => packPackages(FLEET_PLUGIN_DIRS, dir)) };
  }
  return packed.tarballs;
}

/** Packs (once per process) and installs the fleet's plugins into `pluginsPath`; throws with npm's output on failure. */
export async function installFleetPlugins(pluginsPath: string): Promise<void> {
  const tarballs = await packFleetPlugins();
  const install = await installPlugins(pluginsPath, tarballs);
  if (install.code !== 0) throw new Error(`anklet plugins install failed (exit ${String(install.code)}):\n${install.stdout}\n${install.stderr}`);
}
