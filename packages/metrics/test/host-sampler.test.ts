import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HostSampler } from '../src/index.js';

const samplers: HostSampler[] = [];
afterEach(() => {
  for (const s of samplers.splice(0)) s.stop();
});

function sampler(): HostSampler {
  const s = new HostSampler({ intervalMs: 60_000 });
  samplers.push(s);
  return s;
}

describe('HostSampler', () => {
  it('takes its first sample only once `after` has settled', async () => {
    const s = sampler();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = s.start(gate);
    await sleep(300);
    // Nothing sampled while the gate is closed (the cap is one second).
    expect(s.figures.host_memory_total_bytes).toBe(0);
    release();
    await first;
    expect(s.figures.host_memory_total_bytes).toBeGreaterThan(0);
    expect(s.figures.host_disk_total_bytes).toBeGreaterThan(0);
  });

  it('does not wait for an `after` that never settles longer than a second', async () => {
    const s = sampler();
    const first = s.start(new Promise<void>(() => {}));
    await first;
    expect(s.figures.host_memory_total_bytes).toBeGreaterThan(0);
  });

  it('firstSample() resolves at once when never started, and is bounded by its timeout', async () => {
    const idle = sampler();
    await idle.firstSample();
    expect(idle.figures.host_memory_total_bytes).toBe(0);
    const s = sampler();
    void s.start(new Promise<void>(() => {}));
    // 50 ms is shorter than the one-second cap: firstSample gives up without the figures.
    await s.firstSample(50);
    expect(s.figures.host_memory_total_bytes).toBe(0);
    await s.firstSample(10_000);
    expect(s.figures.host_memory_total_bytes).toBeGreaterThan(0);
  });
});
