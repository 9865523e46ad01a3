import { isAnkletError, type Plugin, type PluginKind } from '@anklet/core';
import type { ConfigIssue } from './issues.js';
import type { LoadedConfig, PluginEntry } from './load-config.js';
import { pluginEntrySchema } from './schema.js';
import { loadPlugin } from '../plugins/load-plugin.js';
import type { PluginManifest } from '../plugins/manifest.js';

/** A config entry with its loaded plugin and its validated block. */
export interface PreparedPlugin {
  readonly entry: PluginEntry;
  readonly plugin: Plugin;
  readonly manifest: PluginManifest;
  readonly kind: PluginKind;
  /** What the plugin's schema produced (defaults applied), deep-frozen. */
  readonly config: unknown;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

const isSet = (value: unknown) => value !== undefined && value !== null && value !== '';

/**
 * Applies the `global_*` settings that depend on the plugin's kind, as the Go core does after env
 * overrides: the global receiver secret wins on receivers; handlers get the global resource-check
 * switch, the global host-to-guest mounts (first) and the global disk buffer (which Go parses but ignores).
 */
export function applyKindGlobals(config: LoadedConfig, kind: PluginKind, block: Record<string, unknown>): Record<string, unknown> {
  const raw = config.raw;
  const out = { ...block };
  if (kind === 'receiver') {
    if (isSet(raw.global_receiver_secret)) out.secret = raw.global_receiver_secret;
    return out;
  }
  if (raw.global_skip_cpu_and_memory_resource_checks === true) out.skip_cpu_and_memory_resource_checks = true;
  const globalMounts = raw.global_host_to_guest_folder_mounts ?? [];
  if (globalMounts.length > 0) {
    const own = Array.isArray(block.host_to_guest_folder_mounts) ? (block.host_to_guest_folder_mounts as string[]) : [];
    out.host_to_guest_folder_mounts = [...globalMounts, ...own.filter((m) => !globalMounts.includes(m))];
  }
  if (!isSet(block.template_disk_buffer) && typeof raw.global_template_disk_buffer === 'number' && raw.global_template_disk_buffer > 0) {
    out.template_disk_buffer = raw.global_template_disk_buffer;
  }
  return out;
}

/**
 * Loads the plugin of every entry and validates its block with the plugin's own schema. Problems
 * are appended to `config.issues` / `config.warnings`, so they are reported together with the host's.
 */
export async function preparePlugins(config: LoadedConfig, cliFlags?: string): Promise<PreparedPlugin[]> {
  const prepared: PreparedPlugin[] = [];
  const hostKeys = new Set(Object.keys(pluginEntrySchema.shape));
  for (const entry of config.plugins) {
    if (entry.plugin === '') continue; // already reported
    const at = (key: PropertyKey): ConfigIssue['path'] => ['plugins', entry.index, key];
    // Entries the host already rejected are loaded (to report a missing plugin too) but not handed
    // to their plugin's schema, which would report the same bad value a second time.
    const hostRejected = config.issues.some((issue) => issue.path[0] === 'plugins' && issue.path[1] === entry.index);
    let loaded;
    try {
      loaded = await loadPlugin({ plugin: entry.plugin, pluginsPath: config.pluginsPath, ...(cliFlags ? { cliFlags } : {}) });
    } catch (err) {
      const message = isAnkletError(err) ? `${err.message}; ${err.hint ?? ''}`.replace(/; $/, '') : String(err);
      config.issues.push({ path: at('plugin'), message });
      continue;
    }
    if (hostRejected) continue;
    const block = applyKindGlobals(config, loaded.kind, entry.block);
    const result = await loaded.plugin.configSchema['~standard'].validate(block);
    if (result.issues) {
      for (const issue of result.issues) config.issues.push({ path: ['plugins', entry.index, ...(issue.path ?? [])], message: issue.message });
      continue;
    }
    const output = result.value;
    if (output !== null && typeof output === 'object' && !Array.isArray(output)) {
      for (const key of Object.keys(block)) {
        if (!hostKeys.has(key) && !(key in (output as Record<string, unknown>))) {
          config.warnings.push({ path: at(key), message: `unknown key for plugin ${loaded.manifest.name} (ignored)` });
        }
      }
    }
    prepared.push({ entry, plugin: loaded.plugin, manifest: loaded.manifest, kind: loaded.kind, config: deepFreeze(output) });
  }
  return prepared;
}
