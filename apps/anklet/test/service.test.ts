import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemdWord } from '../src/service/service-files.js';
import { installService, serviceStatus, uninstallService } from '../src/service/service.js';
import { CLI, makeTmp, runCli, writeFile } from './helpers.js';

/**
 * `anklet service`: the files it writes are checked with a real plist parser (Python's plistlib,
 * which uses expat and so refuses XML that is not well-formed, as launchd does) and
 * `systemd-analyze verify` (the systemd unit), and installed into / removed from a temp HOME.
 * `--no-start` keeps the tests from touching this machine's service manager.
 */
const SECRET = 'ghp_service_test_secret_value';

function setUp(dirName = 'anklet'): { home: string; config: string; env: Record<string, string> } {
  const home = makeTmp();
  const config = writeFile(path.join(home, dirName, 'config.yml'), `global_token: ${SECRET}\nplugins: []\n`);
  // The unit folder follows XDG_CONFIG_HOME; pin it so the test does not depend on the caller's.
  return { home, config, env: { XDG_CONFIG_HOME: path.join(home, '.config') } };
}

const systemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/** `systemd-analyze verify` on a unit file: its output is empty when systemd finds nothing to say. */
function verifyUnit(file: string): string {
  const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return `${result.status === 0 ? '' : `exit ${result.status}\n`}${result.stdout}${result.stderr}`.trim();
}

