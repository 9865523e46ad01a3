import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAnkaSimHome, ankaSimBinDir, type AnkaSimHome } from '@anklet/anka-sim';
import { installFleetPlugins } from '@anklet/fleet';
import { startGitHubSim, type GitHubSim } from '@anklet/github-sim';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import { sign } from '@octokit/webhooks-methods';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msg, runCli, RunningAnklet } from './helpers.js';

/**
 * The configs of reference/go-configs, copied without changing a character, as a Go anklet user
 * brings them: each passes `config validate` and starts against github-sim, anka-sim and a real
 * Redis. Only what a Go operator would also change for a test host is given through the Go
 * environment overrides (the Redis port, the listen ports, the simulator's URL, the work folders).
 * Relative paths (`./logs/`, `./test-app.private-key.pem`) resolve against the working folder, as
 * in Go: each run has a folder holding the config, `logs/`, `work/` and an RSA key.
 */
const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'go-configs');
const RUNNER2_TOKEN = 'github_pat_11AAAAAAA0000000000000_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
const shared = mkdtempSync(path.join(tmpdir(), 'anklet-go-configs-'));
const pluginsPath = path.join(shared, 'plugins');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
let redis: RedisServer;
let sim: GitHubSim;
let anka: AnkaSimHome;

beforeAll(async () => {
  [redis] = await Promise.all([startRedisServer({ allowExternal: false }), installFleetPlugins(pluginsPath)]);
  // numeric-strings.yml logs in as user 0123 with password 0001e5: the values must reach Redis as that text.
  execFileSync('redis-cli', ['-h', redis.host, '-p', String(redis.port), 'ACL', 'SETUSER', '0123', 'on', '>0001e5', '~*', '&*', '+@all']);
  sim = await startGitHubSim({
    tokens: ['00000000', RUNNER2_TOKEN],
    app: { id: 111111, privateKey, installations: [{ id: 22222222, account: 'my-org' }] },
    repositories: ['my-org/my-repo', '1234/yes'],
    runnerGroups: [{ owner: 'my-org', name: 'macOS' }],
  });
  anka = createAnkaSimHome({ dir: path.join(shared, 'anka') });
}, 300_000);

afterAll(async () => {
  await sim?.close();
  await redis?.stop();
  anka?.remove();
  rmSync(shared, { recursive: true, force: true });
});

/** A folder holding one fixture as is, with the folders it names and the key file beside it. */
function folderFor(fixture: string): { dir: string; config: string } {
  const dir = mkdtempSync(path.join(shared, 'run-'));
  cpSync(path.join(FIXTURES, fixture), path.join(dir, fixture));
  mkdirSync(path.join(dir, 'logs'));
  mkdirSync(path.join(dir, 'work'));
  writeFileSync(path.join(dir, 'test-app.private-key.pem'), privateKey, { mode: 0o600 });
  return { dir, config: path.join(dir, fixture) };
}

/** The test host's differences, as a Go operator would give them: environment overrides. */
async function hostEnv(dir: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    ANKLET_PLUGINS_PATH: pluginsPath,
    ANKLET_GLOBAL_DATABASE_URL: redis.host,
    ANKLET_GLOBAL_DATABASE_PORT: String(redis.port),
    ANKLET_WORK_DIR: path.join(dir, 'work'),
    ANKLET_PID_FILE_DIR: path.join(dir, 'work'),
    ANKLET_METRICS_PORT: String(await findFreePort()),
    ANKA_SIM_HOME: anka.dir,
    PATH: `${ankaSimBinDir()}${path.delimiter}${process.env.PATH ?? ''}`,
    ...extra,
  };
}

const webhook = JSON.stringify({
  action: 'queued',
  workflow_job: { id: 77, run_id: 7, name: 'build', labels: ['anka-template:d792c6f6-198c-470f-9526-9c998efe7ab4'], status: 'queued', html_url: 'https://github.com/my-org/my-repo/actions/runs/7/job/77', created_at: new Date().toISOString() },
  repository: { name: 'my-repo', full_name: 'my-org/my-repo', owner: { login: 'my-org' }, private: true },
});

