import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { AnkletError, ErrorCodes } from '@anklet/core';
import { resolveDatabaseConfig, type DatabaseConfig, type GlobalDatabaseConfig } from '@anklet/redis/config';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { applyEnvOverrides } from './env-overrides.js';
import { formatIssuePath, type ConfigIssue } from './issues.js';
import {
  failurePolicies,
  hostConfigSchema,
  objectShape,
  pluginEntrySchema,
  type FailurePolicy,
  type RawDatabase,
  type RawHostConfig,
} from './schema.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Where anklet keeps its files: `~/.config/anklet`. */
export function configDirOf(home: string = homedir()): string {
  return path.join(home, '.config', 'anklet');
}

/** Expands a leading `~/` (the Go anklet does not; people expect it). */
export function expandHome(value: string, home: string = homedir()): string {
  return value === '~' ? home : value.startsWith('~/') ? path.join(home, value.slice(2)) : value;
}

/** `-c <path>` if given, else `~/.config/anklet/<ANKLET_CONFIG_FILE_NAME or config.yml>`. */
export function resolveConfigPath(configPath: string | undefined, env: Env = process.env, home = homedir()): string {
  if (configPath) return path.resolve(expandHome(configPath, home));
  return path.join(configDirOf(home), env.ANKLET_CONFIG_FILE_NAME || 'config.yml');
}

/** The Go anklet's message for a config it cannot read; operators grep for it. */
export const UNREADABLE_MESSAGE = 'unable to load config.yml (is it in the work_dir, or are you using an absolute path?)';

/** Reads and parses the YAML file. Throws `ANKLET_ERR_CONFIG_UNREADABLE` for a missing, empty or malformed file. */
export function readConfigDocument(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? `no config file at ${file}` : `cannot read ${file}: ${(err as Error).message}`;
    throw new AnkletError(ErrorCodes.CONFIG_UNREADABLE, reason, {
      operator: true,
      cause: err,
      hint: code === 'ENOENT' ? `create ${file}, or pass another file with -c <path>` : undefined,
    });
  }
  if (text.trim() === '') {
    throw new AnkletError(ErrorCodes.CONFIG_UNREADABLE, `the config file ${file} is empty`, {
      operator: true,
      hint: 'a config with no plugins is a file containing "plugins:"; see `anklet config schema` for every key',
    });
  }
  // YAML 1.1 like the Go decoder (yes/no/on/off are booleans). Only the first document is read.
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    throw new AnkletError(ErrorCodes.CONFIG_UNREADABLE, `${file} is not valid YAML: ${first.message.split('\n')[0]}`, {
      operator: true,
      cause: first,
    });
  }
  const value: unknown = doc.toJS();
  // `---` alone or `plugins:` alone is a valid, empty config (as in Go).
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new AnkletError(ErrorCodes.CONFIG_UNREADABLE, `${file} must hold a map of settings at the top level`, { operator: true });
  }
  return value as Record<string, unknown>;
}

/** One `plugins:` entry after env overrides and host validation. */
export interface PluginEntry {
  readonly index: number;
  readonly name: string;
  readonly plugin: string;
  readonly sleepIntervalSeconds: number;
  readonly onFailure: FailurePolicy;
  /** Redis for this plugin (global_database_* first, field by field), or null when neither names a url. */
  readonly database: DatabaseConfig | null;
  /** The whole entry as the user wrote it, with env overrides and credential fallbacks applied. */
  readonly block: Record<string, unknown>;
}

/** The config after reading, env overrides and host validation. */
export interface LoadedConfig {
  readonly file: string;
  readonly configDir: string;
  readonly home: string;
  /** The document after env overrides (for the `loaded config` dump). */
  readonly document: Record<string, unknown>;
  readonly raw: RawHostConfig;
  readonly pluginsPath: string;
  readonly workDir: string | undefined;
  readonly pidFileDir: string | undefined;
  readonly logFileDir: string | undefined;
  readonly splitByPlugin: boolean;
  readonly plugins: ReadonlyArray<PluginEntry>;
  /** Problems that stop anklet (reported all at once). */
  readonly issues: ConfigIssue[];
  /** Things worth a warning (unknown keys). */
  readonly warnings: ConfigIssue[];
}

export interface LoadConfigOptions {
  configPath?: string | undefined;
  env?: Env;
  home?: string;
}

