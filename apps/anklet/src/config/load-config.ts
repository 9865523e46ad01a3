import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { AnkletError, ErrorCodes } from '@anklet/core';
import { resolveDatabaseConfig, type DatabaseConfig, type GlobalDatabaseConfig } from '@anklet/redis/config';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { applyCredentialFallbacks, applyHostEnvOverrides, applyPluginEnvOverrides, envPrefixOf } from './env-overrides.js';
import { formatIssuePath, type ConfigIssue } from './issues.js';
import { hostJsonSchema } from './json-schema.js';
import { suggestKey } from './suggest-key.js';
import { failurePolicies, hostConfigSchema, type FailurePolicy, type RawDatabase, type RawHostConfig } from './schema.js';
import { objectSchemaOf, positionOf, readNode, type JsonSchemaNode, type ReadNote } from './yaml-values.js';

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

/** The YAML of a config file, kept so that values can be read by their key's type and problems located. */
export interface ConfigYaml {
  readonly doc: Document;
  /** Line and column (1-based) of an offset in the file. */
  readonly positionAt: (offset: number) => { line: number; col: number };
}

/** Reads and parses the YAML file. Throws `ANKLET_ERR_CONFIG_UNREADABLE` for a missing, empty or malformed file. */
export function readConfigYaml(file: string): ConfigYaml {
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
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const at = first.linePos?.[0];
    const where = at ? `${file}:${at.line}:${at.col}` : file;
    const excerpt = at ? text.split('\n')[at.line - 1] : undefined;
    throw new AnkletError(ErrorCodes.CONFIG_UNREADABLE, `${where}: not valid YAML: ${first.message.split('\n')[0]}`, {
      operator: true,
      cause: first,
      hint: at && excerpt !== undefined ? `line ${at.line}: ${excerpt.trim()}\n  fix the YAML at line ${at.line}, column ${at.col}, then run: anklet -c ${file} config validate` : undefined,
    });
  }
  // `---` alone or `plugins:` alone is a valid, empty config (as in Go); anything but a map is not.
  const contents = doc.contents;
  const empty = contents === null || (isScalar(contents) && contents.value === null);
  if (!empty && !isMap(contents)) {
    throw new AnkletError(ErrorCodes.CONFIG_UNREADABLE, `${file} must hold a map of settings at the top level`, { operator: true });
  }
  return { doc, positionAt: (offset) => lines.linePos(offset) };
}

/**
 * Reads the YAML file with the host's key types (plugin keys as YAML 1.1 reads them). Throws
 * `ANKLET_ERR_CONFIG_UNREADABLE` for a missing, empty or malformed file.
 */
export function readConfigDocument(file: string): Record<string, unknown> {
  const { doc } = readConfigYaml(file);
  const value = readNode(doc.contents, hostJsonSchema(), doc);
  // `---` alone or `plugins:` alone is a valid, empty config (as in Go).
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
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
  /**
   * The whole entry as the user wrote it, with env overrides and credential fallbacks applied. Until
   * the plugin is loaded its own keys are read as YAML 1.1 reads them; `preparePlugins` reads them
   * again with the plugin's key types (a text key keeps its text).
   */
  readonly block: Record<string, unknown>;
}

