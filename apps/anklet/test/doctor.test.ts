import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { createAnkaSimHome } from '@anklet/anka-sim';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../src/doctor/doctor.js';
import { makeTmp, runCli, seedPlugins, writeFile } from './helpers.js';

/**
 * `anklet doctor` on the real binary: a real Redis, the simulated `anka` (first on PATH for every
 * test of this project), and each failure it must report with a fix and exit code 1.
 */
const UUID = '84266873-da90-4e0d-903b-ed0233471f9f';
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
}, 60_000);
afterAll(async () => {
  await redis?.stop();
});

/** A handler host (the anka-probe fixture) on the test Redis, or on `redisPort` when given. */
function handlerConfig(home: string, options: { redisPort?: number; buffer?: number } = {}): string {
  const pluginsPath = path.join(home, 'plugins');
  seedPlugins(pluginsPath, ['anka-probe']);
  const { hostname, port } = new URL(redis.url);
  return writeFile(
    path.join(home, 'config.yml'),
    `plugins_path: ${pluginsPath}
global_database_url: ${hostname}
global_database_port: ${options.redisPort ?? port}
plugins:
  - { name: PROBE, plugin: anka-probe, template: ${UUID}, template_disk_buffer: ${options.buffer ?? 1} }
`,
  );
}

const byCheck = (checks: DoctorCheck[]) => Object.fromEntries(checks.map((c) => [c.check, c.status]));

describe('anklet doctor', () => {
  it('passes a ready handler host: config, plugin, Redis, anka, VM slots, disk', async () => {
    const home = makeTmp();
    const config = handlerConfig(home);
    const run = await runCli(['-c', config, 'doctor'], { home });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^PASS\s+config\s+.*config\.yml: 1 plugin$/m);
    expect(run.stdout).toMatch(/^PASS\s+plugin PROBE\s+anka-probe@1\.0\.0 \(handler\) loads$/m);
    expect(run.stdout).toMatch(/^PASS\s+redis 127\.0\.0\.1:\d+\s+Redis \d+\.\d+\.\d+, no TLS$/m);
    expect(run.stdout).toMatch(/^PASS\s+anka\s+anka \d+\.\d+\.\d+/m);
    expect(run.stdout).toMatch(/^PASS\s+vm slots\s+2 of 2 free/m);
    expect(run.stdout).toMatch(/^PASS\s+disk\s+.*GB free/m);
    expect(run.stdout).toMatch(/^SKIP\s+github\s+no GitHub plugins$/m);
    expect(run.stdout).toContain('ready: every check needed passed');

    const json = await runCli(['-c', config, 'doctor', '--json'], { home });
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: DoctorCheck[] };
    expect(report.ok).toBe(true);
    expect(Object.keys(byCheck(report.checks))).toEqual(['config', 'plugin PROBE', `redis ${new URL(redis.url).host}`, 'anka', 'vm slots', 'disk', 'github']);
  }, 30_000);

  it('fails, with a fix, when Redis does not answer, anka is missing, the licence is invalid or the disk is under the buffer', async () => {
    const home = makeTmp();
    const closed = await findFreePort();
    const down = await runCli(['-c', handlerConfig(home, { redisPort: closed }), 'doctor', '--json'], { home, env: { PATH: path.dirname(process.execPath) } });
    expect(down.code).toBe(1);
    const report = JSON.parse(down.stdout) as { ok: boolean; checks: DoctorCheck[] };
    expect(report.ok).toBe(false);
    expect(byCheck(report.checks)).toMatchObject({ config: 'pass', [`redis 127.0.0.1:${closed}`]: 'fail', anka: 'fail' });
    const redisCheck = report.checks.find((c) => c.check.startsWith('redis'))!;
    expect(redisCheck.detail).toContain('unreachable');
    expect(redisCheck.fix).toContain('global_database_*');
    expect(report.checks.find((c) => c.check === 'anka')!.detail).toContain('command not found');

    const expired = createAnkaSimHome({ license: { status: 'expired' } });
    try {
      const home2 = makeTmp();
      const run = await runCli(['-c', handlerConfig(home2, { buffer: 100 }), 'doctor'], { home: home2, env: { ANKA_SIM_HOME: expired.dir } });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^FAIL\s+anka\s+.*anka license is invalid/m);
      expect(run.stdout).toMatch(/^anka: fix: /m);
      expect(run.stdout).toMatch(/not ready: 1 check failed/);
    } finally {
      expired.remove();
    }

    const home3 = makeTmp();
    const full = await runCli(['-c', handlerConfig(home3, { buffer: 100 }), 'doctor'], { home: home3 });
    expect(full.code).toBe(1);
    expect(full.stdout).toMatch(/^FAIL\s+disk\s+.*at or under template_disk_buffer 100%/m);
    expect(full.stdout).toMatch(/^disk: fix: free disk space/m);
  }, 45_000);

  it('stops at a broken config, and skips Anka on a host without handlers', async () => {
    const home = makeTmp();
    const broken = writeFile(path.join(home, 'broken.yml'), 'plugins:\n  - { name: A, plugin: x }\n  - { name: A, plugin: x }\n');
    const run = await runCli(['-c', broken, 'doctor'], { home });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+config\s+.*duplicate plugin name "A"/m);
    expect(run.stdout).not.toContain('redis');
    expect(run.stdout).toContain('config: fix: fix each problem; anklet config validate lists them');

    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, ['metrics-probe']);
    const receiver = writeFile(path.join(home, 'receiver.yml'), `plugins_path: ${pluginsPath}\nplugins:\n  - { name: R, plugin: metrics-probe, mode: serve }\n`);
    const ok = await runCli(['-c', receiver, 'doctor'], { home });
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^PASS\s+store\s+embedded/m);
    expect(ok.stdout).toMatch(/^SKIP\s+anka\s+no handler plugins/m);
  }, 30_000);
});

