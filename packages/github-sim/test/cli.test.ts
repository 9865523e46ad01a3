import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, eventually, startReceiver } from './helpers.js';
import { startBin } from './processes.js';

describe('the github-sim bin', () => {
  it('starts from a config file, serves REST and the control API, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'github-sim-cli-'));
    const receiver = await startReceiver();
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'app.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'sim.json'), JSON.stringify({
      tokens: [{ token: 'ghp_cli', login: 'demo' }],
      app: { id: 12, publicKeyPath: 'app.pub.pem', installations: [{ account: 'acme' }] },
      hooks: [{ org: 'acme', url: receiver.url, secret: 'cli-secret' }],
    }));
    const sim = startBin('cli.js', ['--config', join(dir, 'sim.json'), '--port', '0', '--seed', '3']);
    try {
      const url = await eventually(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(sim.output())?.[1]);
      const dispatched = await (await fetch(`${url}/_sim/jobs`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repository: 'acme/app', labels: ['self-hosted'] }),
      })).json() as { id: number; run_id: number; status: string };
      expect(dispatched.status).toBe('queued');
      const job = await api(url, 'GET', `/repos/acme/app/actions/jobs/${dispatched.id}`, { token: 'ghp_cli' });
      expect(job.body).toMatchObject({ id: dispatched.id, run_id: dispatched.run_id, status: 'queued' });
      expect((await api(url, 'GET', '/user', { token: 'ghp_cli' })).body.login).toBe('demo');
      await eventually(() => receiver.received.length === 1);
      const deliveries = await (await fetch(`${url}/_sim/deliveries?settle=1`)).json() as Array<{ success: boolean; action: string }>;
      expect(deliveries).toMatchObject([{ success: true, action: 'queued' }]);
      const bad = await fetch(`${url}/_sim/faults/rate-limit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind":"secondary","count":1}' });
      expect(bad.status).toBe(200);
      expect((await api(url, 'GET', '/orgs/acme/actions/runners', { token: 'ghp_cli' })).status).toBe(403);
      // The request log names methods and paths, never credentials.
      await eventually(() => sim.output().includes('GET /orgs/acme/actions/runners -> 403'));
      expect(sim.output()).not.toContain('ghp_cli');
    } finally {
      sim.child.kill('SIGTERM');
      expect((await sim.done).code).toBe(0);
      await receiver.close();
    }
  });

  it('bad arguments print a message, not a stack', async () => {
    const finished = await startBin('cli.js', ['--port', 'eighty']).done;
    expect(finished.code).toBe(1);
    expect(finished.stderr).toContain('--port must be a port number');
    expect(finished.stderr).not.toContain('    at ');
  });
});
