import { describe, expect, it } from 'vitest';
import { anka, ankaJson, registryHome } from './helpers.js';

function home() {
  return registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
}

describe('fault injection through control.json', () => {
  it('fails the next N calls of a command with the given error, then behaves', async () => {
    const h = home();
    h.setFaults([{ command: 'start', times: 2, error: { message: '{vm}: failed to start: No child processes', code: 1 } }]);
    const first = await ankaJson(h, ['start', 'anklet']);
    expect(first.exitCode).toBe(1);
    expect(first.envelope).toEqual({
      status: 'ERROR', code: 1, body: {}, message: 'anklet: failed to start: No child processes', exception_type: 'AnkaException',
    });
    expect((await ankaJson(h, ['start', 'anklet'])).envelope.status).toBe('ERROR');
    expect((await ankaJson(h, ['start', 'anklet'])).envelope.status).toBe('OK');
    expect(h.faults()).toEqual([]);
  });

  it('counts exactly N under concurrency', async () => {
    const h = home();
    h.setFaults([{ command: 'list', times: 3, error: { message: 'boom' } }]);
    const results = await Promise.all(Array.from({ length: 10 }, () => ankaJson(h, ['list'])));
    expect(results.filter((r) => r.envelope.status === 'ERROR')).toHaveLength(3);
  });

  it('matches sub-commands, first words and a VM filter', async () => {
    const h = home();
    h.setFaults([
      { command: 'registry pull', error: { message: '{vm}: not found', code: 3 } },
      { command: 'clone', vm: 'victim', error: { message: 'nope' } },
    ]);
    expect((await ankaJson(h, ['registry', 'pull', 'anklet'])).envelope.code).toBe(3);
    expect((await ankaJson(h, ['registry', 'list'])).envelope.status).toBe('OK');
    expect((await ankaJson(h, ['clone', 'anklet', 'victim'])).envelope.status).toBe('ERROR');
    expect((await ankaJson(h, ['clone', 'anklet', 'other'])).envelope.status).toBe('OK');
    h.setFaults([{ command: 'registry', times: 1, error: { message: 'registry down' } }]);
    expect((await ankaJson(h, ['registry', 'list'])).envelope.message).toBe('registry down');
  });

  it('adds delays', async () => {
    const h = home();
    h.addFault({ command: 'version', times: 1, delayMs: 400 });
    const started = Date.now();
    expect((await ankaJson(h, ['version'])).envelope.status).toBe('OK');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it('hangs until killed, without blocking other calls', async () => {
    const h = home();
    h.addFault({ command: 'start', times: 1, hang: true });
    const hung = anka(h, ['-j', 'start', 'anklet'], { timeoutMs: 1500 });
    expect((await ankaJson(h, ['list'])).envelope.status).toBe('OK');
    const result = await hung;
    expect(result.signal).toBe('SIGKILL');
    expect(result.stdout).toBe('');
  });

  it('replaces a call with raw output and an exit status (run losing the guest agent)', async () => {
    const h = home();
    h.addFault({ command: 'run', times: 1, exitCode: 125, stderr: '-anka: communication timeout\n' });
    const result = await anka(h, ['-j', 'run', 'anklet', 'bash', '-c', 'echo never']);
    expect(result).toMatchObject({ exitCode: 125, stdout: '', stderr: '-anka: communication timeout\n' });
  });

  it('can be written as a plain file (what the README documents)', async () => {
    const h = home();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(h.paths.control, JSON.stringify({ faults: [{ command: '*', times: 1, error: { message: 'everything fails once', code: 42 } }] }));
    expect((await ankaJson(h, ['version'])).envelope).toMatchObject({ code: 42, message: 'everything fails once' });
    expect((await ankaJson(h, ['version'])).envelope.status).toBe('OK');
  });
});
