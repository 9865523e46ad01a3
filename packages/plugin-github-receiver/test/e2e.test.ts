import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningAnklet, makeTmp, msg, packAndInstall, writeFile } from '../../../apps/anklet/test/helpers.js';

/**
 * The receiver the way a user gets it: `pnpm pack` @anklet/github and the plugin, install both
 * tarballs together with `anklet plugins install`, run the real `anklet` binary against github-sim
 * and a real Redis, take it down while jobs are dispatched, and check redelivery brings them all back.
 */
const shared = mkdtempSync(path.join(tmpdir(), 'anklet-receiver-e2e-'));
const pluginsPath = path.join(shared, 'plugins');
const SECRET = 'e2e-webhook-secret-value';
const TOKEN = 'ghp_e2e_token_never_logged';
let redis: RedisServer;
let sim: GitHubSim;

beforeAll(async () => {
  // Both packages: @anklet/github is not on the registry, so npm must find it among the tarballs.
  const { tarballs, install } = await packAndInstall(['packages/github', 'packages/plugin-github-receiver'], shared, pluginsPath);
  expect(tarballs).toHaveLength(2);
  expect(install.code, install.stderr).toBe(0);
  expect(install.stdout).toContain('@anklet/plugin-github-receiver@0.1.0 (receiver)');
  redis = await startRedisServer({ allowExternal: false });
}, 300_000);
afterAll(async () => {
  await sim?.close();
  await redis?.stop();
  rmSync(shared, { recursive: true, force: true });
});

describe('github_receiver, packed and run by the real anklet binary', () => {
  it('stores signed deliveries in Redis, and recovers every job dispatched while it was down', async () => {
    const home = makeTmp();
    const port = await findFreePort();
    sim = await startGitHubSim({ tokens: [TOKEN], hooks: [{ org: 'acme', url: `http://127.0.0.1:${port}/jobs/v1/receiver`, secret: SECRET }] });
    const hookId = sim.control.hooks()[0]!.id;
    const config = writeFile(
      path.join(home, 'config.yml'),
      `plugins_path: ${pluginsPath}
global_database_url: 127.0.0.1
global_database_port: ${redis.port}
global_receiver_secret: ${SECRET}
global_token: ${TOKEN}
metrics:
  port: ${await findFreePort()}
plugins:
  - name: GITHUB_RECEIVER1
    plugin: github_receiver
    port: ${port}
    listen_address: 127.0.0.1
    owner: acme
    hook_id: ${hookId}
    redeliver_hours: 1
    github_base_url: ${sim.url}
`,
    );
    const store = createRedisJobStore({ redis: new Redis(redis.url), prefix: 'anklet' });
    try {
      const labels = ['self-hosted', 'anka-template:c0847bc9-5d2d-4dbc-ba6a-240f7ff08032'];
      const first = new RunningAnklet(['-c', config], { home });
      await first.waitFor(msg('receiver finished starting'), { timeoutMs: 30_000 });
      const live = sim.control.dispatchJob({ repository: 'acme/app', labels, name: 'live', durationMs: 600_000 });
      await sim.control.deliveriesSettled();
      expect(await store.get('acme', String(live.id))).toMatchObject({ id: String(live.id), queue: 'acme', template: 'c0847bc9-5d2d-4dbc-ba6a-240f7ff08032' });
      first.signal('SIGINT');
      expect((await first.exited).code).toBe(0);

      // Down: GitHub cannot connect, the deliveries fail.
      const lost = [0, 1, 2].map((i) => sim.control.dispatchJob({ repository: 'acme/app', labels, name: `lost-${i}`, durationMs: 600_000 }));
      await sim.control.deliveriesSettled();
      expect(sim.control.deliveries().filter((d) => !d.success)).toHaveLength(3);
      for (const job of lost) expect(await store.get('acme', String(job.id))).toBeNull();

      const second = new RunningAnklet(['-c', config], { home });
      await second.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
      await sim.control.deliveriesSettled();
      for (const job of lost) expect(await store.get('acme', String(job.id)), `job ${job.id}`).not.toBeNull();
      expect((await store.stats('acme')).queued).toBe(4);
      expect(second.lines.filter(msg('redelivering hook'))).toHaveLength(3);
      second.signal('SIGTERM');
      const run = await second.exited;
      expect(run.code).toBe(0);
      for (const output of [first.stdout, first.stderr, run.stdout, run.stderr]) {
        expect(output).not.toContain(SECRET);
        expect(output).not.toContain(TOKEN);
      }
    } finally {
      await store.close();
    }
  }, 180_000);
});
