/**
 * In-process wake-ups for the embedded store. Every store instance of this process that opened the
 * same file shares one waker (see {@link wakerFor}), so a receiver and its handlers wake each other
 * at once. Another process on the same file is not woken: its waits end at their timeout (the poll
 * fallback), which is what `waitForWork`'s contract allows.
 *
 * An enqueue of n jobs wakes at most n idle waiters, oldest first; when nobody waits, the queue is
 * marked so the next wait returns at once (the handler looked just before the enqueue). No entry
 * is kept for a queue or a job once nobody waits for it.
 */

/** How long an event nobody waited for still wakes the next wait for its job. */
const EVENT_LATCH_MS = 30_000;
/** At most this many unclaimed event marks are kept; older ones are dropped first. */
const EVENT_LATCH_MAX = 1024;

type Wake = () => void;

export class LocalWaker {
  private readonly workWaiters = new Map<string, Set<Wake>>();
  private readonly pending = new Set<string>();
  private readonly eventWaiters = new Map<string, Set<Wake>>();
  private readonly latched = new Map<string, number>();

  /** `count` jobs became claimable in `queue`: wakes that many waiters (Set order is arrival order). */
  notify(queue: string, count = 1): void {
    const set = this.workWaiters.get(queue);
    let left = count;
    if (set) {
      for (const wake of set) {
        if (left <= 0) break;
        wake();
        left -= 1;
      }
    }
    if (left > 0) this.pending.add(queue);
  }

  /** Wakes every waiter of `queue` now (no one later: nothing new became claimable). */
  notifyAll(queue: string): void {
    for (const wake of this.workWaiters.get(queue) ?? []) wake();
  }

  /** An event was recorded for `jobId`: wakes its watchers, or marks it for the next one. */
  notifyEvent(queue: string, jobId: string): void {
    const key = `${queue}\n${jobId}`;
    const set = this.eventWaiters.get(key);
    if (set && set.size > 0) {
      for (const wake of [...set]) wake();
      return;
    }
    // The watcher may be between reading the job and waiting: remember the event briefly.
    this.latched.delete(key);
    this.latched.set(key, Date.now());
    if (this.latched.size > EVENT_LATCH_MAX) {
      const oldest = this.latched.keys().next().value;
      if (oldest !== undefined) this.latched.delete(oldest);
    }
  }

  wait(queue: string, timeoutMs: number, signals: ReadonlyArray<AbortSignal | undefined>): Promise<void> {
    if (signals.some((s) => s?.aborted)) return Promise.resolve();
    if (this.pending.delete(queue)) return Promise.resolve();
    return park(this.workWaiters, queue, timeoutMs, signals);
  }

  waitEvent(queue: string, jobId: string, timeoutMs: number, signals: ReadonlyArray<AbortSignal | undefined>): Promise<void> {
    if (signals.some((s) => s?.aborted)) return Promise.resolve();
    const key = `${queue}\n${jobId}`;
    const at = this.latched.get(key);
    if (at !== undefined) {
      this.latched.delete(key);
      if (Date.now() - at <= EVENT_LATCH_MS) return Promise.resolve();
    }
    return park(this.eventWaiters, key, timeoutMs, signals);
  }
}

/** Waits under `key` until woken, timed out or aborted; the entry goes when its last waiter does. */
function park(map: Map<string, Set<Wake>>, key: string, timeoutMs: number, signals: ReadonlyArray<AbortSignal | undefined>): Promise<void> {
  return new Promise<void>((resolve) => {
    let set = map.get(key);
    if (!set) {
      set = new Set();
      map.set(key, set);
    }
    const waiters = set;
    const done = (): void => {
      clearTimeout(timer);
      for (const s of signals) s?.removeEventListener('abort', done);
      waiters.delete(done);
      if (waiters.size === 0 && map.get(key) === waiters) map.delete(key);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, timeoutMs));
    for (const s of signals) s?.addEventListener('abort', done, { once: true });
    waiters.add(done);
  });
}

const shared = new Map<string, { waker: LocalWaker; users: number }>();

/** The waker shared by this process's stores on `file`; call the returned release on close. */
export function wakerFor(file: string): { waker: LocalWaker; release: () => void } {
  let entry = shared.get(file);
  if (!entry) {
    entry = { waker: new LocalWaker(), users: 0 };
    shared.set(file, entry);
  }
  entry.users += 1;
  const held = entry;
  let released = false;
  return {
    waker: held.waker,
    release: () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users === 0 && shared.get(file) === held) shared.delete(file);
    },
  };
}
