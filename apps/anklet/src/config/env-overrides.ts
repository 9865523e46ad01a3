import { AnkletError, ErrorCodes } from '@anklet/core';
import { kindOf, objectSchemaOf, type JsonSchemaNode, type ValueKind } from './yaml-values.js';

type Env = Readonly<Record<string, string | undefined>>;
type Mutable = Record<string, unknown>;

/*
 * Environment overrides, in the Go anklet's order and with its parsing rules. The type of each key
 * comes from the JSON Schema of whoever owns it (the host for top-level keys, the plugin for its own
 * keys), so a variable is read exactly like the YAML value it replaces. Precedence, as in Go:
 * `<PLUGIN_NAME>_<KEY>` beats `ANKLET_<KEY>` beats the file. Plugins never read the environment.
 */

/**
 * The prefix of a plugin's environment overrides: its name upper-cased, with every character that
 * is not a letter, digit or `_` replaced by `_` (`github-handler.1` → `GITHUB_HANDLER_1`).
 */
export function envPrefixOf(pluginName: string): string {
  return pluginName.toUpperCase().replace(/[^\p{L}\p{N}_]/gu, '_');
}

/** Parses one environment value as the Go anklet does. Throws with the variable's name, never its value. */
function parseEnvValue(envName: string, raw: string, kind: ValueKind): unknown {
  switch (kind) {
    case 'boolean':
      // Go: only the exact string "true" is true.
      return raw === 'true';
    case 'integer':
      // Go: strconv.Atoi, decimal with an optional sign.
      if (!/^[+-]?\d+$/.test(raw)) throw envError(envName, 'expected a whole number');
      return Number.parseInt(raw, 10);
    case 'number': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim())) throw envError(envName, 'expected a number');
      return Number.parseFloat(raw);
    }
    case 'array':
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

const propertiesOf = (schema: JsonSchemaNode | undefined): Record<string, JsonSchemaNode> => objectSchemaOf(schema)?.properties ?? {};

/** Applies `<prefix><KEY>` overrides for every scalar or list key of one object level. */
function applyLevel(env: Env, target: () => Mutable, envPrefix: string, properties: Record<string, JsonSchemaNode>, skip: ReadonlyArray<string> = []): void {
  for (const [key, field] of Object.entries(properties)) {
    if (skip.includes(key)) continue;
    const kind = kindOf(field);
    if (kind === 'object') continue;
    const envName = `${envPrefix}${key.toUpperCase()}`;
    const raw = env[envName];
    // An empty variable counts as unset, so `ANKLET_X=` never wipes a YAML value.
    if (raw === undefined || raw === '') continue;
    target()[key] = parseEnvValue(envName, raw, kind);
  }
}

/**
 * Applies the `ANKLET_*` overrides of the host's keys to a read config document, in place, in the Go
 * anklet's order. Throws an operator AnkletError when a value does not parse.
 *
 * Differences from Go, on purpose: the variables the Go README documents but never read
 * (`ANKLET_PID_FILE_DIR`, `ANKLET_LOG_FILE_DIR`, `ANKLET_PLUGINS_PATH`, the retry settings, ...) work.
 */
export function applyHostEnvOverrides(doc: Mutable, hostSchema: JsonSchemaNode, env: Env = process.env): void {
  const top = propertiesOf(hostSchema);
  const metrics = propertiesOf(top.metrics);
  // 1. ANKLET_METRICS_* and ANKLET_METRICS_DATABASE_*
  applyLevel(env, () => ensureMap(doc, 'metrics'), 'ANKLET_METRICS_', metrics);
  applyLevel(env, () => ensureMap(ensureMap(doc, 'metrics'), 'database'), 'ANKLET_METRICS_DATABASE_', propertiesOf(metrics.database));
  // ANKLET_LOG_FILE_DIR means log.file_dir (the legacy top-level log_file_dir is unused anyway).
  applyLevel(env, () => ensureMap(doc, 'log'), 'ANKLET_LOG_', propertiesOf(top.log));
  // Not in Go: ANKLET_JOB_HISTORY_MAX_AGE_HOURS, ANKLET_JOB_HISTORY_MAX_JOBS.
  applyLevel(env, () => ensureMap(doc, 'job_history'), 'ANKLET_JOB_HISTORY_', propertiesOf(top.job_history));
  // 2-8. ANKLET_WORK_DIR, ANKLET_GLOBAL_*, ANKLET_PLUGINS_PATH, ANKLET_PID_FILE_DIR
  applyLevel(env, () => doc, 'ANKLET_', top, ['log_file_dir', 'plugins', 'job_history']);
}

