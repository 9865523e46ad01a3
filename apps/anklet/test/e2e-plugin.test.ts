import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { FIXTURE_PLUGINS, makeTmp, msg, packAndInstall, runCli, RunningAnklet, writeFile } from './helpers.js';

/**
 * The third-party path end to end: `pnpm pack` the example plugin, install the tarball into a fresh
 * plugins_path with `anklet plugins install`, run the real `anklet` binary with it, stop it with
 * signals. The install happens once for the suite (npm is slow); each test gets its own HOME.
 */
const shared = mkdtempSync(path.join(tmpdir(), 'anklet-e2e-'));
const pluginsPath = path.join(shared, 'plugins');
let tarball = '';

beforeAll(async () => {
  const { tarballs, install } = await packAndInstall(['examples/plugin-template'], shared, pluginsPath);
  tarball = tarballs[0]!;
  expect(install.code, install.stderr).toBe(0);
  expect(install.stdout).toContain(`installed anklet-plugin-hello@0.1.0 (handler) in ${pluginsPath}`);
}, 240_000);
afterAll(() => rmSync(shared, { recursive: true, force: true }));

function configFor(home: string, body: string): string {
  return writeFile(path.join(home, 'config.yml'), `plugins_path: ${pluginsPath}\nplugins:\n${body}`);
}

const journal = (home: string, name: string) => readFileSync(path.join(home, '.config/anklet/data', name, 'journal.log'), 'utf8');

