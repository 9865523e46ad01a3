import type { JobStore, Logger, PluginMetrics } from '@anklet/core';
import { hookPathOf, parseAnkaLabels, type AnkletOctokit, type GitHubScope, type HookDelivery, type HookDeliveryDetail, type WorkflowJobEvent } from '@anklet/github';

/** What one redelivery pass did. */
export interface RedeliveryReport {
  readonly listed: number;
  readonly candidates: number;
  readonly redelivered: number;
  readonly skipped: number;
  readonly apiCalls: number;
  /** True when the pass stopped because it reached `maxApiCalls`. */
  readonly truncated: boolean;
}

export interface RedelivererOptions {
  readonly octokit: AnkletOctokit;
  readonly scope: GitHubScope;
  readonly hookId: number;
  readonly hours: number;
  readonly queue: string;
  readonly store: JobStore;
  readonly logger: Logger;
  readonly metrics?: PluginMetrics | undefined;
  readonly maxApiCalls: number;
}

const ok = (status: number | null) => status !== null && status >= 200 && status < 300;
// Give up on a delivery after this many redelivery requests from this process (it keeps failing).
const MAX_REQUESTS_PER_DELIVERY = 3;

/** The `cursor` of the `rel="next"` link, if any. */
function nextCursor(link: string | undefined): string | null {
  const match = /<([^>]+)>\s*;\s*rel="next"/.exec(link ?? '');
  if (!match) return null;
  try {
    return new URL(match[1]!).searchParams.get('cursor');
  } catch {
    return null;
  }
}

/**
 * Finds failed `workflow_job` deliveries of the hook within the window and asks GitHub to send them
 * again, skipping what the store already has. Run by one receiver in the fleet (the leader).
 *
 * Compared with Go: it runs periodically, not only at start-up; it checks the store instead of
 * Redis lists; it skips deliveries of jobs without anka labels (they would be ignored anyway), and
 * every pass is bounded by `maxApiCalls`.
 */
export class Redeliverer {
  readonly #o: RedelivererOptions;
  readonly #requested = new Map<number, number>();
  readonly #hookPath: string;

  constructor(options: RedelivererOptions) {
    const hookPath = hookPathOf(options.scope);
    if (!hookPath) throw new Error('enterprise scope has no hook delivery API');
    this.#o = options;
    this.#hookPath = `${hookPath}/hooks/${options.hookId}/deliveries`;
  }

