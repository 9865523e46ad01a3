import type { LogFields, Logger } from '@anklet/core';

/** A logger that keeps its lines for assertions. */
export function createMemoryLogger(): Logger & { lines: Array<{ level: string; msg: string; fields?: LogFields | undefined }> } {
  const lines: Array<{ level: string; msg: string; fields?: LogFields | undefined }> = [];
  const at =
    (level: string) =>
    (msg: string, fields?: LogFields): void => {
      lines.push({ level, msg, fields });
    };
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger, addSecret: () => undefined };
  return logger;
}

/** A record exactly as a Go anklet host writes it (reference §6.5), so mixed fleets are tested. */
export function goHostRecord(name: string, lastUpdate: string, status = 'idle'): string {
  return JSON.stringify({
    host_cpu_count: 12,
    host_cpu_usage_percentage: 12.39,
    host_cpu_used_count: 1,
    host_disk_available_bytes: 373588045824,
    host_disk_total_bytes: 994662584320,
    host_disk_usage_percentage: 62.44,
    host_disk_used_bytes: 621074538496,
    host_memory_available_bytes: 14083457024,
    host_memory_total_bytes: 38654705664,
    host_memory_usage_percentage: 63.56,
    host_memory_used_bytes: 24571248640,
    last_update: lastUpdate,
    plugins: [
      {
        LastCanceledRun: '0001-01-01T00:00:00Z',
        LastCanceledRunJobUrl: '',
        LastFailedRun: '0001-01-01T00:00:00Z',
        LastFailedRunJobUrl: '',
        LastSuccessfulRun: '2025-01-07T11:58:02.123456-06:00',
        LastSuccessfulRunJobUrl: 'https://github.com/veertuinc/anklet/actions/runs/1/job/2',
        Name: name,
        OwnerName: 'veertuinc',
        PluginName: 'github',
        RepoName: '',
        Status: status,
        StatusSince: '2025-01-07T11:52:47.5-06:00',
        TotalCanceledRunsSinceStart: 0,
        TotalFailedRunsSinceStart: 0,
        TotalRanVMs: 3,
        TotalSuccessfulRunsSinceStart: 3,
      },
    ],
    total_canceled_runs_since_start: 0,
    total_failed_runs_since_start: 0,
    total_running_vms: 0,
    total_successful_runs_since_start: 3,
  });
}

export { promtoolCheck } from '@anklet/testing';