/** A plist read by Python's plistlib in a child process, as JSON; throws with the parser's error when it is not a plist. */
function readPlist(text: string): Record<string, unknown> {
  const script = 'import json, plistlib, sys\nprint(json.dumps(plistlib.loads(sys.stdin.buffer.read())))';
  const result = spawnSync('python3', ['-c', script], { input: text, encoding: 'utf8' });
  if (result.error) throw new Error(`python3 is needed to check the plist: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`plistlib refused the plist:\n${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

describe('anklet service install --print', () => {
  it('prints a systemd user unit that runs this anklet with the config, restarts on failure, and holds no secret', async () => {
    const { home, config, env } = setUp('my configs%1');
    const run = await runCli(['-c', config, 'service', 'install', '--print', '--platform', 'linux'], { home, env });
    expect(run.code, run.stderr).toBe(0);
    const unit = run.stdout;
    expect(unit).not.toContain(SECRET);
    // The path has a space and a "%": quoted, and "%" doubled so systemd expands no specifier.
    expect(unit).toContain(`ExecStart=${process.execPath} ${CLI} start -c "${path.join(home, 'my configs%%1', 'config.yml')}"`);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    // A config error (exit 1) is not restarted forever; a plugin failure (3) or Redis down (4) is.
    expect(unit).toMatch(/^RestartPreventExitStatus=1$/m);
    // Documentation= names a file that exists: the README installed with anklet.
    const docs = /^Documentation=file:\/\/(\S+)$/m.exec(unit)?.[1];
    expect(docs && existsSync(decodeURIComponent(docs.replace(/%%/g, '%')))).toBe(true);
    expect(unit).toMatch(/^TimeoutStopSec=120$/m);
    expect(unit).toMatch(/^WantedBy=default.target$/m);
    expect(unit).toContain(`EnvironmentFile=-${path.join(home, '.config', 'anklet', 'anklet.env')}`);
    expect(existsSync(path.join(home, '.config', 'systemd'))).toBe(false);

    const file = writeFile(path.join(home, 'check', 'anklet.service'), unit);
    if (!systemdAnalyze) {
      console.warn('systemd-analyze is not installed (Debian package "systemd"): the unit was not verified');
      return;
    }
    expect(verifyUnit(file)).toBe('');
  });

  it('prints a launchd plist that plistlib reads, with the label, command, restart policy and logs', async () => {
    const { home, config, env } = setUp('a&b <dir>');
    const run = await runCli(['-c', config, 'service', 'install', '--print', '--platform', 'darwin', '--name', 'anklet-org1'], { home, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain(SECRET);
    const plist = readPlist(run.stdout);
    expect(Object.keys(plist)).toEqual([
      'Label',
      'ProgramArguments',
      'WorkingDirectory',
      'EnvironmentVariables',
      'RunAtLoad',
      'KeepAlive',
      'ThrottleInterval',
      'ExitTimeOut',
      'ProcessType',
      'StandardOutPath',
      'StandardErrorPath',
    ]);
    expect(plist.Label).toBe('dev.anklet.anklet-org1');
    // The parser decodes the escaped "&" and "<" back: the path arrives intact.
    expect(plist.ProgramArguments).toEqual([process.execPath, CLI, 'start', '-c', config]);
    expect(plist.StandardOutPath).toBe(path.join(home, 'Library', 'Logs', 'anklet', 'anklet-org1.log'));
    expect(plist).toMatchObject({ RunAtLoad: true, KeepAlive: { SuccessfulExit: false }, ThrottleInterval: 10, ExitTimeOut: 120 });
  });

  it('refuses a config with problems, listing them, and writes nothing', async () => {
    const { home, env } = setUp();
    const broken = writeFile(path.join(home, 'anklet', 'broken.yml'), 'plugins:\n  - { name: A, plugin: nowhere }\n  - { plugin: github }\n');
    for (const platform of ['linux', 'darwin']) {
      for (const extra of [['--no-start'], ['--print']]) {
        const run = await runCli(['-c', broken, 'service', 'install', '--platform', platform, ...extra], { home, env });
        expect(run.code, `${platform} ${extra}`).toBe(1);
        expect(run.stdout).toBe('');
        expect(run.stderr).toContain(`anklet: ${broken} has 3 problems; no service was installed:`);
        expect(run.stderr).toContain('plugins[0] "A": plugin: plugin "nowhere" is not installed');
        expect(run.stderr).toContain('plugins[1]: name: name is required');
        expect(run.stderr).toContain(`anklet -c ${broken} config validate`);
      }
    }
    const empty = writeFile(path.join(home, 'anklet', 'empty.yml'), '');
    const refused = await runCli(['-c', empty, 'service', 'install', '--platform', 'darwin', '--no-start'], { home, env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is empty; no service was installed');
    // Nothing on disk: no unit, no LaunchAgent, no log folder.
    expect(existsSync(path.join(home, '.config', 'systemd'))).toBe(false);
    expect(existsSync(path.join(home, 'Library'))).toBe(false);
  }, 120_000);

  it('refuses a missing config, a bad name and an unknown platform, saying what to do', async () => {
    const { home, config, env } = setUp();
    const missing = await runCli(['-c', path.join(home, 'nope.yml'), 'service', 'install', '--print', '--platform', 'linux'], { home, env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`config file not found: ${path.join(home, 'nope.yml')}`);
    const badName = await runCli(['-c', config, 'service', 'install', '--print', '--platform', 'linux', '--name', '../x'], { home, env });
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('invalid service name "../x"');
    const badPlatform = await runCli(['-c', config, 'service', 'status', '--platform', 'win32'], { home, env });
    expect(badPlatform.code).toBe(1);
    expect(badPlatform.stderr).toContain('use --platform darwin (launchd) or --platform linux (systemd)');
  });
});

describe('anklet service install / status / uninstall', () => {
  it('round-trips a linux service in a temp HOME with the real binary', async () => {
    const platform = 'linux';
    const { home, config, env } = setUp();
    const file = path.join(home, '.config', 'systemd', 'user', 'anklet.service');
    const args = ['--platform', platform];

    const before = await runCli(['service', 'status', ...args], { home, env });
    expect(before.code).toBe(1);
    expect(before.stdout).toContain('anklet: not installed');

    const install = await runCli(['-c', config, 'service', 'install', ...args, '--no-start'], { home, env });
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain(`wrote ${file}`);
    expect(install.stdout).toContain('not started (--no-start)');
    const printed = await runCli(['-c', config, 'service', 'install', ...args, '--print'], { home, env });
    expect(readFileSync(file, 'utf8')).toBe(printed.stdout);
    if (systemdAnalyze) expect(verifyUnit(file)).toBe('');

    const status = await runCli(['service', 'status', ...args], { home, env });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`anklet: installed at ${file}`);
    expect(status.stdout).toContain(`config: ${config}`);
    const json = await runCli(['service', 'status', ...args, '--json'], { home, env });
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'anklet', installed: true });

    // A second instance for another config sits beside the first.
    const other = await runCli(['-c', config, 'service', 'install', ...args, '--no-start', '--name', 'anklet-org2'], { home, env });
    expect(other.code, other.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);

    const again = await runCli(['-c', config, 'service', 'install', ...args, '--no-start'], { home, env });
    expect(again.stdout).toContain(`replaced ${file}`);

    const uninstall = await runCli(['service', 'uninstall', ...args, '--no-stop'], { home, env });
    expect(uninstall.code).toBe(0);
    expect(uninstall.stdout).toContain(`removed ${file}`);
    expect(existsSync(file)).toBe(false);
    const twice = await runCli(['service', 'uninstall', ...args, '--no-stop'], { home, env });
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('not installed');
    await runCli(['service', 'uninstall', ...args, '--no-stop', '--name', 'anklet-org2'], { home, env });
  }, 120_000);

  it('round-trips a darwin LaunchAgent in a temp HOME (in process)', async () => {
    const { home, config, env } = setUp();
    const file = path.join(home, 'Library', 'LaunchAgents', 'dev.anklet.anklet.plist');
    const base = { platform: 'darwin', home, env: { ...process.env, ...env } };
    expect((await serviceStatus(base)).installed).toBe(false);
    const install = await installService({ ...base, configPath: config, start: false });
    expect(install.lines).toContain(`wrote ${file}`);
    expect(readPlist(readFileSync(file, 'utf8')).Label).toBe('dev.anklet.anklet');
    expect(existsSync(path.join(home, 'Library', 'Logs', 'anklet'))).toBe(true);
    const status = await serviceStatus(base);
    expect(status.lines).toEqual(expect.arrayContaining([`anklet: installed at ${file}`, `config: ${config}`]));
    expect((await uninstallService({ ...base, stop: false })).lines).toContain(`removed ${file}`);
    expect(existsSync(file)).toBe(false);
  });

  it('writes logs to --log-dir on Linux instead of the journal', async () => {
    const { home, config, env } = setUp();
    const logDir = path.join(home, 'logs');
    mkdirSync(logDir);
    const run = await runCli(['-c', config, 'service', 'install', '--platform', 'linux', '--print', '--log-dir', logDir], { home, env });
    expect(run.stdout).toContain(`StandardOutput=append:${logDir}/anklet.log`);
    expect(run.stdout).toContain(`StandardError=append:${logDir}/anklet.err.log`);
    if (systemdAnalyze) expect(verifyUnit(writeFile(path.join(home, 'u', 'anklet.service'), run.stdout))).toBe('');
  });

  it('quotes systemd words', () => {
    expect([systemdWord('/a/b'), systemdWord('/a b'), systemdWord('50%'), systemdWord('$HOME'), systemdWord('a"b')]).toEqual(['/a/b', '"/a b"', '50%%', '$$HOME', '"a\\"b"']);
  });
});
