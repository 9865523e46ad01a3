import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AnkletError, ErrorCodes, isAnkletError } from '@anklet/core';
import { findPackageDir, hostCoreVersion, loadPlugin } from './load-plugin.js';
import { readManifest, type PluginManifest } from './manifest.js';
import { packFolder, runNpm } from './npm.js';
import { isLocalSpec, newestCompatible, preflight } from './preflight.js';
import { SHORT_IDS, expandInstallSpec, packageNameOf } from './short-ids.js';
import { withStagedCopy } from './staging.js';

const require = createRequire(import.meta.url);

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

/** The directory of the `@anklet/core` this host runs with (real path, symlinks resolved). */
export function hostCoreDir(): string {
  return realpathSync(path.dirname(require.resolve('@anklet/core/package.json')));
}

/**
 * Plugins import `@anklet/core` as a peer dependency, and must share the host's own copy (one
 * module instance, the version the host was built with). The folder gets a `file:` link to the
 * host's core as a dependency of its own, in an npm call of its own: npm 10 and 11 crash
 * ("Cannot read properties of null (reading 'matches')") when a plugin and the link of its peer
 * come in one call. Once the link is there, npm sees the peer satisfied and leaves it alone.
 */
async function linkHostCore(folder: string): Promise<void> {
  const coreDir = hostCoreDir();
  const linked = findPackageDir(folder, '@anklet/core');
  const declared = readDependencies(folder)['@anklet/core'];
  if (declared && linked && existsSync(linked) && realpathSync(linked) === coreDir) return;
  await runNpm(['install', '--save', coreDir], folder);
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
 * A tarball or folder is kept as a tarball in `plugins_path/packages/` and installed from there:
 * later npm runs in the folder find it even when the original is gone, and a folder is installed
 * as a copy that shares the host's core (a linked folder would import its own node_modules).
 */
async function keepLocalPackage(spec: string, folder: string): Promise<string> {
  if (!existsSync(spec)) {
    throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `${spec} does not exist`, {
      operator: true,
      hint: 'fix: give the path of a plugin folder or of a tarball made with npm pack',
    });
  }
  const kept = path.join(folder, 'packages');
  mkdirSync(kept, { recursive: true });
  const file = statSync(spec).isDirectory() ? await packFolder(spec, kept) : path.basename(spec);
  if (!statSync(spec).isDirectory()) copyFileSync(spec, path.join(kept, file));
  return `./packages/${file}`;
}

/** Validates the plugins among `candidates` in `folder` exactly as `anklet start` will load them. */
async function validate(folder: string, candidates: ReadonlyArray<string>, options: InstallOptions): Promise<InstalledPlugin[]> {
  const libraries = libraryNames(folder, candidates);
  const installed: InstalledPlugin[] = [];
  const failures: string[] = [];
  for (const name of candidates.filter((n) => !libraries.has(n))) {
    try {
      const loaded = await loadPlugin({ plugin: name, pluginsPath: folder, ...(options.cliFlags ? { cliFlags: options.cliFlags } : {}) });
      installed.push({ name, version: loaded.manifest.version, kind: loaded.kind });
    } catch (err) {
      failures.push(isAnkletError(err) ? `${err.message}${err.hint ? `\n  ${err.hint}` : ''}` : String(err));
    }
  }
  if (failures.length > 0) {
    throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `nothing was changed in ${options.pluginsPath}:\n${failures.join('\n')}`, { operator: true });
  }
  return installed;
}

/**
 * Installs plugin packages into `plugins_path` (short ids, names, `name@range`, tarballs, folders)
 * from the registry of the user's npm configuration. Each spec is checked against this host
 * before anything changes; npm then works on a copy of the folder, every new plugin is validated
 * there exactly as `anklet start` will load it, and only then is the copy swapped in. Any failure
 * leaves `plugins_path` as it was.
 */
