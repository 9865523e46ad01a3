import { mkdirSync, mkdtempSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PluginMetrics, PullProgress } from '@anklet/core';
import { describe, expect, it } from 'vitest';
import { ankaSettingsFromConfig } from '../src/index.js';
import { GiB, makeHost, recordingLogger, registrySeed, simHome, TEMPLATE_UUID } from './helpers.js';

function recordingMetrics() {
  const events: Array<[string, ...unknown[]]> = [];
  const metrics: PluginMetrics = {
    setStatus: (s) => void events.push(['status', s]),
    recordRun: () => {},
    vmStarted: () => {},
    vmStopped: () => {},
    count: (name, labels) => void events.push(['count', name, labels]),
    gauge: (name, value) => void events.push(['gauge', name, value]),
    observe: (name) => void events.push(['observe', name]),
  };
  return { metrics, events };
}

describe('templates', () => {
  it('pulls a missing template with --shrink from registry_url, reporting progress', async () => {
    const home = simHome({ registry: registrySeed({ pullProgressLines: 4 }) });
    const host = await makeHost(home);
    const logger = recordingLogger();
    const { metrics, events } = recordingMetrics();
    const url = 'http://registry.example:8089';
    const anka = host.forPlugin(ankaSettingsFromConfig({ registry_url: url }), { logger, metrics });
    const progress: PullProgress[] = [];
    const result = await anka.ensureTemplate(TEMPLATE_UUID, '6c14r', { onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ status: 'ready', uuid: TEMPLATE_UUID, name: 'anklet', tag: '6c14r', pulled: true });
    const argvs = home.calls().map((c) => c.argv);
    expect(argvs).toContainEqual(['-j', 'registry', '--remote', url, 'show', TEMPLATE_UUID, '--tag', '6c14r']);
    expect(argvs).toContainEqual(['-j', 'pull', TEMPLATE_UUID, '--check-download-size', '--tag', '6c14r', url]);
    expect(argvs).toContainEqual(['-j', 'registry', '--remote', url, 'pull', '--shrink', TEMPLATE_UUID, '--tag', '6c14r']);
    expect(progress.map((p) => p.percent)).toEqual([25, 50, 75, 100]);
    expect(progress[3]).toMatchObject({ template: 'anklet', tag: '6c14r', totalBytes: 28 * GiB });
    expect(logger.lines.filter((l) => l.message === 'pulling template').length).toBe(4);
    expect(logger.lines.map((l) => l.message)).toContain('successfully pulled template');
    expect(events).toContainEqual(['status', 'pulling']);
    expect(events).toContainEqual(['count', 'template_pulls', { result: 'success' }]);
    expect(events).toContainEqual(['gauge', 'template_pull_progress_percent', 100]);

    // Now it is here: no pull.
    const again = await anka.ensureTemplate(TEMPLATE_UUID, '6c14r');
    expect(again).toMatchObject({ status: 'ready', pulled: false });
    expect(host.tracker.get(TEMPLATE_UUID)).toMatchObject({ usageCount: 2, imageSizeBytes: 28 * GiB, pulling: false });
  });

  it('pulls when the tag differs, and refreshes the latest when no tag is asked for', async () => {
    const home = simHome({ registry: registrySeed(), templates: [{ name: 'anklet', tag: '6c14r' }] });
    const anka = (await makeHost(home)).forPlugin();
    expect(await anka.ensureTemplate('anklet', '8c16r')).toMatchObject({ status: 'ready', tag: '8c16r', pulled: true });
    expect(await anka.ensureTemplate('anklet')).toMatchObject({ status: 'ready', pulled: true });
    const pulls = home.calls().filter((c) => c.argv.includes('pull') && c.argv.includes('--shrink'));
    expect(pulls.map((c) => c.argv)).toEqual([
      ['-j', 'registry', 'pull', '--shrink', TEMPLATE_UUID, '--tag', '8c16r'],
      ['-j', 'registry', 'pull', '--shrink', TEMPLATE_UUID],
    ]);
  });

  it('with skip_pull uses what is here and sends other jobs elsewhere', async () => {
    const home = simHome({ registry: registrySeed(), templates: [{ name: 'anklet', tag: '6c14r' }] });
    const anka = (await makeHost(home)).forPlugin(ankaSettingsFromConfig({ skip_pull: true }));
    expect(await anka.ensureTemplate('anklet')).toMatchObject({ status: 'ready', pulled: false, tag: '6c14r' });
    expect(await anka.ensureTemplate('anklet', '8c16r')).toMatchObject({ status: 'not_on_host' });
    expect(await anka.ensureTemplate('other')).toMatchObject({ status: 'not_on_host' });
    expect(home.calls().some((c) => c.argv.includes('registry'))).toBe(false);
  });

  it('reports a template or tag the registry does not have as not_found', async () => {
    const home = simHome({ registry: registrySeed() });
    const anka = (await makeHost(home)).forPlugin();
    expect(await anka.ensureTemplate('anklet', 'no-such-tag')).toEqual({ status: 'not_found', message: `anklet: tag no-such-tag not found` });
    expect(await anka.ensureTemplate('nope')).toMatchObject({ status: 'not_found' });
  });

  it('a failed template is an error, and a failed pull is retryable and frees the pull lock', async () => {
    const home = simHome({ registry: registrySeed(), templates: [{ name: 'broken', status: 'failed' }] });
    const host = await makeHost(home);
    const anka = host.forPlugin();
    await expect(anka.ensureTemplate('broken')).rejects.toMatchObject({ reason: 'failed', retryable: true });
    home.setFaults([{ command: 'registry pull', times: 1, error: { message: 'anklet: download interrupted' } }]);
    await expect(anka.ensureTemplate('anklet', '6c14r')).rejects.toMatchObject({ reason: 'failed', retryable: true });
    expect(host.coordination.pullLock.held).toBe(false);
    expect(await anka.ensureTemplate('anklet', '6c14r')).toMatchObject({ status: 'ready', pulled: true });
  });

  it('runs one pull per host: a second job that needs a pull is sent elsewhere at once', async () => {
    const home = simHome({
      registry: {
        ...registrySeed({ pullDurationMs: 4_000 }),
        templates: [...registrySeed().templates!, { name: 'other', tags: [{ tag: 'v1' }] }],
      },
    });
    const host = await makeHost(home);
    const first = host.forPlugin();
    const second = host.forPlugin();
    const pulling = first.ensureTemplate('anklet', '6c14r');
    while (!host.coordination.pullLock.held) await new Promise((r) => setTimeout(r, 10));
    expect(await second.ensureTemplate('anklet', '6c14r')).toEqual({ status: 'pull_in_progress', message: 'a pull is already running on this host' });
    expect(await second.ensureTemplate('other', 'v1')).toMatchObject({ status: 'pull_in_progress' });
    // The answer came while the first pull was still running: nobody waited for it.
    expect(host.coordination.pullLock.held).toBe(true);
    expect(await pulling).toMatchObject({ status: 'ready', pulled: true });
    expect(home.calls().filter((c) => c.argv.includes('--shrink')).length).toBe(1);
    expect(await second.ensureTemplate('other', 'v1')).toMatchObject({ status: 'ready', pulled: true });
  });
});

