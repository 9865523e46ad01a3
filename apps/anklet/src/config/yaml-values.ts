import { isAlias, isMap, isScalar, isSeq, Scalar, type Document } from 'yaml';

/*
 * YAML scalars read the way the Go anklet's decoder (gopkg.in/yaml.v2) reads them into a typed
 * struct field. The type of a key comes from the schema that owns it (the host's or the plugin's,
 * as JSON Schema), never from how the scalar looks:
 *
 * - a text key gets the scalar's source text: `secret: 00000000` is "00000000", `user: 0123` is
 *   "0123", `repo: yes` is "yes", `repo: 0x1F` is "0x1F" (Go: `out.SetString(n.value)`);
 * - a whole-number key reads Go's `strconv.ParseInt(text, 0, 64)` after dropping `_`: decimal,
 *   `0x1F`, `0o17`, `0b101`, a leading zero is octal (`0123` is 83), a sign is allowed; failing that,
 *   a YAML float (`1e3`, `10.0`) that is whole (Go truncates a fraction; we refuse it);
 * - a number key reads the same, plus YAML floats;
 * - a true/false key reads the YAML 1.1 words (`y`, `yes`, `on`, `true` and their negations);
 * - `~`, `null` or nothing is unset, whatever the key (Go: the zero value).
 * A value that does not fit its key is kept as written, so the schema reports it with its text.
 */

/** The part of a JSON Schema these readers look at. */
export interface JsonSchemaNode {
  type?: string | string[];
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  allOf?: JsonSchemaNode[];
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: boolean | JsonSchemaNode;
  items?: JsonSchemaNode;
  enum?: unknown[];
  const?: unknown;
  [key: string]: unknown;
}

export type ValueKind = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'unknown';

/** The alternatives of a schema (`anyOf`/`oneOf` flattened), `null` left out. */
function alternatives(schema: JsonSchemaNode): JsonSchemaNode[] {
  const nested = schema.anyOf ?? schema.oneOf;
  if (nested) return nested.flatMap(alternatives);
  if (schema.type === 'null') return [];
  return [schema];
}

/** The kind of value a key holds, from its JSON Schema. A list wins over a comma-separated text alternative. */
export function kindOf(schema: JsonSchemaNode | undefined): ValueKind {
  if (!schema) return 'unknown';
  const kinds = new Set<string>();
  for (const alt of alternatives(schema)) {
    const types = Array.isArray(alt.type) ? alt.type : alt.type ? [alt.type] : [];
    for (const t of types) if (t !== 'null') kinds.add(t);
    if (!alt.type && alt.properties) kinds.add('object');
    if (!alt.type && (alt.enum || alt.const !== undefined)) kinds.add('string');
  }
  for (const kind of ['array', 'object', 'integer', 'number', 'boolean', 'string'] as const) if (kinds.has(kind)) return kind;
  return 'unknown';
}

/** The object schema of a key (an object, or an object-or-null), if any. */
export function objectSchemaOf(schema: JsonSchemaNode | undefined): JsonSchemaNode | undefined {
  if (!schema) return undefined;
  return alternatives(schema).find((alt) => alt.properties !== undefined || alt.type === 'object');
}

function itemsOf(schema: JsonSchemaNode | undefined): JsonSchemaNode | undefined {
  if (!schema) return undefined;
  return alternatives(schema).find((alt) => alt.type === 'array')?.items;
}

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const TRUE_WORDS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const FALSE_WORDS = new Set(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
const INFINITY: Record<string, number> = {
  '.inf': Infinity, '.Inf': Infinity, '.INF': Infinity, '+.inf': Infinity, '+.Inf': Infinity, '+.INF': Infinity,
  '-.inf': -Infinity, '-.Inf': -Infinity, '-.INF': -Infinity, '.nan': NaN, '.NaN': NaN, '.NAN': NaN,
};
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** Go's `strconv.ParseInt(text, 0, 64)`: the base from the prefix, a leading 0 is octal. */
function parseGoInt(text: string): number | undefined {
  const match = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!match) return undefined;
  const sign = match[1] === '-' ? -1 : 1;
  const digits = match[2]!;
  let value: number;
  if (/^0[xX]/.test(digits)) value = Number.parseInt(digits.slice(2), 16);
  else if (/^0[oO]/.test(digits)) value = Number.parseInt(digits.slice(2), 8);
  else if (/^0[bB]/.test(digits)) value = Number.parseInt(digits.slice(2), 2);
  else if (digits.length > 1 && digits.startsWith('0')) value = Number.parseInt(digits.slice(1), 8);
  else value = Number.parseInt(digits, 10);
  return sign * value;
}

