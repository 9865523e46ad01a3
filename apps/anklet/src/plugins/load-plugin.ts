import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AnkletError, ErrorCodes, apiVersion, isPlugin, type ErrorCode, type Plugin, type PluginKind } from '@anklet/core';
import { resolve as resolveModule } from 'import-meta-resolve';
// The one function used: the whole package costs twice as long to load at every start.
import satisfies from 'semver/functions/satisfies.js';
import { PLUGIN_KEYWORD, needsAnka, readManifest, type PluginManifest } from './manifest.js';
import { SHORT_IDS, packageNameOf } from './short-ids.js';

const require = createRequire(import.meta.url);
/** The version of `@anklet/core` this host was built with; a plugin's peer range must accept it. */
export const hostCoreVersion: string = (require('@anklet/core/package.json') as { version: string }).version;

/** A plugin that passed every check and is ready to be created. */
export interface LoadedPlugin {
  readonly plugin: Plugin;
  readonly manifest: PluginManifest;
  readonly kind: PluginKind;
}

/** Who asked for the plugin: the config entry (`plugins[0] "RUNNER1"`) or a CLI command. */
export interface LoadRequest {
  /** The `plugin:` value or install name. */
  readonly plugin: string;
  readonly pluginsPath: string;
  /** How to name the asker in messages, e.g. `plugins[0] "RUNNER1"`. */
  readonly entryRef?: string;
  /** Extra flags the fix commands need (e.g. `--plugins-path /x`). */
  readonly cliFlags?: string;
}

function fail(code: ErrorCode, request: LoadRequest, message: string, fix: string): AnkletError {
  const prefix = request.entryRef ? `${request.entryRef}: ` : '';
  return new AnkletError(code, `${prefix}${message}`, { operator: true, hint: `fix: ${fix}` });
}

function command(request: LoadRequest, words: string): string {
  return `anklet ${words}${request.cliFlags ? ` ${request.cliFlags}` : ''}`;
}

/**
 * Finds a package as Node would when importing it from a file inside `plugins_path`: the
 * `node_modules` folder of `plugins_path`, then of each parent folder.
 */
export function findPackageDir(pluginsPath: string, packageName: string): string | undefined {
  let dir = path.resolve(pluginsPath);
  for (;;) {
    const candidate = path.join(dir, 'node_modules', ...packageName.split('/'));
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The kind a plugin's package.json declares, read without importing the plugin (the host starts
 * its Anka checks while the plugins load). Undefined when it is not installed or declares none:
 * {@link loadPlugin} reports those.
 */
export function declaredKind(plugin: string, pluginsPath: string): PluginKind | undefined {
  try {
    const dir = findPackageDir(pluginsPath, packageNameOf(plugin));
    const kind = dir ? readManifest(dir).anklet?.kind : undefined;
    return kind === 'handler' || kind === 'receiver' ? kind : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when a configured plugin's package.json declares a handler that needs Anka (see
 * {@link needsAnka}); read without importing it, like {@link declaredKind}.
 */
export function declaredNeedsAnka(plugin: string, pluginsPath: string): boolean {
  try {
    const dir = findPackageDir(pluginsPath, packageNameOf(plugin));
    return dir ? needsAnka(readManifest(dir)) : false;
  } catch {
    return false;
  }
}

/** Checks the manifest without running the plugin's code. Throws the "incompatible" error. */
export function checkManifest(manifest: PluginManifest, request: LoadRequest): PluginKind {
  const reinstall = command(request, `plugins install ${manifest.name}@latest`);
  const about = `package ${manifest.name}@${manifest.version}`;
  if (!manifest.anklet) {
    throw fail(ErrorCodes.PLUGIN_INCOMPATIBLE, request, `${about} is not an anklet plugin (its package.json has no "anklet" field)`, command(request, `plugins remove ${manifest.name}`));
  }
  if (manifest.anklet.apiVersion !== apiVersion) {
    throw fail(
      ErrorCodes.PLUGIN_INCOMPATIBLE,
      request,
      `${about} was built for plugin API ${JSON.stringify(manifest.anklet.apiVersion)}; this anklet speaks plugin API ${apiVersion}`,
      `${reinstall} (or a version of anklet that speaks its API)`,
    );
  }
  const kind = manifest.anklet.kind;
  if (kind !== 'handler' && kind !== 'receiver') {
    throw fail(ErrorCodes.PLUGIN_INCOMPATIBLE, request, `${about} declares anklet.kind ${JSON.stringify(kind)}; expected "handler" or "receiver"`, reinstall);
  }
  const anka = manifest.anklet.anka;
  if (anka !== undefined && typeof anka !== 'boolean') {
    throw fail(ErrorCodes.PLUGIN_INCOMPATIBLE, request, `${about} declares anklet.anka ${JSON.stringify(anka)}; expected true or false`, reinstall);
  }
  if (!manifest.keywords.includes(PLUGIN_KEYWORD)) {
    throw fail(ErrorCodes.PLUGIN_INCOMPATIBLE, request, `${about} lacks the "${PLUGIN_KEYWORD}" keyword that marks anklet plugins`, reinstall);
  }
  const range = manifest.corePeerRange;
  if (!range) {
    throw fail(ErrorCodes.PLUGIN_INCOMPATIBLE, request, `${about} does not declare @anklet/core as a peer dependency`, reinstall);
  }
  if (!satisfies(hostCoreVersion, range, { includePrerelease: true })) {
    throw fail(
      ErrorCodes.PLUGIN_INCOMPATIBLE,
      request,
      `${about} needs @anklet/core ${range}; this anklet provides ${hostCoreVersion}`,
      reinstall,
    );
  }
  return kind;
}

/** The module a failed import could not find, when the failure is a missing dependency. */
function missingDependency(err: unknown, packageName: string): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const match = /Cannot find (?:package|module) '([^']+)'/.exec(String((err as Error).message));
  const missing = match?.[1];
  if (!missing) return undefined;
  // A missing file of the plugin itself is a broken package, not a missing dependency.
  return missing.startsWith('/') || missing.startsWith('.') || missing === packageName ? undefined : missing;
}

