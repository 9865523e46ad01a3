import { generateKeyPairSync } from 'node:crypto';
import type { Logger } from '@anklet/core';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { connectGitHub } from '../src/github-api.js';

const PAT = 'ghp_enterprise_pat_for_runner_apis';
const logger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => logger, addSecret: () => undefined };
let sim: GitHubSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('enterprise hybrid clients (Go "hybrid" mode)', () => {
  it('uses the PAT for enterprise runner APIs and each organization’s App installation, looked up once, for its jobs', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const requests: string[] = [];
    // The App is installed on the two organizations only, not on the enterprise.
    sim = await startGitHubSim({
      tokens: [PAT],
      app: { id: 77, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), installations: [{ account: 'acme' }, { account: 'beta' }] },
      enterprises: { acme: 'acme-corp', beta: 'acme-corp' },
      log: (line) => requests.push(line),
    });
    const api = await connectGitHub({
      baseUrl: sim.url,
      token: PAT,
      privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      appId: 77,
      installationId: 12345, // ignored in hybrid mode, as in Go
      scope: { kind: 'enterprise', enterprise: 'acme-corp' },
      logger,
    });
    const { runnerId } = await api.generateJitConfig('anklet-vm-hybrid', ['self-hosted'], 1);
    expect((await api.listRunners('anklet-vm-')).map((r) => r.id)).toEqual([runnerId]);
    await api.removeRunner(runnerId);

    const a = sim.control.dispatchJob({ repository: 'acme/app', labels: ['x'], name: 'a' });
    const b = sim.control.dispatchJob({ repository: 'beta/svc', labels: ['x'], name: 'b' });
    for (const [owner, repo, job] of [['acme', 'app', a], ['acme', 'app', a], ['beta', 'svc', b]] as const) {
      expect((await api.jobStatus({ owner, repo, jobId: job.id, runId: job.run_id })).status).toBe('queued');
    }
    expect(await api.cancelRun({ owner: 'beta', repo: 'svc', jobId: b.id, runId: b.run_id }, 5_000)).toBe(true);
    const lookups = requests.filter((l) => / GET \/(orgs|enterprises)\/[^/]+\/installation /.test(l)).map((l) => l.split(' ')[2]);
    expect(lookups).toEqual(['/orgs/acme/installation', '/orgs/beta/installation']);
    expect(requests.filter((l) => l.includes('/access_tokens') && l.includes('-> 201'))).toHaveLength(2);
    sim.control.cancelRun(a.run_id);
  });
});
