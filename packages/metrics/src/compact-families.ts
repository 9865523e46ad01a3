import { COUNTERS, GAUGES, HISTOGRAMS } from './catalogue.js';
import type { Family, Labels, Sample } from './exposition.js';
import type { PromFamilyJson } from './go-model.js';

/**
 * A host's own metric families (what plugins count, set and observe) in the compact form a host
 * snapshot carries as `anklet.families`. prom-client's JSON repeats every label and every
 * cumulative bucket for every series (about 1.4 KB per histogram series); this form writes each
 * label value once per snapshot and only the buckets that hold observations, so a host with 20
 * templates stays under 5 KB and 500 hosts are read in one MGET.
 *
 * `v` is the snapshot's label values; each family `f[i]` has:
 * - `n` full metric name, `t` type (`c` counter, `g` gauge, `h` histogram);
 * - `l` label names; each series starts with one index into `v` per name (`""`: label absent);
 * - `h` help text, only for a family the catalogue does not declare (readers know the rest);
 * - `b` histogram upper bounds, without `+Inf`;
 * - `s` series: `[...labelIndexes, value]`, or for a histogram
 *   `[...labelIndexes, sum, count, i, n, i, n, ...]` where `n` observations fell in bucket `i`
 *   (`b[i-1] < x <= b[i]`); the rest of `count` is above the last bound.
 */
export interface CompactFamilies {
  readonly v: ReadonlyArray<string>;
  readonly f: ReadonlyArray<CompactFamily>;
}

/** One family of {@link CompactFamilies}. */
export interface CompactFamily {
  readonly n: string;
  readonly t: 'c' | 'g' | 'h';
  readonly l: ReadonlyArray<string>;
  readonly h?: string;
  readonly b?: ReadonlyArray<number>;
  readonly s: ReadonlyArray<ReadonlyArray<number>>;
}

/** Help text of every catalogue family by its full name, so snapshots need not carry it. */
const CATALOGUE_HELP: ReadonlyMap<string, string> = new Map([
  ...Object.entries(COUNTERS).map(([name, spec]) => [`anklet_${name}_total`, spec.help] as const),
  ...Object.entries(GAUGES).map(([name, spec]) => [`anklet_${name}`, spec.help] as const),
  ...Object.entries(HISTOGRAMS).map(([name, spec]) => [`anklet_${name}`, spec.help] as const),
]);

/** Sums are seconds and bytes: a millionth is finer than any of them needs, and much shorter. */
const round = (value: number) => Math.round(value * 1e6) / 1e6;

const TYPES = { counter: 'c', gauge: 'g', histogram: 'h' } as const;

