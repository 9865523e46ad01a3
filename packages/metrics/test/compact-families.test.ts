import { describe, expect, it } from 'vitest';
import { HostMetrics, familiesFromCompact, familiesFromPromJson, parseSnapshot, renderExposition, type PromFamilyJson } from '../src/index.js';
import { promtoolCheck } from './helpers.js';

const PHASES = ['pull', 'clone', 'start', 'runner_registration', 'job_run', 'cleanup'];

/** A busy handler host: two handlers, jobs on `templates` templates, every catalogue family in use. */
function busyHost(templates: number): HostMetrics {
  const metrics = new HostMetrics({ version: '1.0.0', hostName: 'mac-01' });
  for (const name of ['RUNNER1', 'RUNNER2']) {
    const p = metrics.forPlugin({ name, plugin: 'github', owner: 'acme', repo: '' });
    p.setStatus('running');
    p.recordRun('success', 'https://github.com/acme/app/actions/runs/1/job/2');
    p.vmStarted();
    for (const phase of PHASES) for (const seconds of [0.5, 7, 42, 4000, 99_999]) p.observe('job_phase_duration_seconds', seconds, { phase });
    p.observe('template_pull_duration_seconds', 100);
    for (let t = 0; t < templates; t++) {
      p.observe('job_queue_wait_seconds', 3 + t, { template: `macos-15-xcode-${t}` });
      p.gauge('template_pull_progress_percent', 100, { template: `macos-15-xcode-${t}` });
    }
    p.count('jobs_claimed');
    p.count('job_retries', { reason: 'registration_timeout' });
    p.gauge('queue_depth', 3, { queue: 'acme' });
    p.gauge('github_rate_limit_remaining', 4999, { resource: 'core' });
  }
  return metrics;
}

/** Sample lines with their labels in name order (order carries no meaning), sorted. */
const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/\{(.*)\}/, (_, inner: string) => `{${inner.split(/,(?=[a-z_]+=")/).sort().join(',')}}`))
    .sort();

describe('compact host snapshots', () => {
  it('stays under 5 KB with 20 templates (prom-client JSON took about 130 KB)', async () => {
    const metrics = busyHost(20);
    const json = JSON.stringify(await metrics.snapshot());
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(5 * 1024);
    const promJson = JSON.stringify(await metrics.registry.getMetricsAsJSON());
    expect(Buffer.byteLength(promJson)).toBeGreaterThan(100 * 1024);
  });

  it('gives back every series, bucket, sum and count of the host registry, valid for promtool', async () => {
    const metrics = busyHost(3);
    const snapshot = parseSnapshot(JSON.stringify(await metrics.snapshot()));
    const decoded = renderExposition(familiesFromCompact(snapshot.anklet?.families));
    const original = renderExposition(familiesFromPromJson((await metrics.registry.getMetricsAsJSON()) as unknown as PromFamilyJson[]));
    expect(lines(decoded)).toEqual(lines(original));
    expect(decoded).toContain('anklet_job_phase_duration_seconds_bucket{le="+Inf",phase="cleanup",plugin="RUNNER2"} 5');
    // 99,999 s is above the last bound (21,600): in +Inf only.
    expect(decoded).toContain('anklet_job_phase_duration_seconds_bucket{le="21600",phase="cleanup",plugin="RUNNER2"} 4');
    expect(promtoolCheck(decoded).output).toBe('');
  });

  it('skips what another host wrote wrong instead of failing the scrape', () => {
    const families = familiesFromCompact({
      v: ['RUNNER1'],
      f: [
        { n: 'anklet_jobs_claimed_total', t: 'c', l: ['plugin'], s: [[0, 2], ['x'], [0]] },
        { n: 'anklet_odd', t: 'summary', l: [], s: [] },
        null,
        { n: 'anklet_job_queue_wait_seconds', t: 'h', l: ['plugin'], b: [1, 5], s: [[0, 3.5], [0, 3.5, 2, 1, 2]] },
      ],
    });
    expect(renderExposition(families).split('\n').filter((l) => !l.startsWith('#') && l)).toEqual([
      'anklet_jobs_claimed_total{plugin="RUNNER1"} 2',
      'anklet_job_queue_wait_seconds_bucket{le="1",plugin="RUNNER1"} 0',
      'anklet_job_queue_wait_seconds_bucket{le="5",plugin="RUNNER1"} 2',
      'anklet_job_queue_wait_seconds_bucket{le="+Inf",plugin="RUNNER1"} 2',
      'anklet_job_queue_wait_seconds_sum{plugin="RUNNER1"} 3.5',
      'anklet_job_queue_wait_seconds_count{plugin="RUNNER1"} 2',
    ]);
    expect(familiesFromCompact('not an object')).toEqual([]);
  });
});
