import type { PromFamilyJson } from './go-model.js';

/** Content type of the Prometheus text format we write. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  /** The sample's own name when it differs from the family's (`_bucket`, `_sum`, `_count`). */
  readonly name?: string | undefined;
  readonly labels: Labels;
  readonly value: number;
}

/** One metric family: all its samples are written together under one HELP and TYPE line. */
export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(value: string): string {
  // Most values need nothing: test once rather than run three replaces on each.
  if (!/[\\\n"]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Label names seen valid: a fleet scrape writes the same few names hundreds of thousands of times. */
const validLabels = new Set<string>();
function validLabel(key: string): boolean {
  if (validLabels.has(key)) return true;
  if (!LABEL.test(key) || key.startsWith('__')) return false;
  if (validLabels.size < 1000) validLabels.add(key);
  return true;
}

/**
 * Writes families in the Prometheus text format (0.0.4). Names and label names are checked here
 * rather than trusted: a name from another host's snapshot must not be able to break the scrape.
 */
export function renderExposition(families: ReadonlyArray<Family>): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!NAME.test(family.name)) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const name = sample.name ?? family.name;
      if (!NAME.test(name) || typeof sample.value !== 'number') continue;
      let text = '';
      for (const key in sample.labels) {
        if (!validLabel(key)) continue;
        text += `${text ? ',' : '{'}${key}="${escapeLabel(String(sample.labels[key]))}"`;
      }
      lines.push(`${name}${text ? `${text}}` : ''} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Turns prom-client's JSON into families, adding `extra` labels (the aggregator's `host`). */
export function familiesFromPromJson(json: ReadonlyArray<PromFamilyJson> | undefined, extra: Labels = {}): Family[] {
  if (!Array.isArray(json)) return [];
  const families: Family[] = [];
  for (const family of json) {
    if (!family || typeof family.name !== 'string' || !Array.isArray(family.values)) continue;
    const type = (['counter', 'gauge', 'histogram', 'summary'] as const).find((t) => t === family.type) ?? 'untyped';
    const samples: Sample[] = [];
    for (const v of family.values) {
      if (!v || typeof v.value !== 'number') continue;
      const labels: Record<string, string> = {};
      for (const [key, value] of Object.entries(v.labels ?? {})) labels[key] = value === Infinity ? '+Inf' : String(value);
      samples.push({ name: typeof v.metricName === 'string' ? v.metricName : undefined, labels: { ...labels, ...extra }, value: v.value });
    }
    families.push({ name: family.name, help: typeof family.help === 'string' ? family.help : '', type, samples });
  }
  return families;
}

/**
 * Merges families by name, keeping first-seen order: the text format wants every sample of a family
 * in one group, and the aggregator builds each family from many hosts. A family that another host
 * declared with another type is dropped rather than written twice.
 */
export function mergeFamilies(lists: ReadonlyArray<ReadonlyArray<Family>>): Family[] {
  const byName = new Map<string, Family>();
  for (const list of lists) {
    for (const family of list) {
      const existing = byName.get(family.name);
      if (!existing) byName.set(family.name, { ...family, samples: [...family.samples] });
      else if (existing.type === family.type) existing.samples.push(...family.samples);
    }
  }
  return [...byName.values()];
}
