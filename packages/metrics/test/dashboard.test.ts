import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COUNTERS, GAUGES, HISTOGRAMS, HostMetrics } from '../src/index.js';

describe('the Grafana dashboard in examples/grafana', () => {
  it('only queries metric names the host exposes', async () => {
    const metrics = new HostMetrics({ version: '1.0.0', hostState: () => ({ vmSlotsTotal: 2, vmSlotsUsed: 0, draining: false }) });
    const plugin = metrics.forPlugin({ name: 'RUNNER1', plugin: 'github', owner: 'acme', repo: '' });
    // A family shows once it has a series (snapshots leave empty families out): use every one.
    for (const name of Object.keys(COUNTERS)) plugin.count(name);
    for (const name of Object.keys(GAUGES)) plugin.gauge(name, 1);
    for (const name of Object.keys(HISTOGRAMS)) plugin.observe(name, 1);
    const text = await metrics.prometheus();
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));

    const dashboard = readFileSync(new URL('../../../examples/grafana/anklet-dashboard.json', import.meta.url), 'utf8');
    const used = new Set([...dashboard.matchAll(/\banklet_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, '')));
    used.delete('anklet_dashboard');
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
  });
});
