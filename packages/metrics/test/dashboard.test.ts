import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostMetrics } from '../src/index.js';

describe('the Grafana dashboard in examples/grafana', () => {
  it('only queries metric names the host exposes', async () => {
    const metrics = new HostMetrics({ version: '1.0.0', hostState: () => ({ vmSlotsTotal: 2, vmSlotsUsed: 0, draining: false }) });
    const plugin = metrics.forPlugin({ name: 'RUNNER1', plugin: 'github', owner: 'acme', repo: '' });
    plugin.observe('job_queue_wait_seconds', 1);
    plugin.observe('job_phase_duration_seconds', 1, { phase: 'pull' });
    const text = await metrics.prometheus();
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));

    const dashboard = readFileSync(new URL('../../../examples/grafana/anklet-dashboard.json', import.meta.url), 'utf8');
    const used = new Set([...dashboard.matchAll(/\banklet_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, '')));
    used.delete('anklet_dashboard');
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
  });
});
