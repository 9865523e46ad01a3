import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, makeTmp, msg, runCli, RunningAnklet, seedPlugins, writeFile } from './helpers.js';

/**
 * The Go anklet's CLI scenarios (tests/cli-tests) that need no Anka or GitHub, on the real binary.
 * As in the Go harness the config is linked to ~/.config/anklet/config.yml and anklet runs with no
 * arguments, LOG_LEVEL=debug. Where we do better than Go (exit codes, failing before start) the
 * test says so.
 */
function goScenario(yaml: string): { home: string } {
  const home = makeTmp();
  const file = writeFile(path.join(home, 'scenario.yml'), yaml);
  mkdirSync(path.join(home, '.config/anklet'), { recursive: true });
  symlinkSync(file, path.join(home, '.config/anklet/config.yml'));
  return { home };
}

const debug = { LOG_LEVEL: 'debug' };

describe('Go CLI scenarios', () => {
  it('empty: an empty file is an error before anything starts', async () => {
    const { home } = goScenario('');
    const run = await runCli([], { home, env: debug });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('ERROR');
    expect(run.stdout).toContain('unable to load config.yml');
    expect(run.stdout).not.toContain('starting anklet');
    expect(run.stderr).toContain('is empty');
  });

  it('no-log-directory: a missing log.file_dir is an error before anything starts', async () => {
    const { home } = goScenario('work_dir: /tmp/\npid_file_dir: /tmp/\nlog:\n  file_dir: /tmp/doesntexist\nplugins:\n');
    const run = await runCli([], { home, env: debug });
    expect(run.code).toBe(1);
    const error = jsonLines(run.stdout).find(msg('log directory does not exist'));
    expect(error).toMatchObject({ level: 'ERROR', directory: '/tmp/doesntexist/' });
    expect(run.stdout).not.toContain('starting anklet');
  });

  it('no-plugins: starts, has nothing to do, shuts down cleanly with exit 0', async () => {
    const { home } = goScenario('---\nplugins:\n');
    const run = await runCli([], { home, env: debug });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('ERROR');
    expect(run.stdout).toContain('starting anklet');
    expect(run.stdout).toContain('anklet (and all plugins) shut down');
    expect(run.stdout).toContain('config":{"Plugins":null');
  });

  it('no-plugin-name: rejected at load (Go starts, then exits 0); the dump shows both entries', async () => {
    const { home } = goScenario(`plugins:
  - plugin: plugin1
    owner: mycompanyone
    sleep_interval: 5
  - name: RUNNER2
    plugin: plugin2
    owner: mycompanytwo
    sleep_interval: 10
`);
    const run = await runCli([], { home, env: debug });
    expect(run.code).toBe(1);
    for (const text of ['ERROR', 'name is required for plugins', 'RUNNER2', 'plugin1', 'plugin2', 'mycompanyone', 'mycompanytwo', 'SleepInterval":10', 'SleepInterval":5']) {
      expect(run.stdout).toContain(text);
    }
    expect(run.stdout).not.toContain('starting anklet');
  });

  it('non-existent-plugin: rejected at load with the fix command, before RUNNER1 starts', async () => {
    const { home } = goScenario(`plugins:
  - name: RUNNER1
    plugin: github
    owner: mycompanyone
    sleep_interval: 5
  - name: RUNNER2
    plugin: github2
    owner: mycompanytwo
    sleep_interval: 10
`);
    const run = await runCli([], { home, env: debug });
    expect(run.code).toBe(1);
    const invalid = jsonLines(run.stdout).find(msg('invalid config')) as { errors: string[] };
    const pluginsPath = path.join(home, '.config/anklet/plugins');
    expect(invalid.errors).toEqual([
      `plugins[0] "RUNNER1": plugin: plugin "github" (@anklet/plugin-github-handler) is not installed in ${pluginsPath}; fix: anklet plugins install @anklet/plugin-github-handler`,
      `plugins[1] "RUNNER2": plugin: plugin "github2" is not installed in ${pluginsPath} (short ids: github, github_receiver); fix: anklet plugins install github2`,
    ]);
    expect(run.stdout).toContain('"Name":"RUNNER2"');
    expect(run.stdout).not.toContain('starting anklet');
  });
});

