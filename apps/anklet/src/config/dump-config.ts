import { hostJsonSchema } from './json-schema.js';
import { kindOf, objectSchemaOf, type JsonSchemaNode } from './yaml-values.js';

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

/**
 * The Go plugin struct's fields in Go order, as the `loaded config` dump shows them: the dump is a
 * compatibility surface (operators diff it), not a list of who owns which key. Text keys show `""`
 * when unset, number keys 0, true/false keys false, lists null.
 */
const GO_PLUGIN_FIELDS: ReadonlyArray<readonly [string, 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object']> = [
  ['sleep_interval', 'integer'], ['name', 'string'], ['plugin', 'string'], ['token', 'string'], ['repo', 'string'], ['owner', 'string'],
  ['enterprise', 'string'], ['queue_name', 'string'], ['database', 'object'], ['registry_url', 'string'], ['skip_pull', 'boolean'],
  ['private_key', 'string'], ['app_id', 'integer'], ['installation_id', 'integer'], ['workflows', 'object'], ['port', 'string'],
  ['secret', 'string'], ['hook_id', 'integer'], ['skip_redeliver', 'boolean'], ['runner_group', 'string'], ['redeliver_hours', 'integer'],
  ['registration_timeout_seconds', 'integer'], ['template_disk_buffer', 'number'], ['job_retry_attempts', 'integer'],
  ['skip_cpu_and_memory_resource_checks', 'boolean'], ['host_to_guest_folder_mounts', 'array'],
];

function zeroOf(kind: string): unknown {
  switch (kind) {
    case 'boolean':
      return false;
    case 'integer':
    case 'number':
      return 0;
    case 'array':
      return null;
    case 'string':
      return '';
    default:
      return undefined;
  }
}

function dumpValue(key: string, value: unknown, field: JsonSchemaNode | undefined, kind = kindOf(field)): unknown {
  if (SECRET_CONFIG_KEYS.has(key) && value !== undefined && value !== null && value !== '') return '[REDACTED]';
  const object = objectSchemaOf(field);
  if (object?.properties) return dumpObject(value, object.properties);
  if (value === undefined || value === null) return field || kind !== 'unknown' ? zeroOf(kind) : null;
  // Go keeps string fields as strings (port: 8080 → "8080").
  if (kind === 'string' && typeof value === 'number') return String(value);
  return value;
}

function dumpPlugin(value: unknown, host: Record<string, JsonSchemaNode>): Record<string, unknown> {
  const source = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [key, kind] of GO_PLUGIN_FIELDS) out[goFieldName(key)] = dumpValue(key, source[key], host[key], kind);
  // A plugin's own keys (not in the Go struct) follow, so the dump shows everything that was read.
  for (const [key, child] of Object.entries(source)) {
    if (!(goFieldName(key) in out)) out[goFieldName(key)] = dumpValue(key, child, undefined);
  }
  return out;
}

function dumpObject(value: unknown, shape: Record<string, JsonSchemaNode>): Record<string, unknown> {
  const source = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape)) {
    if (key === 'plugins') {
      const entry = field.anyOf?.find((alt) => alt.type === 'array')?.items;
      const hostKeys = objectSchemaOf(entry)?.properties ?? {};
      out.Plugins = Array.isArray(source.plugins) && source.plugins.length > 0 ? source.plugins.map((p) => dumpPlugin(p, hostKeys)) : null;
      continue;
    }
    out[goFieldName(key)] = dumpValue(key, source[key], field);
  }
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
  return dumpObject(document, objectSchemaOf(hostJsonSchema())?.properties ?? {});
}