/**
 * Loads one plugin from `plugins_path`, telling apart the three ways it can fail:
 * not installed, installed but broken (a dependency is missing, or it throws on import), and
 * incompatible (another plugin API, core range or kind, or not a plugin at all).
 */
export async function loadPlugin(request: LoadRequest): Promise<LoadedPlugin> {
  const packageName = packageNameOf(request.plugin);
  const label = packageName === request.plugin ? `plugin "${packageName}"` : `plugin "${request.plugin}" (${packageName})`;
  const dir = findPackageDir(request.pluginsPath, packageName);
  if (!dir) {
    const known = request.plugin in SHORT_IDS || packageName.includes('/') ? '' : ` (short ids: ${Object.keys(SHORT_IDS).join(', ')})`;
    throw fail(
      ErrorCodes.PLUGIN_NOT_INSTALLED,
      request,
      `${label} is not installed in ${request.pluginsPath}${known}`,
      command(request, `plugins install ${packageName}`),
    );
  }

  let manifest: PluginManifest;
  try {
    manifest = readManifest(dir);
  } catch (err) {
    throw fail(ErrorCodes.PLUGIN_BROKEN, request, `${label}: cannot read ${path.join(dir, 'package.json')}: ${(err as Error).message}`, command(request, `plugins install ${packageName}`));
  }
  const kind = checkManifest(manifest, request);

  let moduleUrl: string;
  let namespace: Record<string, unknown>;
  try {
    // Resolve exactly as an `import` written in a file inside plugins_path would.
    moduleUrl = resolveModule(packageName, pathToFileURL(path.join(request.pluginsPath, 'anklet-host.js')).href);
    namespace = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (err) {
    const missing = missingDependency(err, packageName);
    if (missing) {
      throw fail(
        ErrorCodes.PLUGIN_BROKEN,
        request,
        `${label} is installed but its dependency "${missing}" is missing`,
        command(request, `plugins install ${packageName}`),
      );
    }
    throw fail(
      ErrorCodes.PLUGIN_BROKEN,
      request,
      `${label} is installed but threw on import: ${(err as Error)?.message ?? String(err)}`,
      `${command(request, `plugins remove ${packageName}`)} && ${command(request, `plugins install ${packageName}`)}; if it persists, report it to the plugin's author`,
    );
  }

  const candidate = namespace.default;
  if (!isPlugin(candidate)) {
    throw fail(
      ErrorCodes.PLUGIN_INCOMPATIBLE,
      request,
      `${label}: the default export of ${manifest.name}@${manifest.version} is not an anklet plugin (make it with definePlugin from @anklet/core)`,
      command(request, `plugins install ${packageName}@latest`),
    );
  }
  if (candidate.apiVersion !== apiVersion || candidate.kind !== kind) {
    throw fail(
      ErrorCodes.PLUGIN_INCOMPATIBLE,
      request,
      `${label}: the plugin object (api ${String(candidate.apiVersion)}, kind ${String(candidate.kind)}) does not match its package.json (api ${String(manifest.anklet?.apiVersion)}, kind ${kind})`,
      command(request, `plugins install ${packageName}@latest`),
    );
  }
  return { plugin: candidate, manifest, kind };
}
