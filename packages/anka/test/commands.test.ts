import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ErrorCodes, isAnkaFailure, type AnkaClient } from '@anklet/core';
import { describe, expect, it, vi } from 'vitest';
import type { AnkaCliError } from '../src/index.js';
import { GiB, makeHost, registrySeed, simHome, TEMPLATE_UUID } from './helpers.js';

// Long enough for a simulated `anka` (a Node process) on a loaded machine; the hung-anka test sets a short one.
async function withTemplate(extra: Parameters<typeof simHome>[0] = {}, queryTimeoutMs = 20_000) {
  const home = simHome({ templates: [{ name: 'anklet', uuid: TEMPLATE_UUID, tag: '6c14r', cpuCores: 6, ramBytes: 14 * GiB, imageSizeBytes: 28 * GiB }], ...extra });
  const host = await makeHost(home, { timeouts: { query: queryTimeoutMs } });
  return { home, host, anka: host.forPlugin() };
}

async function failure(promise: Promise<unknown>): Promise<AnkaCliError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(isAnkaFailure(err)).toBe(true);
  return err as AnkaCliError;
}

describe('VM commands', () => {
  it('lists, shows, clones, starts, runs, copies, stops and deletes', async () => {
    const { anka, home } = await withTemplate();
    const templates = await anka.list();
    expect(templates).toEqual([expect.objectContaining({ name: 'anklet', uuid: TEMPLATE_UUID, tag: '6c14r', status: 'stopped' })]);
    const name = await anka.clone('anklet');
    expect(name).toMatch(/^anklet-vm-[0-9a-f-]{36}$/);
    await anka.start(name);
    expect((await anka.listRunning()).map((v) => v.name)).toEqual([name]);
    expect(await anka.show(name)).toMatchObject({ name, status: 'running', cpuCores: 6, ramBytes: 14 * GiB });
    expect((await anka.listOwnVms()).map((v) => v.name)).toEqual([name]);

    const run = await anka.run(name, ['bash', '-c', 'echo "hi $USER"; exit 3']);
    expect(run).toEqual({ exitCode: 3, stdout: 'hi anka\n', stderr: '' });

    const dir = mkdtempSync(path.join(tmpdir(), 'anka-cp-'));
    writeFileSync(path.join(dir, 'in.txt'), 'from host');
    await anka.copyIn(name, path.join(dir, 'in.txt'));
    expect((await anka.run(name, ['cat', 'in.txt'])).stdout).toBe('from host');
    await anka.run(name, ['bash', '-c', 'echo from guest > out.txt']);
    await anka.copyOut(name, 'out.txt', path.join(dir, 'out.txt'));
    expect(readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('from guest\n');

    await anka.stop(name);
    expect(await anka.listRunning()).toEqual([]);
    await anka.delete(name);
    expect(await anka.show(name)).toBeNull();
    expect(home.calls().map((c) => c.argv)).toContainEqual(['-j', 'delete', '--yes', name]);
  });

  it('hands secrets to the guest on stdin, never on the command line', async () => {
    const { anka, home } = await withTemplate();
    const name = await anka.clone('anklet');
    const secret = 'jit-config-secret-value';
    const run = await anka.run(name, ['bash', '-c', 'read -r cfg; echo "got ${#cfg} chars"'], { stdin: `${secret}\n` });
    expect(run.stdout).toBe(`got ${secret.length} chars\n`);
    expect(JSON.stringify(home.calls())).not.toContain(secret);
  });

  it('turns Anka errors into AnkaCliError with the reference retry classes', async () => {
    const { anka, home } = await withTemplate();
    const notFound = await failure(anka.clone('missing-template'));
    expect(notFound).toMatchObject({ reason: 'not_found', ankaCode: 3, retryable: false, exitCode: 1, code: ErrorCodes.ANKA_FAILED });
    expect(notFound.command).toEqual(['anka', '-j', 'clone', 'missing-template', expect.stringMatching(/^anklet-vm-/)]);
    expect(notFound.ankaMessage).toBe('missing-template: not found');

    const a = await anka.clone('anklet');
    const clash = await failure(anka.clone('anklet', { name: a }));
    expect(clash).toMatchObject({ reason: 'already_exists', ankaCode: 18, retryable: false });

    const b = await anka.clone('anklet');
    const c = await anka.clone('anklet');
    await anka.start(a);
    await anka.start(b);
    const limit = await failure(anka.start(c));
    expect(limit).toMatchObject({ reason: 'vm_limit', retryable: true });
    expect(limit.ankaMessage).toContain('maximum number of running instances exceeded');

    home.setFaults([{ command: 'stop', times: 1, error: { message: '{vm}: failed to stop: No child processes' } }]);
    expect(await failure(anka.stop(a))).toMatchObject({ reason: 'failed', retryable: true, ankaCode: 1 });
    home.setFaults([{ command: 'stop', times: 1, error: { message: 'Wrong host for license (-4)', code: 21, exceptionType: 'LicenseException' } }]);
    expect(await failure(anka.stop(a))).toMatchObject({ reason: 'license', retryable: false });
    home.setFaults([{ command: 'stop', times: 1, error: { message: "No such option: --x", code: 2, exceptionType: 'UsageError', exitCode: 2 } }]);
    expect(await failure(anka.stop(a))).toMatchObject({ reason: 'usage', retryable: false, exitCode: 2 });
    home.setFaults([{ command: 'list', times: 1, stdout: 'not json at all\n', exitCode: 0 }]);
    const noJson = await failure(anka.list());
    expect(noJson).toMatchObject({ reason: 'no_json', retryable: true });
    expect(noJson.ankaMessage).toBe('no valid JSON output found in command response');
  });

  it('classifies registry and disk failures as retryable', async () => {
    const home = simHome({ registry: registrySeed({ online: false }) });
    const anka = (await makeHost(home)).forPlugin();
    await expect(anka.ensureTemplate('anklet', '6c14r')).rejects.toMatchObject({ reason: 'registry', retryable: true });
    home.updateState((s) => {
      s.registry.online = true;
    });
    home.setFaults([{ command: 'registry pull', times: 1, error: { message: 'anklet: not enough free disk space: need 1 bytes, 0 available', code: 28, exceptionType: 'NotEnoughSpaceException' } }]);
    await expect(anka.ensureTemplate('anklet', '6c14r')).rejects.toMatchObject({ reason: 'disk_full', retryable: true });
  });

  it('treats an anka-side failure of `run` as an error, a guest failure as a result', async () => {
    const { anka, home } = await withTemplate();
    await expect(anka.run('no-such-vm', ['true'])).rejects.toMatchObject({ reason: 'not_found' });
    const name = await anka.clone('anklet');
    home.setFaults([{ command: 'run', times: 1, exitCode: 125, stderr: '-anka: communication timeout\n' }]);
    expect(await anka.run(name, ['true'])).toEqual({ exitCode: 125, stdout: '', stderr: '-anka: communication timeout\n' });
  });

  it('kills a hung anka at its time limit', async () => {
    const { anka, home } = await withTemplate({}, 1_500);
    home.setFaults([{ command: 'list', times: 1, hang: true }]);
    const started = Date.now();
    const err = await failure(anka.list());
    expect(err).toMatchObject({ reason: 'timeout', retryable: true, exitCode: null });
    // Killed at its 1.5 s limit, not left to hang (the bound is loose: the machine may be loaded).
    expect(Date.now() - started).toBeLessThan(15_000);
    // The hung process is gone.
    const pid = home.calls().at(-1)!.pid;
    await vi.waitFor(() => expect(() => process.kill(pid, 0)).toThrow(), { timeout: 5_000, interval: 20 });
    // A run gets its own limit.
    const name = await anka.clone('anklet');
    await expect(anka.run(name, ['sleep', '30'], { timeoutMs: 500 })).rejects.toMatchObject({ reason: 'timeout' });
  });

  it('stops a call when the handler is aborted', async () => {
    const { anka, home } = await withTemplate();
    home.setFaults([{ command: 'list', times: 1, hang: true }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await expect(anka.list({ signal: controller.signal, timeoutMs: 10_000 })).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
  });
});

describe('deletion', () => {
  it('retries, then falls back to the plain command', async () => {
    const { anka, home } = await withTemplate();
    const name = await anka.clone('anklet');
    home.setFaults([{ command: 'delete', times: 2, error: { message: '{vm}: failed to delete: resource busy' } }]);
    await anka.delete(name);
    expect(await anka.show(name)).toBeNull();
    const deletes = home.calls().filter((c) => c.argv.includes('delete')).map((c) => c.argv);
    expect(deletes).toEqual([
      ['-j', 'delete', '--yes', name],
      ['-j', 'delete', '--yes', name],
      ['-j', 'delete', '--yes', name],
    ]);
    const host = await makeHost(home, { deleteAttempts: 1 });
    const other = host.forPlugin();
    const second = await other.clone('anklet');
    home.setFaults([{ command: 'delete', times: 1, error: { message: '{vm}: failed to delete: resource busy' } }]);
    await other.delete(second);
    expect(home.calls().at(-1)!.argv).toEqual(['delete', '--yes', second]);
    expect(await other.show(second)).toBeNull();
  });

  it('treats an already deleted VM as deleted, and reports a VM that cannot be deleted', async () => {
    const { anka, home } = await withTemplate();
    await anka.delete('anklet-vm-gone');
    const name = await anka.clone('anklet');
    home.setFaults([{ command: 'delete', error: { message: '{vm}: failed to delete: resource busy' } }]);
    await expect(anka.delete(name)).rejects.toMatchObject({ reason: 'failed' });
  });

  it('runs anka outside the host process group, so a Ctrl-C cannot interrupt a deletion', async () => {
    const { anka, home } = await withTemplate();
    const name = await anka.clone('anklet');
    home.setFaults([{ command: 'delete', times: 1, delayMs: 3_000 }]);
    const deleting = anka.delete(name);
    // The delete is recorded when its process starts; it then sleeps out the fault's delay.
    await vi.waitFor(() => expect(home.calls().at(-1)?.argv).toContain('delete'), { timeout: 15_000, interval: 20 });
    const pid = home.calls().at(-1)!.pid;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    expect(pgid).toBe(pid);
    expect(pgid).not.toBe(Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[2]));
    await deleting;
    expect(await anka.show(name)).toBeNull();
  });
});

describe('shell safety', () => {
  it('passes job-derived strings to anka literally', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'anka-shell-'));
    const marker = path.join(dir, 'pwned');
    const { anka, home } = await withTemplate({ registry: registrySeed() });
    const evil = [`$(touch ${marker})`, `anklet; touch ${marker}`, `\`touch ${marker}\``, `a' && touch ${marker} #`];
    for (const template of evil) {
      const result = await anka.ensureTemplate(template, `t;touch ${marker}`);
      expect(result.status).toBe('not_found');
      await expect(anka.clone(template)).rejects.toMatchObject({ reason: 'not_found' });
    }
    expect(existsSync(marker)).toBe(false);
    const argvs = home.calls().map((c) => c.argv);
    expect(argvs).toContainEqual(['-j', 'list', evil[0]]);
    expect(argvs).toContainEqual(['-j', 'registry', 'show', evil[1], '--tag', `t;touch ${marker}`]);
    // `run` hands its arguments to the guest command without a shell in between.
    const name = await anka.clone('anklet');
    const run = await (anka as AnkaClient).run(name, ['echo', `$(touch ${marker})`, ';', 'x']);
    expect(run.stdout).toBe(`$(touch ${marker}) ; x\n`);
    expect(existsSync(marker)).toBe(false);
  });
});
