import { ErrorCodes, isAnkletError, type HandlerContext, type LeaderLease, type StoredJob } from '@anklet/core';
import type { HandlerConfig } from './config.js';
import { describeError, statusOf, type GitHubApi } from './github-api.js';

/** What the reaper needs. */
export interface ReaperDeps {
  readonly ctx: HandlerContext<HandlerConfig>;
  readonly api: GitHubApi;
  readonly queue: string;
  /** The leadership's owner: this handler's lease owner (`<name>@<host id>`). */
  readonly owner: string;
}

/** A running reaper; `stop()` ends it and gives up the leadership. */
export interface Reaper {
  stop(): Promise<void>;
}

/**
 * Brings back jobs whose owner died: every `lease_seconds / 3` (at most 30 s) one handler of the
 * queue, the holder of the `reaper-<queue>` leadership, runs `store.reapExpired`. A lease is
 * renewed every third of its length, so a job is back in the queue at most about 1⅓ leases after
 * its owner's last renewal. The other handlers only try to take the leadership (one round trip),
 * and take over within one leadership TTL when the leader dies.
 *
 * Before a job goes back, the runner its dead owner registered is deleted when it is idle (a
 * busy runner may still be running the job in a VM that outlived its handler: the next owner
 * finds the job in progress and waits for it, as for any job given back after it reached its
 * runner). The VM itself is on the dead owner's host, which removes it when it starts again.
 */
export function startReaper({ ctx, api, queue, owner }: ReaperDeps): Reaper {
  const intervalMs = Math.min(30_000, (ctx.config.lease_seconds * 1000) / 3);
  const ttlMs = intervalMs * 3;
  const name = `reaper-${queue}`;
  let leadership: LeaderLease | null = null;
  let running: Promise<void> | undefined;

  async function holdLeadership(): Promise<boolean> {
    if (leadership) {
      try {
        await ctx.store.renewLeadership(leadership, ttlMs);
        return true;
      } catch (err) {
        if (!(isAnkletError(err) && err.code === ErrorCodes.LEASE_LOST)) throw err;
        ctx.logger.info('reaper leadership lost', { queue });
        leadership = null;
      }
    }
    leadership = await ctx.store.acquireLeadership(name, owner, ttlMs);
    if (leadership) ctx.logger.info('reaper leadership taken: returning jobs of dead handlers to the queue', { queue, intervalSeconds: intervalMs / 1000 });
    return leadership !== null;
  }

  async function removeIdleRunner(job: StoredJob): Promise<void> {
    if (!job.runnerId) return;
    try {
      await api.removeRunner(Number(job.runnerId));
      ctx.logger.info('removed runner of a job whose handler died', { workflowJobID: job.id, runnerId: job.runnerId });
    } catch (err) {
      // 422: busy. Anything else: the start-up sweep of its own handler will find it.
      if (statusOf(err) !== 422) ctx.logger.warn('error removing runner of a job whose handler died', { workflowJobID: job.id, runnerId: job.runnerId, error: describeError(err) });
    }
  }

  async function tick(): Promise<void> {
    try {
      if (!(await holdLeadership())) return;
      const result = await ctx.store.reapExpired(queue, {
        decide: async (job) => {
          await removeIdleRunner(job);
          return 'requeue' as const;
        },
      });
      if (result.requeued.length > 0) {
        ctx.logger.warn('jobs of a dead handler returned to the queue', { queue, jobs: result.requeued });
        ctx.metrics.count('jobs_reaped', {}, result.requeued.length);
      }
    } catch (err) {
      ctx.logger.warn('error reaping expired leases', { queue, error: describeError(err) });
    }
  }

  const timer = setInterval(() => {
    running ??= tick().finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      await running;
      if (leadership) await ctx.store.releaseLeadership(leadership).catch(() => undefined);
      leadership = null;
    },
  };
}