/** The config after reading, env overrides and host validation. */
export interface LoadedConfig {
  readonly file: string;
  readonly configDir: string;
  readonly home: string;
  /** The environment the overrides came from (the plugins' overrides are applied from it too). */
  readonly env: Env;
  /** The parsed YAML, for reading plugin blocks by their key types and for locating problems. */
  readonly yaml: ConfigYaml;
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
  /** Things worth a warning (unknown keys, octal-looking numbers). */
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
  const yaml = readConfigYaml(file);
  const schema = hostJsonSchema();
  const notes: ReadNote[] = [];
  const read = readNode(yaml.doc.contents, schema, yaml.doc, [], notes);
  const document = (read !== null && typeof read === 'object' && !Array.isArray(read) ? read : {}) as Record<string, unknown>;
  applyHostEnvOverrides(document, schema, env);
  const entrySchema = pluginEntryJsonSchema(schema);
  const entries = pluginBlocksOf(document);
  const allPrefixes = entries.map(({ block }) => (typeof block.name === 'string' && block.name !== '' ? `${envPrefixOf(block.name)}_` : '')).filter(Boolean);
  for (const { block } of entries) {
    applyPluginEnvOverrides(block, { schema: entrySchema, allPrefixes }, env);
    applyCredentialFallbacks(block, document);
  }

  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = notes.map((note) => ({ path: note.path, message: note.message }));
  const parsed = hostConfigSchema.safeParse(document);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.push({ path: issue.path, message: issue.message });
  }
  collectUnknownKeys(document, schema, [], warnings);

  // Keep going with what parsed, so that every problem is reported in one pass.
  const raw: RawHostConfig = parsed.success ? parsed.data : (document as RawHostConfig);
  const str = (value: unknown): string | undefined =>
    value === null || value === undefined || value === '' ? undefined : String(value);

  const logFileDir = str(raw.log?.file_dir);
  if (logFileDir !== undefined) {
    const dir = path.resolve(expandHome(logFileDir, home));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      issues.push({ path: ['log', 'file_dir'], message: `log directory does not exist: ${dir} (create it, or remove log.file_dir)` });
    }
  }

  const plugins = checkPluginEntries(entries, raw, issues);
  const configDir = configDirOf(home);
  return {
    file,
    configDir,
    home,
    env,
    yaml,
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

/** The JSON Schema of a `plugins:` entry's host keys (the items of `plugins`). */
export function pluginEntryJsonSchema(hostSchema: JsonSchemaNode = hostJsonSchema()): JsonSchemaNode {
  const plugins = objectSchemaOf(hostSchema)?.properties?.plugins;
  const list = plugins?.anyOf?.find((alt) => alt.type === 'array') ?? plugins;
  return list?.items ?? { type: 'object' };
}

function pluginBlocksOf(document: Record<string, unknown>): Array<{ index: number; block: Record<string, unknown> }> {
  const list = Array.isArray(document.plugins) ? (document.plugins as unknown[]) : [];
  return list.flatMap((item, index) =>
    item !== null && typeof item === 'object' && !Array.isArray(item) ? [{ index, block: item as Record<string, unknown> }] : [],
  );
}

function checkPluginEntries(entries: Array<{ index: number; block: Record<string, unknown> }>, raw: RawHostConfig, issues: ConfigIssue[]): PluginEntry[] {
  const firstIndexByName = new Map<string, number>();
  return entries.map(({ index, block }) => {
    // Missing names, spaces and a missing plugin are the schema's (with the Go texts); duplicates are not.
    const name = typeof block.name === 'string' ? block.name : '';
    const plugin = typeof block.plugin === 'string' ? block.plugin : '';
    if (name !== '' && firstIndexByName.has(name)) {
      issues.push({ path: ['plugins', index, 'name'], message: `duplicate plugin name "${name}" (also plugins[${firstIndexByName.get(name)}]); names must be unique` });
    } else if (name !== '') firstIndexByName.set(name, index);
    const sleep = typeof block.sleep_interval === 'number' && Number.isInteger(block.sleep_interval) ? block.sleep_interval : 0;
    const onFailure = (failurePolicies as readonly string[]).includes(String(block.on_failure))
      ? (block.on_failure as FailurePolicy)
      : 'shutdown';
    return {
      index,
      name,
      plugin,
      sleepIntervalSeconds: Math.max(0, sleep),
      onFailure,
      database: effectiveDatabase(raw, block.database as RawDatabase | null | undefined),
      block,
    };
  });
}

/** Drops nulls and anything that is not the key's type (already reported). */
function cleanDatabase(block: RawDatabase | null | undefined): Partial<DatabaseConfig> {
  const out: Record<string, unknown> = {};
  if (block === null || typeof block !== 'object') return out;
  for (const [key, value] of Object.entries(block)) {
    if (value === null || value === undefined) continue;
    out[key] = value;
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
  return resolveDatabaseConfig(globals as GlobalDatabaseConfig, cleanDatabase(own));
}

/** Walks the document beside the host's JSON Schema and records keys it does not know, with the closest known key. */
function collectUnknownKeys(value: unknown, schema: JsonSchemaNode | undefined, at: Array<string | number>, out: ConfigIssue[]): void {
  const properties = objectSchemaOf(schema)?.properties;
  if (!properties || value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const field = properties[key];
    if (!field) {
      out.push({ path: [...at, key], message: unknownKeyMessage(key, Object.keys(properties)) });
      continue;
    }
    // Plugin entries carry their plugin's keys: the plugin's schema decides about those (preparePlugins).
    if (key !== 'plugins') collectUnknownKeys(child, field, [...at, key], out);
  }
}

/** `unknown key (ignored)`, with the closest known key when one is close enough to be a typo. */
export function unknownKeyMessage(key: string, known: Iterable<string>, owner?: string): string {
  const suggestion = suggestKey(key, known);
  return `unknown key${owner ? ` for ${owner}` : ''} (ignored)${suggestion ? `; did you mean ${suggestion}?` : ''}`;
}

/** Options for {@link describeIssues}. */
export interface DescribeOptions {
  /** Prefix each line with `line L:C` of the value in the file. */
  readonly locate?: boolean;
}

/** Keys whose values are never shown. */
const SECRET_KEY = /(^|_)(token|secret|password|private_key)$/;

/** The value at `path` of the document, for the message (secrets never shown). */
function shownValue(document: Record<string, unknown>, path: ConfigIssue['path']): string | undefined {
  let value: unknown = document;
  for (const raw of path) {
    const segment = typeof raw === 'object' && raw !== null ? raw.key : raw;
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment as PropertyKey];
  }
  const last = path.at(-1);
  const key = String(typeof last === 'object' && last !== null ? last.key : last);
  if (value === undefined || value === null || typeof value === 'object') return undefined;
  if (SECRET_KEY.test(key)) return undefined;
  return JSON.stringify(value);
}

/** Renders issues for people, one per line, with the Go-style plugin reference. */
export function describeIssues(
  config: Pick<LoadedConfig, 'document'> & Partial<Pick<LoadedConfig, 'yaml'>>,
  issues: ReadonlyArray<ConfigIssue>,
  options: DescribeOptions = {},
): string[] {
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
    .map((issue) => {
      const text = `${formatIssuePath(config.document, issue.path)}: ${issue.message}`;
      if (!options.locate) return text;
      const unknownKey = issue.message.startsWith('unknown key');
      const value = unknownKey ? undefined : shownValue(config.document, issue.path);
      const keys = issue.path.map((s) => (typeof s === 'object' && s !== null ? s.key : s));
      const at = config.yaml ? positionOf(config.yaml.doc, keys, config.yaml.positionAt, unknownKey ? 'key' : 'value') : undefined;
      return `${at ? `line ${at.line}:${at.col}  ` : ''}${text}${value !== undefined ? ` (got ${value})` : ''}`;
    });
}
