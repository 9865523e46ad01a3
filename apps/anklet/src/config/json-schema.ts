import { z } from 'zod';
import { hostConfigSchema } from './schema.js';
import type { JsonSchemaNode } from './yaml-values.js';

let cached: JsonSchemaNode | undefined;

/**
 * The JSON Schema of the host's keys (no plugin keys), generated from its zod schema. The loader
 * reads YAML values by the types in it; `compose-json-schema.ts` adds the plugins' keys for the
 * published `config.schema.json`.
 */
export function hostJsonSchema(): JsonSchemaNode {
  cached ??= z.toJSONSchema(hostConfigSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchemaNode;
  return cached;
}
