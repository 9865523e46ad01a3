#!/usr/bin/env node
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { isAnkletError } from '@anklet/core';
import { Command, CommanderError } from 'commander';
import { ExitCode } from './host/exit-codes.js';
import { ANKLET_VERSION } from './version.js';

// Every command loads what it uses when it runs (config, zod schemas, the host, Redis, metrics,
// Anka, GitHub, the installer), so `anklet version` and `--help` load commander only, and `start`
// does not pay for the other commands' modules.
const loadConfigModule = () => import('./config/load-config.js');
/** Same as RECEIVER_PATH of doctor/webhook-check.ts (kept here so the option text loads nothing). */
const RECEIVER_PATH = '/jobs/v1/receiver';
const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const err = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

/** Operator mistakes print the message and hint; anything else is a bug and prints the stack. */
function reportFailure(error: unknown): number {
  if (isAnkletError(error) && error.operator) {
    err(`anklet: ${error.message}${error.hint ? `\n  ${error.hint}` : ''}`);
    return ExitCode.Config;
  }
  err(error instanceof Error ? (error.stack ?? error.message) : String(error));
  return ExitCode.Config;
}

function home(): string {
  return process.env.HOME || homedir();
}

/** `--plugins-path`, then `ANKLET_PLUGINS_PATH`, then `plugins_path` of the config file, then the default. */
async function pluginsPathFor(options: { pluginsPath?: string; config?: string }): Promise<{ pluginsPath: string; cliFlags: string | undefined }> {
  const { configDirOf, expandHome, readConfigDocument, resolveConfigPath } = await loadConfigModule();
  if (options.pluginsPath) {
    const resolved = path.resolve(expandHome(options.pluginsPath, home()));
    return { pluginsPath: resolved, cliFlags: `--plugins-path ${resolved}` };
  }
  if (process.env.ANKLET_PLUGINS_PATH) return { pluginsPath: path.resolve(expandHome(process.env.ANKLET_PLUGINS_PATH, home())), cliFlags: undefined };
  const file = resolveConfigPath(options.config, process.env, home());
  if (existsSync(file)) {
    try {
      const doc = readConfigDocument(file);
      if (typeof doc.plugins_path === 'string' && doc.plugins_path !== '') {
        return { pluginsPath: path.resolve(expandHome(doc.plugins_path, home())), cliFlags: options.config ? `-c ${options.config}` : undefined };
      }
    } catch {
      // An unreadable config does not stop plugin management; the default folder is used.
    }
  }
  return { pluginsPath: path.join(configDirOf(home()), 'plugins'), cliFlags: undefined };
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('anklet')
    .description('Runs GitHub Actions jobs in ephemeral Anka macOS VMs, through plugins installed in plugins_path.')
    .option('-c, --config <path>', 'config file (default: ~/.config/anklet/config.yml, or $ANKLET_CONFIG_FILE_NAME in that folder)')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('start', { isDefault: true })
    .description('run the plugins of the config until SIGINT/SIGTERM (graceful, interrupting) or SIGQUIT (finish current work)')
    .action(async () => {
      const { startAnklet } = await import('./host/start.js');
      setExit(await startAnklet({ configPath: program.opts<{ config?: string }>().config }));
    });

  program
    .command('version')
    .description('print the version (also: -version, --version)')
    .action(() => out(ANKLET_VERSION));

  const config = program.command('config').description('check the config file');
  config
    .command('validate')
    .description('load the config and every plugin it names, check everything start would, and report every problem at once')
    .action(async () => {
      const file = program.opts<{ config?: string }>().config;
      try {
        const [{ describeIssues, loadConfig }, { preparePlugins }] = await Promise.all([loadConfigModule(), import('./config/prepare-plugins.js')]);
        const loaded = loadConfig({ configPath: file });
        const plugins = await preparePlugins(loaded);
        for (const line of describeIssues(loaded, loaded.warnings, { locate: true })) err(`warning: ${line}`);
        if (loaded.issues.length > 0) {
          err(`${loaded.file}: ${loaded.issues.length} problem${loaded.issues.length === 1 ? '' : 's'}`);
          for (const line of describeIssues(loaded, loaded.issues, { locate: true })) err(`  ${line}`);
          err(`fix each, then run again: anklet -c ${loaded.file} config validate`);
          setExit(ExitCode.Config);
          return;
        }
        out(`config OK: ${loaded.file}`);
        out(`plugins path: ${loaded.pluginsPath}`);
        for (const p of plugins) out(`  ${p.entry.name}: ${p.entry.plugin} → ${p.manifest.name}@${p.manifest.version} (${p.kind})`);
        if (plugins.length === 0) out('  (no plugins: anklet would start and stop at once)');
      } catch (error) {
        setExit(reportFailure(error));
      }
    });
  config
    .command('schema')
    .description('print the JSON Schema of config.yml for the host and the plugins installed in plugins_path (for editor completion)')
    .option('--markdown', 'print it as the Markdown reference instead (as docs/configuration.md)')
    .option(...(['-p, --plugins-path <dir>', 'plugins folder (default: plugins_path of the config, else ~/.config/anklet/plugins)'] as const))
    .action(async (opts: { markdown?: boolean; pluginsPath?: string }) => {
      const where = await pluginsPathFor({ ...opts, ...program.opts() });
      const [{ configReferenceOf }, { listPlugins }, { loadPlugin }] = await Promise.all([
        import('./config/reference.js'),
        import('./plugins/installer.js'),
        import('./plugins/load-plugin.js'),
      ]);
      const installed = existsSync(where.pluginsPath) ? (await listPlugins(where.pluginsPath)).filter((row) => row.status === 'ok') : [];
      const plugins = await Promise.all(installed.map(async (row) => (await loadPlugin({ plugin: row.name, pluginsPath: where.pluginsPath })).plugin));
      const { schema, markdown } = configReferenceOf(plugins);
      if (opts.markdown) process.stdout.write(markdown);
      else out(JSON.stringify(schema, null, 2));
    });

  program
    .command('doctor')
    .description('check this host before it takes jobs: config and plugins, Redis, Anka (handler hosts), GitHub credentials, runner groups and webhooks; exit 0 only when every needed check passes')
    .option('--json', 'machine-readable output')
    .option('--receiver-url <url>', `the receiver's public URL; the webhook must point exactly there (an origin gets ${RECEIVER_PATH} added)`)
    .action(async (opts: { json?: boolean; receiverUrl?: string }) => {
      let receiverUrl: string | undefined;
      if (opts.receiverUrl !== undefined) {
        const { receiverUrlOf } = await import('./doctor/webhook-check.js');
        try {
          receiverUrl = receiverUrlOf(opts.receiverUrl);
        } catch (error) {
          err(`error: option '--receiver-url <url>' argument '${opts.receiverUrl}' is invalid. ${(error as Error).message}`);
          setExit(ExitCode.Usage);
          return;
        }
      }
      try {
        const { renderDoctor, runDoctor } = await import('./doctor/doctor.js');
        const checks = await runDoctor({ configPath: program.opts<{ config?: string }>().config, receiverUrl });
        const ok = !checks.some((c) => c.status === 'fail');
        if (opts.json) out(JSON.stringify({ ok, checks }, null, 2));
        else for (const line of renderDoctor(checks)) out(line);
        if (!ok) setExit(ExitCode.Config);
      } catch (error) {
        setExit(reportFailure(error));
      }
    });

  program
    .command('jobs')
    .description('show the jobs from the shared Redis: which wait and why, which run where and in which phase, which finished lately')
    .option('--state <state>', 'only queued, running or finished jobs')
    .option('--limit <n>', 'jobs per state (1-1000)', '20')
    .option('--json', 'machine-readable output (the /jobs.json shape)')
    .option('-q, --queue <name...>', "also read these queues (the config's and the hosts' queues are always read)")
    .action(async (opts: { state?: string; limit: string; json?: boolean; queue?: string[] }) => {
      try {
        const { runJobsCommand } = await import('./jobs/jobs-command.js');
        const code = await runJobsCommand({ ...opts, configPath: program.opts<{ config?: string }>().config }, out, err);
        if (code !== 0) setExit(code);
      } catch (error) {
        setExit(reportFailure(error));
      }
    });

  program
    .command('status')
    .description('show the fleet from the shared Redis: hosts, plugins and their status, VMs, queue depth, oldest job')
    .option('--json', 'machine-readable output')
    .option('-q, --queue <name...>', 'also count these queues (the config\'s and the hosts\' queues are always counted)')
    .action(async (opts: { json?: boolean; queue?: string[] }) => {
      try {
        const { loadFleetConfig, withFleetStore } = await import('./status/fleet-store.js');
        const loaded = loadFleetConfig(program.opts<{ config?: string }>().config, err);
        if (!loaded) {
          setExit(ExitCode.Config);
          return;
        }
        const { describeDatabase, readFleetStatus, renderFleetStatus } = await import('./status/fleet-status.js');
        await withFleetStore(loaded, 'status', async (store, database) => {
          const status = await readFleetStatus(store, loaded, { queues: opts.queue });
          if (opts.json) out(JSON.stringify(status, null, 2));
          else for (const line of renderFleetStatus(status, describeDatabase(database))) out(line);
        });
      } catch (error) {
        setExit(reportFailure(error));
      }
    });

  program
    .command('explain')
    .description('say in plain words where a job is and why: queued (what it needs, why each host does not take it), running (where, which phase), finished (how), or not in anklet (bad labels, lost webhook)')
    .argument('<job>', 'the job id, or its GitHub URL (https://github.com/<owner>/<repo>/actions/runs/<run>/job/<job>)')
    .option('--json', 'machine-readable output')
    .option('-q, --queue <name...>', 'also look in these queues (the config\'s and the hosts\' queues are always searched)')
    .action(async (job: string, opts: { json?: boolean; queue?: string[] }) => {
      try {
        const { parseJobRef } = await import('./explain/job-ref.js');
        let ref: ReturnType<typeof parseJobRef>;
        try {
          ref = parseJobRef(job);
        } catch (error) {
          err(`error: ${(error as Error).message}\n  ${isAnkletError(error) ? (error.hint ?? '') : ''}`);
          setExit(ExitCode.Usage);
          return;
        }
        const { loadFleetConfig, withFleetStore } = await import('./status/fleet-store.js');
        const loaded = loadFleetConfig(program.opts<{ config?: string }>().config, err);
        if (!loaded) {
          setExit(ExitCode.Config);
          return;
        }
        const [{ explainFromConfig }, { renderExplanation }] = await Promise.all([import('./explain/explain-command.js'), import('./explain/explain-job.js')]);
        await withFleetStore(loaded, 'explain', async (store) => {
          const explanation = await explainFromConfig(store, loaded, ref, { queues: opts.queue });
          if (opts.json) out(JSON.stringify(explanation, null, 2));
          else for (const line of renderExplanation(explanation)) out(line);
        });
      } catch (error) {
        setExit(reportFailure(error));
      }
    });

  const service = program
    .command('service')
    .description('run anklet at login: a launchd LaunchAgent (macOS) or a systemd user unit (Linux) running anklet start -c <config>');
  const platformOption = ['--platform <platform>', 'darwin (launchd) or linux (systemd); default: this machine'] as const;
  const nameOption = ['--name <name>', 'service name, one per config on a host running several', 'anklet'] as const;
  service
    .command('install')
    .description('check the config given with -c (as config validate does), write the service file, then load and start it; a config with problems is refused and nothing is written')
    .option(...platformOption)
    .option(...nameOption)
    .option('--log-dir <dir>', 'write stdout/stderr to <dir>/<name>.log and <name>.err.log (default: ~/Library/Logs/anklet on macOS, the journal on Linux)')
    .option('--print', 'print the file instead of installing it')
    .option('--no-start', 'write the file without loading it')
    .action(async (opts: { platform?: string; name: string; logDir?: string; print?: boolean; start: boolean }) => {
      const base = { platform: opts.platform, name: opts.name, logDir: opts.logDir, configPath: program.opts<{ config?: string }>().config, home: home() };
      try {
        const [{ renderServiceFile }, { installService, serviceSpecOf, validateServiceConfig }] = await Promise.all([import('./service/service-files.js'), import('./service/service.js')]);
        if (opts.print) {
          const spec = serviceSpecOf(base);
          await validateServiceConfig(base);
          process.stdout.write(renderServiceFile(spec));
          return;
        }
        const result = await installService({ ...base, start: opts.start });
        for (const line of result.lines) out(line);
        if (!result.ok) setExit(ExitCode.Config);
      } catch (error) {
        setExit(reportFailure(error));
      }
    });
  service
    .command('uninstall')
    .description('stop the service and remove its file')
    .option(...platformOption)
    .option(...nameOption)
    .option('--no-stop', 'remove the file without unloading the service')
    .action(async (opts: { platform?: string; name: string; stop: boolean }) => {
      try {
        const { uninstallService } = await import('./service/service.js');
        for (const line of (await uninstallService({ ...opts, home: home() })).lines) out(line);
      } catch (error) {
        setExit(reportFailure(error));
      }
    });
  service
    .command('status')
    .description('whether the service is installed, its config, and what the service manager says (exit 1 when not installed)')
    .option(...platformOption)
    .option(...nameOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { platform?: string; name: string; json?: boolean }) => {
      try {
        const { serviceStatus } = await import('./service/service.js');
        const result = await serviceStatus({ ...opts, home: home() });
        if (opts.json) out(JSON.stringify({ name: opts.name, installed: result.installed, state: result.state }));
        else for (const line of result.lines) out(line);
        if (!result.ok) setExit(ExitCode.Config);
      } catch (error) {
        setExit(reportFailure(error));
      }
    });

  program
    .command('drain')
    .description('create the drain file: handlers finish their jobs and take no new ones')
    .action(async () => {
      const [{ drainFileOf }, { configDirOf }] = await Promise.all([import('./host/coordination.js'), loadConfigModule()]);
      const file = drainFileOf(configDirOf(home()));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `drained at ${new Date().toISOString()}\n`);
      out(`draining: ${file} exists; handlers take no new jobs (undo: anklet undrain)`);
    });
  program
    .command('undrain')
    .description('remove the drain file: handlers take jobs again')
    .action(async () => {
      const [{ drainFileOf }, { configDirOf }] = await Promise.all([import('./host/coordination.js'), loadConfigModule()]);
      const file = drainFileOf(configDirOf(home()));
      const was = existsSync(file);
      rmSync(file, { force: true });
      out(was ? `not draining: removed ${file}` : `not draining (no ${file})`);
    });

  const plugins = program.command('plugins').description('manage the plugins installed in plugins_path (an npm prefix)');
  const pathOption = ['-p, --plugins-path <dir>', 'plugins folder (default: plugins_path of the config, else ~/.config/anklet/plugins)'] as const;
  plugins
    .command('install')
    .description('install plugin packages (short ids github / github_receiver, npm names with an optional version range, tarballs or folders) from the registry of your npm configuration; nothing changes unless every plugin passes validation')
    .argument('<packages...>')
    .option(...pathOption)
    .action(async (packages: string[], opts: { pluginsPath?: string }) => {
      const where = await pluginsPathFor({ ...opts, ...program.opts() });
      try {
        const { installPlugins } = await import('./plugins/installer.js');
        const installed = await installPlugins(packages, { ...where, onProgress: (line) => err(line) });
        for (const p of installed) out(`installed ${p.name}@${p.version} (${p.kind}) in ${where.pluginsPath}`);
      } catch (error) {
        setExit(reportFailure(error));
      }
    });
  plugins
    .command('update')
    .description('move installed plugins (all, or the named ones) to the newest version that fits this anklet; all or nothing')
    .argument('[packages...]')
    .option(...pathOption)
    .action(async (packages: string[], opts: { pluginsPath?: string }) => {
      const where = await pluginsPathFor({ ...opts, ...program.opts() });
      try {
        const { updatePlugins } = await import('./plugins/installer.js');
        const updated = await updatePlugins(packages, { ...where, onProgress: (line) => err(line) });
        if (updated.length === 0) out(`no plugins to update in ${where.pluginsPath}`);
        for (const p of updated) out(`updated ${p.name} to ${p.version} (${p.kind}) in ${where.pluginsPath}`);
      } catch (error) {
        setExit(reportFailure(error));
      }
    });
  plugins
    .command('list')
    .description('list installed plugins and whether anklet can load each')
    .option(...pathOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { pluginsPath?: string; json?: boolean }) => {
      const where = await pluginsPathFor({ ...opts, ...program.opts() });
      const { listInstalled } = await import('./plugins/installer.js');
      const { plugins: rows, libraries } = await listInstalled(where.pluginsPath);
      if (opts.json) {
        out(JSON.stringify({ pluginsPath: where.pluginsPath, plugins: rows, libraries }, null, 2));
        if (rows.some((r) => r.status !== 'ok')) setExit(ExitCode.Config);
        return;
      }
      out(`plugins path: ${where.pluginsPath}`);
      if (rows.length === 0) out('  no plugins installed (install one with: anklet plugins install <package>)');
      for (const row of rows) {
        out(`  ${row.name}@${row.version}  ${row.kind}${row.shortId ? `  (plugin: ${row.shortId})` : ''}  ${row.status === 'ok' ? 'ok' : `NOT LOADABLE: ${row.status}`}`);
      }
      // Libraries (the host's core, what plugins depend on) are not plugins, and not an error.
      const shown = libraries.filter((l) => l.name !== '@anklet/core');
      if (shown.length > 0) out(`  libraries, not plugins: ${shown.map((l) => `${l.name}@${l.version}`).join(', ')}`);
      if (rows.some((r) => r.status !== 'ok')) setExit(ExitCode.Config);
    });
  plugins
    .command('remove')
    .alias('uninstall')
    .description('remove plugin packages')
    .argument('<packages...>')
    .option(...pathOption)
    .action(async (packages: string[], opts: { pluginsPath?: string }) => {
      const where = await pluginsPathFor({ ...opts, ...program.opts() });
      try {
        const { removePlugins } = await import('./plugins/installer.js');
        for (const name of await removePlugins(packages, where)) out(`removed ${name} from ${where.pluginsPath}`);
      } catch (error) {
        setExit(reportFailure(error));
      }
    });
  return program;
}

/** Go flags: `-version` (single dash) prints the version. */
function normaliseArgv(argv: string[]): string[] {
  return argv.map((arg) => (arg === '-version' || arg === '--version' || arg === '-v' ? 'version' : arg));
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(normaliseArgv(argv), { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and version output are successes; anything else is a usage error.
      return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.help' ? ExitCode.Ok : ExitCode.Usage;
    }
    return reportFailure(error);
  }
  return exitCode;
}

const code = await main();
// Let stdout drain before leaving, then exit even if a plugin left a handle open.
process.stdout.write('', () => process.exit(code));
