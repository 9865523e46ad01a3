import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExitCode } from '../host/exit-codes.js';

/** The service managers `anklet service` writes for. */
export type ServicePlatform = 'darwin' | 'linux';

/** Everything a service file says; paths are absolute. */
export interface ServiceSpec {
  readonly platform: ServicePlatform;
  /** Instance name (`anklet` by default; one per config when a host runs several, e.g. `anklet-org1`). */
  readonly name: string;
  /** The command: the Node binary, then the anklet CLI script, then `start -c <config>`. */
  readonly programArguments: ReadonlyArray<string>;
  readonly configFile: string;
  readonly workingDirectory: string;
  /** PATH for the service: service managers start with a minimal one, and handlers need `anka`. */
  readonly path: string;
  /** stdout / stderr files; unset on Linux means the journal. */
  readonly logFiles: { readonly stdout: string; readonly stderr: string } | undefined;
  /**
   * Linux only: an optional `KEY=value` file the user owns for variables such as
   * `ANKLET_GLOBAL_TOKEN`, so secrets never appear in the unit. launchd has no equivalent: keep
   * them in the config file (or the private key file it names).
   */
  readonly environmentFile: string | undefined;
  /** The README of the installed anklet, for systemd's `Documentation=`; unset when there is none. */
  readonly documentation?: string | undefined;
}

/** Seconds the manager waits after SIGTERM before killing: anklet deletes its VMs and runners first. */
export const STOP_TIMEOUT_SECONDS = 120;
/** Seconds between restarts after a failure, so a broken config does not spin. */
export const RESTART_DELAY_SECONDS = 10;

/** The launchd label: reverse-DNS, one per instance. */
export const launchdLabelOf = (name: string): string => `dev.anklet.${name}`;
/** The systemd unit name. */
export const systemdUnitOf = (name: string): string => `${name}.service`;

/** Where the service file goes for the current user. */
export function serviceFileOf(platform: ServicePlatform, name: string, home: string, env: NodeJS.ProcessEnv = {}): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'LaunchAgents', `${launchdLabelOf(name)}.plist`);
  const configHome = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return path.join(configHome, 'systemd', 'user', systemdUnitOf(name));
}

const xml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * A launchd LaunchAgent: started at login, restarted when it exits with a failure. launchd cannot
 * leave out one exit code as systemd does, so a config error is retried every ThrottleInterval;
 * `anklet service install` refuses an invalid config so that this does not start that way.
 * Nothing user-given goes into the XML comment (`--` is not allowed in one).
 */
export function renderLaunchdPlist(spec: ServiceSpec): string {
  const strings = (values: ReadonlyArray<string>) => values.map((v) => `    <string>${xml(v)}</string>`).join('\n');
  const logs = spec.logFiles
    ? `  <key>StandardOutPath</key>\n  <string>${xml(spec.logFiles.stdout)}</string>\n  <key>StandardErrorPath</key>\n  <string>${xml(spec.logFiles.stderr)}</string>\n`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by "anklet service install". "anklet service uninstall" with the same name removes it. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${xml(launchdLabelOf(spec.name))}</string>
  <key>ProgramArguments</key>
  <array>
${strings(spec.programArguments)}
  </array>
  <key>WorkingDirectory</key>
  <string>${xml(spec.workingDirectory)}</string>
  <key>EnvironmentVariables</key>
  <dict>
    <key>PATH</key>
    <string>${xml(spec.path)}</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>${RESTART_DELAY_SECONDS}</integer>
  <key>ExitTimeOut</key>
  <integer>${STOP_TIMEOUT_SECONDS}</integer>
  <key>ProcessType</key>
  <string>Standard</string>
${logs}</dict>
</plist>
`;
}

/**
 * One systemd command-line word: quoted when it holds spaces or quotes; `%` and `$` doubled so
 * systemd expands neither specifiers nor variables in paths.
 */
export function systemdWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped;
}

/** A systemd user unit: started with the user's manager, restarted on failure. */
export function renderSystemdUnit(spec: ServiceSpec): string {
  const lines = [
    `# Written by anklet service install; remove with: anklet service uninstall --name ${spec.name}`,
    '[Unit]',
    `Description=anklet (${spec.name}): GitHub Actions jobs in Anka VMs`,
  ];
  // A file: URL of the README installed with anklet; "%" doubled, as systemd expands specifiers here.
  if (spec.documentation) lines.push(`Documentation=${pathToFileURL(spec.documentation).href.replace(/%/g, '%%')}`);
  lines.push(
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${spec.programArguments.map(systemdWord).join(' ')}`,
    `WorkingDirectory=${systemdWord(spec.workingDirectory)}`,
    `Environment=${systemdWord(`PATH=${spec.path}`)}`,
  );
  // The leading "-" makes the file optional: the unit works without it.
  if (spec.environmentFile) lines.push(`EnvironmentFile=-${systemdWord(spec.environmentFile)}`);
  lines.push(
    'Restart=on-failure',
    `RestartSec=${RESTART_DELAY_SECONDS}`,
    // Exit 1 is a config or install problem: starting again cannot fix it (exit-codes.ts). Exits 3
    // (a plugin failed) and 4 (Redis or the metrics port did not answer) are restarted.
    `RestartPreventExitStatus=${ExitCode.Config}`,
    // SIGTERM is anklet's graceful interrupt; only the main process gets it, so a VM clean-up it runs is not killed under it.
    'KillMode=mixed',
    `TimeoutStopSec=${STOP_TIMEOUT_SECONDS}`,
  );
  if (spec.logFiles) lines.push(`StandardOutput=append:${spec.logFiles.stdout}`, `StandardError=append:${spec.logFiles.stderr}`);
  lines.push('', '[Install]', 'WantedBy=default.target', '');
  return lines.join('\n');
}

/** The file for the spec's platform. */
export function renderServiceFile(spec: ServiceSpec): string {
  return spec.platform === 'darwin' ? renderLaunchdPlist(spec) : renderSystemdUnit(spec);
}
