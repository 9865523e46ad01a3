import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '@anklet/core';
import { afterAll, describe, expect, it } from 'vitest';
import { configSecretsOf, diagnosticsReasonOf, jitConfigSecretsOf, scrubSecrets, sweepDiagnostics } from '../src/diagnostics.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
const lines: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
const logger: Logger = {
  debug: (msg, fields) => lines.push({ msg, fields }),
  info: (msg, fields) => lines.push({ msg, fields }),
  warn: (msg, fields) => lines.push({ msg, fields }),
  error: (msg, fields) => lines.push({ msg, fields }),
  child: () => logger,
  addSecret: () => undefined,
};

describe('scrubSecrets', () => {
  it('blanks a JIT config in every form a runner could print it, and keeps the runner settings readable', () => {
    const accessToken = 'sim-runner-credential-7f3a9c2e11d04b6b';
    const rsa = 'rsa-private-exponent-0123456789abcdef';
    const settings = { agentId: 12, agentName: 'anklet-vm-abc-1', serverUrl: 'http://127.0.0.1:3000' };
    const credentials = { scheme: 'OAuth', data: { clientId: '12', authorizationUrl: 'http://127.0.0.1:3000/token', accessToken } };
    const files = { '.runner': b64(settings), '.credentials': b64(credentials), '.credentials_rsaparams': b64({ d: rsa, exponent: 'AQAB' }) };
    const jit = b64(files);
    const secrets = jitConfigSecretsOf(jit);
    const log = [
      `config: ${jit}`,
      `decoded: ${Buffer.from(jit, 'base64').toString()}`,
      `credentials file: ${files['.credentials']}`,
      `credentials: ${JSON.stringify(credentials, null, 2)}`,
      `rsa: ${rsa}`,
      `runner name: ${settings.agentName}`,
    ].join('\n');
    const out = scrubSecrets(log, secrets);
    for (const secret of [jit, files['.credentials'], accessToken, rsa]) expect(out).not.toContain(secret);
    expect(out).toContain('config: [REDACTED]');
    expect(out).toContain('"accessToken": "[REDACTED]"');
    expect(out).toContain('runner name: anklet-vm-abc-1');
  });

  it('blanks GitHub tokens, JWTs, PEM keys and authorization values by shape, and a registration token by value', () => {
    const registration = 'AABF3JGZDX3P5PMEXLND6TS6FCWO6';
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJydW5uZXIifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAxyz\n-----END RSA PRIVATE KEY-----';
    const text = [
      'token ghp_0123456789abcdefABCDEF0123456789abcd',
      'installation ghs_16C7e42F292c6912E7710c838347Ae178B4a',
      'pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz',
      `Authorization: Bearer ${jwt}`,
      'Authorization: token sim-oauth-value-1234',
      pem,
      `registering with ${registration}`,
      'Listening for Jobs',
    ].join('\n');
    const out = scrubSecrets(text, [registration]);
    for (const secret of ['ghp_0123', 'ghs_16C7', 'github_pat_11', jwt, 'sim-oauth-value-1234', 'MIIEowIBAAKCAQEAxyz', registration]) expect(out).not.toContain(secret);
    expect(out).toContain('Authorization: token [REDACTED]');
    expect(out).toContain('Listening for Jobs');
  });

  it('takes the secret values of the handler config, each line of a PEM key too', () => {
    const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAconfiguredkeyline\n-----END RSA PRIVATE KEY-----';
    const secrets = configSecretsOf({ owner: 'acme', token: 'plain-config-token-value', private_key: key, app_id: 1 });
    expect(secrets).toEqual(expect.arrayContaining(['plain-config-token-value', key, 'MIIEowIBAAKCAQEAconfiguredkeyline']));
    expect(secrets).not.toContain('acme');
    expect(scrubSecrets('key line MIIEowIBAAKCAQEAconfiguredkeyline and plain-config-token-value', secrets)).toBe('key line [REDACTED] and [REDACTED]');
  });
});

describe('diagnosticsReasonOf', () => {
  it('keeps the logs of attempts that failed in the VM only', () => {
    expect(diagnosticsReasonOf({ kind: 'retry', reason: 'waiting_for_runner_registration_timed_out' })).toBe('registration_timeout');
    expect(diagnosticsReasonOf({ kind: 'retry', reason: 'error_executing_start_runner_bash' })).toBe('runner_failed');
    expect(diagnosticsReasonOf({ kind: 'done', conclusion: 'failure' })).toBe('job_failed');
    expect(diagnosticsReasonOf({ kind: 'done', conclusion: 'timed_out' })).toBe('job_failed');
    expect(diagnosticsReasonOf({ kind: 'cancel', reason: 'job_timed_out' })).toBe('job_failed');
    for (const end of [
      { kind: 'done', conclusion: 'success' },
      { kind: 'done', conclusion: 'cancelled' },
      { kind: 'cancel', reason: 'max_attempts_exceeded: x' },
      { kind: 'handoff', reason: 'not_enough_free_resources_now' },
      { kind: 'lost', reason: 'lease_lost' },
      { kind: 'host_fault', reason: 'bad_credentials' },
    ]) {
      expect(diagnosticsReasonOf(end), JSON.stringify(end)).toBeNull();
    }
  });
});

describe('sweepDiagnostics', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'anklet-diag-sweep-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const plant = (rel: string, hoursAgo: number) => {
    const dir = path.join(root, 'diagnostics', rel);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'anklet-runner.log'), 'x\n');
    const at = new Date(Date.now() - hoursAgo * 3_600_000);
    utimesSync(dir, at, at);
  };

  it('removes attempt folders past the retention, job folders left empty and stale copies; keeps the rest', async () => {
    plant('1/attempt-1', 30);
    plant('1/attempt-2', 1);
    plant('2/attempt-1', 30);
    plant('.copy-abc', 2);
    plant('.copy-new', 0);
    expect(await sweepDiagnostics(root, 24, logger)).toBe(2);
    expect(existsSync(path.join(root, 'diagnostics', '1', 'attempt-1'))).toBe(false);
    expect(existsSync(path.join(root, 'diagnostics', '1', 'attempt-2'))).toBe(true);
    expect(existsSync(path.join(root, 'diagnostics', '2'))).toBe(false);
    expect(existsSync(path.join(root, 'diagnostics', '.copy-abc'))).toBe(false);
    expect(existsSync(path.join(root, 'diagnostics', '.copy-new'))).toBe(true);
    expect(lines.some((l) => l.msg === 'removed runner diagnostics older than runner_diagnostics_keep_hours' && l.fields?.removed === 2)).toBe(true);
    // 0 hours: kept until removed by hand.
    plant('3/attempt-1', 10_000);
    expect(await sweepDiagnostics(root, 0, logger)).toBe(0);
    expect(existsSync(path.join(root, 'diagnostics', '3', 'attempt-1'))).toBe(true);
  });
});