async function deliver(port: number, secret: string, delivery: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/jobs/v1/receiver`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': delivery, 'x-hub-signature-256': await sign(secret, webhook) },
    body: webhook,
  });
  return response.status;
}

describe('Go anklet configs, unchanged', () => {
  it('are copied from the reference without a change', () => {
    expect(readdirSync(FIXTURES).sort()).toEqual(['README.md', 'aggregator.yml', 'handler-all-options.yml', 'numeric-strings.yml', 'receiver-and-handlers.yml']);
  });

  it.each(['receiver-and-handlers.yml', 'handler-all-options.yml', 'aggregator.yml', 'numeric-strings.yml'])('%s passes config validate', async (fixture) => {
    const { dir, config } = folderFor(fixture);
    const run = await runCli(['-c', config, 'config', 'validate'], { home: dir, cwd: dir, env: { ANKLET_PLUGINS_PATH: pluginsPath } });
    expect(run.stderr.replace(/^warning: .*octal.*\n/gm, '')).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`config OK: ${config}`);
  });

  it('receiver-and-handlers.yml starts; the receiver verifies a webhook signed with the text 00000000', async () => {
    const { dir, config } = folderFor('receiver-and-handlers.yml');
    const port = await findFreePort();
    const env = await hostEnv(dir, {
      GITHUB_WEBHOOK_RECEIVER_PORT: String(port),
      GITHUB_WEBHOOK_RECEIVER_GITHUB_BASE_URL: sim.url,
      RUNNER1_GITHUB_BASE_URL: sim.url,
      RUNNER2_GITHUB_BASE_URL: sim.url,
    });
    const anklet = new RunningAnklet(['-c', config], { home: dir, cwd: dir, env });
    try {
      await anklet.waitFor(msg('receiver listening'), { timeoutMs: 60_000 });
      await anklet.waitFor(msg('github handler started'), { count: 2, timeoutMs: 60_000 });
      expect(await deliver(port, '00000000', 'go-config-1')).toBe(200);
      // Signed with the number Go would never have made of it (0), or another text: refused.
      expect(await deliver(port, '0', 'go-config-2')).toBe(401);
    } finally {
      anklet.signal('SIGTERM');
    }
    const run = await anklet.exited;
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).not.toContain('00000000"');
  }, 120_000);

  it('numeric-strings.yml starts: user 0123 / password 0001e5 log in to Redis (an ACL user made for them), secret 12345678 verifies a webhook, owner/repo stay text', async () => {
    const { dir, config } = folderFor('numeric-strings.yml');
    const port = await findFreePort();
    const env = await hostEnv(dir, { GITHUB_WEBHOOK_RECEIVER_PORT: String(port), RUNNER1_GITHUB_BASE_URL: sim.url });
    const anklet = new RunningAnklet(['-c', config], { home: dir, cwd: dir, env });
    try {
      await anklet.waitFor(msg('receiver listening'), { timeoutMs: 60_000 });
      await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
      expect(await deliver(port, '12345678', 'numeric-1')).toBe(200);
    } finally {
      anklet.signal('SIGTERM');
    }
    const run = await anklet.exited;
    expect(run.code, run.stdout).toBe(0);
    const attributes = anklet.lines.filter(msg('starting plugin')).map((l) => l.attributes as Record<string, unknown>);
    expect(attributes).toContainEqual(expect.objectContaining({ name: 'GITHUB_WEBHOOK_RECEIVER', owner: '1234', repo: '0x1F' }));
    expect(attributes).toContainEqual(expect.objectContaining({ name: 'RUNNER1', owner: '1234', repo: 'yes' }));
  }, 120_000);

  it('handler-all-options.yml starts with its own database block', async () => {
    const { dir, config } = folderFor('handler-all-options.yml');
    const env = await hostEnv(dir, { RUNNER1_GITHUB_BASE_URL: sim.url, RUNNER1_DATABASE_URL: redis.host, RUNNER1_DATABASE_PORT: String(redis.port) });
    delete env.ANKLET_GLOBAL_DATABASE_URL;
    delete env.ANKLET_GLOBAL_DATABASE_PORT;
    const anklet = new RunningAnklet(['-c', config], { home: dir, cwd: dir, env });
    try {
      await anklet.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    } finally {
      anklet.signal('SIGTERM');
    }
    expect((await anklet.exited).code).toBe(0);
  }, 120_000);

  it('aggregator.yml starts the aggregator', async () => {
    const { dir, config } = folderFor('aggregator.yml');
    const env = await hostEnv(dir);
    const anklet = new RunningAnklet(['-c', config], { home: dir, cwd: dir, env });
    try {
      await anklet.waitFor((l) => String(l.msg).startsWith('metrics aggregator started on port'), { timeoutMs: 60_000 });
      const health = await fetch(`http://127.0.0.1:${env.ANKLET_METRICS_PORT}/healthcheck`);
      expect(await health.text()).toBe('ok');
    } finally {
      anklet.signal('SIGTERM');
    }
    expect((await anklet.exited).code).toBe(0);
  }, 120_000);
});