describe('disk buffer and LRU clean-up', () => {
  const OLD_A = '11111111-1111-4111-8111-111111111111';
  const OLD_B = '22222222-2222-4222-8222-222222222222';

  it('deletes the least-used template when a pull would not fit', async () => {
    // 200 GiB disk, 100 GiB other data, two 30 GiB templates: 40 GiB free, 20 GiB buffer.
    const home = simHome({
      registry: registrySeed(),
      disk: { totalBytes: 200 * GiB, otherBytes: 100 * GiB },
      templates: [
        { name: 'old-a', uuid: OLD_A, tag: 'v1', imageSizeBytes: 30 * GiB },
        { name: 'old-b', uuid: OLD_B, tag: 'v1', imageSizeBytes: 30 * GiB },
      ],
    });
    const host = await makeHost(home);
    await host.discoverTemplates();
    const logger = recordingLogger();
    const anka = host.forPlugin(ankaSettingsFromConfig({ template_disk_buffer: 10 }), { logger });
    expect(await anka.ensureTemplate('old-b', 'v1')).toMatchObject({ status: 'ready', pulled: false });
    expect(await anka.ensureTemplate('anklet', '6c14r')).toMatchObject({ status: 'ready', pulled: true });
    const names = (await anka.list()).map((v) => v.name).sort();
    expect(names).toEqual(['anklet', 'old-b']);
    expect(home.calls().map((c) => c.argv)).toContainEqual(['-j', 'delete', '--yes', OLD_A]);
    const messages = logger.lines.map((l) => l.message);
    expect(messages).toContain('insufficient space for template, cleaning up LRU templates');
    expect(messages).toContain('deleting LRU template to free space');
    expect(messages).toContain('successfully freed enough space for template');
    expect(host.tracker.has(OLD_A)).toBe(false);
  });

  it('never deletes a template a VM was cloned from, and deletes nothing when it could not be enough', async () => {
    const home = simHome({
      registry: registrySeed(),
      disk: { totalBytes: 200 * GiB, otherBytes: 140 * GiB },
      templates: [
        { name: 'old-a', uuid: OLD_A, tag: 'v1', imageSizeBytes: 30 * GiB },
        { name: 'old-b', uuid: OLD_B, tag: 'v1', imageSizeBytes: 10 * GiB },
      ],
    });
    const host = await makeHost(home);
    await host.discoverTemplates();
    const anka = host.forPlugin(ankaSettingsFromConfig({}, { global_template_disk_buffer: 10 }));
    await anka.clone('old-a');
    const result = await anka.ensureTemplate('anklet', '6c14r');
    expect(result).toMatchObject({ status: 'no_space' });
    expect((result as { message: string }).message).toContain('even if we cleaned up all templates');
    expect(home.calls().some((c) => c.argv.includes('delete'))).toBe(false);
    expect(host.coordination.pullLock.held).toBe(false);
  });

  it('says when the buffer itself is too restrictive or the template is bigger than the disk', async () => {
    const home = simHome({ registry: registrySeed(), disk: { totalBytes: 100 * GiB, otherBytes: 75 * GiB } });
    const host = await makeHost(home);
    const strict = host.forPlugin(ankaSettingsFromConfig({ template_disk_buffer: 30 }));
    const result = await strict.ensureTemplate('anklet', '6c14r');
    expect((result as { message: string }).message).toMatch(/^template_disk_buffer \(30%\) is too restrictive/);
    const tiny = simHome({ registry: registrySeed(), disk: { totalBytes: 20 * GiB, otherBytes: 0 } });
    const small = (await makeHost(tiny)).forPlugin();
    expect(await small.ensureTemplate('anklet', '6c14r')).toMatchObject({ status: 'no_space', message: expect.stringContaining('too big for the host') });
  });
});

