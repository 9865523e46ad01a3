import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COUNTERS, GAUGES, HISTOGRAMS, HostMetrics } from '../src/index.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ refId: string; expr: string }>;
}
const dashboard = JSON.parse(readFileSync(new URL('../../../examples/grafana/anklet-dashboard.json', import.meta.url), 'utf8')) as {
  description: string;
  panels: Panel[];
};
const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })));
const namesIn = (expr: string) => [...expr.matchAll(/\banklet_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, ''));

/**
 * Metrics no panel shows, each with the reason. A name here must exist and must not be on a panel,
 * so the list cannot go stale.
 */
const NOT_ON_A_PANEL: Record<string, string> = {
  anklet_host_cpu_cores: 'a fixed fact of the machine; the usage ratio panel shows the load',
  anklet_host_memory_total_bytes: 'the usage ratio and available-bytes panels show the same',
  anklet_host_memory_used_bytes: 'the usage ratio and available-bytes panels show the same',
  anklet_host_disk_total_bytes: 'the usage ratio and available-bytes panels show the same',
  anklet_host_disk_used_bytes: 'the usage ratio and available-bytes panels show the same',
  anklet_plugin_status_since_timestamp_seconds: 'how long a status has lasted is on the status page (`/`); the panel shows the status',
};

/** Every family a host exposes once each catalogued metric has a sample (empty families are not served). */
async function exposedFamilies(): Promise<Set<string>> {
  const metrics = new HostMetrics({ version: '1.0.0', hostState: () => ({ vmSlotsTotal: 2, vmSlotsUsed: 0, draining: false }) });
  const plugin = metrics.forPlugin({ name: 'RUNNER1', plugin: 'github', owner: 'acme', repo: '' });
  for (const name of Object.keys(COUNTERS)) plugin.count(name);
  for (const name of Object.keys(GAUGES)) plugin.gauge(name, 1);
  for (const name of Object.keys(HISTOGRAMS)) plugin.observe(name, 1);
  const text = await metrics.prometheus();
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

describe('the Grafana dashboard in examples/grafana', () => {
  it('has a query on every panel, unique ids, and no two panels on the same spot', () => {
    expect(dashboard.panels.length).toBeGreaterThan(20);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        expect(cells.get(`${i},${j}`), `${p.title} overlaps`).toBeUndefined();
        cells.set(`${i},${j}`, p.title);
      }
    }
  });

  it('only queries metric names the host exposes, each filtered by the Host selector', async () => {
    const exposed = await exposedFamilies();
    for (const t of targets) {
      const names = namesIn(t.expr);
      expect(names.length, `${t.panel} ${t.refId}`).toBeGreaterThan(0);
      expect(names.filter((n) => !exposed.has(n)), `${t.panel} ${t.refId}`).toEqual([]);
      // Every selector of an anklet metric takes the host filter (aggregator scrapes are host-labelled).
      const selectors = [...t.expr.matchAll(/\banklet_[a-z_]+(\{[^}]*\})?/g)];
      for (const s of selectors) expect(s[1] ?? '', `${t.panel} ${t.refId}: ${s[0]}`).toContain('host=~"$host"');
    }
  });

  it('shows every metric a host exposes on at least one panel, or says why not', async () => {
    const exposed = await exposedFamilies();
    // The catalogue is a subset of what is exposed: check it outright, so a new catalogued name needs a panel.
    for (const name of [...Object.keys(COUNTERS).map((n) => `anklet_${n}_total`), ...[...Object.keys(GAUGES), ...Object.keys(HISTOGRAMS)].map((n) => `anklet_${n}`)]) {
      expect(exposed.has(name), name).toBe(true);
    }
    const used = new Set(targets.flatMap((t) => namesIn(t.expr)));
    expect([...exposed].filter((n) => !used.has(n) && !(n in NOT_ON_A_PANEL))).toEqual([]);
    // The skip list stays true: its names exist and are really left out.
    expect(Object.keys(NOT_ON_A_PANEL).filter((n) => !exposed.has(n) || used.has(n))).toEqual([]);
  });

  it('has only expressions Prometheus accepts (promtool check rules)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'anklet-dashboard-'));
    try {
      // Grafana's variables become what they stand for when "All" is picked.
      const rules = targets.map((t, i) => ({ record: `dashboard:expr_${i}`, expr: t.expr.replaceAll('$host', '.*') }));
      const file = path.join(dir, 'rules.yml');
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const result = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      if (result.error) throw new Error(`promtool is not installed (Debian package "prometheus"): ${result.error.message}`);
      expect(`${result.stdout}${result.stderr}`).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says to scrape either the hosts or the aggregator, never both', () => {
    expect(dashboard.description).toMatch(/EITHER every host.*OR the aggregator.*never both/);
  });
});