/**
 * A number as the Go YAML decoder reads `text` into a numeric field, or undefined when it is not
 * one. `_` separators are dropped first, as Go does.
 */
export function parseGoNumber(text: string): number | undefined {
  if (text in INFINITY) return INFINITY[text];
  const plain = text.replace(/_/g, '');
  const int = parseGoInt(plain);
  if (int !== undefined) return int;
  if (YAML_FLOAT.test(plain)) return Number.parseFloat(plain);
  return undefined;
}

/** True when Go reads this integer spelling as octal (`0123`): worth a warning, people rarely mean it. */
export function isLegacyOctal(text: string): boolean {
  return /^[-+]?0[0-7]+$/.test(text.replace(/_/g, ''));
}

/** What a typed read noticed on the way (e.g. a legacy octal), by path. */
export interface ReadNote {
  readonly path: Array<string | number>;
  readonly message: string;
}

/** Reads one YAML node as the value of a key of `schema`. */
export function readNode(node: unknown, schema: JsonSchemaNode | undefined, doc: Document, at: Array<string | number> = [], notes: ReadNote[] = []): unknown {
  if (isAlias(node)) return readNode(node.resolve(doc), schema, doc, at, notes);
  if (node === null || node === undefined) return null;
  if (isMap(node)) {
    const object = objectSchemaOf(schema);
    const extra = object && typeof object.additionalProperties === 'object' ? object.additionalProperties : undefined;
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const keyNode = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      const key = isScalar(keyNode) ? String(keyNode.type === Scalar.PLAIN ? (keyNode.source ?? keyNode.value) : keyNode.value) : String(keyNode);
      out[key] = readNode(pair.value, object?.properties?.[key] ?? extra, doc, [...at, key], notes);
    }
    return out;
  }
  if (isSeq(node)) {
    const items = itemsOf(schema);
    return node.items.map((item, i) => readNode(item, items, doc, [...at, i], notes));
  }
  if (!isScalar(node)) return (node as { toJSON?: () => unknown }).toJSON?.() ?? null;
  const plain = node.type === Scalar.PLAIN && node.tag === undefined;
  const source = typeof node.source === 'string' ? node.source : String(node.value);
  if (plain && NULLS.has(source)) return null;
  switch (kindOf(schema)) {
    case 'string':
      // Go keeps the text of any scalar for a string field.
      return plain ? source : typeof node.value === 'string' ? node.value : source;
    case 'integer':
    case 'number': {
      const text = typeof node.value === 'string' ? node.value.trim() : source;
      const value = parseGoNumber(plain ? source : text);
      if (value === undefined) return typeof node.value === 'string' ? node.value : source;
      if (plain && isLegacyOctal(source)) notes.push({ path: at, message: `${source} is read as the octal number ${value}, as Go does; write ${value} (or 0o${source.replace(/^[-+]?0+/, '')}) to say so` });
      return value;
    }
    case 'boolean':
      if (plain && TRUE_WORDS.has(source)) return true;
      if (plain && FALSE_WORDS.has(source)) return false;
      return typeof node.value === 'boolean' ? node.value : source;
    default:
      // A key nobody declared: YAML 1.1 as the document resolved it.
      return node.value;
  }
}

/** The line and column (1-based) of the node at `path` in the document, when it can be found. */
export function positionOf(
  doc: Document,
  path: ReadonlyArray<PropertyKey>,
  lineStarts: (offset: number) => { line: number; col: number },
  of: 'value' | 'key' = 'value',
): { line: number; col: number } | undefined {
  let node: unknown = doc.contents;
  let last: unknown = node;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      last = pair.key;
      node = of === 'key' && i === path.length - 1 ? pair.key : (pair.value ?? pair.key);
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      node = item;
    } else break;
    last = node;
  }
  const range = (last as { range?: [number, number, number] } | null)?.range;
  return range ? lineStarts(range[0]) : undefined;
}
