import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of a plugin's package.json the host reads before running any of its code. */
export interface PluginManifest {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly description: string | undefined;
  readonly keywords: ReadonlyArray<string>;
  /** `apiVersion`, `kind`, and `anka` (does a handler need the Anka CLI; default true for handlers). */
  readonly anklet: { readonly apiVersion?: unknown; readonly kind?: unknown; readonly anka?: unknown } | undefined;
  readonly corePeerRange: string | undefined;
}

/** The keyword every plugin package carries, so `npm search anklet-plugin` finds it. */
export const PLUGIN_KEYWORD = 'anklet-plugin';

export function readManifest(dir: string): PluginManifest {
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  const anklet = pkg.anklet;
  const peers = pkg.peerDependencies as Record<string, string> | undefined;
  return {
    name: String(pkg.name ?? path.basename(dir)),
    version: String(pkg.version ?? '0.0.0'),
    dir,
    description: typeof pkg.description === 'string' ? pkg.description : undefined,
    keywords: Array.isArray(pkg.keywords) ? pkg.keywords.map(String) : [],
    anklet: anklet !== null && typeof anklet === 'object' ? (anklet as PluginManifest['anklet']) : undefined,
    corePeerRange: peers?.['@anklet/core'],
  };
}

/**
 * Whether a plugin needs the Anka CLI on this host: a handler does unless its package.json says
 * `"anklet": { "anka": false }`; a receiver never does.
 */
export function needsAnka(manifest: Pick<PluginManifest, 'anklet'>): boolean {
  return manifest.anklet?.kind === 'handler' && manifest.anklet.anka !== false;
}
