import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findFreePort } from '@anklet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection, createRedisJobStore } from '../src/index.js';

/**
 * A real redis-server listening with TLS only (self-signed certificate made with openssl), to show
 * that `tls_enabled` and `tls_insecure` do what they say, not just that options are built.
 */
let dir = '';
let server: ChildProcess | undefined;
let port = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'anklet-redis-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'pipe' });
  port = await findFreePort();
  server = spawn('redis-server', [
    '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1',
    '--tls-cert-file', path.join(dir, 'cert.pem'), '--tls-key-file', path.join(dir, 'key.pem'), '--tls-auth-clients', 'no',
    '--save', '', '--appendonly', 'no', '--dir', dir,
  ], { stdio: 'ignore' });
  // A plain TCP probe cannot PING a TLS port; wait until the port accepts connections.
  await waitForPort(port);
}, 30_000);

afterAll(() => {
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function waitForPort(p: number): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(p, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${p}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('TLS', () => {
  it('tls_enabled + tls_insecure: the store works over TLS to a self-signed server', async () => {
    const connection = createRedisConnection({ url: '127.0.0.1', port, tls_enabled: true, tls_insecure: true, max_retries: 1, retry_delay: 50 });
    const store = createRedisJobStore({ redis: connection, prefix: 'tls-test' });
    try {
      expect(await store.enqueue({ id: '1', queue: 'q', payload: { ok: true } })).toBe('enqueued');
      const lease = await store.claim<{ ok: boolean }>({ queue: 'q', owner: 'h1', leaseMs: 10_000 });
      expect(lease?.job.payload).toEqual({ ok: true });
      await store.finish(lease!, 'success');
    } finally {
      await store.close();
    }
  });

  it('tls_enabled without tls_insecure refuses the untrusted certificate, quickly and clearly', async () => {
    const connection = createRedisConnection({ url: '127.0.0.1', port, tls_enabled: true, max_retries: 1, retry_delay: 50 }, { commandTimeoutMs: 2_000 });
    try {
      const started = Date.now();
      await expect(connection.client.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(10_000);
      // The reason an operator needs is kept: the certificate is not trusted.
      expect(connection.lastError()).toMatch(/self[- ]signed certificate/i);
    } finally {
      await connection.close();
    }
  });

  it('without tls_enabled a TLS-only server does not answer, and the client gives up instead of hanging', async () => {
    const connection = createRedisConnection({ url: '127.0.0.1', port, max_retries: 1, retry_delay: 50 }, { commandTimeoutMs: 1_000 });
    try {
      await expect(connection.client.ping()).rejects.toThrow();
    } finally {
      await connection.close();
    }
  });
});

