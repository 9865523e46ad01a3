import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ankaSimBinDir } from '../src/index.js';
import { anka, ankaJson, GiB, makeHome, registryHome, scratchDir } from './helpers.js';

const TEMPLATE = '84266873-da90-4e0d-903b-ed0233471f9f';

describe('the anka executable', () => {
  it('is an executable named anka in ankaSimBinDir()', () => {
    expect(() => accessSync(join(ankaSimBinDir(), 'anka'), constants.X_OK)).not.toThrow();
  });

  it('exits 0 without arguments (anklet checks the CLI this way)', async () => {
    const result = await anka(makeHome(), []);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('Usage: anka');
  });

  it('logs every call with its argv', async () => {
    const home = makeHome();
    await anka(home, ['-j', 'version']);
    await anka(home, ['-j', 'list', '-r']);
    expect(home.calls().map((c) => c.argv)).toEqual([['-j', 'version'], ['-j', 'list', '-r']]);
  });
});

describe('envelope', () => {
  it('prints the final JSON without a trailing newline and with the 3.x keys', async () => {
    const { stdout, envelope, exitCode } = await ankaJson(makeHome(), ['version']);
    expect(exitCode).toBe(0);
    expect(stdout.endsWith('}')).toBe(true);
    expect(Object.keys(envelope)).toEqual(['status', 'code', 'body', 'message']);
  });

  it('accepts --machine-readable as -j', async () => {
    const result = await anka(makeHome(), ['--machine-readable', 'version']);
    expect(JSON.parse(result.stdout).status).toBe('OK');
  });
});

describe('version and license', () => {
  it('version has product, version, build; the human form is one line', async () => {
    const home = makeHome({ version: '3.6.0', build: '197' });
    const { envelope } = await ankaJson(home, ['version']);
    expect(envelope).toEqual({
      status: 'OK',
      code: 0,
      body: { product: 'Anka Build Enterpriseplus', version: '3.6.0', build: '197' },
      message: '',
    });
    expect((await anka(home, ['version'])).stdout).toBe('Anka Build Enterpriseplus version 3.6.0 (build 197)\n');
  });

  it('license show has the keys anklet checks', async () => {
    const { envelope } = await ankaJson(makeHome({ license: { license_type: 'com.veertu.anka.develop' } }), ['license', 'show']);
    expect(envelope.body).toMatchObject({ status: 'valid', license_type: 'com.veertu.anka.develop', product: expect.any(String) });
  });
});

describe('list and show', () => {
  it('list matches the documented item shape; version only on tagged templates', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(home, ['clone', 'anklet', 'vm1']);
    const { envelope } = await ankaJson(home, ['list']);
    const [template, vm] = envelope.body as Array<Record<string, unknown>>;
    expect(Object.keys(template!)).toEqual(['name', 'uuid', 'creation_date', 'version', 'status']);
    expect(template).toMatchObject({ name: 'anklet', uuid: TEMPLATE, version: '6c14r', status: 'stopped' });
    expect(template!.creation_date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Object.keys(vm!)).toEqual(['name', 'uuid', 'creation_date', 'status']);
  });

  it('list <uuid> returns an array of one, or "<uuid>: not found" with code 3', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    expect((await ankaJson(home, ['list', TEMPLATE])).envelope.body).toHaveLength(1);
    const missing = await ankaJson(home, ['list', 'c092c6f6-198c-470f-9526-9c998efe7ab5']);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.envelope).toMatchObject({ status: 'ERROR', code: 3, message: 'c092c6f6-198c-470f-9526-9c998efe7ab5: not found' });
    expect(missing.envelope.exception_type).toEqual(expect.any(String));
  });

  it('list -r / --running shows running VMs only; -f selects fields', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    expect((await ankaJson(home, ['list', '-r'])).envelope.body).toEqual([]);
    await ankaJson(home, ['clone', 'anklet', 'vm1']);
    await ankaJson(home, ['start', 'vm1']);
    const running = (await ankaJson(home, ['list', '--running'])).envelope.body as Array<{ name: string }>;
    expect(running.map((v) => v.name)).toEqual(['vm1']);
    const fields = (await ankaJson(home, ['list', '-r', '-f', 'name,status,ip'])).envelope.body;
    expect(fields).toEqual([{ name: 'vm1', status: 'running', ip: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/) }]);
  });

  it('show reports the sizes anklet reads, and running extras', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    const { envelope } = await ankaJson(home, ['show', TEMPLATE]);
    expect(envelope.body).toMatchObject({
      uuid: TEMPLATE, name: 'anklet', version: '6c14r', cpu_cores: 6, ram_size: 14 * GiB, image_size: 28 * GiB, status: 'stopped',
    });
    expect((envelope.body as { access_date: string }).access_date).toMatch(/Z$/);
    await ankaJson(home, ['clone', 'anklet', 'vm1']);
    await ankaJson(home, ['start', 'vm1']);
    const running = (await ankaJson(home, ['show', 'vm1'])).envelope.body;
    expect(running).toMatchObject({ status: 'running', ip: expect.any(String), vnc_port: expect.any(Number), hostif: 'vmenet0' });
  });

  it('show <vm> network and show <vm> tag', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    expect((await ankaJson(home, ['show', 'anklet', 'network'])).envelope.body).toEqual({
      mode: 'shared', controller: 'virtio-net', port_forwarding_rules: [],
    });
    const tags = (await ankaJson(home, ['show', TEMPLATE, 'tag'])).envelope.body as Array<{ tag: string }>;
    expect(tags[0]!.tag).toBe('6c14r');
  });
});

