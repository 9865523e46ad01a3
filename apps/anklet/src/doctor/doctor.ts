import { statfsSync } from 'node:fs';
import os from 'node:os';
import { isAnkletError } from '@anklet/core';
import { createAnkaHost } from '@anklet/anka';
import { checkRedisPersistence, createRedisConnection, type DatabaseConfig } from '@anklet/redis';
import { describeIssues, effectiveDatabase, loadConfig, type LoadedConfig } from '../config/load-config.js';
import { preparePlugins, type PreparedPlugin } from '../config/prepare-plugins.js';
import { createCoordination } from '../host/coordination.js';
import { describeDatabase, renderTable } from '../status/fleet-status.js';
import { checkGitHub } from './github-checks.js';
import { checkTemplateRunners } from './template-runners-check.js';

/** One line of the doctor's table. `fail` makes the exit code 1; `skip` does not. */
export interface DoctorCheck {
  readonly check: string;
  readonly status: 'pass' | 'fail' | 'warn' | 'skip';
  readonly detail: string;
  /** What to do about a failure or warning. */
  readonly fix?: string | undefined;
}

export interface DoctorOptions {
  readonly configPath?: string | undefined;
  /** The URL GitHub must deliver to (`--receiver-url`); without it any `/jobs/v1/receiver` URL counts. */
  readonly receiverUrl?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

const pass = (check: string, detail: string): DoctorCheck => ({ check, status: 'pass', detail });
const fail = (check: string, detail: string, fix: string): DoctorCheck => ({ check, status: 'fail', detail, fix });

/**
 * The config problems as rows, from the lines `anklet config validate` prints (so both commands say
 * the same): one row per problem, named after the plugin entry it is in (`config plugins[1]
 * "RUNNER2"`), its place in the file (`line 4:13`, when the line says it) leading the detail, and a
 * `; fix: ...` part as the row's fix.
 */
export function configProblemRows(lines: ReadonlyArray<string>, status: 'fail' | 'warn'): DoctorCheck[] {
  return lines.map((line) => {
    const located = /^(line \d+:\d+)\s+([\s\S]*)$/.exec(line);
    const where = located ? `${located[1]}: ` : '';
    const text = located ? located[2]! : line;
    const entry = /^(plugins\[\d+\](?: "[^"]*")?): ([\s\S]*)$/.exec(text);
    const [check, rest] = entry ? [`config ${entry[1]}`, entry[2]!] : ['config', text];
    const at = rest.lastIndexOf('; fix: ');
    if (at < 0) return { check, status, detail: `${where}${rest}` };
    // The value the problem is about, when the line ends with it, belongs to the problem, not the fix.
    let fix = rest.slice(at + '; fix: '.length);
    const got = / \(got [\s\S]*\)$/.exec(fix);
    if (got) fix = fix.slice(0, got.index);
    return { check, status, detail: `${where}${rest.slice(0, at)}${got ? got[0] : ''}`, fix };
  });
}

/** The config, then every plugin it names loaded and its block checked, as `anklet start` would. */
async function checkConfig(options: DoctorOptions): Promise<{ checks: DoctorCheck[]; config?: LoadedConfig; plugins: PreparedPlugin[] }> {
  let config: LoadedConfig;
  try {
    config = loadConfig({ configPath: options.configPath, env: options.env });
  } catch (error) {
    if (!isAnkletError(error) || !error.operator) throw error;
    return { checks: [{ check: 'config', status: 'fail', detail: error.message, fix: error.hint }], plugins: [] };
  }
  const plugins = await preparePlugins(config);
  const warnings = configProblemRows(describeIssues(config, config.warnings), 'warn');
  if (config.issues.length > 0) {
    const lines = describeIssues(config, config.issues);
    const summary: DoctorCheck = { check: 'config', status: 'fail', detail: `${config.file}: ${lines.length} problem${lines.length === 1 ? '' : 's'}, each below` };
    return { checks: [summary, ...configProblemRows(lines, 'fail'), ...warnings], plugins: [] };
  }
  const checks = [pass('config', `${config.file}: ${plugins.length} plugin${plugins.length === 1 ? '' : 's'}`), ...warnings];
  for (const p of plugins) checks.push(pass(`plugin ${p.entry.name}`, `${p.manifest.name}@${p.manifest.version} (${p.kind}) loads`));
  return { checks, config, plugins };
}

/** Each distinct Redis of the config: reachable, its version, and whether the connection uses TLS. */
async function checkRedis(config: LoadedConfig): Promise<DoctorCheck[]> {
  const databases = new Map<string, DatabaseConfig>();
  for (const entry of config.plugins) if (entry.database) databases.set(JSON.stringify(entry.database), entry.database);
  const aggregator = config.raw.metrics?.aggregator === true ? effectiveDatabase(config.raw, config.raw.metrics?.database) : null;
  if (aggregator) databases.set(JSON.stringify(aggregator), aggregator);
  if (databases.size === 0) return [pass('store', 'embedded (no Redis configured): receiver and handlers must run in this one process')];
  const checks: DoctorCheck[] = [];
  for (const database of databases.values()) {
    const name = `redis ${describeDatabase(database).replace(/^redis /, '')}`;
    // One attempt: the doctor reports an unreachable Redis instead of waiting through the retries.
    const connection = createRedisConnection({ ...database, max_retries: 0 }, { connectionName: 'anklet:doctor' });
    try {
      const info = String(await connection.client.info('server'));
      const version = /^redis_version:(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
      const tls = database.tls_enabled ? `TLS${database.tls_insecure ? ' without certificate checks' : ''}` : 'no TLS';
      checks.push(pass(name, `Redis ${version}, ${tls}${database.cluster_mode ? ', cluster' : ''}`));
      // Jobs live in Redis: one that forgets them on restart loses every queued job.
      const persistence = await checkRedisPersistence(connection.client);
      checks.push(
        persistence.mode === 'aof' && !persistence.fix
          ? pass(`${name} persistence`, persistence.detail)
          : persistence.mode === 'rdb'
            ? { check: `${name} persistence`, status: 'pass', detail: persistence.detail, fix: persistence.fix }
            : { check: `${name} persistence`, status: 'warn', detail: persistence.detail, fix: persistence.fix },
      );
      if (database.tls_insecure) {
        checks.push({ check: `${name} TLS`, status: 'warn', detail: 'certificate checks are off', fix: 'set tls_insecure: false once the server certificate is trusted' });
      }
    } catch (error) {
      checks.push(
        fail(name, `unreachable: ${connection.lastError() ?? (error as Error).message}`, 'start Redis or correct global_database_* / database.* (url, port, password, tls_enabled)'),
      );
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
  return checks;
}

/** On handler hosts: `anka` present and licensed, a free VM slot, and disk above the buffer. */
async function checkAnka(config: LoadedConfig, plugins: ReadonlyArray<PreparedPlugin>, env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  const handlers = plugins.filter((p) => p.kind === 'handler');
  if (handlers.length === 0) return [{ check: 'anka', status: 'skip', detail: 'no handler plugins: this host runs no VMs' }];
  const coordination = createCoordination({ configDir: config.configDir, cpuCount: os.cpus().length, memoryBytes: os.totalmem(), shutdownMode: () => 'none' });
  let host;
  try {
    host = await createAnkaHost({ coordination, env });
  } catch (error) {
    // Any failure is this check's result: the doctor reports, it does not stop at a stack trace.
    const hint = isAnkletError(error) ? error.hint : undefined;
    return [fail('anka', (error as Error).message, hint ?? 'install the Anka CLI and activate an Anka Build licence (anka license activate <key>)')];
  }
  const checks = [pass('anka', `anka ${host.version}, licence ${host.license.licenseType || 'valid'} (${host.license.status})`)];
  const running = (await host.forPlugin().listRunning()).length;
  const slots = coordination.vmSlots.total;
  checks.push(
    running < slots
      ? pass('vm slots', `${slots - running} of ${slots} free (${running} VM${running === 1 ? '' : 's'} running)`)
      : { check: 'vm slots', status: 'warn', detail: `all ${slots} in use by running VMs`, fix: 'handlers wait for a slot; stop VMs anklet did not start (anka list --running)' },
  );
  const { bavail, blocks, bsize } = statfsSync('/');
  const freePercent = (bavail / blocks) * 100;
  const buffers = handlers.map((p) => Number(p.entry.block.template_disk_buffer ?? config.raw.global_template_disk_buffer ?? 0) || 10);
  const buffer = Math.max(...buffers);
  const free = `${(Number(bavail) * Number(bsize) / 1e9).toFixed(1)} GB free (${freePercent.toFixed(1)}%)`;
  checks.push(
    freePercent > buffer
      ? pass('disk', `${free}; template_disk_buffer ${buffer}%`)
      : fail('disk', `${free}, at or under template_disk_buffer ${buffer}%: no template can be pulled`, 'free disk space (anka delete unused templates) or lower template_disk_buffer'),
  );
  return checks;
}

/** Runs every check that applies to the config, in order; a broken config stops the rest. GitHub checks are read-only. */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const env = options.env ?? process.env;
  const { checks, config, plugins } = await checkConfig(options);
  if (!config) return checks;
  checks.push(...(await checkRedis(config)));
  checks.push(...(await checkAnka(config, plugins, env)));
  if (plugins.some((p) => p.kind === 'handler')) checks.push(...checkTemplateRunners(config.workDir ?? config.configDir));
  const github = await checkGitHub(plugins, { receiverUrl: options.receiverUrl });
  checks.push(...(github.length > 0 ? github : [{ check: 'github', status: 'skip' as const, detail: 'no GitHub plugins' }]));
  return checks;
}

/** The table for people, then one `fix:` line per failure or warning. */
export function renderDoctor(checks: ReadonlyArray<DoctorCheck>): string[] {
  const mark = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' } as const;
  // A detail of several lines (a YAML error with the line it is about) continues on rows of its own.
  const rows = checks.flatMap((c) => c.detail.split('\n').map((text, i) => (i === 0 ? [mark[c.status], c.check, text] : ['', '', text])));
  const lines = renderTable(['', 'CHECK', 'DETAIL'], rows);
  const fixes = checks.filter((c) => c.fix && (c.status === 'fail' || c.status === 'warn'));
  if (fixes.length > 0) lines.push('', ...fixes.map((c) => `${c.check}: fix: ${c.fix}`));
  const failed = checks.filter((c) => c.status === 'fail').length;
  lines.push('', failed === 0 ? 'ready: every check needed passed' : `not ready: ${failed} check${failed === 1 ? '' : 's'} failed`);
  return lines;
}
