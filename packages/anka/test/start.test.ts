import { isAnkaFailure } from '@anklet/core';
import { describe, expect, it } from 'vitest';
import { AnkaCliError, createAnkaHost } from '../src/index.js';
import { makeHost, simEnv, simHome, testLock, testSlots } from './helpers.js';

const coordination = () => ({ cpuCount: 8, memoryBytes: 32 * 2 ** 30, vmSlots: testSlots(), pullLock: testLock(), preparingLock: testLock() });

describe('start-up checks', () => {
  it('reads the version and licence, and uses `registry --list` from 3.9.0', async () => {
    const home = simHome({ version: '3.9.1' });
    const host = await makeHost(home);
    expect(host.version).toBe('3.9.1');
    expect(host.license).toMatchObject({ status: 'valid', licenseType: 'com.veertu.anka.entplus' });
    expect(host.features).toEqual({ registryListArgs: ['registry', '--list'], mounts: true });
    const repos = await host.listRegistries();
    expect(repos.length).toBeGreaterThan(0);
    expect(home.calls().map((c) => c.argv)).toContainEqual(['-j', 'registry', '--list']);
  });

  it('uses `registry list-repos` before 3.9.0 and has no mounts', async () => {
    const home = simHome({ version: '3.8.4' });
    const host = await makeHost(home);
    expect(host.features).toEqual({ registryListArgs: ['registry', 'list-repos'], mounts: false });
    await expect(host.listRegistries()).resolves.toEqual(expect.any(Array));
    expect(home.calls().map((c) => c.argv)).toContainEqual(['-j', 'registry', 'list-repos']);
  });

  it('refuses configured mounts before 3.9.0 and on Intel Macs', async () => {
    const old = simHome({ version: '3.8.9' });
    const err = await makeHost(old, { mountsConfigured: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnkaCliError);
    expect((err as AnkaCliError).message).toContain('requires Anka >= 3.9.0, got "3.8.9"');
    expect((err as AnkaCliError).operator).toBe(true);
    const intel = await makeHost(simHome({ version: '3.9.1' }), { mountsConfigured: true, appleSilicon: false }).catch((e: unknown) => e);
    expect((intel as AnkaCliError).reason).toBe('unsupported');
    await expect(makeHost(simHome({ version: '3.10.0' }), { mountsConfigured: true })).resolves.toBeDefined();
  });

  it('with `discover`, lists the VMs beside the checks and lends that listing to the first orphan scan', async () => {
    const home = simHome({ templates: [{ name: 'kept', uuid: '33333333-3333-4333-8333-333333333333', tag: 'v1', imageSizeBytes: 10 * 2 ** 30 }] });
    const host = await makeHost(home, { discover: true });
    await host.listed();
    const timings = home.timings().map((t) => ({ argv: t.argv, start: Date.parse(t.start), end: Date.parse(t.end) }));
    const list = timings.find((t) => t.argv.join(' ') === '-j list')!;
    const version = timings.find((t) => t.argv.join(' ') === '-j version')!;
    expect(list).toBeDefined();
    // Started before the version check had answered: the listing does not wait for the checks.
    expect(list.start).toBeLessThan(version.end);
    await host.discovered();
    expect(host.tracker.has('33333333-3333-4333-8333-333333333333')).toBe(true);
    // The handler's first orphan scan reads that listing: no second `list`.
    await host.forPlugin({}).listOwnVms();
    expect(home.calls().filter((c) => c.argv.join(' ') === '-j list')).toHaveLength(1);
  });

  it('says clearly when anka is missing', async () => {
    const err = await createAnkaHost({ coordination: coordination(), env: { PATH: '/nonexistent' } }).catch((e: unknown) => e);
    expect(isAnkaFailure(err)).toBe(true);
    expect(err).toMatchObject({ reason: 'missing_cli', retryable: false, operator: true });
    expect((err as AnkaCliError).hint).toContain('PATH');
  });

  it('rejects an invalid licence and Anka Develop', async () => {
    const expired = await makeHost(simHome({ license: { status: 'expired' } })).catch((e: unknown) => e);
    expect(expired).toMatchObject({ reason: 'license', retryable: false, operator: true });
    expect((expired as Error).message).toContain('anka license is invalid');
    const develop = await makeHost(simHome({ license: { license_type: 'com.veertu.anka.develop' } })).catch((e: unknown) => e);
    expect((develop as Error).message).toContain('anka license type is not supported');
  });

  it('fails when `anka -j version` fails', async () => {
    const home = simHome({ faults: [{ command: 'version', error: { message: 'Wrong host for license (-4)' } }] });
    const err = await createAnkaHost({ coordination: coordination(), env: simEnv(home) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'license', ankaMessage: 'Wrong host for license (-4)' });
  });
});
