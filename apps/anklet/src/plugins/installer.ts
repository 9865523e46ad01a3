import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AnkletError, childEnv, ErrorCodes, isAnkletError } from '@anklet/core';
import { findPackageDir, loadPlugin } from './load-plugin.js';
import { readManifest, type PluginManifest } from './manifest.js';
import { SHORT_IDS, expandInstallSpec, packageNameOf } from './short-ids.js';

const require = createRequire(import.meta.url);

/**
 * Flags for every npm call: no lifecycle scripts (a plugin's install script would run with the
 * operator's rights before we validated anything), no audit/fund noise, production deps only.
 */
const NPM_FLAGS = ['--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev', '--loglevel=error', '--no-update-notifier'];

export interface InstallOptions {
  readonly pluginsPath: string;
  /** Appended to fix commands in messages (e.g. `--plugins-path /x`). */
  readonly cliFlags?: string;
  /** Progress lines for people. */
  readonly onProgress?: (line: string) => void;
}

/** Makes `plugins_path` an npm prefix with its own package.json, if it is not one yet. */
export function ensurePluginsPrefix(pluginsPath: string): void {
  mkdirSync(pluginsPath, { recursive: true });
  const manifest = path.join(pluginsPath, 'package.json');
  if (!existsSync(manifest)) {
    const body = { name: 'anklet-plugins', private: true, description: 'Plugins installed by `anklet plugins install`', dependencies: {} };
    writeFileSync(manifest, `${JSON.stringify(body, null, 2)}\n`);
  }
}

function readDependencies(pluginsPath: string): Record<string, string> {
  const file = path.join(pluginsPath, 'package.json');
  if (!existsSync(file)) return {};
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { dependencies?: Record<string, string> };
  return { ...pkg.dependencies };
}

function runNpm(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // An argument array, never a shell string: specs come from the command line.
    execFile('npm', [...args, ...NPM_FLAGS], { cwd, maxBuffer: 16 * 1024 * 1024, env: childEnv(process.env, { prefixes: ['npm_config_', 'NPM_CONFIG_'], set: { npm_config_prefix: cwd } }) }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const tail = String(stderr).trim().split('\n').slice(-12).join('\n');
      reject(new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `npm ${args[0]} failed${tail ? `:\n${tail}` : ''}`, { operator: true, cause: err }));
    });
  });
}

/** The directory of the `@anklet/core` this host runs with (real path, symlinks resolved). */
export function hostCoreDir(): string {
  return realpathSync(path.dirname(require.resolve('@anklet/core/package.json')));
}

/**
 * Plugins import `@anklet/core` as a peer dependency. Until core is published, and so that a
 * plugin always shares the host's copy, the prefix gets a link to the host's own core.
 */
function coreLinkSpec(pluginsPath: string): string | undefined {
  const coreDir = hostCoreDir();
  const linked = findPackageDir(pluginsPath, '@anklet/core');
  if (linked && existsSync(linked) && realpathSync(linked) === coreDir) return undefined;
  return coreDir;
}

interface Snapshot {
  readonly files: ReadonlyArray<readonly [string, string | undefined]>;
}

function snapshot(pluginsPath: string): Snapshot {
  return {
    files: ['package.json', 'package-lock.json'].map((name) => {
      const file = path.join(pluginsPath, name);
      return [file, existsSync(file) ? readFileSync(file, 'utf8') : undefined] as const;
    }),
  };
}

async function restore(pluginsPath: string, saved: Snapshot): Promise<void> {
  for (const [file, content] of saved.files) {
    if (content === undefined) rmSync(file, { force: true });
    else writeFileSync(file, content);
  }
  // Bring node_modules back in line with the restored manifest (removes what the failed install added).
  await runNpm(['install'], pluginsPath);
}

/**
 * Packages without an `anklet` field that a plugin among `names` depends on: libraries installed
 * alongside it (e.g. an unpublished workspace package given as a tarball), not plugins themselves.
 */
function libraryNames(pluginsPath: string, names: ReadonlyArray<string>): Set<string> {
  const manifestOf = (name: string): { anklet?: unknown; dependencies?: Record<string, string> } | undefined => {
    const dir = findPackageDir(pluginsPath, name);
    if (!dir) return undefined;
    try {
      return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { anklet?: unknown; dependencies?: Record<string, string> };
    } catch {
      return undefined;
    }
  };
  const needed = new Set(names.flatMap((name) => (manifestOf(name)?.anklet ? Object.keys(manifestOf(name)?.dependencies ?? {}) : [])));
  return new Set(names.filter((name) => needed.has(name) && manifestOf(name)?.anklet === undefined));
}

export interface InstalledPlugin {
  readonly name: string;
  readonly version: string;
  readonly kind: string;
}

/**
 * Installs plugin packages into `plugins_path` and validates each one exactly as `anklet start`
 * will load it. If any of them fails validation, the prefix is restored to what it was before.
 */
