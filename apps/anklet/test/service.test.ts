import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { systemdWord } from '../src/service/service-files.js';
import { installService, serviceStatus, uninstallService } from '../src/service/service.js';
import { CLI, makeTmp, runCli, writeFile } from './helpers.js';

/**
 * `anklet service`: the files it writes are checked with a real XML parser (launchd's plist) and
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

  it('prints a launchd plist that a real XML parser reads, with the label, command, restart policy and logs', async () => {
    const { home, config, env } = setUp('a&b <dir>');
    const run = await runCli(['-c', config, 'service', 'install', '--print', '--platform', 'darwin', '--name', 'anklet-org1'], { home, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain(SECRET);
    expect(XMLValidator.validate(run.stdout)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, preserveOrder: false }).parse(run.stdout) as { plist: { dict: { key: string[]; string: string[]; array: { string: string[] } } } };
    const dict = doc.plist.dict;
    expect(dict.key).toEqual([
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
    expect(dict.string[0]).toBe('dev.anklet.anklet-org1');
    // The parser decodes the escaped "&" and "<" back: the path arrives intact.
    expect(dict.array.string).toEqual([process.execPath, CLI, 'start', '-c', config]);
    expect(dict.string).toContain(path.join(home, 'Library', 'Logs', 'anklet', 'anklet-org1.log'));
    expect(run.stdout).toMatch(/<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/);
  });

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
  }, 30_000);

  it('round-trips a darwin LaunchAgent in a temp HOME (in process)', async () => {
    const { home, config, env } = setUp();
    const file = path.join(home, 'Library', 'LaunchAgents', 'dev.anklet.anklet.plist');
    const base = { platform: 'darwin', home, env: { ...process.env, ...env } };
    expect((await serviceStatus(base)).installed).toBe(false);
    const install = await installService({ ...base, configPath: config, start: false });
    expect(install.lines).toContain(`wrote ${file}`);
    expect(XMLValidator.validate(readFileSync(file, 'utf8'))).toBe(true);
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
