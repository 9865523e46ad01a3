import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COUNTERS, GAUGES, HISTOGRAMS } from '../src/catalogue.js';
import { HostMetrics } from '../src/host-metrics.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** Every `.ts` file under a folder (no `node_modules`, no `dist`). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (full.endsWith('.ts') && !full.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** The first-party source folders that report metrics. */
const SOURCE_DIRS = [
  ...readdirSync(path.join(ROOT, 'packages')).map((p) => path.join(ROOT, 'packages', p, 'src')),
  path.join(ROOT, 'apps/anklet/src'),
].filter((dir) => {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
});

const KIND_OF = { count: COUNTERS, gauge: GAUGES, observe: HISTOGRAMS } as const;

describe('metric catalogue', () => {
  it('has every name the first-party packages report, with the kind they report it as', () => {
    const reported: Array<{ file: string; call: keyof typeof KIND_OF; name: string }> = [];
    for (const file of SOURCE_DIRS.flatMap(sources)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\.(count|gauge|observe)\(\s*['"`]([a-z0-9_]+)['"`]/g)) {
        reported.push({ file: path.relative(ROOT, file), call: m[1] as keyof typeof KIND_OF, name: m[2]! });
      }
    }
    // The scan finds the calls (the receiver, the handler, the GitHub and Anka clients).
    expect(new Set(reported.map((r) => r.name)).size).toBeGreaterThan(30);
    const missing = reported.filter((r) => !Object.hasOwn(KIND_OF[r.call], r.name)).map((r) => `${r.file}: ${r.call}('${r.name}')`);
    expect(missing, 'reported but not catalogued (or catalogued as another kind)').toEqual([]);
  });

  it('gives every family a real help text and declared label names; the README table lists them all, with those labels', () => {
    const readme = readFileSync(path.join(ROOT, 'packages/metrics/README.md'), 'utf8');
    const families = [
      ...Object.entries(COUNTERS).map(([n, spec]) => [`anklet_${n}_total`, spec] as const),
      ...Object.entries(GAUGES).map(([n, spec]) => [`anklet_${n}`, spec] as const),
      ...Object.entries(HISTOGRAMS).map(([n, spec]) => [`anklet_${n}`, spec] as const),
    ];
    for (const [name, spec] of families) {
      expect(spec.help.length, name).toBeGreaterThan(20);
      expect(spec.help, name).not.toMatch(/reported by a plugin/);
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, `README row of ${name}`).toBeDefined();
      const labels = ['plugin', ...spec.labels].map((l) => `\`${l}\``).join(', ');
      expect(row!.split(' | ')[2], `labels of ${name} in the README`).toBe(labels);
    }
  });

  it('serves a catalogued family with its help; a plugin name outside the catalogue says it is not catalogued', async () => {
    const metrics = new HostMetrics();
    const p = metrics.forPlugin({ name: 'P', plugin: 'third-party', owner: 'acme', repo: '' });
    p.count('webhooks_rejected', { reason: 'bad_signature' });
    p.count('my_own_events', { kind: 'x' });
    const text = await metrics.prometheus();
    expect(text).toContain(`# HELP anklet_webhooks_rejected_total ${COUNTERS.webhooks_rejected.help}`);
    expect(text).toContain("# HELP anklet_my_own_events_total anklet_my_own_events_total: a counter of the plugin that first reported it (third-party); not in anklet's metric catalogue.");
    expect(text).not.toContain('reported by a plugin');
  });
});
