import { isAnkletError, type Plugin, type PluginKind } from '@anklet/core';
import { isMap, isSeq } from 'yaml';
import { pluginJsonSchema } from './compose-json-schema.js';
import { applyCredentialFallbacks, applyPluginEnvOverrides, envPrefixOf } from './env-overrides.js';
import type { ConfigIssue } from './issues.js';
import { pluginEntryJsonSchema, unknownKeyMessage, type LoadedConfig, type PluginEntry } from './load-config.js';
import { HOST_ENTRY_KEYS } from './schema.js';
import { objectSchemaOf, readNode, type JsonSchemaNode, type ReadNote } from './yaml-values.js';
import { loadPlugin } from '../plugins/load-plugin.js';
import type { PluginManifest } from '../plugins/manifest.js';

/** A config entry with its loaded plugin and its validated block. */
export interface PreparedPlugin {
  /** The entry, its `block` read again with the plugin's key types. */
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

/** The YAML node of `plugins[index]`, to read again with the plugin's key types. */
function entryNode(config: LoadedConfig, index: number): unknown {
  const top = config.yaml.doc.contents;
  if (!isMap(top)) return undefined;
  const list = top.items.find((pair) => String((pair.key as { value?: unknown } | null)?.value) === 'plugins')?.value;
  return isSeq(list) ? list.items[index] : undefined;
}

/** The entry's keys: the host's, then the plugin's own. */
function entrySchemaWith(plugin: JsonSchemaNode | undefined): JsonSchemaNode | undefined {
  if (!plugin) return undefined;
  const host = objectSchemaOf(pluginEntryJsonSchema()) ?? {};
  const own = objectSchemaOf(plugin)?.properties ?? {};
  return { type: 'object', properties: { ...own, ...host.properties } };
}

/**
 * The plugin's block as Go would hand it over: the entry read with the plugin's key types (a text
 * key keeps the text written), then `ANKLET_JOB_RETRY_ATTEMPTS` and the `<NAME>_<KEY>` overrides
 * parsed by the same types, then the global credentials.
 */
function readBlock(config: LoadedConfig, entry: PluginEntry, schema: JsonSchemaNode | undefined, notes: ReadNote[]): Record<string, unknown> {
  if (!schema) return { ...entry.block };
  const node = entryNode(config, entry.index);
  const read = readNode(node, schema, config.yaml.doc, ['plugins', entry.index], notes);
  const block = read !== null && typeof read === 'object' && !Array.isArray(read) ? (read as Record<string, unknown>) : {};
  const allPrefixes = config.plugins.map((p) => (p.name ? `${envPrefixOf(p.name)}_` : '')).filter(Boolean);
  applyPluginEnvOverrides(block, { schema, allPrefixes }, config.env);
  applyCredentialFallbacks(block, config.document);
  return block;
}

/**
 * Loads the plugin of every entry and validates its block with the plugin's own schema. Problems
 * are appended to `config.issues` / `config.warnings`, so they are reported together with the host's:
 * one pass reports the host's problems and every plugin's, whatever the host found first.
 */
export async function preparePlugins(config: LoadedConfig, cliFlags?: string): Promise<PreparedPlugin[]> {
  const prepared: PreparedPlugin[] = [];
  for (const entry of config.plugins) {
    if (entry.plugin === '') continue; // already reported
    const at = (key: PropertyKey): ConfigIssue['path'] => ['plugins', entry.index, key];
    let loaded;
    try {
      loaded = await loadPlugin({ plugin: entry.plugin, pluginsPath: config.pluginsPath, ...(cliFlags ? { cliFlags } : {}) });
    } catch (err) {
      const message = isAnkletError(err) ? `${err.message}; ${err.hint ?? ''}`.replace(/; $/, '') : String(err);
      config.issues.push({ path: at('plugin'), message });
      continue;
    }
    const ownSchema = pluginJsonSchema(loaded.plugin);
    const notes: ReadNote[] = [];
    let block: Record<string, unknown>;
    try {
      block = applyKindGlobals(config, loaded.kind, readBlock(config, entry, entrySchemaWith(ownSchema), notes));
    } catch (err) {
      if (!isAnkletError(err) || !err.operator) throw err;
      config.issues.push({ path: at('name'), message: `${err.message} (${err.hint ?? 'fix the variable'})` });
      continue;
    }
    for (const note of notes) config.warnings.push({ path: note.path, message: note.message });
    const result = await loaded.plugin.configSchema['~standard'].validate(block);
    const ownKeys = objectSchemaOf(ownSchema)?.properties;
    if (ownKeys) {
      for (const key of Object.keys(block)) {
        if (!HOST_ENTRY_KEYS.has(key) && !(key in ownKeys)) {
          config.warnings.push({ path: at(key), message: unknownKeyMessage(key, [...HOST_ENTRY_KEYS, ...Object.keys(ownKeys)], `plugin ${loaded.manifest.name}`) });
        }
      }
    }
    if (result.issues) {
      for (const issue of result.issues) config.issues.push({ path: ['plugins', entry.index, ...(issue.path ?? [])], message: issue.message });
      continue;
    }
    const output = result.value;
    if (!ownKeys && output !== null && typeof output === 'object' && !Array.isArray(output)) {
      for (const key of Object.keys(block)) {
        if (!HOST_ENTRY_KEYS.has(key) && !(key in (output as Record<string, unknown>))) {
          config.warnings.push({ path: at(key), message: `unknown key for plugin ${loaded.manifest.name} (ignored)` });
        }
      }
    }
    // An entry the host refused is validated (so its problems come in the same pass) but not run.
    if (config.issues.some((issue) => issue.path[0] === 'plugins' && issue.path[1] === entry.index)) continue;
    prepared.push({ entry: { ...entry, block }, plugin: loaded.plugin, manifest: loaded.manifest, kind: loaded.kind, config: deepFreeze(output) });
  }
  return prepared;
}
