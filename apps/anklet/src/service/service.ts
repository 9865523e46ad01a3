import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnkletError, childEnv, ErrorCodes, isAnkletError } from '@anklet/core';
import { configDirOf, describeIssues, expandHome, loadConfig, resolveConfigPath, type LoadedConfig } from '../config/load-config.js';
import { preparePlugins } from '../config/prepare-plugins.js';
import {
  launchdLabelOf,
  renderServiceFile,
  serviceFileOf,
  systemdUnitOf,
  type ServicePlatform,
  type ServiceSpec,
} from './service-files.js';

/** What the `service` commands are given. */
export interface ServiceOptions {
  readonly platform?: string | undefined;
  readonly name?: string | undefined;
  readonly configPath?: string | undefined;
  readonly logDir?: string | undefined;
  readonly home: string;
  readonly env?: NodeJS.ProcessEnv;
}

const usage = (message: string, hint: string) => new AnkletError(ErrorCodes.CONFIG_INVALID, message, { operator: true, hint });

/** `--platform`, else this machine's; anything but macOS and Linux has no service support. */
export function servicePlatformOf(option: string | undefined): ServicePlatform {
  const platform = option ?? process.platform;
  if (platform === 'darwin' || platform === 'linux') return platform;
  throw usage(`no service support for platform "${platform}"`, 'use --platform darwin (launchd) or --platform linux (systemd)');
}

function checkName(name: string): string {
  // The name becomes a file name, a launchd label and a unit name: keep to characters all three accept.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw usage(`invalid service name "${name}"`, 'use letters, digits, ".", "_" and "-", e.g. --name anklet-org1');
  }
  return name;
}

/** The CLI script that is running now (dist/cli.js): the service runs the same anklet. */
function cliScript(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');
}

/** The README installed beside the CLI (npm packs it with every package), if it is there. */
function readme(): string | undefined {
  const file = path.resolve(path.dirname(cliScript()), '..', 'README.md');
  return existsSync(file) ? file : undefined;
}

/**
 * Loads the config and every plugin it names, as `anklet start` will, and refuses it with every
 * problem listed: a service started on a broken config would only fail (and, under launchd,
 * restart) until someone looks. Nothing is written before this passes.
 */
export async function validateServiceConfig(options: ServiceOptions): Promise<void> {
  const env = options.env ?? process.env;
  const configFile = resolveConfigPath(options.configPath, env, options.home);
  if (!existsSync(configFile)) return; // serviceSpecOf says so, with its fix
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({ configPath: configFile, env });
  } catch (error) {
    if (!isAnkletError(error) || !error.operator) throw error;
    throw usage(`${error.message}; no service was installed`, error.hint ?? `anklet -c ${configFile} config validate shows the problem`);
  }
  await preparePlugins(loaded);
  if (loaded.issues.length === 0) return;
  const lines = describeIssues(loaded, loaded.issues);
  throw usage(
    `${loaded.file} has ${lines.length} problem${lines.length === 1 ? '' : 's'}; no service was installed:\n${lines.map((l) => `  ${l}`).join('\n')}`,
    `fix ${lines.length === 1 ? 'it' : 'them'} (anklet -c ${loaded.file} config validate checks the file), then run service install again`,
  );
}

