import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { AnkletError, childEnv, ErrorCodes } from '@anklet/core';
import rcompare from 'semver/functions/rcompare.js';
import satisfies from 'semver/functions/satisfies.js';
import { checkManifest, hostCoreVersion } from './load-plugin.js';
import type { PluginManifest } from './manifest.js';
import { viewVersions, type RegistryVersion } from './npm.js';

/** A spec npm resolves on disk (a folder or a tarball), not in a registry. */
export function isLocalSpec(spec: string): boolean {
  return /^(\.{1,2}\/|\/|~\/|file:)/.test(spec) || /\.(tgz|tar\.gz|tar)$/.test(spec);
}

/** A spec npm fetches from somewhere other than the registry (git, a tarball URL). */
function isRemoteSpec(spec: string): boolean {
  return /^(https?:|git\+|git:|github:|gitlab:|bitbucket:)/.test(spec) || /^[\w.-]+\/[\w.-]+(#.*)?$/.test(spec);
}

function asManifest(v: RegistryVersion, dir: string): PluginManifest {
  return {
    name: v.name,
    version: v.version,
    dir,
    description: undefined,
    keywords: v.keywords ?? [],
    anklet: v.anklet && typeof v.anklet === 'object' ? v.anklet : undefined,
    corePeerRange: v.peerDependencies?.['@anklet/core'],
  };
}

const accepts = (v: RegistryVersion): boolean => {
  const range = v.peerDependencies?.['@anklet/core'];
  return range !== undefined && satisfies(hostCoreVersion, range, { includePrerelease: true });
};

/** The manifest of a local folder or tarball, read without installing it (undefined when unreadable). */
function localManifest(spec: string): RegistryVersion | undefined {
  const file = spec.replace(/^file:/, '');
  try {
    if (existsSync(file) && statSync(file).isDirectory()) return JSON.parse(readFileSync(path.join(file, 'package.json'), 'utf8')) as RegistryVersion;
    // npm's tarballs hold the package in `package/`.
    const text = execFileSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: childEnv() });
    return JSON.parse(text) as RegistryVersion;
  } catch {
    return undefined;
  }
}

/** The newest published version of `name` whose peer range accepts this host's core. */
export async function newestCompatible(name: string, cwd: string): Promise<RegistryVersion | undefined> {
  const all = await viewVersions(`${name}@>=0.0.0-0`, cwd).catch(() => [] as RegistryVersion[]);
  return all.filter(accepts).sort((a, b) => rcompare(a.version, b.version))[0];
}

export interface PreflightOptions {
  readonly cwd: string;
  readonly cliFlags?: string | undefined;
}

/**
 * Checks what a spec would install before anything is changed on disk: the package is an anklet
 * plugin for this plugin API, and its `@anklet/core` peer range accepts the host's core. A plugin
 * that asks for another core is refused with the exact command that fixes it (an older plugin
 * version that fits, or a newer anklet).
 */
export async function preflight(spec: string, options: PreflightOptions): Promise<void> {
  if (isRemoteSpec(spec)) return; // validated after install, in the staged copy
  const local = isLocalSpec(spec);
  const candidates = local ? [localManifest(spec)].filter((v): v is RegistryVersion => v !== undefined) : await viewVersions(spec, options.cwd);
  // npm installs the highest version a range matches.
  const chosen = [...candidates].sort((a, b) => rcompare(a.version, b.version))[0];
  // No `anklet` field: a library installed beside a plugin, or not a plugin at all; the staged
  // copy's validation tells those apart once npm has placed it.
  if (!chosen?.anklet) return;
  const flags = options.cliFlags ? ` ${options.cliFlags}` : '';
  const request = { plugin: chosen.name, pluginsPath: options.cwd, ...(options.cliFlags ? { cliFlags: options.cliFlags } : {}) };
  const range = chosen.peerDependencies?.['@anklet/core'];
  if (range && !accepts(chosen)) {
    const fitting = local ? undefined : await newestCompatible(chosen.name, options.cwd);
    const fix = fitting
      ? `anklet plugins install ${chosen.name}@${fitting.version}${flags}`
      : `npm install -g anklet@latest (an anklet whose @anklet/core matches ${range}), then run this command again`;
    throw new AnkletError(
      ErrorCodes.PLUGIN_INCOMPATIBLE,
      `${chosen.name}@${chosen.version} needs @anklet/core ${range}; this anklet provides @anklet/core ${hostCoreVersion}. Nothing was installed`,
      { operator: true, hint: `fix: ${fix}` },
    );
  }
  // The other manifest checks (anklet field, API version, kind, keyword) with their own fixes.
  checkManifest(asManifest(chosen, ''), request);
}
