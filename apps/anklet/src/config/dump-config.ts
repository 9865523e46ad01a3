import type { z } from 'zod';
import { hostConfigSchema, objectShape, pluginEntrySchema, valueTypeOf } from './schema.js';

/** Config keys whose values are secrets: shown as `[REDACTED]` when set. */
export const SECRET_CONFIG_KEYS: ReadonlySet<string> = new Set([
  'token',
  'private_key',
  'password',
  'secret',
  'global_token',
  'global_private_key',
  'global_database_password',
  'global_receiver_secret',
]);

const INITIALISMS: Record<string, string> = { url: 'URL', urls: 'URLs', id: 'ID', tls: 'TLS', cpu: 'CPU' };

/** `global_database_url` → `GlobalDatabaseURL`, as the Go struct fields are named. */
export function goFieldName(key: string): string {
  return key
    .split('_')
    .map((part) => INITIALISMS[part] ?? part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

function zeroOf(field: z.ZodType): unknown {
  switch (valueTypeOf(field)) {
    case 'bool':
      return false;
    case 'int':
    case 'float':
      return 0;
    case 'list':
      return null;
    case 'string':
      return '';
    default:
      return undefined;
  }
}

function dumpValue(key: string, value: unknown, field: z.ZodType | undefined): unknown {
  if (SECRET_CONFIG_KEYS.has(key) && value !== undefined && value !== null && value !== '') return '[REDACTED]';
  const shape = field && objectShape(field);
  if (shape) return dumpObject(value, shape);
  if (value === undefined || value === null) return field ? zeroOf(field) : null;
  // Go keeps string fields as strings even when YAML had a number (port: 8080 → "8080").
  if (field && valueTypeOf(field) === 'string' && typeof value === 'number') return String(value);
  return value;
}

function dumpObject(value: unknown, shape: Record<string, z.ZodType>): Record<string, unknown> {
  const source = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape)) {
    if (key === 'plugins') {
      out.Plugins = Array.isArray(source.plugins) && source.plugins.length > 0
        ? source.plugins.map((entry) => dumpObject(entry, pluginEntrySchema.shape as Record<string, z.ZodType>))
        : null;
      continue;
    }
    out[goFieldName(key)] = dumpValue(key, source[key], field);
  }
  // A plugin's own keys (not in the Go struct) follow, so the dump shows everything that was read.
  for (const [key, child] of Object.entries(source)) {
    if (!(key in shape)) out[goFieldName(key)] = dumpValue(key, child, undefined);
  }
  return out;
}

/**
 * The config as the Go anklet's `loaded config` line shows it (Go field names, Go order, zero values
 * for unset keys), with every secret replaced by `[REDACTED]`. The Go version logs secrets in clear text.
 */
export function dumpConfig(document: Record<string, unknown>): Record<string, unknown> {
  return dumpObject(document, hostConfigSchema.shape as Record<string, z.ZodType>);
}