/** Builds what the service file will say. The config must exist: a service without one would restart forever. */
export function serviceSpecOf(options: ServiceOptions): ServiceSpec {
  const env = options.env ?? process.env;
  const platform = servicePlatformOf(options.platform);
  const name = checkName(options.name ?? 'anklet');
  const configFile = resolveConfigPath(options.configPath, env, options.home);
  if (!existsSync(configFile)) {
    throw usage(`config file not found: ${configFile}`, 'write the config first (check it with: anklet -c <file> config validate), then pass it with -c <file>');
  }
  const configDir = configDirOf(options.home);
  const defaultLogDir = platform === 'darwin' ? path.join(options.home, 'Library', 'Logs', 'anklet') : undefined;
  const logDir = options.logDir ? path.resolve(expandHome(options.logDir, options.home)) : defaultLogDir;
  if (logDir && platform === 'linux' && /\s/.test(logDir)) {
    throw usage(`log directory "${logDir}" contains white space, which systemd's append: cannot take`, 'choose another --log-dir, or none to log to the journal');
  }
  const nodeDir = path.dirname(process.execPath);
  // anka installs into /usr/local/bin; Homebrew (arm64) into /opt/homebrew/bin.
  const searchPath = [...new Set([nodeDir, '/usr/local/bin', '/opt/homebrew/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'])].join(':');
  return {
    platform,
    name,
    programArguments: [process.execPath, cliScript(), 'start', '-c', configFile],
    configFile,
    workingDirectory: existsSync(configDir) ? configDir : options.home,
    path: searchPath,
    logFiles: logDir ? { stdout: path.join(logDir, `${name}.log`), stderr: path.join(logDir, `${name}.err.log`) } : undefined,
    environmentFile: platform === 'linux' ? path.join(configDir, `${name}.env`) : undefined,
    documentation: readme(),
  };
}

// `systemctl --user` finds the user's manager through these.
const SERVICE_ENV_NAMES = ['XDG_RUNTIME_DIR', 'DBUS_SESSION_BUS_ADDRESS'];

/** Runs a service manager command (an argument array, never a shell). */
function run(command: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000, env: childEnv(process.env, { names: SERVICE_ENV_NAMES }) }, (error, stdout, stderr) => {
      resolve({ ok: !error, output: `${stdout}${stderr}`.trim() || (error ? error.message : '') });
    });
  });
}

const uid = (): number => process.getuid?.() ?? 0;

/** The commands that load / unload a service, for the platform. */
export function managerCommands(platform: ServicePlatform, name: string, file: string): { load: string[][]; unload: string[][]; state: string[] } {
  if (platform === 'darwin') {
    const target = `gui/${uid()}/${launchdLabelOf(name)}`;
    return {
      load: [['launchctl', 'bootstrap', `gui/${uid()}`, file]],
      unload: [['launchctl', 'bootout', target]],
      state: ['launchctl', 'print', target],
    };
  }
  const unit = systemdUnitOf(name);
  return {
    load: [
      ['systemctl', '--user', 'daemon-reload'],
      ['systemctl', '--user', 'enable', unit],
      // restart, not start: a reinstall must replace the running process with the new definition.
      ['systemctl', '--user', 'restart', unit],
    ],
    unload: [['systemctl', '--user', 'disable', '--now', unit]],
    state: ['systemctl', '--user', 'is-active', unit],
  };
}

/** Lines for people, and whether it worked. */
export interface ServiceResult {
  readonly lines: string[];
  readonly ok: boolean;
}

