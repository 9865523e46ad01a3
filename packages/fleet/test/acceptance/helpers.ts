/**
 * Shared pieces of the acceptance suite: the Go suite's templates (same uuids and tags, sizes in
 * their names), label builders, log and metrics readers, and polling that waits for a condition
 * instead of sleeping.
 */
import { FLEET_TEMPLATE, runnerFiles, simulatedTemplate, type Fleet, type FleetHost, type LogLine } from '../../src/index.js';
import type { RegistryTemplateSeed } from '@anklet/anka-sim';
import { afterEach, beforeEach } from 'vitest';

/** The Go suite's second template (`vanilla+port-forward-22+brew-git`). */
export const TEMPLATE2 = 'd792c6f6-198c-470f-9526-9c998efe7ab4';
export const TEMPLATE2_TAG = 'vanilla+port-forward-22+brew-git';
export const MOUNT_NAME = 'anklet_mount_test';
export const MOUNT_PROBE = '.anklet_ci_mount_probe';
export const MOUNT_OK = 'anklet-ci-mount-ok';

/**
 * run.sh of the `mount-probe` tag: the job succeeds only when the marker read through the
 * host-to-guest mount says `anklet-ci-mount-ok` (the Go job asserted the same file), otherwise the
 * runner ends it as `failure`. The dispatch leaves the conclusion to the runner.
 */
const MOUNT_PROBE_RUN_SH = `#!/usr/bin/env bash
cd "$(dirname "$0")"
probe="$ANKA_SIM_GUEST_ROOT/Volumes/My Shared Files/${MOUNT_NAME}/${MOUNT_PROBE}"
verdict=failure
if [[ "$(cat "$probe" 2>/dev/null)" == "${MOUNT_OK}" ]]; then verdict=success; fi
printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" | node "$GITHUB_SIM_RUNNER" --jitconfig-file - --conclusion "$verdict"
`;

/**
 * Registry templates as in the Go suite: `anklet` (84266873…) with tags named `<cpu>c<ram>r`, the
 * last (`2c4r`) being the latest, plus `mount-probe`; and the second template with its one tag.
 */
export function goTemplates(): RegistryTemplateSeed[] {
  const sized = (tag: string) => {
    const [, cpu, ram] = /^(\d+)c(\d+)r/.exec(tag)!;
    return { tag, cpuCores: Number(cpu), ramGiB: Number(ram) };
  };
  const anklet = simulatedTemplate({ uuid: FLEET_TEMPLATE, tags: ['12c20r', '20c20r', '8c14r', '6c14r', '3c6r', '6c6r', '2c4r'].map(sized) });
  const probeTag = { ...anklet.tags.find((t) => t.tag === '2c4r')!, tag: 'mount-probe', files: { ...runnerFiles, 'actions-runner/run.sh': { content: MOUNT_PROBE_RUN_SH, mode: 0o755 } } };
  // Latest (last) stays 2c4r.
  anklet.tags.splice(anklet.tags.length - 1, 0, probeTag);
  const second = simulatedTemplate({ uuid: TEMPLATE2, name: 'vanilla', tags: [{ tag: TEMPLATE2_TAG, cpuCores: 2, ramGiB: 4 }] });
  return [anklet, second];
}

let unique = 0;
/** `runs-on` labels: the template (if any), the tag (if any) and a label unique to the job. */
export function labels(template: string | undefined, tag: string | undefined, name: string): string[] {
  return [...(template ? [`anka-template:${template}`] : []), ...(tag ? [`anka-template-tag:${tag}`] : []), `${name}-${Date.now().toString(36)}-${unique++}`];
}

/** Every JSON log line of a host, over all its processes. */
export const logsOf = (host: FleetHost): LogLine[] => host.runs.flatMap((r) => r.lines);

/** Log lines of a host with this `msg` (and, when given, for this job). */
export function linesWith(host: FleetHost, text: string, jobId?: number): LogLine[] {
  return logsOf(host).filter((l) => l.msg === text && (jobId === undefined || Number(l.workflowJobID) === jobId));
}

/** Polls `check` every 50 ms until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits for a log line of `host` with `msg` (and job). */
export function waitForLine(host: FleetHost, text: string, jobId?: number, timeoutMs = 60_000): Promise<LogLine> {
  return until(`"${text}" in ${host.name}'s log${jobId ? ` for job ${jobId}` : ''}`, () => linesWith(host, text, jobId)[0], timeoutMs);
}