describe('a packed third-party plugin', () => {
  it('is listed by `anklet plugins list` as loadable', async () => {
    const list = await runCli(['plugins', 'list', '--json', '--plugins-path', pluginsPath], { home: shared });
    expect(list.code).toBe(0);
    const parsed = JSON.parse(list.stdout) as { plugins: Array<{ name: string; status: string; kind: string }> };
    expect(parsed.plugins).toEqual([expect.objectContaining({ name: 'anklet-plugin-hello', kind: 'handler', status: 'ok' })]);
  });

  it('runs under `anklet start`, in config order, and shuts down cleanly on SIGINT', async () => {
    const home = makeTmp();
    const config = configFor(
      home,
      `  - { name: HELLO1, plugin: anklet-plugin-hello, sleep_interval: 0.2, greeting: hi, token: ghp_never_logged_123 }
  - { name: HELLO2, plugin: anklet-plugin-hello, sleep_interval: 1 }
`,
    );
    // sleep_interval must be a whole number of seconds, as in Go:
    const invalid = await runCli(['-c', config, 'config', 'validate'], { home });
    expect(invalid.stderr).toContain('plugins[0] "HELLO1": sleep_interval: expected a whole number');
    configFor(
      home,
      `  - { name: HELLO1, plugin: anklet-plugin-hello, sleep_interval: 1, greeting: hi, token: ghp_never_logged_123 }
  - { name: HELLO2, plugin: anklet-plugin-hello, sleep_interval: 1 }
`,
    );
    const anklet = new RunningAnklet(['-c', config], { home });
    await anklet.waitFor((l) => l.msg === 'hi from HELLO1', { count: 2 });
    await anklet.waitFor(msg('hello from HELLO2'));
    anklet.signal('SIGINT');
    const run = await anklet.exited;
    expect(run.code).toBe(0);
    const lines = anklet.lines.map((l) => l.msg);
    // Ordered start: HELLO2 starts only once HELLO1 is ready.
    const ready = anklet.lines.filter((l) => l.msg === 'hello plugin ready').map((l) => (l.attributes as { name: string }).name);
    expect(ready).toEqual(['HELLO1', 'HELLO2']);
    expect(lines).toContain('best effort graceful shutdown, interrupting the job as soon as possible...');
    expect(lines.filter((m) => m === 'anklet plugin shut down')).toHaveLength(2);
    expect(lines.at(-1)).toBe('anklet (and all plugins) shut down');
    expect(journal(home, 'HELLO1')).toMatch(/start\n(.*run \d+\n)+.*stop\n$/);
    expect(run.stdout).not.toContain('ghp_never_logged_123');
    expect(run.stdout).toContain('"Token":"[REDACTED]"');
  });

  it('SIGQUIT lets the current run finish, then stops; a second SIGINT during a slow stop forces exit 1', async () => {
    const home = makeTmp();
    const config = configFor(home, '  - { name: SLOW, plugin: anklet-plugin-hello, sleep_interval: 1, stop_delay_ms: 20000 }\n');
    const quitting = new RunningAnklet(['-c', config], { home });
    await quitting.waitFor(msg('hello from SLOW'));
    quitting.signal('SIGQUIT');
    await quitting.waitFor(msg('graceful shutdown, waiting for jobs to finish...'));
    // stop() takes 20 s: a second interrupt is the operator saying "now".
    quitting.signal('SIGINT');
    await quitting.waitFor(msg('best effort graceful shutdown, interrupting the job as soon as possible...'));
    quitting.signal('SIGINT');
    const run = await quitting.exited;
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('forceful shutdown after second interrupt... be sure to clean up any self-hosted runners and VMs!');
  });

  it('applies on_failure: isolate keeps the others running; shutdown stops the host with exit 3', async () => {
    const home = makeTmp();
    const isolate = configFor(
      home,
      `  - { name: FLAKY, plugin: anklet-plugin-hello, sleep_interval: 1, fail_after_runs: 1, on_failure: isolate }
  - { name: STEADY, plugin: anklet-plugin-hello, sleep_interval: 1 }
`,
    );
    const anklet = new RunningAnklet(['-c', isolate], { home });
    await anklet.waitFor(msg('plugin isolated after failure; the other plugins keep running'));
    await anklet.waitFor(msg('hello from STEADY'), { count: 3 });
    anklet.signal('SIGTERM');
    expect((await anklet.exited).code).toBe(0);
    const failed = anklet.lines.find(msg('error running plugin'));
    expect(failed).toMatchObject({ level: 'ERROR', error: 'failing on purpose after 1 runs', policy: 'isolate' });

    const shutdown = configFor(home, '  - { name: FLAKY, plugin: anklet-plugin-hello, sleep_interval: 1, fail_after_runs: 1 }\n');
    const run = await runCli(['-c', shutdown], { home, timeoutMs: 20_000 });
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('error running plugin');
    expect(run.stdout).toContain('anklet (and all plugins) shut down');
  });

  it('rolls back an install whose plugin fails validation, and removes plugins', async () => {
    const home = makeTmp();
    const localPlugins = path.join(home, 'plugins');
    const ok = await runCli(['plugins', 'install', tarball, '-p', localPlugins], { home, timeoutMs: 180_000 });
    expect(ok.code, ok.stderr).toBe(0);
    const before = readFileSync(path.join(localPlugins, 'package.json'), 'utf8');
    // A package that throws on import, packed as a tarball like any published package.
    const broken = path.join(home, 'broken');
    cpSync(path.join(FIXTURE_PLUGINS, 'throws-on-import'), broken, { recursive: true });
    const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', home], { cwd: broken, encoding: 'utf8' }).trim();
    const failed = await runCli(['plugins', 'install', path.join(home, tgz), '-p', localPlugins], { home, timeoutMs: 180_000 });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`nothing was changed in ${localPlugins}`);
    expect(failed.stderr).toContain('threw on import: boom at import time');
    expect(readFileSync(path.join(localPlugins, 'package.json'), 'utf8')).toBe(before);
    expect(existsSync(path.join(localPlugins, 'node_modules/throws-on-import'))).toBe(false);

    const removed = await runCli(['plugins', 'remove', 'anklet-plugin-hello', '-p', localPlugins], { home, timeoutMs: 120_000 });
    expect(removed.code, removed.stderr).toBe(0);
    expect(existsSync(path.join(localPlugins, 'node_modules/anklet-plugin-hello'))).toBe(false);
    const gone = await runCli(['plugins', 'remove', 'anklet-plugin-hello', '-p', localPlugins], { home });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('not installed in');
  }, 240_000);
});