/** Writes the service file and, unless `start` is false or this is another platform, loads it. */
export async function installService(options: ServiceOptions & { start: boolean }): Promise<ServiceResult> {
  const spec = serviceSpecOf(options);
  await validateServiceConfig(options);
  const file = serviceFileOf(spec.platform, spec.name, options.home, options.env ?? process.env);
  const commands = managerCommands(spec.platform, spec.name, file);
  const lines: string[] = [];
  const wasInstalled = existsSync(file);
  // Replacing a loaded service: unload the old definition first, or launchd keeps running it.
  const activate = options.start && spec.platform === process.platform;
  if (wasInstalled && activate && spec.platform === 'darwin') await run(commands.unload[0]![0]!, commands.unload[0]!.slice(1));
  mkdirSync(path.dirname(file), { recursive: true });
  if (spec.logFiles) mkdirSync(path.dirname(spec.logFiles.stdout), { recursive: true });
  writeFileSync(file, renderServiceFile(spec), { mode: 0o644 });
  lines.push(`${wasInstalled ? 'replaced' : 'wrote'} ${file}`, `runs: ${spec.programArguments.join(' ')}`);
  lines.push(spec.logFiles ? `logs: ${spec.logFiles.stdout} (errors: ${spec.logFiles.stderr})` : `logs: journalctl --user -u ${systemdUnitOf(spec.name)} -f`);
  if (spec.environmentFile) lines.push(`secrets: put KEY=value lines (e.g. ANKLET_GLOBAL_TOKEN) in ${spec.environmentFile} (optional; chmod 600)`);
  if (!activate) {
    const how = commands.load.map((c) => c.join(' ')).join(' && ');
    lines.push(options.start ? `not started: this machine is not ${spec.platform}; there, run: ${how}` : `not started (--no-start); start it with: ${how}`);
    return { lines, ok: true };
  }
  for (const command of commands.load) {
    const result = await run(command[0]!, command.slice(1));
    if (!result.ok) {
      lines.push(`failed: ${command.join(' ')}: ${result.output}`);
      return { lines, ok: false };
    }
  }
  lines.push(`started ${spec.platform === 'darwin' ? launchdLabelOf(spec.name) : systemdUnitOf(spec.name)}`);
  return { lines, ok: true };
}

/** Unloads the service (when on its platform) and removes its file. Not installed is not an error. */
export async function uninstallService(options: Omit<ServiceOptions, 'configPath' | 'logDir'> & { stop: boolean }): Promise<ServiceResult> {
  const platform = servicePlatformOf(options.platform);
  const name = checkName(options.name ?? 'anklet');
  const file = serviceFileOf(platform, name, options.home, options.env ?? process.env);
  if (!existsSync(file)) return { lines: [`not installed: no ${file}`], ok: true };
  const lines: string[] = [];
  const commands = managerCommands(platform, name, file);
  if (options.stop && platform === process.platform) {
    for (const command of commands.unload) {
      const result = await run(command[0]!, command.slice(1));
      lines.push(result.ok ? `stopped: ${command.join(' ')}` : `not running (${command.join(' ')}: ${result.output})`);
    }
  }
  rmSync(file, { force: true });
  lines.push(`removed ${file}`);
  if (platform === 'linux' && options.stop && platform === process.platform) await run('systemctl', ['--user', 'daemon-reload']);
  return { lines, ok: true };
}

/** Whether the service file exists, what it runs, and what the service manager says of it. */
export async function serviceStatus(options: Omit<ServiceOptions, 'configPath' | 'logDir'>): Promise<ServiceResult & { installed: boolean; state: string }> {
  const platform = servicePlatformOf(options.platform);
  const name = checkName(options.name ?? 'anklet');
  const file = serviceFileOf(platform, name, options.home, options.env ?? process.env);
  if (!existsSync(file)) return { lines: [`${name}: not installed (no ${file}; install with: anklet -c <config> service install)`], ok: false, installed: false, state: 'not installed' };
  const text = readFileSync(file, 'utf8');
  const config = platform === 'darwin' ? /<string>-c<\/string>\s*<string>([^<]*)<\/string>/.exec(text)?.[1] : /ExecStart=.* -c (.*)$/m.exec(text)?.[1];
  let state = `unknown (this machine is not ${platform})`;
  if (platform === process.platform) {
    const { state: command } = managerCommands(platform, name, file);
    const result = await run(command[0]!, command.slice(1));
    if (platform === 'linux') state = result.output.split('\n')[0] || (result.ok ? 'active' : 'unknown');
    else if (!result.ok) state = 'not loaded';
    else {
      const launchdState = /^\s*state = (.+)$/m.exec(result.output)?.[1] ?? 'loaded';
      const pid = /^\s*pid = (\d+)$/m.exec(result.output)?.[1];
      state = pid ? `${launchdState} (pid ${pid})` : launchdState;
    }
  }
  return { lines: [`${name}: installed at ${file}`, `config: ${config ?? '(unreadable)'}`, `state: ${state}`], ok: true, installed: true, state };
}
