/**
 * The Go anklet handler's pick-up loop, replayed against a real Redis for bench:fleet, so that the
 * Go baseline is measured in the same run as ours rather than computed. What is replayed (reference
 * go-anklet-core.md §3.6, go-anklet-handler.md §3.2, §4.1–§4.6, §2.1–§2.3), per host:
 *
 *   - two handler loops sharing the host's `QueueTargetIndex` and the `Preparing` flags;
 *   - each loop: while a sibling handler is `Preparing`, sleep 3 s (§3.2 step 2); then one Run:
 *     `Preparing = true`; the watcher starts, the Run sleeps 1 s and waits for the watcher's first
 *     pass (§4.1 step 6: one `LINDEX` of the plugin queue); `LINDEX pluginQueue -1` (§4.2);
 *     `LLEN paused` (§4.3); `LLEN main`, index reset when past the end, `LRANGE main <index> -1`,
 *     take the first element, `LREM main 1 <element>` (§4.4, claim = LREM returned 1);
 *     `RPUSH pluginQueue <element>` (§4.5);
 *   - nothing claimed: the index goes back to 0 and the Run ends; then `sleep_interval` (§3.6).
 *
 * Not replayed (all of it would only make Go slower): the per-Run GitHub client set-up, the
 * `anka list` capacity check, the sizing and template checks, the VM. `Preparing` is cleared at
 * the claim (Go keeps it until the VM exists). A claimed job is held for as long as the caller
 * says (the same time our handler held the same job), then its plugin queue is emptied and the Run
 * ends. The records are the Go `QueueJob` JSON (§2.2); the receiver's `RPUSH` is done by the caller.
 */
import type { Redis } from 'ioredis';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** The Go key of a queue (§2.1). */
export const goQueueKey = (queueOwner: string) => `anklet/jobs/github/queued/${queueOwner}`;

/** A Go `QueueJob` record (§2.2) for a queued job of `owner/app`. */
export function goQueueJob(id: number, owner: string): string {
  return JSON.stringify({
    type: 'WorkflowJobPayload',
    workflow_job: {
      id,
      name: `job-${id}`,
      run_id: id,
      status: 'queued',
      conclusion: null,
      started_at: new Date().toISOString(),
      completed_at: null,
      labels: [`${id}-0`, 'anka-template:c0847bc9-5d2d-4dbc-ba6a-240f7ff08032', 'anka-template-tag:1c2r'],
      html_url: `https://github.com/${owner}/app/actions/runs/${id}/job/${id}`,
      workflow_name: 'bench',
    },
    anka_vm: { name: '', cpu_cores: 0, ram_size: 0 },
    repository: { name: 'app', owner, visibility: 'private', private: true },
    action: 'queued',
    paused_on: '',
    attempts: 0,
  });
}

export interface GoClaim {
  readonly jobId: number;
  /** `Date.now()` when `LREM` answered 1. */
  readonly at: number;
  readonly handler: string;
}

export interface GoHostOptions {
  readonly redis: Redis;
  /** Queue owner: the list is `anklet/jobs/github/queued/<queueOwner>`. */
  readonly queueOwner: string;
  readonly sleepIntervalSeconds: number;
  readonly handlers?: number;
  /** Called at each claim; the job is held (the handler busy) until the promise settles. */
  readonly onClaim: (claim: GoClaim) => Promise<void>;
}

/** A replayed Go host: its handler loops run until `stop()`. */
export function startGoHost(options: GoHostOptions): { stop(): Promise<void> } {
  const { redis, queueOwner } = options;
  const main = goQueueKey(queueOwner);
  const paused = `anklet/jobs/github/paused/${queueOwner}`;
  const stopping = new AbortController();
  const signal = stopping.signal;
  const names = Array.from({ length: options.handlers ?? 2 }, (_, i) => `GO_${queueOwner.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_HANDLER${i + 1}`);
  const preparing = new Map(names.map((n) => [n, false]));
  // Host-wide, as in Go (§4.6).
  let queueTargetIndex = 0;

  async function run(name: string): Promise<void> {
    const pluginQueue = `${main}/{${name}}`;
    preparing.set(name, true);
    try {
      // The watcher's first pass, after the Run's 1-s sleep (§4.1 step 6, §5.4 step 3).
      await sleep(1000, signal);
      if (signal.aborted) return;
      await redis.lindex(pluginQueue, 0);
      await redis.lindex(pluginQueue, -1);
      await redis.llen(paused);
      const length = await redis.llen(main);
      if (queueTargetIndex > length) queueTargetIndex = 0;
      const [element] = await redis.lrange(main, queueTargetIndex, -1);
      const removed = element === undefined ? 0 : await redis.lrem(main, 1, element);
      if (element === undefined || removed !== 1) {
        queueTargetIndex = 0;
        return;
      }
      const at = Date.now();
      await redis.rpush(pluginQueue, element);
      preparing.set(name, false);
      const jobId = (JSON.parse(element) as { workflow_job: { id: number } }).workflow_job.id;
      await options.onClaim({ jobId, at, handler: name });
      await redis.del(pluginQueue);
    } finally {
      preparing.set(name, false);
    }
  }

  async function loop(name: string): Promise<void> {
    while (!signal.aborted) {
      // One handler per host prepares at a time; siblings wait in 3-s steps (§3.2 step 2).
      while (!signal.aborted && names.some((other) => other !== name && preparing.get(other))) await sleep(3000, signal);
      if (signal.aborted) return;
      await run(name);
      await sleep(options.sleepIntervalSeconds * 1000, signal);
    }
  }

  const loops = names.map((name) => loop(name));
  return {
    async stop() {
      stopping.abort();
      await Promise.allSettled(loops);
    },
  };
}