describe('host resources and admission', () => {
  it('knows a template’s size, the host’s usage and whether a VM fits', async () => {
    const home = simHome({ templates: [{ name: 'anklet', tag: '6c14r', cpuCores: 6, ramBytes: 14 * GiB }] });
    const host = await makeHost(home, { cpuCount: 16, memoryBytes: 32 * GiB });
    const anka = host.forPlugin();
    const need = await anka.requirementsOf('anklet');
    expect(need).toEqual({ cpuCores: 6, ramBytes: 14 * GiB });
    expect(await anka.checkAdmission(need)).toMatchObject({ decision: 'fits_now' });
    expect(await anka.checkAdmission({ cpuCores: 32, ramBytes: GiB })).toMatchObject({ decision: 'never_fits', reason: expect.stringContaining('CPU cores') });
    expect(await anka.checkAdmission({ cpuCores: 2, ramBytes: 64 * GiB })).toMatchObject({ decision: 'never_fits', reason: expect.stringContaining('memory') });

    const vm = await anka.clone('anklet');
    await anka.start(vm);
    const usage = await anka.hostUsage();
    expect(usage).toMatchObject({ runningVms: 1, vmLimit: 2, usedCpuCores: 6, usedRamBytes: 14 * GiB, cpuCount: 16 });
    expect(await anka.checkAdmission({ cpuCores: 12, ramBytes: GiB })).toMatchObject({ decision: 'fits_later', reason: expect.stringContaining('CPU') });
    expect(await anka.checkAdmission({ cpuCores: 4, ramBytes: 20 * GiB })).toMatchObject({ decision: 'fits_later', reason: expect.stringContaining('memory') });
    const relaxed = host.forPlugin(ankaSettingsFromConfig({}, { global_skip_cpu_and_memory_resource_checks: true }));
    expect(await relaxed.checkAdmission({ cpuCores: 64, ramBytes: 128 * GiB })).toMatchObject({ decision: 'fits_now' });
  });

  it('keeps to two VMs per host across every handler, even with resource checks skipped', async () => {
    const home = simHome({ templates: [{ name: 'anklet', cpuCores: 2, ramBytes: 2 * GiB }] });
    const host = await makeHost(home);
    const one = host.forPlugin(ankaSettingsFromConfig({ skip_cpu_and_memory_resource_checks: true }));
    const two = host.forPlugin();
    const need = { cpuCores: 2, ramBytes: 2 * GiB };
    const a = await one.reserveVm(need);
    expect(a.admission.decision).toBe('fits_now');
    // The preparing lock covers only the decision and the slot: the reservation counts at once, so
    // two handlers never both take the last room, and they clone and start side by side.
    expect(host.coordination.preparingLock.held).toBe(false);
    a.reservation!.started();
    const b = await two.reserveVm(need);
    expect(b.reservation).not.toBeNull();
    b.reservation!.started();
    const c = await one.reserveVm(need);
    expect(c).toMatchObject({ reservation: null, admission: { decision: 'fits_later' } });
    expect(host.coordination.preparingLock.held).toBe(false);
    a.reservation!.release();
    expect((await two.reserveVm(need)).admission.decision).toBe('fits_now');
    // A VM that anklet did not start counts too.
    const foreign = simHome({ templates: [{ name: 'anklet', cpuCores: 2, ramBytes: 2 * GiB }] });
    const fhost = await makeHost(foreign);
    const f = fhost.forPlugin(ankaSettingsFromConfig({ skip_cpu_and_memory_resource_checks: true }));
    for (const n of ['manual-1', 'manual-2']) {
      await f.clone('anklet', { name: n });
      await f.start(n);
    }
    expect(await f.checkAdmission(need)).toMatchObject({ decision: 'fits_later', reason: expect.stringContaining('2 of 2') });
    // reserveVm decides without calling anka; the look at foreign VMs runs beside the clone and
    // stops the start before Anka would.
    const r = await f.reserveVm(need);
    const vm = await f.clone('anklet');
    await expect(f.start(vm)).rejects.toMatchObject({ reason: 'vm_limit', retryable: true });
    r.reservation?.release();
    await f.delete(vm);
    // Now the foreign VMs are known: the next reservation is refused at once.
    expect(await f.reserveVm(need)).toMatchObject({ reservation: null, admission: { decision: 'fits_later', reason: expect.stringContaining('2 of 2') } });
  });

  it('uses a known template with no anka call between claim and clone', async () => {
    const home = simHome({ templates: [{ name: 'anklet', uuid: TEMPLATE_UUID, tag: '6c14r', cpuCores: 4, ramBytes: 8 * GiB }] });
    const host = await makeHost(home, { cpuCount: 16, memoryBytes: 32 * GiB });
    await host.discoverTemplates();
    const anka = host.forPlugin();
    const before = home.calls().length;
    const template = await anka.ensureTemplate('anklet', '6c14r');
    expect(template).toMatchObject({ status: 'ready', uuid: TEMPLATE_UUID, tag: '6c14r', pulled: false });
    expect(await anka.requirementsOf(TEMPLATE_UUID)).toEqual({ cpuCores: 4, ramBytes: 8 * GiB });
    const { reservation } = await anka.reserveVm({ cpuCores: 4, ramBytes: 8 * GiB });
    expect(reservation).not.toBeNull();
    const argvs = () => home.calls().slice(before).map((c) => c.argv);
    // Only the look at foreign VMs, which runs beside the clone.
    expect(argvs().filter((a) => !(a.includes('list') && a.includes('--running')))).toEqual([]);
    const vm = await anka.clone(TEMPLATE_UUID, { tag: '6c14r' });
    await anka.start(vm);
    reservation!.release();
    await anka.delete(vm);
    // A template deleted behind our back: the clone fails, the record is dropped, the next use asks anka.
    await anka.ensureTemplate('anklet', '6c14r');
    host.tracker.invalidate('anklet');
    const n = home.calls().length;
    await anka.ensureTemplate('anklet', '6c14r');
    expect(home.calls().slice(n).map((c) => c.argv[1])).toContain('list');
  });
});

