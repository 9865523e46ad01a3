import { generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
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
    expect(run.stdout).toMatch(/^PASS\s+redis 127\.0\.0\.1:\d+ persistence\s+AOF on \(appendfsync everysec\)$/m);
    expect(run.stdout).toMatch(/^PASS\s+anka\s+anka \d+\.\d+\.\d+/m);
    expect(run.stdout).toMatch(/^PASS\s+vm slots\s+2 of 2 free/m);
    expect(run.stdout).toMatch(/^PASS\s+disk\s+.*GB free/m);
    expect(run.stdout).toMatch(/^SKIP\s+github\s+no GitHub plugins$/m);
    expect(run.stdout).toContain('ready: every check needed passed');

    const json = await runCli(['-c', config, 'doctor', '--json'], { home });
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: DoctorCheck[] };
    expect(report.ok).toBe(true);
    expect(Object.keys(byCheck(report.checks))).toEqual(['config', 'plugin PROBE', `redis ${new URL(redis.url).host}`, `redis ${new URL(redis.url).host} persistence`, 'anka', 'vm slots', 'disk', 'github']);
  }, 120_000);

  it('warns, with what to run, when Redis would lose the queue on restart, or will not say', async () => {
    const [volatile, managed] = await Promise.all([
      startRedisServer({ allowExternal: false, args: ['--appendonly', 'no', '--save', ''] }),
      startRedisServer({ allowExternal: false, args: ['--appendonly', 'no', '--rename-command', 'CONFIG', ''] }),
    ]);
    try {
      for (const [server, detail] of [
        [volatile, 'no AOF and no RDB save rule: a restart of Redis loses every queued job'],
        [managed, 'persistence could not be checked (CONFIG GET refused: ERR unknown command'],
      ] as const) {
        const home = makeTmp();
        const run = await runCli(['-c', handlerConfig(home, { redisPort: server.port }), 'doctor', '--json'], { home });
        const report = JSON.parse(run.stdout) as { ok: boolean; checks: DoctorCheck[] };
        // A warning, not a failure: the host can run, the operator decides.
        expect(report.ok).toBe(true);
        const check = report.checks.find((c) => c.check === `redis 127.0.0.1:${server.port} persistence`)!;
        expect(check).toMatchObject({ status: 'warn' });
        expect(check.detail).toContain(detail);
        expect(check.fix).toContain('appendfsync everysec');
      }
    } finally {
      await Promise.all([volatile.stop(), managed.stop()]);
    }
  }, 120_000);

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
    // The command once, not "anka: anka: command not found".
    expect(report.checks.find((c) => c.check === 'anka')!.detail).toBe('anka: command not found');

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
  }, 120_000);

  it('stops at a broken config, showing each problem as config validate does, and skips Anka on a host without handlers', async () => {
    const home = makeTmp();
    const broken = writeFile(path.join(home, 'broken.yml'), 'bogus_top: 1\nplugins:\n  - { name: A, plugin: x }\n  - { name: A, plugin: x }\n');
    const run = await runCli(['-c', broken, 'doctor'], { home });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+config\s+\S+broken\.yml: 3 problems, each below$/m);
    expect(run.stdout).toMatch(/^FAIL\s+config plugins\[0\] "A"\s+(line \d+:\d+: )?plugin: plugin "x" is not installed in /m);
    expect(run.stdout).toMatch(/^FAIL\s+config plugins\[1\] "A"\s+(line \d+:\d+: )?name: duplicate plugin name "A" \(also plugins\[0\]\); names must be unique/m);
    // The fix each problem carries, on its own line; no "fix: fix each problem".
    expect(run.stdout).toMatch(/^config plugins\[0\] "A": fix: anklet plugins install x$/m);
    expect(run.stdout).not.toMatch(/fix: fix/);
    // Warnings too, as WARN rows.
    expect(run.stdout).toMatch(/^WARN\s+config\s+(line \d+:\d+: )?bogus_top: unknown key \(ignored\)$/m);
    expect(run.stdout).not.toContain('redis');
    const validate = await runCli(['-c', broken, 'config', 'validate'], { home });
    const json = JSON.parse((await runCli(['-c', broken, 'doctor', '--json'], { home })).stdout) as { checks: DoctorCheck[] };
    // The same problems as config validate, one check each, with the same words.
    const problems = validate.stderr.split('\n').filter((l) => l.startsWith('  '));
    const rows = json.checks.filter((c) => c.status === 'fail' && c.check.startsWith('config '));
    expect(rows).toHaveLength(problems.length);
    rows.forEach((row, i) => {
      const entry = row.check.slice('config '.length);
      expect(problems[i]).toContain(`${entry}: ${row.detail.replace(/^line \d+:\d+: /, '').replace(/ \(got .*\)$/, '')}`);
      if (row.fix) expect(problems[i]).toContain(`; fix: ${row.fix}`);
    });

    // Not YAML: the parser's words, and no advice to "write the config file".
    const notYaml = writeFile(path.join(home, 'not-yaml.yml'), 'plugins: [\n');
    const yaml = await runCli(['-c', notYaml, 'doctor'], { home });
    expect(yaml.code).toBe(1);
    expect(yaml.stdout).toMatch(/^FAIL\s+config\s+\S+not-yaml\.yml:\d+:\d+: not valid YAML/m);
    expect(yaml.stdout).not.toContain('write the config file');

    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, ['metrics-probe']);
    const receiver = writeFile(path.join(home, 'receiver.yml'), `plugins_path: ${pluginsPath}\nplugins:\n  - { name: R, plugin: metrics-probe, mode: serve }\n`);
    const ok = await runCli(['-c', receiver, 'doctor'], { home });
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^PASS\s+store\s+embedded/m);
    expect(ok.stdout).toMatch(/^SKIP\s+anka\s+no handler plugins/m);
  }, 120_000);
});

