import type { ClaimAffinity, HandlerContext, HostCapacity, JobLease, LeftForAffinity } from '@anklet/core';
import { describeError } from './github-api.js';

/** How often a host's handlers publish its capacity record (templates held, free slots). */
export const CAPACITY_INTERVAL_MS = 1_000;
/** How long a capacity record lasts unless written again: a dead host stops attracting jobs after it. */
export const CAPACITY_TTL_MS = 5_000;
/** Jobs remembered as left (for the counters and the timeline): at most this many, this long. */
const LEFT_MEMORY = 1_000;
const LEFT_MEMORY_MS = 10 * 60_000;

/**
 * Per host id, the handlers of this process and those of them that hold a job. A host can take as
 * many new jobs as it has both a free VM slot and an idle handler; the VM slot is only taken once
 * the template is there, so the slots alone would call a host free while its handlers pull.
 */
const hostHandlers = new Map<string, HostHandlers>();

interface HostHandlers {
  readonly all: Set<symbol>;
  readonly busy: Set<symbol>;
  /** Job id -> when a handler of this host first left it (so it is counted and noted once per host). */
  readonly left: Map<string, number>;
}

/**
 * Template-affinity scheduling for one handler (issue #19): it publishes what its host holds and
 * how many VM slots are free, and gives each claim the affinity part that makes it leave a young
 * job to a host that holds the job's template (see `ClaimAffinity`). Each job left is counted,
 * logged and written to the job's timeline once per host; a job this host left and later takes
 * itself (the grace ran out: the holder did not take it) is counted as a grace expiry.
 */
export interface Affinity {
  /** The affinity part of the next claim, or undefined when affinity is off (grace 0, or a store without capacity records). */
  claimAffinity(): ClaimAffinity | undefined;
  /** Milliseconds until the grace of a job the last claim left ends (the handler looks again then), or undefined. */
  retryInMs(): number | undefined;
  /** Tells affinity this handler claimed `lease` (counts a grace expiry; republishes the free slots). */
  claimed(lease: JobLease): void;
  /** Tells affinity this handler is done with the job it claimed (republishes the free slots). */
  released(): void;
  stop(): void;
}

export function startAffinity(ctx: HandlerContext<unknown>, queue: string, graceSeconds: number): Affinity {
  const store = ctx.store;
  const hostId = ctx.host.hostId ?? ctx.host.hostName;
  const graceMs = Math.round(graceSeconds * 1000);
  const enabled = graceMs > 0 && typeof store.putHostCapacity === 'function' && typeof store.listHostCapacity === 'function';
  const me = Symbol(ctx.name);
  const handlers = hostHandlers.get(hostId) ?? { all: new Set<symbol>(), busy: new Set<symbol>(), left: new Map<string, number>() };
  const left = handlers.left;
  hostHandlers.set(hostId, handlers);
  handlers.all.add(me);
  let held: ReadonlyArray<string> = [];
  let lastRetryMs: number | undefined;
  let publishing = false;
  let again = false;

  async function publish(): Promise<void> {
    if (!enabled || ctx.signal.aborted) return;
    if (publishing) {
      again = true;
      return;
    }
    publishing = true;
    try {
      do {
        again = false;
        const templates = (await ctx.anka.heldTemplates?.()) ?? [];
        held = [...new Set(templates.flatMap((t) => [t.uuid, t.name]).filter((n) => n !== ''))];
        // A draining or stopping host takes no job: it must not attract any.
        const open = !ctx.host.isDraining() && ctx.host.shutdownMode() === 'none';
        const free = Math.min(ctx.host.vmSlots.total - ctx.host.vmSlots.used, handlers.all.size - handlers.busy.size);
        const capacity: HostCapacity = { hostId, hostName: ctx.host.hostName, templates: held, freeSlots: open ? Math.max(0, free) : 0 };
        await store.putHostCapacity!(capacity, CAPACITY_TTL_MS);
      } while (again && !ctx.signal.aborted);
    } catch (err) {
      ctx.logger.debug('could not publish the host capacity for template affinity', { error: describeError(err) });
    } finally {
      publishing = false;
    }
  }

  function onLeft(jobs: ReadonlyArray<LeftForAffinity>): void {
    const now = Date.now();
    for (const job of jobs) {
      lastRetryMs = Math.min(lastRetryMs ?? Infinity, Math.max(0, job.remainingMs));
      if (left.has(job.jobId)) continue;
      left.set(job.jobId, now);
      ctx.metrics.count('jobs_left_for_affinity');
      const detail = `left for ${job.hostName} (${job.hostId}), which holds ${job.template}`;
      ctx.logger.info('leaving job for a host that holds its template', { workflowJobID: job.jobId, template: job.template, heldBy: job.hostId, graceRemainingMs: job.remainingMs });
      void store.appendTimeline?.(queue, job.jobId, { type: 'left_for_affinity', by: hostId, detail })?.catch(() => undefined);
    }
    if (left.size > LEFT_MEMORY) {
      for (const [id, at] of left) if (left.size > LEFT_MEMORY || now - at > LEFT_MEMORY_MS) left.delete(id);
    }
  }

  void publish();
  const timer = enabled ? setInterval(() => void publish(), CAPACITY_INTERVAL_MS) : undefined;
  timer?.unref();

  return {
    claimAffinity() {
      if (!enabled) return undefined;
      lastRetryMs = undefined;
      return { hostId, templates: held, graceMs, onLeft };
    },
    retryInMs: () => lastRetryMs,
    claimed(lease) {
      handlers.busy.add(me);
      if (!enabled) return;
      const template = lease.job.template;
      if (left.delete(lease.job.id) && template && !held.includes(template)) {
        ctx.metrics.count('affinity_grace_expired');
        ctx.logger.info('took a job left for a host that holds its template: the grace ran out', { workflowJobID: lease.job.id, template });
      }
      void publish();
    },
    released() {
      handlers.busy.delete(me);
      void publish();
    },
    stop() {
      if (timer) clearInterval(timer);
      handlers.all.delete(me);
      handlers.busy.delete(me);
    },
  };
}