  async pass(): Promise<RedeliveryReport> {
    const { octokit, logger, metrics, store, queue } = this.#o;
    let apiCalls = 0;
    const budgetLeft = () => apiCalls < this.#o.maxApiCalls;
    const call = async <T>(route: string, params: Record<string, unknown> = {}): Promise<{ data: T; headers: Record<string, string | number | undefined> }> => {
      apiCalls += 1;
      metrics?.count('github_redelivery_api_calls');
      const response = await octokit.request(route, params);
      return { data: response.data as T, headers: response.headers as Record<string, string | number | undefined> };
    };

    const cutoff = Date.now() - this.#o.hours * 3600_000;
    logger.info(`listing hook deliveries for the last ${this.#o.hours} hours to see if any need redelivery`, { hook_id: this.#o.hookId });
    const kept: HookDelivery[] = [];
    let cursor: string | null = null;
    let truncated = false;
    listing: for (;;) {
      if (!budgetLeft()) {
        truncated = true;
        break;
      }
      const page: { data: HookDelivery[]; headers: Record<string, string | number | undefined> } = await call<HookDelivery[]>(`GET ${this.#hookPath}`, {
        per_page: 100,
        ...(cursor ? { cursor } : {}),
      });
      for (const delivery of page.data) {
        // Newest first: the first one older than the window ends the walk.
        if (Date.parse(delivery.delivered_at) < cutoff) break listing;
        if (delivery.action === null || delivery.event !== 'workflow_job') continue; // pings and other events
        kept.push(delivery);
      }
      cursor = nextCursor(page.headers.link as string | undefined);
      if (!cursor) break;
    }
    logger.info('finished fetching hook deliveries', { api_calls_made: apiCalls, total_deliveries_found: kept.length });

    const candidates = kept
      .filter(
        (d) =>
          d.status_code !== null &&
          !ok(d.status_code) &&
          !d.redelivery &&
          !kept.some((r) => r.id !== d.id && r.guid === d.guid && ok(r.status_code) && Date.parse(r.delivered_at) >= Date.parse(d.delivered_at)),
      )
      .reverse(); // oldest first
    logger.info('processing hooks scheduled for redelivery', { total_to_redeliver: candidates.length });

    const details = new Map<number, HookDeliveryDetail>();
    const detail = async (id: number): Promise<HookDeliveryDetail> => {
      let found = details.get(id);
      if (!found) {
        found = (await call<HookDeliveryDetail>(`GET ${this.#hookPath}/{delivery_id}`, { delivery_id: id })).data;
        details.set(id, found);
      }
      return found;
    };
    const payloadOf = (d: HookDeliveryDetail): WorkflowJobEvent | null => {
      const raw = typeof d.request?.payload === 'string' ? (JSON.parse(d.request.payload) as unknown) : d.request?.payload;
      const event = raw as WorkflowJobEvent | null;
      return event && typeof event === 'object' && Number.isSafeInteger(event.workflow_job?.id) ? event : null;
    };

    let redelivered = 0;
    let skipped = 0;
    for (const candidate of candidates) {
      const skip = (why: string, extra: Record<string, unknown> = {}) => {
        skipped += 1;
        logger.debug(`not redelivering: ${why}`, { delivery_id: candidate.id, action: candidate.action, ...extra });
      };
      if ((this.#requested.get(candidate.id) ?? 0) >= MAX_REQUESTS_PER_DELIVERY) {
        skip('redelivery already requested several times');
        continue;
      }
      if (apiCalls + 2 > this.#o.maxApiCalls) {
        truncated = true;
        break;
      }
      const event = payloadOf(await detail(candidate.id));
      if (!event) {
        logger.warn('WorkflowJob or WorkflowJob.ID is nil', { delivery_id: candidate.id });
        skipped += 1;
        continue;
      }
      const jobId = event.workflow_job.id;
      if (!parseAnkaLabels(event.workflow_job.labels).isAnkaJob) {
        skip('no anka-template label', { workflow_job_id: jobId });
        continue;
      }
      const stored = await store.get(queue, String(jobId));
      if (candidate.action === 'queued') {
        if (stored) {
          skip('job already stored', { workflow_job_id: jobId });
          continue;
        }
        // A later completed delivery of the same job means it already ran elsewhere or was cancelled.
        let finished = false;
        for (const later of kept) {
          if (later.action !== 'completed' || later.repository_id !== candidate.repository_id) continue;
          if (Date.parse(later.delivered_at) < Date.parse(candidate.delivered_at)) continue;
          if (!budgetLeft()) break;
          if (payloadOf(await detail(later.id))?.workflow_job.id === jobId) {
            finished = true;
            break;
          }
        }
        if (finished) {
          skip('job already completed', { workflow_job_id: jobId });
          continue;
        }
      } else if (candidate.action === 'in_progress' || candidate.action === 'completed') {
        if (!stored) {
          skip('job not in the store', { workflow_job_id: jobId });
          continue;
        }
        if (stored.events[candidate.action]) {
          skip(`${candidate.action} already recorded`, { workflow_job_id: jobId });
          continue;
        }
      } else {
        skip(`action ${candidate.action}`);
        continue;
      }
      if (!budgetLeft()) {
        truncated = true;
        break;
      }
      logger.info('redelivering hook', {
        hook_id: this.#o.hookId,
        delivery_id: candidate.id,
        workflow_job_id: jobId,
        action: candidate.action,
        original_status_code: candidate.status_code,
      });
      this.#requested.set(candidate.id, (this.#requested.get(candidate.id) ?? 0) + 1);
      try {
        await call(`POST ${this.#hookPath}/{delivery_id}/attempts`, { delivery_id: candidate.id });
        redelivered += 1;
        metrics?.count('github_webhook_redeliveries');
        logger.info('hook redelivery requested successfully', { delivery_id: candidate.id, workflow_job_id: jobId });
      } catch (error) {
        // As in Go, a refused redelivery is not fatal: the next pass tries again.
        logger.warn('hook redelivery request failed', { delivery_id: candidate.id, error: (error as Error).message });
      }
    }
    const report = { listed: kept.length, candidates: candidates.length, redelivered, skipped, apiCalls, truncated };
    metrics?.gauge('github_redelivery_last_pass_api_calls', apiCalls);
    metrics?.count('github_redelivery_passes');
    logger.info('finished processing hooks for redelivery', { total_hooks_checked: candidates.length, api_calls_made: apiCalls, redelivered, skipped, truncated });
    return report;
  }
}
