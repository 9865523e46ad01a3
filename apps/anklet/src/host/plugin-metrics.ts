import type { MetricLabels, PluginMetrics, PluginStatus, RunOutcome } from '@anklet/core';

/** The Go anklet's per-plugin metrics record (JSON field names kept for compatibility). */
export interface PluginRecord {
  Name: string;
  PluginName: string;
  OwnerName: string;
  RepoName: string;
  Status: PluginStatus;
  StatusSince: Date;
  LastSuccessfulRun: Date | null;
  LastFailedRun: Date | null;
  LastCanceledRun: Date | null;
  LastSuccessfulRunJobUrl: string;
  LastFailedRunJobUrl: string;
  LastCanceledRunJobUrl: string;
  TotalRanVMs: number;
  TotalSuccessfulRunsSinceStart: number;
  TotalFailedRunsSinceStart: number;
  TotalCanceledRunsSinceStart: number;
}

/**
 * The host's in-memory metrics: the Go fields per plugin and per host, plus named counters, gauges
 * and observations for the Prometheus view. (The HTTP endpoints live in the metrics package.)
 */
export class HostMetrics {
  readonly plugins = new Map<string, PluginRecord>();
  totalRunningVms = 0;
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();
  readonly observations = new Map<string, number[]>();

  /** Registers a plugin (status `idle`) and returns its handle. */
  forPlugin(meta: { name: string; plugin: string; owner: string; repo: string }): PluginMetrics {
    const record: PluginRecord = {
      Name: meta.name,
      PluginName: meta.plugin,
      OwnerName: meta.owner,
      RepoName: meta.repo,
      Status: 'idle',
      StatusSince: new Date(),
      LastSuccessfulRun: null,
      LastFailedRun: null,
      LastCanceledRun: null,
      LastSuccessfulRunJobUrl: '',
      LastFailedRunJobUrl: '',
      LastCanceledRunJobUrl: '',
      TotalRanVMs: 0,
      TotalSuccessfulRunsSinceStart: 0,
      TotalFailedRunsSinceStart: 0,
      TotalCanceledRunsSinceStart: 0,
    };
    this.plugins.set(meta.name, record);
    const key = (name: string, labels?: MetricLabels) =>
      `${name}{${Object.entries({ plugin: meta.name, ...labels })
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')}}`;
    return {
      setStatus: (status) => {
        if (record.Status === status) return;
        record.Status = status;
        record.StatusSince = new Date();
      },
      recordRun: (outcome: RunOutcome, jobUrl = '') => {
        const now = new Date();
        if (outcome === 'success') {
          record.TotalSuccessfulRunsSinceStart += 1;
          record.LastSuccessfulRun = now;
          record.LastSuccessfulRunJobUrl = jobUrl;
        } else if (outcome === 'failure') {
          record.TotalFailedRunsSinceStart += 1;
          record.LastFailedRun = now;
          record.LastFailedRunJobUrl = jobUrl;
        } else {
          record.TotalCanceledRunsSinceStart += 1;
          record.LastCanceledRun = now;
          record.LastCanceledRunJobUrl = jobUrl;
        }
      },
      vmStarted: () => {
        record.TotalRanVMs += 1;
        this.totalRunningVms += 1;
      },
      vmStopped: () => {
        this.totalRunningVms = Math.max(0, this.totalRunningVms - 1);
      },
      count: (name, labels, by = 1) => {
        const k = key(name, labels);
        this.counters.set(k, (this.counters.get(k) ?? 0) + by);
      },
      gauge: (name, value, labels) => {
        this.gauges.set(key(name, labels), value);
      },
      observe: (name, value, labels) => {
        const k = key(name, labels);
        const list = this.observations.get(k) ?? [];
        list.push(value);
        this.observations.set(k, list);
      },
    };
  }
}
