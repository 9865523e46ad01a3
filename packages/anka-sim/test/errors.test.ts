import { describe, expect, it } from 'vitest';
import { anka, ankaJson, GiB, makeHome, registryHome } from './helpers.js';

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('bad input gets the CLI error shape, never a stack trace', () => {
  it.each([
    [['frobnicate'], "No such command 'frobnicate'."],
    [['list', '--bogus'], 'No such option: --bogus'],
    [['clone', 'only-one'], "Missing argument 'NAME'."],
    [['show'], "Missing argument 'VM'."],
    [['start', 'a', 'b'], 'Got unexpected extra argument (b)'],
    [['registry', 'pull'], "Missing argument 'TEMPLATE'."],
    [['registry', 'frob'], "No such command 'frob'."],
    [['license', 'burn'], "No such command 'burn'."],
    [['--nope', 'list'], 'No such option: --nope'],
    [['run', 'vm1'], "Missing argument 'COMMAND'."],
  ])('anka -j %j', async (args, message) => {
    const home = makeHome();
    const result = await ankaJson(home, args);
    expect(result.exitCode).toBe(2);
    expect(result.envelope).toEqual({ status: 'ERROR', code: 2, body: {}, message, exception_type: 'UsageError' });
    noStack(result.stdout + result.stderr);
  });

  it('human mode prints usage help on stderr', async () => {
    const result = await anka(makeHome(), ['frobnicate']);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain("Error: No such command 'frobnicate'.");
  });

  it('human mode prints "anka: <vm>: <reason>" for command errors', async () => {
    const result = await anka(makeHome(), ['start', 'ghost']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('anka: ghost: not found\n');
  });

  it('a missing or broken state directory is an error envelope', async () => {
    const unset = await ankaJson(undefined, ['list']);
    expect(unset.envelope).toMatchObject({ status: 'ERROR', code: 1 });
    expect(unset.envelope.message).toContain('ANKA_SIM_HOME');
    const empty = await ankaJson(undefined, ['list'], {});
    noStack(empty.stdout + empty.stderr);
  });
});

describe('host limits', () => {
  it('a third running VM hits Apple\'s limit: "<uuid>: maximum number of running instances exceeded"', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    for (const name of ['a', 'b', 'c']) await ankaJson(home, ['clone', 'anklet', name]);
    await ankaJson(home, ['start', 'a']);
    await ankaJson(home, ['start', 'b']);
    const third = await ankaJson(home, ['start', 'c']);
    const uuid = home.readState().vms.find((v) => v.name === 'c')!.uuid;
    expect(third.exitCode).toBe(1);
    expect(third.envelope).toMatchObject({ status: 'ERROR', message: `${uuid}: maximum number of running instances exceeded` });
    // `run` starts a stopped VM, so it is bound by the same limit.
    expect((await anka(home, ['-j', 'run', 'c', 'true'])).exitCode).not.toBe(0);
    await ankaJson(home, ['stop', 'a']);
    expect((await ankaJson(home, ['start', 'c'])).envelope.status).toBe('OK');
  });

  it('the VM limit is configurable', async () => {
    const home = registryHome({ vmLimit: 1, templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(home, ['clone', 'anklet', 'a']);
    await ankaJson(home, ['start', 'anklet']);
    expect((await ankaJson(home, ['start', 'a'])).envelope.status).toBe('ERROR');
  });

  it('an invalid licence blocks start but license show still answers', async () => {
    const home = registryHome({ license: { status: 'expired' }, templates: [{ name: 'anklet', tag: '6c14r' }] });
    expect((await ankaJson(home, ['license', 'show'])).envelope.body).toMatchObject({ status: 'expired' });
    expect((await ankaJson(home, ['start', 'anklet'])).envelope).toMatchObject({ status: 'ERROR', message: 'Wrong host for license (-4)' });
  });

  it('the licensed core count limits what can run at once', async () => {
    const home = registryHome({ license: { max_number_of_cores: 8 }, templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(home, ['clone', 'anklet', 'a']);
    await ankaJson(home, ['start', 'anklet']);
    const result = await ankaJson(home, ['start', 'a']);
    expect(result.envelope.status).toBe('ERROR');
    expect(result.envelope.message).toContain('license');
  });

  it('a pull that does not fit on the disk fails and leaves nothing behind', async () => {
    const home = registryHome({ disk: { totalBytes: 100 * GiB, otherBytes: 70 * GiB } });
    const result = await ankaJson(home, ['registry', 'pull', 'anklet', '--tag', '6c14r-40gb']);
    expect(result.envelope).toMatchObject({ status: 'ERROR', code: 28, exception_type: 'NotEnoughSpaceException' });
    expect(home.readState().vms).toEqual([]);
    expect((await ankaJson(home, ['registry', 'pull', 'anklet', '--tag', '6c14r'])).envelope.status).toBe('OK');
  });

  it('an unreachable registry fails registry commands but not local ones', async () => {
    const home = registryHome({ registry: { online: false, templates: [] } });
    expect((await ankaJson(home, ['registry', 'list'])).envelope.status).toBe('ERROR');
    expect((await ankaJson(home, ['list'])).envelope.status).toBe('OK');
  });

  it('start of a running VM is OK by default, or an error when configured so', async () => {
    const ok = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(ok, ['start', 'anklet']);
    expect((await ankaJson(ok, ['start', 'anklet'])).envelope.status).toBe('OK');
    const strict = registryHome({ startWhenRunning: 'error', templates: [{ name: 'anklet', tag: '6c14r' }] });
    await ankaJson(strict, ['start', 'anklet']);
    expect((await ankaJson(strict, ['start', 'anklet'])).envelope.status).toBe('ERROR');
  });
});
