import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadVmNamePrefix } from '../src/vm-names.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'anklet-vm-names-'));
  dirs.push(dir);
  return dir;
}

describe('VM name prefix', () => {
  it('keeps its token across restarts of one host, and makes a new one in a data folder copied from another host', () => {
    const dir = dataDir();
    const prefix = loadVmNamePrefix(dir, 'aaaaaaaaaaaaaaaa');
    expect(prefix).toMatch(/^anklet-vm-[0-9a-f]{12}-$/);
    expect(loadVmNamePrefix(dir, 'aaaaaaaaaaaaaaaa')).toBe(prefix);
    expect(readFileSync(path.join(dir, 'vm-name-token'), 'utf8')).toBe(`${prefix.slice(10, 22)} aaaaaaaaaaaaaaaa\n`);
    // The same folder on another host (a copied work dir): a token of its own.
    const copied = loadVmNamePrefix(dir, 'bbbbbbbbbbbbbbbb');
    expect(copied).not.toBe(prefix);
    expect(loadVmNamePrefix(dir, 'bbbbbbbbbbbbbbbb')).toBe(copied);
  });

  it('keeps a token written before host ids and records the host id with it', () => {
    const dir = dataDir();
    writeFileSync(path.join(dir, 'vm-name-token'), '0123456789ab\n');
    expect(loadVmNamePrefix(dir, 'aaaaaaaaaaaaaaaa')).toBe('anklet-vm-0123456789ab-');
    expect(readFileSync(path.join(dir, 'vm-name-token'), 'utf8')).toBe('0123456789ab aaaaaaaaaaaaaaaa\n');
    // A host without an identity (an older host) reads the same token.
    expect(loadVmNamePrefix(dir)).toBe('anklet-vm-0123456789ab-');
  });
});
