import type { Plugin } from '@anklet/core';
import { SHORT_IDS } from '../plugins/short-ids.js';
import { hostJsonSchema } from './json-schema.js';
import { HOST_ENTRY_KEYS } from './schema.js';
import { objectSchemaOf, type JsonSchemaNode } from './yaml-values.js';

/** What the published schema needs of one plugin. */
export interface PluginSchemaSource {
  /** npm package name. */
  readonly name: string;
  readonly kind: string;
  readonly description?: string | undefined;
  /** The JSON Schema of the plugin's config block (its own keys). */
  readonly jsonSchema: JsonSchemaNode;
}

/**
 * The JSON Schema of a plugin's config block, from its Standard Schema (`~standard.jsonSchema`,
 * which zod >= 4.2, valibot and arktype implement). Undefined when the plugin's schema library
 * cannot describe itself: the host then reads its keys as YAML 1.1 does and lets its schema judge.
 */
export function pluginJsonSchema(plugin: Pick<Plugin, 'configSchema'>): JsonSchemaNode | undefined {
  const standard = plugin.configSchema['~standard'] as { jsonSchema?: { input?: (options: { target: string }) => unknown } };
  try {
    const schema = standard.jsonSchema?.input?.({ target: 'draft-2020-12' });
    return schema !== null && typeof schema === 'object' ? (schema as JsonSchemaNode) : undefined;
  } catch {
    return undefined;
  }
}

/** The schema of a plugin's keys as the composed schema shows them: host keys left to the host, no `additionalProperties`. */
function pluginKeys(source: PluginSchemaSource): JsonSchemaNode {
  const object = objectSchemaOf(source.jsonSchema) ?? {};
  const properties = Object.fromEntries(Object.entries(object.properties ?? {}).filter(([key]) => !HOST_ENTRY_KEYS.has(key)));
  const required = (Array.isArray(object.required) ? (object.required as string[]) : []).filter((key) => !HOST_ENTRY_KEYS.has(key));
  return { type: 'object', properties, ...(required.length > 0 ? { required } : {}) };
}

/** The `plugin:` values that select a package: its short id (if any) and its name. */
export function pluginIdsOf(packageName: string): string[] {
  return [...Object.entries(SHORT_IDS).filter(([, name]) => name === packageName).map(([id]) => id), packageName];
}

/**
 * The JSON Schema of config.yml: the host's keys, and for each given plugin the keys of an entry
 * whose `plugin:` names it. Keys a plugin does not declare are allowed (anklet warns about them),
 * so the schema refuses what `anklet config validate` refuses, key by key; rules across keys
 * (scope, credentials with their global fallbacks, duplicate names, files that must exist) are
 * checked by `config validate` only.
 */
export function composeConfigJsonSchema(plugins: ReadonlyArray<PluginSchemaSource>): JsonSchemaNode {
  const host = structuredClone(hostJsonSchema());
  const defs: Record<string, JsonSchemaNode> = {};
  const entry = structuredClone(objectSchemaOf(host)?.properties?.plugins?.anyOf?.find((alt) => alt.type === 'array')?.items ?? { type: 'object' });
  const branches: JsonSchemaNode[] = [];
  for (const source of [...plugins].sort((a, b) => a.name.localeCompare(b.name))) {
    const ids = pluginIdsOf(source.name);
    const def = `plugin_${source.name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+/, '')}`;
    defs[def] = {
      title: `plugin: ${ids.join(' / ')}`,
      description: source.description ?? `The keys of a ${source.kind} entry.`,
      'x-anklet-kind': source.kind,
      'x-anklet-plugin-ids': ids,
      ...pluginKeys(source),
    };
    branches.push({
      if: { properties: { plugin: { enum: ids } }, required: ['plugin'] },
      then: { $ref: `#/$defs/${def}` },
    });
  }
  if (branches.length > 0) entry.allOf = branches;
  const list = objectSchemaOf(host)?.properties?.plugins?.anyOf?.find((alt) => alt.type === 'array');
  if (list) list.items = { $ref: '#/$defs/plugin_entry' };
  defs.plugin_entry = entry;
  return {
    $schema: host.$schema,
    $id: 'https://github.com/anklet/anklet/apps/anklet/config.schema.json',
    title: 'anklet config.yml',
    description:
      'The anklet config as anklet reads it: a text key holds the text written (`secret: 00000000` is "00000000"), a number key a number. Keys a plugin does not declare are warnings, not errors. Rules across keys are checked by `anklet config validate`.',
    ...Object.fromEntries(Object.entries(host).filter(([key]) => key !== '$schema')),
    $defs: defs,
  };
}