describe('anklet doctor: GitHub (against github-sim)', () => {
  const TOKEN = 'ghp_doctor_test_token';
  const RECEIVER = 'https://anklet.example.com/jobs/v1/receiver';
  let sim: GitHubSim;
  let appKey: string;
  /** Hook ids by org (or repository) name. */
  const hooks: Record<string, number> = {};
  beforeAll(async () => {
    appKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    sim = await startGitHubSim({
      tokens: [TOKEN],
      enterprises: { acme: 'acme-corp' },
      hooks: [
        { org: 'acme', url: RECEIVER, secret: 's3cret' },
        { org: 'acme', url: 'https://ci.example.com/other', secret: 'x' },
        { org: 'formorg', url: RECEIVER, secret: 's3cret', contentType: 'form', events: ['*'] },
        { org: 'nohook', url: 'https://ci.example.com/other', secret: 'x' },
        { org: 'inactive', url: RECEIVER, secret: 's3cret', active: false },
        { org: 'pushonly', url: RECEIVER, secret: 's3cret', events: ['push', 'pull_request'] },
        { org: 'nosecret', url: RECEIVER },
        { repository: 'acme/slash', url: `${RECEIVER}/`, secret: 's3cret' },
        // Refused connections: the newest delivery of this repository hook fails.
        { repository: 'flaky/app', url: 'http://127.0.0.1:1/jobs/v1/receiver', secret: 's3cret' },
        // The same for an organization hook, which has no last_response: the deliveries API tells.
        { org: 'flakyorg', url: 'http://127.0.0.1:1/jobs/v1/receiver', secret: 's3cret' },
      ],
      runnerGroups: [
        { owner: 'acme', name: 'macs', allowsPublicRepositories: true },
        { owner: 'acme', name: 'private-macs', visibility: 'selected' },
        { owner: 'acme-corp', enterprise: true, name: 'ent-macs', allowsPublicRepositories: true },
      ],
      // An App installed on "limited" with neither the self-hosted runners nor the webhooks permission.
      app: { id: 4242, privateKey: appKey, installations: [{ account: 'limited', permissions: { metadata: 'read' } }] },
    });
    for (const hook of sim.control.hooks()) hooks[hook.scope.replace(/^(org|repo):/, '')] ??= hook.id;
    sim.control.dispatchJob({ repository: 'flaky/app', labels: ['self-hosted'] });
    sim.control.dispatchJob({ repository: 'flakyorg/app', labels: ['self-hosted'] });
    sim.control.dispatchJob({ repository: 'flakyorg/lib', labels: ['self-hosted'] });
    await sim.control.deliveriesSettled();
  }, 120_000);
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

  /** A config of GitHub plugins, one per `[name, plugin, settings]`, all pointed at the sim. */
  function githubConfig(home: string, plugins: Array<[string, 'github' | 'github_receiver', string]>): string {
    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, []);
    fakeGitHubPlugin(pluginsPath, '@anklet/plugin-github-handler', 'handler');
    fakeGitHubPlugin(pluginsPath, '@anklet/plugin-github-receiver', 'receiver');
    writeFile(path.join(home, 'app.pem'), appKey);
    const entries = plugins.map(([name, plugin, settings]) => {
      const extra = plugin === 'github' ? ', template_disk_buffer: 1' : '';
      return `  - { name: ${name}, plugin: ${plugin}, github_base_url: "${sim.url}", ${settings}${extra} }`;
    });
    return writeFile(path.join(home, 'config.yml'), `plugins_path: ${pluginsPath}\nplugins:\n${entries.join('\n')}\n`);
  }

  async function doctor(config: string, home: string, extra: string[] = []) {
    const run = await runCli(['-c', config, 'doctor', '--json', ...extra], { home });
    expect(run.stdout).not.toContain(TOKEN);
    expect(run.stdout).not.toContain('PRIVATE KEY');
    const { ok, checks } = JSON.parse(run.stdout) as { ok: boolean; checks: DoctorCheck[] };
    const get = (check: string) => {
      const found = checks.find((c) => c.check === check);
      if (!found) throw new Error(`no check "${check}" in\n${run.stdout}`);
      return found;
    };
    return { run, ok, checks, get };
  }

  it('passes credentials, runners, runner groups and the webhooks that feed each receiver', async () => {
    const home = makeTmp();
    const config = githubConfig(home, [
      ['RECEIVER', 'github_receiver', `owner: acme, token: ${TOKEN}, hook_id: ${hooks.acme}`],
      ['FORM', 'github_receiver', `owner: formorg, token: ${TOKEN}, skip_redeliver: true`],
      ['NOCREDS', 'github_receiver', 'owner: acme, skip_redeliver: true'],
      ['ENTERPRISE', 'github_receiver', `enterprise: acme-corp, token: ${TOKEN}`],
      ['RUNNER1', 'github', `owner: acme, token: ${TOKEN}, runner_group: macs`],
      ['RUNNER2', 'github', `owner: acme, token: ${TOKEN}, runner_group: private-macs`],
      ['RUNNER3', 'github', `enterprise: acme-corp, token: ${TOKEN}, runner_group: ent-macs`],
    ]);
    const table = await runCli(['-c', config, 'doctor'], { home });
    expect(table.code, table.stdout + table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^PASS\s+github RECEIVER\s+token accepted for acme$/m);
    expect(table.stdout).toMatch(new RegExp(`^PASS\\s+github RECEIVER webhook\\s+webhook ${hooks.acme} of acme sends workflow_job \\(json\\) to ${RECEIVER}$`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^PASS\\s+github RECEIVER redelivery\\s+can read the deliveries of webhook ${hooks.acme}$`, 'm'));
    expect(table.stdout).toMatch(/^PASS\s+github RUNNER1 runners\s+can manage self-hosted runners of acme$/m);
    expect(table.stdout).toMatch(/^PASS\s+github RUNNER1 runner group\s+runner group "macs" \(id \d+\) exists in acme$/m);
    expect(table.stdout).toMatch(/^WARN\s+github RUNNER2 runner group public repositories\s+runner group "private-macs" does not take jobs from public repositories/m);
    expect(table.stdout).toMatch(/^github RUNNER2 runner group public repositories: fix: if public repositories of acme use these labels, tick "Allow public repositories"/m);
    expect(table.stdout).toContain('ready: every check needed passed');

    const { ok, get } = await doctor(config, home);
    expect(ok).toBe(true);
    expect(get('github FORM webhook')).toMatchObject({ status: 'pass', detail: `webhook ${hooks.formorg} of formorg sends workflow_job (form) to ${RECEIVER}` });
    expect(get('github NOCREDS')).toMatchObject({ status: 'skip' });
    expect(get('github NOCREDS webhook')).toMatchObject({ status: 'warn', detail: 'not checked: the receiver has no token or private_key' });
    expect(get('github ENTERPRISE webhook')).toMatchObject({ status: 'warn', detail: 'GitHub has no API to read enterprise webhooks: not checked' });
    expect(get('github ENTERPRISE webhook').fix).toContain('enterprise acme-corp → Settings → Hooks');
    expect(get('github RUNNER2 runner group')).toMatchObject({ status: 'pass', detail: expect.stringContaining('for selected repositories only') });
    expect(get('github RUNNER3 runner group')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^runner group "ent-macs" \(id \d+\) exists in acme-corp$/) });

    // With the receiver's public URL the webhook must point exactly there; an origin gets the path.
    const exact = await doctor(config, home, ['--receiver-url', 'https://ANKLET.example.com']);
    expect(exact.ok).toBe(true);
    expect(exact.get('github RECEIVER webhook').status).toBe('pass');
  }, 90_000);

  it('fails each webhook problem with a fix: none, inactive, no workflow_job, no secret, a trailing slash, another URL, the wrong hook_id, no permission', async () => {
    const home = makeTmp();
    const receiver = (name: string, settings: string): [string, 'github_receiver', string] => [name, 'github_receiver', `token: ${TOKEN}, skip_redeliver: true, ${settings}`];
    const config = githubConfig(home, [
      receiver('NOHOOK', 'owner: nohook'),
      receiver('INACTIVE', 'owner: inactive'),
      receiver('PUSHONLY', 'owner: pushonly'),
      receiver('NOSECRET', 'owner: nosecret'),
      receiver('SLASH', 'owner: acme, repo: slash'),
      receiver('FLAKY', 'owner: flaky, repo: app'),
      receiver('FLAKYORG', 'owner: flakyorg'),
      ['WRONGID', 'github_receiver', `owner: acme, token: ${TOKEN}, hook_id: ${sim.control.hooks()[1]!.id}`],
      ['DENIED', 'github_receiver', `owner: limited, app_id: 4242, private_key: ${path.join(home, 'app.pem')}, skip_redeliver: true`],
    ]);
    const { run, ok, get } = await doctor(config, home);
    expect(run.code).toBe(1);
    expect(ok).toBe(false);
    expect(get('github NOHOOK webhook')).toMatchObject({
      status: 'fail',
      detail: 'no webhook of nohook points at a /jobs/v1/receiver URL (its webhooks: https://ci.example.com/other)',
      fix: expect.stringContaining('add one in organization nohook → Settings → Webhooks: Payload URL https://<this host or its proxy>/jobs/v1/receiver'),
    });
    expect(get('github INACTIVE webhook')).toMatchObject({ status: 'fail', detail: expect.stringContaining('it is not active: GitHub sends nothing') });
    expect(get('github INACTIVE webhook').fix).toContain('tick "Active"');
    expect(get('github PUSHONLY webhook')).toMatchObject({ status: 'fail', detail: expect.stringContaining('it does not send workflow_job (events: push, pull_request)') });
    expect(get('github PUSHONLY webhook').fix).toContain('tick "Workflow jobs"');
    expect(get('github NOSECRET webhook')).toMatchObject({ status: 'fail', detail: expect.stringContaining('it has no secret') });
    expect(get('github NOSECRET webhook').fix).toContain("to the receiver's secret");
    expect(get('github SLASH webhook')).toMatchObject({ status: 'fail', detail: expect.stringContaining('ends in "/": the receiver answers 404') });
    expect(get('github SLASH webhook').fix).toContain('acme/slash → Settings → Webhooks');
    expect(get('github FLAKY webhook')).toMatchObject({ status: 'pass' });
    expect(get('github FLAKY webhook last delivery')).toMatchObject({ status: 'warn', detail: `the newest delivery of webhook ${hooks['flaky/app']} failed: failed to connect to host; 1 of the last 1 failed` });
    expect(get('github FLAKYORG webhook')).toMatchObject({ status: 'pass' });
    expect(get('github FLAKYORG webhook last delivery')).toMatchObject({ status: 'warn', detail: `the newest delivery of webhook ${hooks.flakyorg} failed: failed to connect to host; 2 of the last 2 failed` });
    expect(get('github FLAKYORG webhook last delivery').fix).toContain('organization flakyorg → Settings → Webhooks');
    expect(get('github WRONGID webhook')).toMatchObject({ status: 'pass' });
    expect(get('github WRONGID hook_id')).toMatchObject({ status: 'fail', fix: `set hook_id: ${hooks.acme}` });
    expect(get('github WRONGID redelivery')).toMatchObject({ status: 'pass' });
    expect(get('github DENIED')).toMatchObject({ status: 'pass', detail: 'GitHub App accepted for limited' });
    expect(get('github DENIED webhook')).toMatchObject({ status: 'fail', detail: 'not allowed to read the webhooks of limited (HTTP 403)' });
    expect(get('github DENIED webhook').fix).toContain('admin:org_hook');

    // A webhook to some other address is not the receiver's.
    const good = githubConfig(makeTmp(), [['RECEIVER', 'github_receiver', `owner: acme, token: ${TOKEN}, skip_redeliver: true`]]);
    const elsewhere = await doctor(good, home, ['--receiver-url', 'https://other.example.com/hooks/anklet']);
    expect(elsewhere.run.code).toBe(1);
    expect(elsewhere.get('github RECEIVER webhook')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no webhook of acme points at https://other.example.com/hooks/anklet') });
    const bad = await runCli(['-c', good, 'doctor', '--receiver-url', 'anklet.example.com'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--receiver-url: "anklet.example.com" is not a URL');
  }, 120_000);

  it('says "cannot reach GitHub" when nothing answers, never to make a new token', async () => {
    const home = makeTmp();
    // A loopback port nothing listens on: the request is refused, as without a network.
    const closed = `http://127.0.0.1:${await findFreePort()}`;
    const config = githubConfig(home, [
      ['RECEIVER', 'github_receiver', `owner: acme, token: ${TOKEN}, hook_id: ${hooks.acme}`],
      ['RUNNER1', 'github', `owner: acme, token: ${TOKEN}`],
      ['APP', 'github', `owner: acme, app_id: 4242, private_key: ${path.join(home, 'app.pem')}`],
    ]);
    writeFile(config, readFileSync(config, 'utf8').replace(/github_base_url: "[^"]*"/g, `github_base_url: "${closed}"`));
    const { run, checks, get } = await doctor(config, home);
    expect(run.code).toBe(1);
    for (const name of ['github RECEIVER', 'github RUNNER1', 'github APP']) {
      expect(get(name)).toMatchObject({ status: 'fail', detail: expect.stringMatching(new RegExp(`^cannot reach GitHub at ${closed}: .*ECONNREFUSED`)) });
      expect(get(name).fix).toContain(`check that this host can reach ${closed}`);
    }
    expect(JSON.stringify(checks)).not.toMatch(/new token|refused \(HTTP/);
    // Nothing further is tried for a plugin GitHub did not answer for.
    expect(checks.filter((c) => c.check.startsWith('github '))).toHaveLength(3);

    // A server whose certificate is not trusted (a GHES with its own CA): the fix is the CA, not the token.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', path.join(home, 'key.pem'), '-out', path.join(home, 'cert.pem')], { stdio: 'pipe' });
    const tls = createServer({ key: readFileSync(path.join(home, 'key.pem')), cert: readFileSync(path.join(home, 'cert.pem')) }, (_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const untrusted = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
      const ghes = githubConfig(makeTmp(), [['RUNNER1', 'github', `owner: acme, token: ${TOKEN}`]]);
      writeFile(ghes, readFileSync(ghes, 'utf8').replace(/github_base_url: "[^"]*"/g, `github_base_url: "${untrusted}"`));
      const result = await doctor(ghes, home);
      expect(result.get('github RUNNER1')).toMatchObject({ status: 'fail', detail: expect.stringMatching(new RegExp(`^cannot reach GitHub at ${untrusted}: .*certificate`)) });
      expect(result.get('github RUNNER1').fix).toContain('NODE_EXTRA_CA_CERTS');
    } finally {
      await new Promise((resolve) => tls.close(resolve));
    }
  }, 120_000);

  it('fails a bad token, a missing runner group, a missing hook_id and an App without runner permissions', async () => {
    const home = makeTmp();
    const config = githubConfig(home, [
      ['RECEIVER', 'github_receiver', `owner: acme, token: ${TOKEN}, hook_id: 999999`],
      ['BADTOKEN', 'github', 'owner: acme, token: ghp_not_a_real_token'],
      ['NOGROUP', 'github', `owner: acme, token: ${TOKEN}, runner_group: ghosts`],
      ['LIMITED', 'github', `owner: limited, app_id: 4242, private_key: ${path.join(home, 'app.pem')}, runner_group: macs`],
    ]);
    const { run, get } = await doctor(config, home);
    expect(run.code).toBe(1);
    expect(get('github RECEIVER redelivery')).toMatchObject({ status: 'fail', detail: 'no webhook 999999 on acme, or no access to its deliveries (HTTP 404)' });
    expect(get('github RECEIVER hook_id')).toMatchObject({ status: 'fail', detail: `hook_id 999999 is not the receiver's webhook; that is ${hooks.acme}` });
    expect(get('github BADTOKEN')).toMatchObject({ status: 'fail' });
    expect(get('github BADTOKEN').detail).toContain('HTTP 401');
    expect(get('github BADTOKEN').fix).toContain('token');
    expect(get('github NOGROUP runner group')).toMatchObject({ status: 'fail', detail: 'no runner group "ghosts" in acme (it has: Default, macs, private-macs)' });
    expect(get('github NOGROUP runner group').fix).toContain('organization acme → Settings → Actions → Runner groups');
    expect(get('github LIMITED')).toMatchObject({ status: 'pass', detail: 'GitHub App accepted for limited' });
    expect(get('github LIMITED runners')).toMatchObject({ status: 'fail' });
    expect(get('github LIMITED runners').fix).toContain('Self-hosted runners');
    expect(get('github LIMITED runner group')).toMatchObject({ status: 'fail', detail: 'cannot list the runner groups of limited (HTTP 403)' });
  }, 120_000);
});
