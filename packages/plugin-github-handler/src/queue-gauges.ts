import type { HandlerContext, QueueStats } from '@anklet/core';
import { describeError } from './github-api.js';

/** How often a handler reads its queue's figures from the store for the queue gauges. */
export const QUEUE_GAUGES_INTERVAL_MS = 5_000;

/** Sets the queue gauges from one reading of the store. */
export function publishQueueStats(ctx: HandlerContext<unknown>, queue: string, stats: QueueStats): void {
  ctx.metrics.gauge('queue_depth', stats.queued + stats.handedOff + stats.delayed, { queue });
  ctx.metrics.gauge('queue_oldest_job_age_seconds', Math.max(0, stats.oldestQueuedAgeMs) / 1000, { queue });
  ctx.metrics.gauge('store_quarantined', stats.quarantined, { queue });
}

export interface QueueGauges {
  stop(): void;
}

/**
 * Reads the queue's figures from the store now and every {@link QUEUE_GAUGES_INTERVAL_MS}, on a
 * timer of its own: the gauges stay current while every handler of the host is busy with a job
 * (the idle loop alone would freeze them then). A failed read keeps the last values and is logged
 * at debug level (the store's own errors are reported where work depends on them).
 */
export function startQueueGauges(ctx: HandlerContext<unknown>, queue: string, intervalMs = QUEUE_GAUGES_INTERVAL_MS): QueueGauges {
  let reading = false;
  const tick = async () => {
    if (reading || ctx.signal.aborted) return;
    reading = true;
    try {
      publishQueueStats(ctx, queue, await ctx.store.stats(queue));
    } catch (err) {
      ctx.logger.debug('could not read the queue figures for the metrics', { queue, error: describeError(err) });
    } finally {
      reading = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
