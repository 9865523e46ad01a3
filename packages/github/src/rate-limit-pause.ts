import type { Logger, PluginMetrics, PluginStatus } from '@anklet/core';

/** Where a rate-limit pause reports itself. All optional. */
export interface PauseReporting {
  readonly logger?: Logger | undefined;
  readonly metrics?: PluginMetrics | undefined;
  /** Status to set when a pause ends (default `running`). */
  readonly resumeStatus?: (() => PluginStatus) | undefined;
  /** Aborts a pause (the caller gets an abort error). */
  readonly signal?: AbortSignal | undefined;
}

/** How often a long pause says it is still waiting. */
const STILL_PAUSED_EVERY_MS = 30_000;

/** Resolves after `ms`, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Pauses the caller until GitHub's rate-limit reset (epoch seconds) plus one second, with the
 * plugin status `limit_paused` meanwhile. Logs with the Go messages so existing alerts keep working.
 */
export async function pauseUntilReset(resetEpochSeconds: number, reporting: PauseReporting, why: string): Promise<void> {
  const until = resetEpochSeconds * 1000 + 1000;
  const resetAt = new Date(resetEpochSeconds * 1000).toISOString();
  const total = Math.max(0, until - Date.now());
  reporting.logger?.warn('GitHub API rate limit exceeded, pausing until reset', { resetAt, sleepDuration: `${Math.ceil(total / 1000)}s`, reason: why });
  reporting.metrics?.setStatus('limit_paused');
  reporting.metrics?.count('github_rate_limit_pauses');
  reporting.logger?.info('GitHub API rate limit pause started', { resetAt });
  try {
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(left, STILL_PAUSED_EVERY_MS), reporting.signal);
      if (until - Date.now() > 0) reporting.logger?.info('still paused for GitHub API rate limit', { resetAt });
    }
  } finally {
    reporting.metrics?.setStatus(reporting.resumeStatus?.() ?? 'running');
  }
  reporting.logger?.info('GitHub API rate limit pause ended', { resetAt });
}
