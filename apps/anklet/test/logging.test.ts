import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logModeFromEnv, type LogMode } from '../src/logging/create-logger.js';
import { SecretRegistry } from '../src/logging/redact.js';
import { makeTmp, msg, RunningAnklet, seedPlugins, writeFile } from './helpers.js';

async function capture(mode: LogMode, write: (logger: ReturnType<typeof createLogger>, secrets: SecretRegistry) => void): Promise<string> {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const secrets = new SecretRegistry();
  const logger = createLogger({ mode, secrets, stream });
  write(logger, secrets);
  await logger.close();
  return text;
}

const json = { level: 'info', pretty: false } as const;

describe('LOG_LEVEL', () => {
  it('maps the Go values', () => {
    expect(logModeFromEnv(undefined)).toEqual({ level: 'info', pretty: false });
    expect(logModeFromEnv('warn')).toEqual({ level: 'info', pretty: false });
    expect(logModeFromEnv('debug')).toEqual({ level: 'debug', pretty: false });
    expect(logModeFromEnv('ERROR')).toEqual({ level: 'error', pretty: false });
    expect(logModeFromEnv('dev')).toEqual({ level: 'debug', pretty: true });
    expect(logModeFromEnv('DEBUG-PRETTY')).toEqual({ level: 'debug', pretty: true });
  });

  it('filters by level', async () => {
    const info = await capture(json, (l) => {
      l.debug('hidden');
      l.info('shown');
    });
    expect(info).not.toContain('hidden');
    const errorOnly = await capture({ level: 'error', pretty: false }, (l) => {
      l.warn('hidden');
      l.error('shown');
    });
    expect(errorOnly.trim().split('\n')).toHaveLength(1);
  });
});

describe('JSON lines', () => {
  it('writes time, level, msg, the call fields, then context fields, with no duplicate keys', async () => {
    const text = await capture(json, (l) => l.child({ attributes: { name: 'RUNNER1' }, vmName: 'ctx' }).warn('handling anka workflow run job', { workflowJobID: 42, vmName: 'call' }));
    const line = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual(['time', 'level', 'msg', 'workflowJobID', 'vmName', 'attributes']);
    expect(line).toMatchObject({ level: 'WARN', msg: 'handling anka workflow run job', workflowJobID: 42, vmName: 'call', attributes: { name: 'RUNNER1' } });
    expect(String(line.time)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/);
  });

  it('writes errors as their message', async () => {
    const text = await capture(json, (l) => l.error('error running plugin', { error: new Error('plugin not supported') }));
    expect(JSON.parse(text).error).toBe('plugin not supported');
  });

  it('has a coloured, readable form for LOG_LEVEL=DEV', async () => {
    const text = await capture({ level: 'debug', pretty: true }, (l) => l.info('starting anklet', { version: '1.0.0' }));
    // eslint-disable-next-line no-control-regex -- the ANSI colour codes are what is tested
    expect(text).toMatch(/^\u001b\[37m\[\d{2}:\d{2}:\d{2}\.\d{3}\]\u001b\[0m \u001b\[36mINFO:\u001b\[0m \u001b\[97mstarting anklet\u001b\[0m /);
    expect(text).toContain('"version": "1.0.0"');
  });
});

describe('writes', () => {
  it('writes the lines of one event-loop round with one write, in order, and the next round with the next', async () => {
    const writes: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => writes.push(chunk.toString()));
    const logger = createLogger({ mode: json, secrets: new SecretRegistry(), stream });
    for (let i = 0; i < 50; i += 1) logger.info('burst', { i });
    await new Promise((resolve) => setImmediate(resolve));
    logger.info('next round');
    await logger.close();
    expect(writes).toHaveLength(2);
    expect(writes[0]!.trimEnd().split('\n').map((l) => (JSON.parse(l) as { i: number }).i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(JSON.parse(writes[1]!)).toMatchObject({ msg: 'next round' });
  });

  it('a process that exits right after logging (process.exit) still writes its last lines', async () => {
    const dir = makeTmp('anklet-log-exit-');
    const script = writeFile(
      path.join(dir, 'exit.mjs'),
      `import { createLogger } from ${JSON.stringify(new URL('../dist/logging/create-logger.js', import.meta.url).href)};
import { SecretRegistry } from ${JSON.stringify(new URL('../dist/logging/redact.js', import.meta.url).href)};
const logger = createLogger({ mode: { level: 'info', pretty: false }, secrets: new SecretRegistry() });
for (let i = 0; i < 3; i += 1) logger.error('last words', { i });
process.exit(7);
`,
    );
    const child = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(child.status).toBe(7);
    expect(child.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([0, 1, 2]);
  });
});

describe('secret redaction at the source', () => {
  it('redacts secret-named fields and registered secret values wherever they appear', async () => {
    const text = await capture(json, (l, secrets) => {
      secrets.add('ghp_0123456789abcdef');
      l.addSecret('jit-config-base64-value');
      l.info('token ghp_0123456789abcdef in a message', {
        token: 'anything',
        nested: { webhookSecret: 'hush', password: 'pw', ok: 'visible', note: 'carries jit-config-base64-value inside' },
        privateKey: '-----BEGIN RSA PRIVATE KEY-----',
        tokenSet: true,
        emptyToken: '',
      });
    });
    expect(text).not.toMatch(/ghp_0123456789abcdef|hush|"pw"|jit-config-base64-value|BEGIN RSA/);
    const line = JSON.parse(text) as Record<string, unknown>;
    expect(line.msg).toBe('token [REDACTED] in a message');
    expect(line).toMatchObject({ token: '[REDACTED]', tokenSet: true, emptyToken: '', privateKey: '[REDACTED]' });
    expect(line.nested).toEqual({ webhookSecret: '[REDACTED]', password: '[REDACTED]', ok: 'visible', note: 'carries [REDACTED] inside' });
  });
});

describe('log.split_by_plugin', () => {
  it('writes each plugin to <file_dir>/anklet-<name>.log as JSON at DEBUG, root lines stay on stdout', async () => {
    const home = makeTmp();
    const logs = path.join(home, 'logs');
    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, ['good-plugin']);
    writeFile(path.join(logs, '.keep'), '');
    const config = writeFile(path.join(home, 'c.yml'), `log:\n  file_dir: ${logs}\n  split_by_plugin: true\nplugins_path: ${pluginsPath}\nplugins:\n  - { name: R1, plugin: good-plugin }\n`);
    const anklet = new RunningAnklet(['-c', config], { home });
    await anklet.waitFor(msg('starting anklet'));
    anklet.signal('SIGINT');
    expect((await anklet.exited).code).toBe(0);
    expect(anklet.stdout).toContain(`writing R1 logs to ${path.join(logs, 'anklet-R1.log')}`);
    expect(anklet.stdout).not.toContain('"name":"R1"');
    const file = readFileSync(path.join(logs, 'anklet-R1.log'), 'utf8');
    expect(file).toContain('"msg":"starting plugin"');
    expect(file).toContain('"msg":"anklet plugin shut down"');
    expect(file).toContain('"attributes":{"name":"R1"');
  });
});
