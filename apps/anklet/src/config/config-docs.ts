/**
 * Renders the config JSON Schema as the Markdown reference in docs/configuration.md
 * (`anklet config schema --markdown`), so the reference cannot drift from what anklet validates.
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
};

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
      type: typeOf(child),
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
    sectionOf('Top-level keys', '', schema, (key) => (key === 'log_file_dir' ? '-' : `\`ANKLET_${upper(key)}\``), ['plugins', 'log', 'metrics']),
  ];
  const log = top.log && objectOf(top.log);
  if (log) sections.push(sectionOf('`log`', '', log, (key) => `\`ANKLET_LOG_${upper(key)}\``));
  const metrics = top.metrics && objectOf(top.metrics);
  if (metrics) {
    sections.push(sectionOf('`metrics`', 'The per-host metrics server, and the fleet aggregator.', metrics, (key) => `\`ANKLET_METRICS_${upper(key)}\``, ['database']));
    const db = metrics.properties?.database && objectOf(metrics.properties.database);
    if (db) sections.push(sectionOf('`metrics.database`', 'The Redis the aggregator reads (when `global_database_*` is not set).', db, (key) => `\`ANKLET_METRICS_DATABASE_${upper(key)}\``));
  }
  const pluginsList = top.plugins && alternatives(top.plugins).find((s) => s.type === 'array');
  const entry = pluginsList?.items && objectOf(pluginsList.items);
  if (entry) {
    sections.push(
      sectionOf(
        '`plugins[]`',
        'Each entry runs one plugin instance. The keys below are the host\'s and the first-party plugins\' (from the Go config); a plugin validates its own block and may add keys of its own. `<NAME>` is the entry\'s `name` upper-cased, every character other than a letter, digit or `_` turned into `_`.',
        entry,
        (key) => (key === 'name' || key === 'plugin' ? '-' : `\`<NAME>_${upper(key)}\``),
        ['database'],
      ),
    );
    const db = entry.properties?.database && objectOf(entry.properties.database);
    if (db) sections.push(sectionOf('`plugins[].database`', 'Redis for this plugin; each `global_database_*` that is set wins over the same key here.', db, (key) => `\`<NAME>_DATABASE_${upper(key)}\``));
  }

  const out = [
    '<!-- Generated from apps/anklet/config.schema.json by `anklet config schema --markdown`; do not edit by hand. -->',
    '<!-- Regenerate: pnpm --filter anklet build && node apps/anklet/dist/cli.js config schema --markdown > docs/configuration.md -->',
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
