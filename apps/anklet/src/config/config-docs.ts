/**
 * Renders the config JSON Schema (host + plugins, compose-json-schema.ts) as the Markdown reference
 * in docs/configuration.md, so the reference cannot drift from what anklet validates.
 */

type JsonSchema = {
  type?: string | string[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  title?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  pattern?: string;
  required?: string[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  'x-anklet-plugin-ids'?: string[];
};

const SAFE = 9007199254740991;
/** `1-65535`, `0 or more`, ... from the bounds, for the Type column. */
function boundsOf(schema: JsonSchema): string {
  const alt = alternatives(schema).find((a) => a.minimum !== undefined || a.maximum !== undefined || a.exclusiveMinimum !== undefined);
  if (!alt) return '';
  const min = alt.minimum !== undefined && alt.minimum > -SAFE ? alt.minimum : undefined;
  const max = alt.maximum !== undefined && alt.maximum < SAFE ? alt.maximum : undefined;
  if (alt.exclusiveMinimum !== undefined) return ` (more than ${alt.exclusiveMinimum})`;
  if (min !== undefined && max !== undefined) return ` (${min}-${max})`;
  if (min !== undefined) return ` (${min} or more)`;
  if (max !== undefined) return ` (${max} or less)`;
  return '';
}

/** The non-null alternatives of a schema, `anyOf` flattened. */
function alternatives(schema: JsonSchema): JsonSchema[] {
  if (schema.anyOf) return schema.anyOf.flatMap(alternatives).filter((s) => s.type !== 'null');
  return [schema];
}

/** The object schema inside `schema` (an object, or an object-or-null), if any. */
function objectOf(schema: JsonSchema): JsonSchema | undefined {
  return alternatives(schema).find((s) => s.properties);
}

/** A short type for people: `integer`, `boolean`, `text`, `list of text`, `one of a, b`. */
function typeOf(schema: JsonSchema): string {
  const names = new Set<string>();
  for (const alt of alternatives(schema)) {
    if (alt.enum) names.add(`one of ${alt.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
    else if (alt.const !== undefined) names.add(`\`${String(alt.const)}\``);
    else if (alt.type === 'array') names.add(`list of ${alt.items ? typeOf(alt.items) : 'values'}`);
    else if (alt.properties) names.add('object');
    else {
      const types = (Array.isArray(alt.type) ? alt.type : alt.type ? [alt.type] : []).filter((t) => t !== 'null');
      // Go reads a number where it expects a string; the schema allows both, people write text.
      if (types.includes('string')) names.add('text');
      else for (const t of types) names.add(t === 'number' ? 'number' : t);
    }
  }
  return [...names].join(' or ') || 'any';
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n+/g, ' ');

interface Row {
  key: string;
  type: string;
  env: string;
  description: string;
}

/** One table per object: its scalar keys; nested objects get their own section. */
interface Section {
  title: string;
  intro: string;
  rows: Row[];
}

function sectionOf(title: string, intro: string, schema: JsonSchema, envOf: (key: string) => string, skip: ReadonlyArray<string> = []): Section {
  const rows = Object.entries(schema.properties ?? {})
    .filter(([key]) => !skip.includes(key))
    .map(([key, child]) => ({
      key,
      type: `${typeOf(child)}${boundsOf(child)}${(schema.required ?? []).includes(key) ? ', required' : ''}`,
      env: envOf(key),
      description: [child.description ?? '', child.default !== undefined ? `Default: \`${JSON.stringify(child.default)}\`.` : ''].filter(Boolean).join(' '),
    }));
  return { title, intro, rows };
}

/** The Markdown reference of a config JSON Schema. */
export function renderConfigReference(schema: JsonSchema): string {
  const top = schema.properties ?? {};
  const upper = (key: string) => key.toUpperCase();
  const sections: Section[] = [
    // ANKLET_LOG_FILE_DIR sets log.file_dir; the legacy top-level log_file_dir has no variable (it is unused, as in Go).
    sectionOf('Top-level keys', '', schema, (key) => (key === 'log_file_dir' ? '-' : `\`ANKLET_${upper(key)}\``), ['plugins', 'log', 'metrics', 'job_history']),
  ];
  const log = top.log && objectOf(top.log);
  if (log) sections.push(sectionOf('`log`', '', log, (key) => `\`ANKLET_LOG_${upper(key)}\``));
  const metrics = top.metrics && objectOf(top.metrics);
  if (metrics) {
    sections.push(sectionOf('`metrics`', 'The per-host metrics server, and the fleet aggregator.', metrics, (key) => `\`ANKLET_METRICS_${upper(key)}\``, ['database']));
    const db = metrics.properties?.database && objectOf(metrics.properties.database);
    if (db) sections.push(sectionOf('`metrics.database`', 'The Redis the aggregator reads (when `global_database_*` is not set).', db, (key) => `\`ANKLET_METRICS_DATABASE_${upper(key)}\``));
  }
  const history = top.job_history && objectOf(top.job_history);
  if (history) {
    sections.push(
      sectionOf(
        '`job_history`',
        'How long the job store keeps the timeline of a finished job (its events from `received` to `finished`; see `packages/redis/README.md`, "Job timeline"): until it is older than `max_age_hours` or more than `max_jobs` newer finished jobs of its queue are kept, whichever comes first. Queued and running jobs are always kept.',
        history,
        (key) => `\`ANKLET_JOB_HISTORY_${upper(key)}\``,
      ),
    );
  }
  const pluginsList = top.plugins && alternatives(top.plugins).find((s) => s.type === 'array');
  const deref = (item: JsonSchema | undefined): JsonSchema | undefined =>
    item?.$ref?.startsWith('#/$defs/') ? schema.$defs?.[item.$ref.slice('#/$defs/'.length)] : item;
  const entry = deref(pluginsList?.items) && objectOf(deref(pluginsList?.items)!);
  if (entry) {
    sections.push(
      sectionOf(
        '`plugins[]`',
        'Each entry runs one plugin instance. The keys below are the host\'s; the rest of an entry belongs to its plugin (sections below). `<NAME>` is the entry\'s `name` upper-cased, every character other than a letter, digit or `_` turned into `_`.',
        entry,
        (key) => (key === 'name' || key === 'plugin' ? '-' : `\`<NAME>_${upper(key)}\``),
        ['database'],
      ),
    );
    const db = entry.properties?.database && objectOf(entry.properties.database);
    if (db) sections.push(sectionOf('`plugins[].database`', 'Redis for this plugin; each `global_database_*` that is set wins over the same key here.', db, (key) => `\`<NAME>_DATABASE_${upper(key)}\``));
  }
  // One section per plugin, from the plugin's own schema.
  for (const def of Object.values(schema.$defs ?? {})) {
    const ids = def['x-anklet-plugin-ids'];
    if (!ids) continue;
    sections.push(
      sectionOf(
        `\`plugin: ${ids[0]}\`${ids.length > 1 ? ` (${ids.slice(1).map((id) => `\`${id}\``).join(', ')})` : ''}`,
        `${def.description ?? ''} The keys of an entry whose \`plugin:\` is ${ids.map((id) => `\`${id}\``).join(' or ')}, besides the host's.`,
        def,
        (key) => `\`<NAME>_${upper(key)}\``,
      ),
    );
  }

  const out = [
    '<!-- Generated from the host\'s and the first-party plugins\' config schemas; do not edit by hand. -->',
    '<!-- Regenerate: pnpm build && pnpm --filter anklet gen:config (writes this file and apps/anklet/config.schema.json) -->',
    '',
    `# ${schema.title ?? 'anklet configuration'} reference`,
    '',
    schema.description ?? '',
    '',
    'The file is `~/.config/anklet/config.yml` unless `-c <path>` names another one. Every key may be',
    'set or replaced by the environment variable in the **Environment** column; an empty variable',
    'counts as unset, booleans are true only for `true`, lists are comma-separated. A Go anklet config',
    'loads unchanged; unknown keys are warnings. Check a file with `anklet -c <file> config validate`.',
    '',
    'A value is read by the type of its key, as the Go anklet reads it: a **text** key keeps the text',
    'written (`secret: 00000000` is the eight characters `00000000`, `user: 0123` is `0123`, `repo: yes`',
    'is `yes`); a **number** key takes decimal, `0x1F`, `0o17`, `0b101`, `1_000`, `1e3` and, as in Go,',
    'a leading zero as octal (`0123` is 83, with a warning). A key with no value (or `~`, `null`) is unset.',
    '',
  ];
  for (const section of sections) {
    out.push(`## ${section.title}`, '');
    if (section.intro) out.push(section.intro, '');
    out.push('| Key | Type | Environment | Description |', '|---|---|---|---|');
    for (const row of section.rows) out.push(`| \`${row.key}\` | ${cell(row.type)} | ${row.env} | ${cell(row.description)} |`);
    out.push('');
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}
