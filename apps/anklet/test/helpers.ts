import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { hostCoreDir } from '../src/plugins/installer.js';

// Running the real binary, packing and installing plugins, the simulated runner template: shared
// with the fleet harness (the demo, the acceptance suite, the benchmarks).
export { CLI, CONFIG_SH, REPO_ROOT, RUN_SH, RUNNER_CLI, RunningAnklet, childEnv, installFleetPlugins, jsonLines, msg, packAndInstall, runCli, runnerFiles, type Run } from '@anklet/fleet';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURE_PLUGINS = path.join(here, 'fixtures', 'plugins');
export const FIXTURE_CONFIGS = path.join(here, 'fixtures', 'configs');

const tmpDirs: string[] = [];
afterEach(() => {
  for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temp folder removed after the test. */
export function makeTmp(prefix = 'anklet-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

/** Writes a file (creating folders) and returns its path. */
export function writeFile(file: string, content: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

/** Makes `pluginsPath` hold the host's core and links to the first-party plugins of this workspace (`plugin: github`, `github_receiver`). */
export function seedFirstPartyPlugins(pluginsPath: string): void {
  seedPlugins(pluginsPath, []);
  for (const name of ['plugin-github-handler', 'plugin-github-receiver']) {
    // As `npm install` of the published package would: the built files, `workspace:` ranges
    // resolved, and the package's own dependencies beside it.
    const source = path.join(here, '..', '..', '..', 'packages', name);
    const target = path.join(pluginsPath, 'node_modules', '@anklet', name);
    cpSync(path.join(source, 'dist'), path.join(target, 'dist'), { recursive: true });
    const manifest = JSON.parse(readFileSync(path.join(source, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    for (const field of ['dependencies', 'peerDependencies']) {
      for (const [dep, range] of Object.entries(manifest[field] ?? {})) if (range.startsWith('workspace:')) manifest[field]![dep] = '*';
    }
    writeFileSync(path.join(target, 'package.json'), JSON.stringify(manifest));
    symlinkSync(path.join(source, 'node_modules'), path.join(target, 'node_modules'), 'dir');
  }
  // The prefix's own package.json, as `anklet plugins install` leaves it (what `plugins list` reads).
  const dependencies = { '@anklet/plugin-github-handler': '*', '@anklet/plugin-github-receiver': '*' };
  writeFileSync(path.join(pluginsPath, 'package.json'), JSON.stringify({ name: 'anklet-plugins', private: true, dependencies }));
}

/** Makes `pluginsPath` hold the host's core (as `anklet plugins install` does) and the named fixture packages. */
export function seedPlugins(pluginsPath: string, fixtures: string[]): void {
  const modules = path.join(pluginsPath, 'node_modules');
  mkdirSync(path.join(modules, '@anklet'), { recursive: true });
  symlinkSync(hostCoreDir(), path.join(modules, '@anklet', 'core'), 'dir');
  for (const name of fixtures) cpSync(path.join(FIXTURE_PLUGINS, name), path.join(modules, name), { recursive: true });
}