export async function installPlugins(specs: ReadonlyArray<string>, options: InstallOptions): Promise<InstalledPlugin[]> {
  const { pluginsPath } = options;
  ensurePluginsPrefix(pluginsPath);
  const before = readDependencies(pluginsPath);
  const saved = snapshot(pluginsPath);
  // Local tarballs and folders are resolved against the caller's working directory, not the prefix.
  const expanded = specs.map((spec) => {
    const mapped = expandInstallSpec(spec);
    return /^(\.{1,2}\/|\/)/.test(mapped) || mapped.endsWith('.tgz') ? path.resolve(mapped) : mapped;
  });
  const core = coreLinkSpec(pluginsPath);
  options.onProgress?.(`installing ${expanded.join(' ')} into ${pluginsPath}`);
  try {
    await runNpm(['install', '--save', ...expanded, ...(core ? [core] : [])], pluginsPath);
  } catch (err) {
    await restore(pluginsPath, saved).catch(() => undefined);
    throw err;
  }

  const after = readDependencies(pluginsPath);
  const changed = Object.keys(after).filter((name) => name !== '@anklet/core' && after[name] !== before[name]);
  // A reinstall of the same spec changes nothing in package.json: validate what was named then.
  const named = expanded
    .map((spec) => Object.keys(after).find((name) => spec === name || spec.startsWith(`${name}@`)))
    .filter((name): name is string => name !== undefined && name !== '@anklet/core');
  const candidates = [...new Set([...changed, ...named])];
  const libraries = libraryNames(pluginsPath, candidates);
  const toCheck = candidates.filter((name) => !libraries.has(name));

  const installed: InstalledPlugin[] = [];
  const failures: string[] = [];
  for (const name of toCheck) {
    try {
      const loaded = await loadPlugin({ plugin: name, pluginsPath, ...(options.cliFlags ? { cliFlags: options.cliFlags } : {}) });
      installed.push({ name, version: loaded.manifest.version, kind: loaded.kind });
    } catch (err) {
      failures.push(isAnkletError(err) ? `${err.message}${err.hint ? `\n  ${err.hint}` : ''}` : String(err));
    }
  }
  if (failures.length > 0) {
    options.onProgress?.('validation failed; rolling back');
    await restore(pluginsPath, saved);
    throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `not installed, the plugins folder was rolled back:\n${failures.join('\n')}`, {
      operator: true,
    });
  }
  return installed;
}

/** Removes plugin packages (short ids accepted) from `plugins_path`. */
export async function removePlugins(names: ReadonlyArray<string>, options: InstallOptions): Promise<string[]> {
  const deps = readDependencies(options.pluginsPath);
  const packages = names.map(packageNameOf);
  const missing = packages.filter((name) => !(name in deps));
  if (missing.length > 0) {
    throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `not installed in ${options.pluginsPath}: ${missing.join(', ')}`, {
      operator: true,
      hint: `see what is installed: anklet plugins list${options.cliFlags ? ` ${options.cliFlags}` : ''}`,
    });
  }
  await runNpm(['uninstall', '--save', ...packages], options.pluginsPath);
  return packages;
}

/** One row of `anklet plugins list`. */
export interface PluginListing {
  readonly name: string;
  readonly version: string;
  readonly kind: string;
  readonly shortId: string | undefined;
  readonly description: string;
  /** `ok`, or why the host would refuse it. */
  readonly status: string;
}

/** A package in `plugins_path` that is not a plugin: the host's core, or a library plugins use. */
export interface LibraryListing {
  readonly name: string;
  readonly version: string;
}

/**
 * Whether a package says it is a plugin: an `anklet` field or the `anklet-plugin` keyword. One that
 * says so and does not load is a broken plugin; one that says neither is a library (left behind,
 * for instance, when the plugins that needed it were removed), not an error.
 */
function claimsToBePlugin(manifest: PluginManifest): boolean {
  return manifest.anklet !== undefined || manifest.keywords.includes('anklet-plugin');
}

/** What is installed in `plugins_path`, each plugin checked the way `anklet start` would load it. */
export async function listPlugins(pluginsPath: string): Promise<PluginListing[]> {
  return (await listInstalled(pluginsPath)).plugins;
}

/** The plugins of `plugins_path` (each checked as `anklet start` would load it) and the libraries beside them. */
export async function listInstalled(pluginsPath: string): Promise<{ plugins: PluginListing[]; libraries: LibraryListing[] }> {
  const rows: PluginListing[] = [];
  const libraryRows: LibraryListing[] = [];
  const names = Object.keys(readDependencies(pluginsPath)).sort();
  const libraries = libraryNames(pluginsPath, names);
  for (const name of names) {
    const dir = findPackageDir(pluginsPath, name);
    const manifest = dir ? readManifest(dir) : undefined;
    // The host's core link and libraries that plugins depend on are not plugins.
    if (name === '@anklet/core' || libraries.has(name) || (manifest && !claimsToBePlugin(manifest))) {
      libraryRows.push({ name, version: manifest?.version ?? '?' });
      continue;
    }
    let status = 'ok';
    let kind = String(manifest?.anklet?.kind ?? '?');
    try {
      kind = (await loadPlugin({ plugin: name, pluginsPath })).kind;
    } catch (err) {
      status = isAnkletError(err) ? `${err.code}: ${err.message}` : String(err);
    }
    rows.push({
      name,
      version: manifest?.version ?? '?',
      kind,
      shortId: Object.entries(SHORT_IDS).find(([, pkg]) => pkg === name)?.[0],
      description: manifest?.description ?? '',
      status,
    });
  }
  return { plugins: rows, libraries: libraryRows };
}
