import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../src/backoff.js';

describe('backoffDelayMs', () => {
  it('doubles per attempt up to the cap, with the jitter in the upper half of the window', () => {
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, 5_000, 300_000, high))).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect([1, 2, 3].map((n) => backoffDelayMs(n, 5_000, 300_000, low))).toEqual([2_500, 5_000, 10_000]);
    expect(backoffDelayMs(20, 5_000, 300_000, high)).toBe(300_000);
    expect(backoffDelayMs(1_000, 5_000, 300_000, low)).toBe(150_000);
    expect(backoffDelayMs(3, 0, 300_000)).toBe(0);
  });
});
