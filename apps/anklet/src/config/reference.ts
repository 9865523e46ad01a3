import type { Plugin } from '@anklet/core';
import { renderConfigReference } from './config-docs.js';
import { composeConfigJsonSchema, pluginJsonSchema, type PluginSchemaSource } from './compose-json-schema.js';
import type { JsonSchemaNode } from './yaml-values.js';

/** The schema sources of loaded plugins (those whose schema library can describe itself). */
export function schemaSourcesOf(plugins: ReadonlyArray<Plugin>): PluginSchemaSource[] {
  return plugins.flatMap((plugin) => {
    const jsonSchema = pluginJsonSchema(plugin);
    return jsonSchema ? [{ name: plugin.name, kind: plugin.kind, description: plugin.description, jsonSchema }] : [];
  });
}

/**
 * `config.schema.json` and `docs/configuration.md` for the host and these plugins. The committed
 * files are this output for the first-party plugins (`pnpm --filter anklet gen:config`); a test
 * fails when they are stale.
 */
export function configReferenceOf(plugins: ReadonlyArray<Plugin>): { schema: JsonSchemaNode; markdown: string } {
  const schema = composeConfigJsonSchema(schemaSourcesOf(plugins));
  return { schema, markdown: renderConfigReference(schema as never) };
}

/** The JSON Schema of config.yml for the host and these plugins (none: host keys only). */
export function configJsonSchema(plugins: ReadonlyArray<Plugin> = []): JsonSchemaNode {
  return configReferenceOf(plugins).schema;
}
