import { AnkletError, ErrorCodes } from '@anklet/core';
import { hostConfigSchema, objectShape, pluginEntrySchema, valueTypeOf, type EnvValueType } from './schema.js';

type Env = Readonly<Record<string, string | undefined>>;
type Mutable = Record<string, unknown>;

/**
 * The prefix of a plugin's environment overrides: its name upper-cased, with every character that
 * is not a letter, digit or `_` replaced by `_` (`github-handler.1` → `GITHUB_HANDLER_1`).
 */
export function envPrefixOf(pluginName: string): string {
  return pluginName.toUpperCase().replace(/[^\p{L}\p{N}_]/gu, '_');
}

/** Parses one environment value as the Go anklet does. Throws with the variable's name, never its value. */
function parseEnvValue(envName: string, raw: string, type: EnvValueType): unknown {
  switch (type) {
    case 'bool':
      // Go: only the exact string "true" is true.
      return raw === 'true';
    case 'int':
      if (!/^[+-]?\d+$/.test(raw)) throw envError(envName, 'expected a whole number');
      return Number.parseInt(raw, 10);
    case 'float': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim())) throw envError(envName, 'expected a number');
      return Number.parseFloat(raw);
    }
    case 'list':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    default:
      return raw;
  }
}

function envError(envName: string, expected: string): AnkletError {
  return new AnkletError(ErrorCodes.CONFIG_ENV, `${envName}: ${expected}`, {
    operator: true,
    hint: `fix or unset the environment variable ${envName}`,
  });
}

function ensureMap(parent: Mutable, key: string): Mutable {
  const current = parent[key];
  if (current !== null && typeof current === 'object' && !Array.isArray(current)) return current as Mutable;
  const created: Mutable = {};
  parent[key] = created;
  return created;
}

/** Applies `ANKLET_<KEY>` overrides for every scalar or list key of one object schema level. */
function applyLevel(env: Env, target: () => Mutable, envPrefix: string, shape: Record<string, unknown>): void {
  for (const [key, field] of Object.entries(shape)) {
    const type = valueTypeOf(field as never);
    if (type === 'map') continue;
    const envName = `${envPrefix}${key.toUpperCase()}`;
    const raw = env[envName];
    // An empty variable counts as unset, so `ANKLET_X=` never wipes a YAML value.
    if (raw === undefined || raw === '') continue;
    target()[key] = parseEnvValue(envName, raw, type);
  }
}

/**
 * Applies the `ANKLET_*` and per-plugin `<PLUGIN_NAME>_<KEY>` overrides to a parsed YAML document,
 * in place, in the Go anklet's order. Throws an operator AnkletError when a value does not parse.
 *
 * Differences from Go, on purpose: the variables the Go README documents but never read
 * (`ANKLET_PID_FILE_DIR`, `ANKLET_LOG_FILE_DIR`, `ANKLET_PLUGINS_PATH`, the retry settings, ...) work;
 * a variable that matches two plugins (`A` and `A_B`) goes to the longer name only; an empty
 * `<NAME>_DATABASE_<INT>` counts as unset instead of failing.
 */
export function applyEnvOverrides(doc: Mutable, env: Env = process.env): void {
  const topShape = hostConfigSchema.shape as Record<string, unknown>;
  const scalarTop = Object.fromEntries(
    Object.entries(topShape).filter(([key]) => key !== 'log_file_dir' && key !== 'plugins'),
  );
  // 1. ANKLET_METRICS_* and ANKLET_METRICS_DATABASE_*
  const metricsShape = objectShape(topShape.metrics as never) ?? {};
  applyLevel(env, () => ensureMap(doc, 'metrics'), 'ANKLET_METRICS_', metricsShape);
  applyLevel(env, () => ensureMap(ensureMap(doc, 'metrics'), 'database'), 'ANKLET_METRICS_DATABASE_', objectShape(metricsShape.database as never) ?? {});
  // ANKLET_LOG_FILE_DIR means log.file_dir (the legacy top-level log_file_dir is unused anyway).
  applyLevel(env, () => ensureMap(doc, 'log'), 'ANKLET_LOG_', objectShape(topShape.log as never) ?? {});
  // 2-8. ANKLET_WORK_DIR, ANKLET_GLOBAL_*, ANKLET_PLUGINS_PATH, ANKLET_PID_FILE_DIR
  applyLevel(env, () => doc, 'ANKLET_', scalarTop);

  const plugins = Array.isArray(doc.plugins) ? (doc.plugins as unknown[]) : [];
  const entries = plugins.filter((p): p is Mutable => p !== null && typeof p === 'object' && !Array.isArray(p));

  // 9. ANKLET_JOB_RETRY_ATTEMPTS applies to every plugin.
  const retries = env.ANKLET_JOB_RETRY_ATTEMPTS;
  if (retries !== undefined && retries !== '') {
    const value = parseEnvValue('ANKLET_JOB_RETRY_ATTEMPTS', retries, 'int');
    for (const entry of entries) entry.job_retry_attempts = value;
  }

  // 10. Per-plugin overrides.
  applyPluginOverrides(entries, env);

  // 11. Empty plugin credentials fall back to the (possibly overridden) globals.
  for (const entry of entries) {
    if (isBlank(entry.private_key) && !isBlank(doc.global_private_key)) entry.private_key = doc.global_private_key;
    if (isBlank(entry.token) && !isBlank(doc.global_token)) entry.token = doc.global_token;
  }
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function applyPluginOverrides(entries: Mutable[], env: Env): void {
  const entryShape = pluginEntrySchema.shape as Record<string, unknown>;
  const dbShape = objectShape(entryShape.database as never) ?? {};
  const named = entries
    .map((entry) => ({ entry, prefix: typeof entry.name === 'string' && entry.name !== '' ? `${envPrefixOf(entry.name)}_` : '' }))
    .filter((p) => p.prefix !== '');
  // Longest prefix first, so RUNNER_1_X goes to RUNNER_1 rather than RUNNER.
  const byLength = [...named].sort((a, b) => b.prefix.length - a.prefix.length);

  for (const [envName, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const owner = byLength.find((p) => envName.startsWith(p.prefix));
    if (!owner) continue;
    const suffix = envName.slice(owner.prefix.length);
    const { entry } = owner;

    if (suffix.startsWith('DATABASE_')) {
      const key = findKey(dbShape, suffix.slice('DATABASE_'.length));
      if (!key) continue;
      const type = valueTypeOf(dbShape[key] as never);
      // Go sets empty strings and bools here; an empty number counts as unset instead of failing.
      if (raw === '' && (type === 'int' || type === 'float')) continue;
      ensureMap(entry, 'database')[key] = parseEnvValue(envName, raw, type);
      continue;
    }
    if (raw.trim() === '') continue;
    const key = findKey(entryShape, suffix) ?? findKey(entry, suffix);
    if (!key) continue;
    const field = entryShape[key];
    const type = field ? valueTypeOf(field as never) : typeOfYamlValue(entry[key]);
    if (type === 'map') continue;
    entry[key] = parseEnvValue(envName, raw, type);
  }
}

/** The key whose upper-cased form (with `-` as `_`) equals `suffix`. */
function findKey(shape: Record<string, unknown>, suffix: string): string | undefined {
  return Object.keys(shape).find((key) => key.toUpperCase().replace(/-/g, '_') === suffix);
}

/** For a third-party plugin's own key: parse the variable like the value already in the YAML. */
function typeOfYamlValue(value: unknown): EnvValueType {
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (Array.isArray(value)) return 'list';
  if (value !== null && typeof value === 'object') return 'map';
  return 'string';
}