describe('host-to-guest mounts', () => {
  it('mounts global entries first, then the plugin’s, without duplicates', async () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'anka-mounts-')));
    const shared = path.join(dir, 'shared');
    const cache = path.join(dir, 'cache');
    mkdirSync(shared);
    mkdirSync(cache);
    symlinkSync(shared, path.join(dir, 'link'));
    const home = simHome({ templates: [{ name: 'anklet' }] });
    const host = await makeHost(home, { mountsConfigured: true });
    const logger = recordingLogger();
    const anka = host.forPlugin(
      ankaSettingsFromConfig(
        { host_to_guest_folder_mounts: [`${cache}:cache`, shared, path.join(dir, 'link')] },
        { global_host_to_guest_folder_mounts: [` ${shared} `, `${cache}:cache`] },
      ),
      { logger },
    );
    const vm = await anka.clone('anklet');
    await anka.start(vm);
    const mounts = home.calls().filter((c) => c.argv[1] === 'mount').map((c) => c.argv.slice(2));
    expect(mounts).toEqual([
      [vm, shared],
      [vm, `${cache}:cache`],
    ]);
    expect(logger.lines.filter((l) => l.message === 'mounted host folder into guest vm').length).toBe(2);
    const seen = await anka.run(vm, ['bash', '-c', 'ls "$ANKA_SIM_GUEST_ROOT/Volumes/My Shared Files"']);
    expect(seen.stdout.split('\n').filter(Boolean).sort()).toEqual(['cache', 'shared']);
  });

  it('rejects a bad entry at start and a missing folder when the VM starts', async () => {
    const home = simHome({ templates: [{ name: 'anklet' }] });
    const host = await makeHost(home, { mountsConfigured: true });
    expect(() => host.forPlugin({ mounts: ['/tmp:'] })).toThrow(/guest folder name/);
    const anka = host.forPlugin({ mounts: ['/no/such/folder:x'] });
    const vm = await anka.clone('anklet');
    await expect(anka.start(vm)).rejects.toMatchObject({ reason: 'failed', message: expect.stringContaining('does not exist') });
    await anka.delete(vm);
  });
});