/** prom-client's `getMetricsAsJSON()` in the compact form. Families with no series are left out. */
export function compactFamilies(json: ReadonlyArray<PromFamilyJson>): CompactFamilies {
  const strings: string[] = [];
  const indexOf = new Map<string, number>();
  const intern = (value: string) => {
    let i = indexOf.get(value);
    if (i === undefined) indexOf.set(value, (i = strings.push(value) - 1));
    return i;
  };
  const out: CompactFamily[] = [];
  for (const family of json) {
    const t = TYPES[family.type as keyof typeof TYPES];
    if (!t || family.values.length === 0) continue;
    const names: string[] = [];
    for (const v of family.values) for (const key of Object.keys(v.labels)) if (key !== 'le' && !names.includes(key)) names.push(key);
    const labelsOf = (labels: Record<string, string | number>) => names.map((k) => intern(labels[k] === undefined ? '' : String(labels[k])));
    const help = CATALOGUE_HELP.get(family.name) === family.help ? {} : { h: family.help };
    if (t !== 'h') {
      out.push({ n: family.name, t, l: names, ...help, s: family.values.map((v) => [...labelsOf(v.labels), v.value]) });
      continue;
    }
    // A histogram's values come as cumulative `_bucket`s (label `le`), `_sum` and `_count` per series.
    const bounds: number[] = [];
    const series = new Map<string, { labels: number[]; sum: number; count: number; cumulative: Map<number, number> }>();
    for (const v of family.values) {
      const labels = labelsOf(v.labels);
      const id = labels.join(',');
      let entry = series.get(id);
      if (!entry) series.set(id, (entry = { labels, sum: 0, count: 0, cumulative: new Map() }));
      if (v.metricName?.endsWith('_sum')) entry.sum = v.value;
      else if (v.metricName?.endsWith('_count')) entry.count = v.value;
      else {
        const le = Number(v.labels.le);
        if (!Number.isFinite(le)) continue;
        if (!bounds.includes(le)) bounds.push(le);
        entry.cumulative.set(le, v.value);
      }
    }
    bounds.sort((a, b) => a - b);
    const s = [...series.values()].map(({ labels, sum, count, cumulative }) => {
      const row = [...labels, round(sum), count];
      let below = 0;
      bounds.forEach((le, i) => {
        const upTo = cumulative.get(le) ?? below;
        if (upTo > below) row.push(i, upTo - below);
        below = upTo;
      });
      return row;
    });
    out.push({ n: family.name, t, l: names, ...help, b: bounds, s });
  }
  return { v: strings, f: out };
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Which families to decode (the rest are skipped unread): the status view needs two gauges. */
export type FamilyFilter = (name: string, type: Family['type']) => boolean;

/**
 * Prometheus families from a snapshot's compact families, with `extra` labels (the aggregator's
 * `host`). Anything malformed (it came from another host's store record) is skipped, not thrown.
 */
export function familiesFromCompact(compact: unknown, extra: Labels = {}, only?: FamilyFilter): Family[] {
  const c = compact as Partial<CompactFamilies> | null;
  if (!c || !Array.isArray(c.v) || !Array.isArray(c.f)) return [];
  const strings = c.v;
  const families: Family[] = [];
  for (const raw of c.f as unknown[]) {
    const f = raw as Partial<CompactFamily> | null;
    if (!f || typeof f.n !== 'string' || !Array.isArray(f.l) || !Array.isArray(f.s)) continue;
    const type = f.t === 'c' ? 'counter' : f.t === 'g' ? 'gauge' : f.t === 'h' ? 'histogram' : undefined;
    if (!type || (only && !only(f.n, type))) continue;
    const help = typeof f.h === 'string' ? f.h : (CATALOGUE_HELP.get(f.n) ?? `${f.n}, reported by a host of another anklet version (not in this version's catalogue).`);
    const samples: Sample[] = [];
    const bounds = Array.isArray(f.b) ? f.b.filter(isNumber) : [];
    const width = f.l.length;
    // Labels go out in name order, as prom-client writes them (so the aggregator's lines match the
    // host's), `le` among them; the order is worked out once per family, not per sample.
    const order = f.l.map((name, i) => [String(name), i] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const leAt = order.findIndex(([name]) => name > 'le');
    const labelsOf = (row: number[], le?: string): Record<string, string> => {
      const labels: Record<string, string> = {};
      order.forEach(([name, i], at) => {
        if (le !== undefined && at === leAt) labels.le = le;
        const value = strings[row[i]!];
        if (typeof value === 'string' && value !== '') labels[name] = value;
      });
      if (le !== undefined && leAt < 0) labels.le = le;
      return Object.assign(labels, extra);
    };
    for (const row of f.s as unknown[]) {
      if (!Array.isArray(row) || !row.every(isNumber)) continue;
      const labels = labelsOf(row);
      if (type !== 'histogram') {
        if (row.length > width) samples.push({ labels, value: row[width] as number });
        continue;
      }
      if (row.length < width + 2) continue;
      const sum = row[width] as number;
      const count = row[width + 1] as number;
      const inBucket = new Map<number, number>();
      for (let i = width + 2; i + 1 < row.length; i += 2) inBucket.set(row[i] as number, row[i + 1] as number);
      let cumulative = 0;
      bounds.forEach((le, i) => {
        cumulative += inBucket.get(i) ?? 0;
        samples.push({ name: `${f.n}_bucket`, labels: labelsOf(row, String(le)), value: cumulative });
      });
      samples.push({ name: `${f.n}_bucket`, labels: labelsOf(row, '+Inf'), value: count });
      samples.push({ name: `${f.n}_sum`, labels, value: sum });
      samples.push({ name: `${f.n}_count`, labels, value: count });
    }
    families.push({ name: f.n, help, type, samples });
  }
  return families;
}