describe('anklet commands', () => {
  it('version: -version, --version and `version` print the version and exit 0', async () => {
    const home = makeTmp();
    const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string };
    for (const args of [['-version'], ['--version'], ['version']]) {
      const run = await runCli(args, { home });
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(pkg.version);
    }
  });

  it('--help for every command, and exit 2 on a usage error', async () => {
    const home = makeTmp();
    for (const args of [['--help'], ['start', '--help'], ['config', 'validate', '--help'], ['plugins', 'install', '--help'], ['drain', '--help']]) {
      const run = await runCli(args, { home });
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toContain('Usage: anklet');
    }
    const bad = await runCli(['--no-such-flag'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option '--no-such-flag'");
  });

  it('drain / undrain create and remove ~/.config/anklet/.drain', async () => {
    const home = makeTmp();
    const file = path.join(home, '.config/anklet/.drain');
    expect((await runCli(['drain'], { home })).code).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect((await runCli(['undrain'], { home })).stdout).toContain(`removed ${file}`);
    expect(existsSync(file)).toBe(false);
  });

  it('config validate: lists the plugins, or every problem with exit 1', async () => {
    const home = makeTmp();
    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, ['good-plugin']);
    const good = writeFile(path.join(home, 'good.yml'), `plugins_path: ${pluginsPath}\nplugins:\n  - { name: R1, plugin: good-plugin, port: 1 }\n`);
    const ok = await runCli(['-c', good, 'config', 'validate'], { home });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('R1: good-plugin → good-plugin@1.0.0 (receiver)');
    const bad = writeFile(path.join(home, 'bad.yml'), `plugins_path: ${pluginsPath}\nplugins:\n  - { name: R1, plugin: good-plugin, port: x }\n  - { name: R1, plugin: good-plugin }\n`);
    const failed = await runCli(['-c', bad, 'config', 'validate'], { home });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('2 problems');
    expect(failed.stderr).toContain('plugins[0] "R1": port: expected a number');
    expect(failed.stderr).toContain('plugins[1] "R1": name: duplicate plugin name "R1"');
  });

  it('writes a PID file and refuses a second anklet on the same one', async () => {
    const home = makeTmp();
    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, ['good-plugin']);
    const pidDir = path.join(home, 'run');
    const config = writeFile(path.join(home, 'c.yml'), `pid_file_dir: ${pidDir}\nplugins_path: ${pluginsPath}\nplugins:\n  - { name: R1, plugin: good-plugin }\n`);
    const first = new RunningAnklet(['-c', config], { home });
    await first.waitFor(msg('starting anklet'));
    expect(readFileSync(path.join(pidDir, 'anklet.pid'), 'utf8').trim()).toBe(String(first.child.pid));
    const second = await runCli(['-c', config], { home });
    expect(second.code, second.stdout + second.stderr).toBe(1);
    expect(second.stdout).toContain(`another anklet (pid ${first.child.pid}) holds`);
    first.signal('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(existsSync(path.join(pidDir, 'anklet.pid'))).toBe(false);
  });
});

describe('anklet plugins list', () => {
  /** A plugins_path as `anklet plugins install` leaves it: package.json dependencies and node_modules. */
  function pluginsPathWith(fixtures: string[], libraries: string[]): string {
    const pluginsPath = path.join(makeTmp(), 'plugins');
    seedPlugins(pluginsPath, fixtures);
    for (const name of libraries) {
      writeFile(path.join(pluginsPath, 'node_modules', ...name.split('/'), 'package.json'), JSON.stringify({ name, version: '0.1.0', type: 'module', main: 'index.js' }));
    }
    const dependencies = Object.fromEntries(['@anklet/core', ...fixtures, ...libraries].map((n) => [n, '*']));
    writeFile(path.join(pluginsPath, 'package.json'), JSON.stringify({ name: 'anklet-plugins', private: true, dependencies }));
    return pluginsPath;
  }

  it('with only libraries left (the core, a library a removed plugin used) is not an error', async () => {
    const pluginsPath = pluginsPathWith([], ['@anklet/github']);
    const run = await runCli(['plugins', 'list', '-p', pluginsPath], { home: makeTmp() });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toBe(`plugins path: ${pluginsPath}\n  no plugins installed (install one with: anklet plugins install <package>)\n  libraries, not plugins: @anklet/github@0.1.0\n`);
    const json = await runCli(['plugins', 'list', '--json', '-p', pluginsPath], { home: makeTmp() });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ plugins: [], libraries: [{ name: '@anklet/core' }, { name: '@anklet/github', version: '0.1.0' }] });
  });

  it('still fails on a package that says it is a plugin and does not load', async () => {
    // no-keyword has an "anklet" field but not the keyword: a broken plugin, not a library.
    const pluginsPath = pluginsPathWith(['good-plugin', 'no-keyword'], []);
    const run = await runCli(['plugins', 'list', '-p', pluginsPath], { home: makeTmp() });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/good-plugin@\S+\s+\S+\s+ok/);
    expect(run.stdout).toMatch(/no-keyword@1\.0\.0 .*NOT LOADABLE/);
    expect((await runCli(['plugins', 'list', '--json', '-p', pluginsPath], { home: makeTmp() })).code).toBe(1);
  });
});
