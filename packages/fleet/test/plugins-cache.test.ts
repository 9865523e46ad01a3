import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pruneCache } from '../src/plugins.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'fleet-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A cache entry (or a staging folder without the marker) whose marker/folder time is `hoursAgo` old. */
function entry(name: string, hoursAgo: number, complete = true): void {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const at = (Date.now() - hoursAgo * 3_600_000) / 1000;
  if (complete) {
    writeFileSync(path.join(dir, '.anklet-fleet-complete'), 'x\n');
    utimesSync(path.join(dir, '.anklet-fleet-complete'), at, at);
  }
  utimesSync(dir, at, at);
}

describe('the installed-plugins cache', () => {
  it('keeps the current build, the three newest others and anything under an hour old; removes the rest', () => {
    entry('current', 100);
    for (const [name, hours] of [['a', 2], ['b', 3], ['c', 4], ['d', 5], ['e', 6]] as const) entry(name, hours);
    entry('staging-old', 50, false);
    entry('fresh', 0.1);
    pruneCache(root, path.join(root, 'current'));
    // Newest first among the others: fresh (young), a, b -> kept as the three newest; c, d, e and the
    // old staging folder go. `current` stays whatever its age.
    expect(readdirSync(root).sort()).toEqual(['a', 'b', 'current', 'fresh']);
  });

  it('leaves a cache it cannot read alone', () => {
    expect(() => pruneCache(path.join(root, 'missing'), path.join(root, 'missing', 'x'))).not.toThrow();
  });
});