describe('anklet doctor: GitHub (against github-sim)', () => {
  const TOKEN = 'ghp_doctor_test_token';
  let sim: GitHubSim;
  let appKey: string;
  beforeAll(async () => {
    appKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    sim = await startGitHubSim({
      tokens: [TOKEN],
      hooks: [{ org: 'acme', url: 'http://127.0.0.1:1/jobs/v1/receiver', secret: 's3cret' }],
      runnerGroups: [{ owner: 'acme', name: 'macs' }],
      // An App installed on "limited" without the self-hosted runners permission.
      app: { id: 4242, privateKey: appKey, installations: [{ account: 'limited', permissions: { metadata: 'read' } }] },
    });
  }, 30_000);
  afterAll(async () => {
    await sim?.close();
  });

  /** A stand-in for a first-party GitHub plugin package: its name and kind, any config accepted. */
  function fakeGitHubPlugin(pluginsPath: string, name: string, kind: 'handler' | 'receiver'): void {
    const dir = path.join(pluginsPath, 'node_modules', ...name.split('/'));
    writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name, version: '0.1.0', type: 'module', main: 'index.js', keywords: ['anklet-plugin'], anklet: { apiVersion: 1, kind }, peerDependencies: { '@anklet/core': '*' } }),
    );
    writeFile(
      path.join(dir, 'index.js'),
      `import { definePlugin } from '@anklet/core';\nconst schema = { '~standard': { version: 1, vendor: 'fake', validate: (v) => ({ value: v }) } };\nexport default definePlugin({ name: ${JSON.stringify(name)}, kind: ${JSON.stringify(kind)}, configSchema: schema, create: () => ({}) });\n`,
    );
  }

  function githubConfig(home: string, plugins: string): string {
    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, []);
    fakeGitHubPlugin(pluginsPath, '@anklet/plugin-github-handler', 'handler');
    fakeGitHubPlugin(pluginsPath, '@anklet/plugin-github-receiver', 'receiver');
    writeFile(path.join(home, 'app.pem'), appKey);
    return writeFile(path.join(home, 'config.yml'), `plugins_path: ${pluginsPath}\nplugins:\n${plugins}`);
  }

  it('passes valid credentials, runner access, the runner group and the webhook', async () => {
    const home = makeTmp();
    const hookId = sim.control.hooks()[0]!.id;
    const config = githubConfig(
      home,
      `  - { name: RECEIVER, plugin: github_receiver, owner: acme, token: ${TOKEN}, hook_id: ${hookId}, github_base_url: "${sim.url}" }
  - { name: RUNNER1, plugin: github, owner: acme, token: ${TOKEN}, runner_group: macs, github_base_url: "${sim.url}", template_disk_buffer: 1 }
`,
    );
    const run = await runCli(['-c', config, 'doctor'], { home });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^PASS\s+github RECEIVER\s+token accepted for acme$/m);
    expect(run.stdout).toMatch(new RegExp(`^PASS\\s+github RECEIVER webhook\\s+webhook ${hookId} of acme exists`, 'm'));
    expect(run.stdout).toMatch(/^PASS\s+github RUNNER1 runners\s+can manage self-hosted runners of acme$/m);
    expect(run.stdout).toMatch(/^PASS\s+github RUNNER1 runner group\s+runner group "macs" exists in acme$/m);
    expect(run.stdout).not.toContain(TOKEN);
  }, 30_000);

  it('fails a bad token, a missing runner group, a missing webhook and an App without runner permissions', async () => {
    const home = makeTmp();
    const config = githubConfig(
      home,
      `  - { name: RECEIVER, plugin: github_receiver, owner: acme, token: ${TOKEN}, hook_id: 999999, github_base_url: "${sim.url}" }
  - { name: BADTOKEN, plugin: github, owner: acme, token: ghp_not_a_real_token, github_base_url: "${sim.url}", template_disk_buffer: 1 }
  - { name: NOGROUP, plugin: github, owner: acme, token: ${TOKEN}, runner_group: ghosts, github_base_url: "${sim.url}", template_disk_buffer: 1 }
  - { name: LIMITED, plugin: github, owner: limited, app_id: 4242, private_key: ${path.join(home, 'app.pem')}, github_base_url: "${sim.url}", template_disk_buffer: 1 }
`,
    );
    const run = await runCli(['-c', config, 'doctor', '--json'], { home });
    expect(run.code).toBe(1);
    const { checks } = JSON.parse(run.stdout) as { checks: DoctorCheck[] };
    const get = (check: string) => checks.find((c) => c.check === check)!;
    expect(get('github RECEIVER webhook')).toMatchObject({ status: 'fail', detail: 'no webhook 999999 on acme' });
    expect(get('github BADTOKEN')).toMatchObject({ status: 'fail' });
    expect(get('github BADTOKEN').detail).toContain('HTTP 401');
    expect(get('github BADTOKEN').fix).toContain('token');
    expect(get('github NOGROUP runner group')).toMatchObject({ status: 'fail', detail: 'no runner group "ghosts" in acme' });
    expect(get('github LIMITED')).toMatchObject({ status: 'pass', detail: 'GitHub App accepted for limited' });
    expect(get('github LIMITED runners')).toMatchObject({ status: 'fail' });
    expect(get('github LIMITED runners').fix).toContain('Self-hosted runners');
    expect(run.stdout).not.toContain(TOKEN);
    expect(run.stdout).not.toContain('PRIVATE KEY');
  }, 30_000);
});