/** Reads the config, applies env overrides and validates the host's keys. Plugin blocks are checked later, by each plugin's schema. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const home = options.home ?? (env.HOME || homedir());
  const file = resolveConfigPath(options.configPath, env, home);
  const document = readConfigDocument(file);
  applyEnvOverrides(document, env);

  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const parsed = hostConfigSchema.safeParse(document);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.push({ path: issue.path, message: issue.message });
  }
  collectUnknownKeys(document, hostConfigSchema, [], warnings);

  // Keep going with what parsed, so that every problem is reported in one pass.
  const raw: RawHostConfig = parsed.success ? parsed.data : (document as RawHostConfig);
  const str = (value: unknown): string | undefined =>
    value === null || value === undefined || value === '' ? undefined : String(value);

  const logFileDir = str(raw.log?.file_dir);
  if (logFileDir !== undefined) {
    const dir = path.resolve(expandHome(logFileDir, home));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      issues.push({ path: ['log', 'file_dir'], message: `log directory does not exist: ${dir}` });
    }
  }

  const plugins = checkPluginEntries(document, raw, issues);
  const configDir = configDirOf(home);
  return {
    file,
    configDir,
    home,
    document,
    raw,
    pluginsPath: path.resolve(expandHome(str(raw.plugins_path) ?? path.join(configDir, 'plugins'), home)),
    workDir: str(raw.work_dir) && path.resolve(expandHome(String(raw.work_dir), home)),
    pidFileDir: str(raw.pid_file_dir) && path.resolve(expandHome(String(raw.pid_file_dir), home)),
    logFileDir: logFileDir && path.resolve(expandHome(logFileDir, home)),
    splitByPlugin: raw.log?.split_by_plugin === true,
    plugins,
    issues,
    warnings,
  };
}

function checkPluginEntries(document: Record<string, unknown>, raw: RawHostConfig, issues: ConfigIssue[]): PluginEntry[] {
  const list = Array.isArray(document.plugins) ? (document.plugins as unknown[]) : [];
  const firstIndexByName = new Map<string, number>();
  const entries: PluginEntry[] = [];
  list.forEach((item, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return; // the schema reported it
    const block = item as Record<string, unknown>;
    const name = block.name === null || block.name === undefined ? '' : String(block.name);
    const plugin = block.plugin === null || block.plugin === undefined ? '' : String(block.plugin);
    const at = (key: string): Array<string | number> => ['plugins', index, key];
    // The Go anklet's texts, so existing alerts and greps keep working.
    if (name === '') issues.push({ path: at('name'), message: 'name is required for plugins' });
    else if (name.includes(' ')) issues.push({ path: at('name'), message: 'plugin name cannot contain spaces' });
    else if (firstIndexByName.has(name)) {
      issues.push({ path: at('name'), message: `duplicate plugin name "${name}" (also plugins[${firstIndexByName.get(name)}]); names must be unique` });
    } else firstIndexByName.set(name, index);
    if (plugin === '') {
      issues.push({ path: at('plugin'), message: 'plugin is not set (use github, github_receiver or an npm package name)' });
    }
    const sleep = typeof block.sleep_interval === 'number' ? block.sleep_interval : 0;
    if (sleep < 0) issues.push({ path: at('sleep_interval'), message: 'must be 0 or more seconds' });
    const onFailure = (failurePolicies as readonly string[]).includes(String(block.on_failure))
      ? (block.on_failure as FailurePolicy)
      : 'shutdown';
    entries.push({
      index,
      name,
      plugin,
      sleepIntervalSeconds: Math.max(0, sleep),
      onFailure,
      database: effectiveDatabase(raw, block.database as RawDatabase | null | undefined),
      block,
    });
  });
  return entries;
}

/** Drops nulls and turns the numbers YAML made of string keys back into strings. */
function cleanDatabase(block: RawDatabase | null | undefined): Partial<DatabaseConfig> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(block ?? {})) {
    if (value === null || value === undefined) continue;
    out[key] = (key === 'url' || key === 'user' || key === 'password') && typeof value === 'number' ? String(value) : value;
  }
  return out as Partial<DatabaseConfig>;
}

/**
 * The Redis settings of one plugin, by the Go rule (a plugin has Redis when `global_database_url`
 * or its own `database.url` is set; each field comes from the global when that is set) as
 * implemented by `@anklet/redis`. Unlike Go, the plugin's own cluster, TLS and retry settings count
 * when the globals leave them unset.
 */
export function effectiveDatabase(raw: RawHostConfig, own: RawDatabase | null | undefined): DatabaseConfig | null {
  const globals = Object.fromEntries(
    Object.entries(raw).filter(([key]) => key.startsWith('global_database_')).map(([key, value]) => [key, value ?? undefined]),
  ) as Record<string, unknown>;
  const url = globals.global_database_url;
  if (typeof url === 'number') globals.global_database_url = String(url);
  for (const key of ['global_database_user', 'global_database_password']) {
    if (typeof globals[key] === 'number') globals[key] = String(globals[key]);
  }
  return resolveDatabaseConfig(globals as GlobalDatabaseConfig, cleanDatabase(own));
}

/** Walks the document beside the schema and records keys the schema does not know. */
function collectUnknownKeys(value: unknown, schema: z.ZodType, at: Array<string | number>, out: ConfigIssue[]): void {
  const shape = objectShape(schema);
  if (!shape || value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const field = shape[key];
    if (!field) {
      // Plugin entries may carry their plugin's own keys: the plugin's schema decides about those.
      if (schema !== pluginEntrySchema) out.push({ path: [...at, key], message: 'unknown key (ignored)' });
      continue;
    }
    if (key === 'plugins' && Array.isArray(child)) {
      child.forEach((entry, i) => collectUnknownKeys(entry, pluginEntrySchema, [...at, key, i], out));
    } else {
      collectUnknownKeys(child, field, [...at, key], out);
    }
  }
}

/** Renders issues for people, one per line, with the Go-style plugin reference. */
export function describeIssues(config: Pick<LoadedConfig, 'document'>, issues: ReadonlyArray<ConfigIssue>): string[] {
  // File order: top-level keys first, then plugins by index, and within a plugin by key position.
  const plugins = Array.isArray(config.document.plugins) ? (config.document.plugins as unknown[]) : [];
  const rank = (issue: ConfigIssue): [number, number] => {
    if (issue.path[0] !== 'plugins' || typeof issue.path[1] !== 'number') return [-1, 0];
    const entry = plugins[issue.path[1]];
    const keys = entry !== null && typeof entry === 'object' ? Object.keys(entry) : [];
    const at = keys.indexOf(String(issue.path[2]));
    return [issue.path[1], at < 0 ? keys.length : at];
  };
  return [...issues]
    .sort((a, b) => {
      const [pa, ka] = rank(a);
      const [pb, kb] = rank(b);
      return pa - pb || ka - kb;
    })
    .map((issue) => `${formatIssuePath(config.document, issue.path)}: ${issue.message}`);
}