/** The host's Prometheus text. */
export async function metricsOf(host: FleetHost): Promise<string> {
  const res = await fetch(`${host.metricsUrl}metrics`);
  if (!res.ok) throw new Error(`${host.metricsUrl}metrics answered ${res.status}`);
  return res.text();
}

/** `anklet_plugin_status` of a plugin: the status whose series is 1. */
export async function pluginStatus(host: FleetHost, plugin: string): Promise<string | undefined> {
  const text = await metricsOf(host);
  for (const line of text.split('\n')) {
    if (!line.startsWith('anklet_plugin_status{') || !line.endsWith(' 1')) continue;
    if (!line.includes(`plugin="${plugin}"`)) continue;
    return /status="([^"]+)"/.exec(line)?.[1];
  }
  return undefined;
}

/** Sum of a metric's samples whose labels contain every `key="value"` given. */
export async function metricSum(host: FleetHost, metric: string, labelsWanted: Record<string, string> = {}): Promise<number> {
  const text = await metricsOf(host);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    if (Object.entries(labelsWanted).some(([k, v]) => !line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * Waits until every plugin of the hosts is at rest in its host's /metrics: handlers `idle`,
 * receivers `running` (the status a listening receiver keeps; anklet's supervisor never shows a
 * receiver as idle).
 */
export async function waitForIdle(fleet: Fleet, hostNames: string[]): Promise<void> {
  for (const name of hostNames) {
    const host = fleet.host(name);
    const plugins = [...host.handlers.map((p) => [p, 'idle'] as const), ...(host.receiver ? [[`${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_RECEIVER`, 'running'] as const] : [])];
    for (const [plugin, rest] of plugins) await until(`${plugin} ${rest} in ${name}'s /metrics`, async () => (await pluginStatus(host, plugin)) === rest, 15_000);
  }
}

/**
 * The hosts' log lines from `since` (ms) on, one short line each (time, host, plugin, msg, job and
 * the fields that explain it), for a failing test's output; only the lines of `jobIds` when given.
 */
export function logDigest(fleet: Fleet, since: number, jobIds?: ReadonlySet<number>): string {
  const rows: Array<[number, string]> = [];
  const skip = new Set(['time', 'level', 'msg', 'attributes', 'workflowJobID', 'pid', 'hostname', 'plugin', 'owner', 'repo', 'ankaTemplate', 'ankaTemplateTag', 'workflowName', 'workflowJobURL', 'workflowJobName', 'workflowJobRunID', 'ownerID']);
  for (const host of fleet.hosts) {
    for (const line of logsOf(host)) {
      const t = Date.parse(String(line.time));
      if (!(t >= since)) continue;
      if (jobIds && !jobIds.has(Number(line.workflowJobID))) continue;
      const name = (line.attributes as { name?: string } | undefined)?.name ?? '';
      const extra = Object.entries(line)
        .filter(([k, v]) => !skip.has(k) && v !== undefined && v !== '' && typeof v !== 'object')
        .map(([k, v]) => `${k}=${String(v).slice(0, 80)}`)
        .join(' ');
      rows.push([t, `${new Date(t).toISOString().slice(14, 23)} ${host.name} ${name} ${String(line.level ?? '')} ${String(line.msg)}${line.workflowJobID ? ` job=${String(line.workflowJobID)}` : ''} ${extra}`]);
    }
  }
  return rows
    .sort((a, b) => a[0] - b[0])
    .map((r) => r[1])
    .join('\n');
}

/** Registers an afterEach that prints the fleet's log digest of a failed test. */
export function dumpLogsOnFailure(fleetOf: () => Fleet | undefined): void {
  let started = Date.now();
  beforeEach(() => {
    started = Date.now();
  });
  afterEach((ctx) => {
    const fleet = fleetOf();
    if (fleet && ctx.task.result?.state === 'fail') console.log(`--- fleet log of "${ctx.task.name}" ---\n${logDigest(fleet, started - 1000)}`);
  });
}

/** The `workflow_job` of a github-sim delivery record. */
export function deliveredJob(d: Record<string, unknown>): { id: number; runner_name: string | null } {
  const payload = (d.request as { payload?: unknown } | undefined)?.payload;
  const parsed = (typeof payload === 'string' ? JSON.parse(payload) : payload) as { workflow_job: { id: number; runner_name: string | null } };
  return parsed.workflow_job;
}

/** Anka commands a host ran, e.g. `calls(host, 'clone')`. */
export function ankaCalls(host: FleetHost, command: string): string[][] {
  return host.anka.calls().map((c) => c.argv.filter((a) => a !== '-j')).filter((argv) => argv[0] === command);
}