/** What {@link applyPluginEnvOverrides} needs to know about one plugin entry. */
export interface PluginEnvTarget {
  /** The entry's keys: the host's and, once the plugin is loaded, the plugin's. */
  readonly schema: JsonSchemaNode | undefined;
  /** Env prefixes of every plugin of the config (with `_`), so that a variable goes to the longest matching name. */
  readonly allPrefixes: ReadonlyArray<string>;
}

/**
 * Applies `ANKLET_JOB_RETRY_ATTEMPTS` and the plugin's own `<PLUGIN_NAME>_<KEY>` overrides to one
 * plugin entry, in place, Go's steps 9 and 10 (so the per-plugin variable wins).
 *
 * Differences from Go, on purpose: a variable that matches two plugins (`A` and `A_B`) goes to the
 * longer name only; an empty `<NAME>_DATABASE_<NUMBER>` counts as unset instead of failing; a key
 * the entry's schema does not declare is parsed like the value the YAML already holds.
 */
export function applyPluginEnvOverrides(entry: Mutable, target: PluginEnvTarget, env: Env = process.env): void {
  const properties = propertiesOf(target.schema);
  const kindOfKey = (key: string): ValueKind => (properties[key] ? kindOf(properties[key]) : typeOfYamlValue(entry[key]));

  // 9. ANKLET_JOB_RETRY_ATTEMPTS applies to every plugin that has the key (Go: every plugin).
  const retries = env.ANKLET_JOB_RETRY_ATTEMPTS;
  if (retries !== undefined && retries !== '' && (!target.schema || 'job_retry_attempts' in properties)) {
    entry.job_retry_attempts = parseEnvValue('ANKLET_JOB_RETRY_ATTEMPTS', retries, 'integer');
  }

  // 10. Per-plugin overrides.
  if (typeof entry.name !== 'string' || entry.name === '') return;
  const prefix = `${envPrefixOf(entry.name)}_`;
  const longer = target.allPrefixes.filter((p) => p.length > prefix.length && p.startsWith(prefix));
  const dbProperties = propertiesOf(properties.database);
  for (const [envName, raw] of Object.entries(env)) {
    if (raw === undefined || !envName.startsWith(prefix)) continue;
    // RUNNER_1_X belongs to RUNNER_1 when both RUNNER and RUNNER_1 exist.
    if (longer.some((p) => envName.startsWith(p))) continue;
    const suffix = envName.slice(prefix.length);

    if (suffix.startsWith('DATABASE_')) {
      const key = findKey(dbProperties, suffix.slice('DATABASE_'.length));
      if (!key) continue;
      const kind = kindOf(dbProperties[key]);
      // Go sets empty strings and bools here; an empty number counts as unset instead of failing.
      if (raw === '' && (kind === 'integer' || kind === 'number')) continue;
      ensureMap(entry, 'database')[key] = parseEnvValue(envName, raw, kind);
      continue;
    }
    if (raw.trim() === '') continue;
    const key = findKey(properties, suffix) ?? findKey(entry, suffix);
    if (!key || key === 'name') continue;
    const kind = kindOfKey(key);
    if (kind === 'object') continue;
    entry[key] = parseEnvValue(envName, raw, kind);
  }
}

/**
 * Go's step 11: a plugin without credentials takes the (possibly overridden) global ones. A plugin
 * that brings one kind of credential keeps it alone (the Go README's PAT handler beside a
 * `global_private_key` does not become an App without an `app_id`), except in enterprise scope,
 * which needs both a token and an App.
 */
export function applyCredentialFallbacks(entry: Mutable, top: Readonly<Mutable>): void {
  const enterprise = !isBlank(entry.enterprise);
  const ownKey = !isBlank(entry.private_key);
  const ownToken = !isBlank(entry.token);
  if (!ownKey && (!ownToken || enterprise) && !isBlank(top.global_private_key)) entry.private_key = top.global_private_key;
  if (!ownToken && (!ownKey || enterprise) && !isBlank(top.global_token)) entry.token = top.global_token;
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** The key whose upper-cased form (with `-` as `_`) equals `suffix`. */
function findKey(shape: Record<string, unknown>, suffix: string): string | undefined {
  return Object.keys(shape).find((key) => key.toUpperCase().replace(/-/g, '_') === suffix);
}

/** For a key no schema declares: parse the variable like the value already in the YAML. */
function typeOfYamlValue(value: unknown): ValueKind {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (Array.isArray(value)) return 'array';
  if (value !== null && typeof value === 'object') return 'object';
  return 'string';
}