describe('VM life cycle', () => {
  it('clone, start, stop, delete --yes', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    expect((await ankaJson(home, ['clone', TEMPLATE, 'anklet-vm-1'])).envelope.status).toBe('OK');
    expect((await ankaJson(home, ['start', 'anklet-vm-1'])).envelope).toEqual({ status: 'OK', code: 0, body: {}, message: '' });
    expect((await ankaJson(home, ['stop', 'anklet-vm-1'])).envelope.status).toBe('OK');
    expect(home.readState().vms.find((v) => v.name === 'anklet-vm-1')!.status).toBe('stopped');
    expect((await ankaJson(home, ['delete', '--yes', 'anklet-vm-1'])).envelope.status).toBe('OK');
    expect(home.readState().vms.map((v) => v.name)).toEqual(['anklet']);
  });

  it('clone onto an existing name fails with code 18; of a missing source with code 3', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(home, ['clone', 'anklet', 'vm1']);
    expect((await ankaJson(home, ['clone', 'anklet', 'vm1'])).envelope).toMatchObject({ status: 'ERROR', code: 18 });
    expect((await ankaJson(home, ['clone', 'nope', 'vm2'])).envelope).toMatchObject({ code: 3, message: 'nope: not found' });
  });

  it('delete without -j works (anklet falls back to it) and deletes a running VM', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(home, ['clone', 'anklet', 'vm1']);
    await ankaJson(home, ['start', 'vm1']);
    const result = await anka(home, ['delete', '--yes', 'vm1']);
    expect(result.exitCode).toBe(0);
    expect(home.readState().vms.some((v) => v.name === 'vm1')).toBe(false);
  });

  it('delete -t drops one local tag; a failed VM needs stop --force', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(home, ['registry', 'pull', 'anklet', '--tag', '6c14r-40gb']);
    expect(Object.keys(home.readState().vms[0]!.local_tags!)).toEqual(['6c14r', '6c14r-40gb']);
    await ankaJson(home, ['delete', '--yes', '-t', '6c14r', 'anklet']);
    expect(Object.keys(home.readState().vms[0]!.local_tags!)).toEqual(['6c14r-40gb']);

    home.updateState((s) => void (s.vms[0]!.status = 'failed'));
    expect((await ankaJson(home, ['start', 'anklet'])).envelope.status).toBe('ERROR');
    expect((await ankaJson(home, ['stop', 'anklet'])).envelope.status).toBe('ERROR');
    expect((await ankaJson(home, ['stop', '--force', 'anklet'])).envelope.status).toBe('OK');
    expect((await ankaJson(home, ['start', 'anklet'])).envelope.status).toBe('OK');
  });

  it('modify set/add change the VM; mounts show up in the guest', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    const hostDir = scratchDir('anka-sim-mount-');
    writeFileSync(join(hostDir, '.anklet_ci_mount_probe'), 'anklet-ci-mount-ok');
    await ankaJson(home, ['clone', 'anklet', 'vm1']);
    expect((await ankaJson(home, ['modify', 'vm1', 'set', 'cpu', '8'])).envelope.status).toBe('OK');
    expect((await ankaJson(home, ['modify', 'vm1', 'ram', '16G'])).envelope.status).toBe('OK');
    expect((await ankaJson(home, ['modify', 'vm1', 'add', 'mount', `${hostDir}:anklet_mount_test`])).envelope.status).toBe('OK');
    await ankaJson(home, ['start', 'vm1']);
    const vm = (await ankaJson(home, ['show', 'vm1'])).envelope.body;
    expect(vm).toMatchObject({ cpu_cores: 8, ram_size: 16 * GiB });
    const probe = await anka(home, ['-j', 'run', 'vm1', 'bash', '-c', 'cat "$ANKA_SIM_GUEST_ROOT/Volumes/My Shared Files/anklet_mount_test/.anklet_ci_mount_probe"']);
    expect(probe.stdout).toBe('anklet-ci-mount-ok');
    // A running VM cannot change its CPU count.
    expect((await ankaJson(home, ['modify', 'vm1', 'cpu', '2'])).envelope.status).toBe('ERROR');
  });

  it('mount <vm> host:name (3.9+) answers with the guest path; older versions have no mount', async () => {
    const hostDir = scratchDir('anka-sim-mount-');
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(home, ['start', 'anklet']);
    const { envelope } = await ankaJson(home, ['mount', 'anklet', `${hostDir}:shared`]);
    expect(envelope.status).toBe('OK');
    expect((await anka(home, ['mount', 'anklet', hostDir])).stdout.trim()).toMatch(/^\/Volumes\/My Shared Files\/anka-sim-mount-/);
    const old = makeHome({ version: '3.8.9' });
    expect((await ankaJson(old, ['mount', 'x', hostDir])).envelope).toMatchObject({ status: 'ERROR', code: 2 });
  });

  it('cp copies a file in (vm:) and a directory out', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(home, ['clone', 'anklet', 'vm1']);
    const scratch = scratchDir('anka-sim-cp-');
    writeFileSync(join(scratch, 'install-runner.bash'), 'echo hi\n');
    expect((await ankaJson(home, ['cp', '-a', join(scratch, 'install-runner.bash'), 'vm1:'])).envelope.status).toBe('OK');
    const listing = await anka(home, ['run', 'vm1', 'bash', '-c', 'cat install-runner.bash; mkdir -p actions-runner/_diag && echo log > actions-runner/_diag/Runner.log']);
    expect(listing.stdout).toBe('echo hi\n');
    const out = join(scratch, 'vm1-diag');
    mkdirSync(out);
    expect((await ankaJson(home, ['cp', '-a', 'vm1:/Users/anka/actions-runner/_diag', out])).envelope.status).toBe('OK');
    expect(readFileSync(join(out, '_diag', 'Runner.log'), 'utf8')).toBe('log\n');
    expect((await ankaJson(home, ['cp', '-a', join(scratch, 'missing'), 'vm1:'])).envelope.status).toBe('ERROR');
  });
});