export async function installPlugins(specs: ReadonlyArray<string>, options: InstallOptions): Promise<InstalledPlugin[]> {
  const { pluginsPath } = options;
  // Local tarballs and folders are resolved against the caller's working directory, not the prefix.
  const expanded = specs.map((spec) => {
    const mapped = expandInstallSpec(spec);
    return isLocalSpec(mapped) ? path.resolve(mapped.replace(/^file:/, '').replace(/^~(?=\/)/, process.env.HOME ?? '~')) : mapped;
  });
  const cwd = existsSync(pluginsPath) ? pluginsPath : process.cwd();
  for (const spec of expanded) await preflight(spec, { cwd, cliFlags: options.cliFlags });

  return withStagedCopy(pluginsPath, async (staging) => {
    ensurePluginsPrefix(staging);
    await linkHostCore(staging);
    const before = readDependencies(staging);
    options.onProgress?.(`installing ${expanded.join(' ')} into ${pluginsPath}`);
    const npmSpecs: string[] = [];
    for (const spec of expanded) npmSpecs.push(isLocalSpec(spec) ? await keepLocalPackage(spec, staging) : spec);
    await runNpm(['install', '--save', ...npmSpecs], staging);
    const after = readDependencies(staging);
    const changed = Object.keys(after).filter((name) => name !== '@anklet/core' && after[name] !== before[name]);
    // A reinstall of the same spec changes nothing in package.json: validate what was named then.
    const named = expanded
      .map((spec) => Object.keys(after).find((name) => spec === name || spec.startsWith(`${name}@`)))
      .filter((name): name is string => name !== undefined && name !== '@anklet/core');
    return validate(staging, [...new Set([...changed, ...named])], options);
  });
}

/**
 * Moves installed plugins (all, or the named ones) to the newest published version whose
 * `@anklet/core` range accepts this host, through the same checked, all-or-nothing path as install.
 */
export async function updatePlugins(names: ReadonlyArray<string>, options: InstallOptions): Promise<InstalledPlugin[]> {
  const { pluginsPath } = options;
  const deps = readDependencies(pluginsPath);
  const installed = Object.keys(deps).filter((name) => name !== '@anklet/core' && !/^(file:|\.|\/)/.test(deps[name] ?? ''));
  const libraries = libraryNames(pluginsPath, installed);
  const wanted = names.length > 0 ? names.map(packageNameOf) : installed.filter((name) => !libraries.has(name));
  const missing = wanted.filter((name) => !(name in deps));
  if (missing.length > 0) {
    throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `not installed in ${pluginsPath}: ${missing.join(', ')}`, {
      operator: true,
      hint: `fix: install it first: anklet plugins install ${missing.join(' ')}${options.cliFlags ? ` ${options.cliFlags}` : ''}`,
    });
  }
  if (wanted.length === 0) return [];
  const specs: string[] = [];
  for (const name of wanted) {
    const newest = await newestCompatible(name, pluginsPath);
    if (!newest) {
      throw new AnkletError(ErrorCodes.PLUGIN_INCOMPATIBLE, `no published version of ${name} accepts @anklet/core ${hostCoreVersion}`, {
        operator: true,
        hint: `fix: npm install -g anklet@latest, then: anklet plugins update ${name}${options.cliFlags ? ` ${options.cliFlags}` : ''}`,
      });
    }
    specs.push(`${name}@^${newest.version}`);
  }
  return installPlugins(specs, options);
}

/** Removes plugin packages (short ids accepted) from `plugins_path`, all or nothing. */
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
  await withStagedCopy(options.pluginsPath, async (staging) => {
    await runNpm(['uninstall', '--save', ...packages], staging);
    // The kept tarball of a package installed from a file goes with it.
    for (const name of packages) {
      const kept = /^file:(packages\/[^/]+)$/.exec(deps[name] ?? '')?.[1];
      if (kept) rmSync(path.join(staging, kept), { force: true });
    }
  });
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