describe('registry', () => {
  it('registry list / show / describe', async () => {
    const home = registryHome();
    const list = (await ankaJson(home, ['registry', '--remote', 'http://anka.registry.sim:8089', 'list'])).envelope;
    expect(list.body).toEqual([{ name: 'anklet', uuid: TEMPLATE, latest: '6c14r-40gb' }]);
    const show = (await ankaJson(home, ['registry', 'show', TEMPLATE, '--tag', '6c14r'])).envelope;
    expect(show.body).toMatchObject({ name: 'anklet', cpu_cores: 6, ram_size: 14 * GiB, image_size: 28 * GiB });
    const missingTag = (await ankaJson(home, ['registry', 'show', TEMPLATE, '--tag', 'not-a-tag'])).envelope;
    expect(missingTag).toMatchObject({ status: 'ERROR', code: 3 });
    expect(missingTag.message).toContain('not found');
    const describe = (await ankaJson(home, ['registry', 'describe', 'anklet'])).envelope.body as { versions: Array<{ tag: string }> };
    expect(describe.versions.map((v) => v.tag)).toEqual(['6c14r', '6c14r-40gb']);
  });

  it('registry pull prints several JSON lines, the last one the result; --shrink drops other local tags', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    const result = await ankaJson(home, ['registry', 'pull', '--shrink', TEMPLATE, '--tag', '6c14r-40gb']);
    expect(result.lines.length).toBeGreaterThan(1);
    for (const line of result.lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(result.stdout.endsWith('}')).toBe(true);
    expect(result.envelope).toEqual({ status: 'OK', code: 0, body: { uuid: TEMPLATE }, message: 'vm pulled successfully' });
    const [template] = home.readState().vms;
    expect(template).toMatchObject({ version: '6c14r-40gb', image_size: 40 * GiB });
    expect(Object.keys(template!.local_tags!)).toEqual(['6c14r-40gb']);
  });

  it('pulling a missing template or tag is code 3', async () => {
    const home = registryHome();
    expect((await ankaJson(home, ['registry', 'pull', 'nope'])).envelope).toMatchObject({ status: 'ERROR', code: 3 });
    expect((await ankaJson(home, ['registry', 'pull', TEMPLATE, '--tag', 'nope'])).envelope).toMatchObject({ status: 'ERROR', code: 3 });
  });

  it('pull --check-download-size gives size/cached/available, or {} when the tag is local', async () => {
    const home = registryHome({ disk: { totalBytes: 500 * GiB, otherBytes: 100 * GiB } });
    const before = (await ankaJson(home, ['pull', TEMPLATE, '--check-download-size', '--tag', '6c14r-40gb', 'http://anka.registry.sim:8089'])).envelope;
    expect(before.body).toEqual({ size: 40 * GiB, cached: 0, available: 400 * GiB });
    await ankaJson(home, ['registry', 'pull', '--shrink', TEMPLATE, '--tag', '6c14r-40gb']);
    const after = (await ankaJson(home, ['pull', TEMPLATE, '--check-download-size', '--tag', '6c14r-40gb'])).envelope;
    expect(after).toEqual({ status: 'OK', code: 0, body: {}, message: '6c14r-40gb: available locally' });
    const size = (await ankaJson(home, ['pull', TEMPLATE, '--check-download-size', '--tag', '6c14r'])).envelope.body;
    expect(size).toMatchObject({ available: 360 * GiB });
  });

  it('files of a registry tag land in the template and every clone', async () => {
    const home = makeHome({
      registry: { templates: [{ name: 'base', tags: [{ tag: 't1', files: { 'actions-runner/run.sh': { content: '#!/bin/bash\necho runner-ok\n', mode: 0o755 } } }] }] },
    });
    await ankaJson(home, ['registry', 'pull', 'base']);
    await ankaJson(home, ['clone', 'base', 'vm1']);
    const result = await anka(home, ['-j', 'run', 'vm1', 'bash', '-c', './actions-runner/run.sh']);
    expect(result.stdout).toBe('runner-ok\n');
  });

  it('the configured-registry listing depends on the version: list-repos before 3.9, --list from 3.9', async () => {
    const old = makeHome({ version: '3.8.2' });
    const repos = [{ name: 'default', url: 'http://anka.registry.sim:8089', default: true }];
    expect((await ankaJson(old, ['registry', 'list-repos'])).envelope.body).toEqual(repos);
    expect((await ankaJson(old, ['registry', '--list'])).envelope).toMatchObject({ status: 'ERROR', code: 2 });
    const current = makeHome({ version: '3.9.0' });
    expect((await ankaJson(current, ['registry', '--list'])).envelope.body).toEqual(repos);
    expect((await ankaJson(current, ['registry', 'list-repos'])).envelope).toMatchObject({ status: 'ERROR', code: 2 });
  });

  it('human pull prints progress then the success line', async () => {
    const result = await anka(registryHome(), ['registry', 'pull', 'anklet']);
    expect(result.stdout).toContain('Downloading files [');
    expect(result.stdout.trim().split('\n').at(-1)).toBe(`VM pulled successfully with uuid: ${TEMPLATE}`);
  });
});
