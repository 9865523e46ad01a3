import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '@anklet/core';

/**
 * Turns pub/sub messages into resolved waits. One subscriber connection per store, opened on the
 * first wait; a channel stays subscribed once asked for. A message that arrives while nobody waits
 * is remembered, so a wait that starts right after a fruitless claim does not miss the enqueue that
 * happened in between.
 */
/** How long an event nobody waited for still wakes the next wait for its job. */
const EVENT_LATCH_MS = 30_000;

const eventKey = (channel: string, jobId: string): string => `${channel}\n${jobId}`;

export class Waker {
  private subscriber: Redis | Cluster | undefined;
  private readonly subscribed = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly pending = new Set<string>();
  /** Job events that came while nobody waited for them, with when (kept {@link EVENT_LATCH_MS}). */
  private readonly latched = new Map<string, number>();
  /** Channels whose messages name a job (`<channel>\n<job id>` wakes a {@link Waker.waitEvent}). */
  private readonly eventChannels = new Set<string>();
  private closed = false;

  constructor(
    /** Opens the subscriber connection; undefined for in-process use (only {@link Waker.notify} wakes). */
    private readonly open: (() => Redis | Cluster) | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** Marks `channel` as having work (also used in process, without Redis, by the publisher). */
  notify(channel: string): void {
    const set = this.waiters.get(channel);
    if (this.closed) return;
    if (!set || set.size === 0) {
      this.pending.add(channel);
      return;
    }
    this.waiters.delete(channel);
    for (const wake of set) wake();
  }

  /** Marks an event of job `jobId` on `channel` (called by the publisher in process, or by a message). */
  notifyEvent(channel: string, jobId: string): void {
    if (this.closed) return;
    const key = eventKey(channel, jobId);
    const set = this.waiters.get(key);
    if (!set || set.size === 0) {
      // Remember it briefly: the watcher may be between reading the job and waiting.
      const now = Date.now();
      if (this.latched.size >= 256) for (const [k, at] of this.latched) if (now - at > EVENT_LATCH_MS) this.latched.delete(k);
      this.latched.set(key, now);
      return;
    }
    this.waiters.delete(key);
    for (const wake of set) wake();
  }

  /** Waits for an event of one job, published on `channel` with the job id as message. */
  waitEvent(channel: string, jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    const key = eventKey(channel, jobId);
    const at = this.latched.get(key);
    if (at !== undefined) {
      this.latched.delete(key);
      if (Date.now() - at <= EVENT_LATCH_MS) return Promise.resolve();
    }
    this.eventChannels.add(channel);
    void this.subscribe(channel);
    return this.park(key, timeoutMs, signal);
  }

  wait(channel: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    if (this.pending.delete(channel)) return Promise.resolve();
    void this.subscribe(channel);
    return this.park(channel, timeoutMs, signal);
  }

  private park(key: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  private subscribe(channel: string): Promise<void> {
    const existing = this.subscribed.get(channel);
    if (existing) return existing;
    if (!this.open) return Promise.resolve();
    if (!this.subscriber) {
      this.subscriber = this.open();
      this.subscriber.on('message', (ch: string, message: string) => {
        if (this.eventChannels.has(ch)) this.notifyEvent(ch, message);
        else this.notify(ch);
      });
    }
    const done = this.subscriber.subscribe(channel).then(
      // An enqueue may have happened before the subscription took effect: wake the first waiters
      // so that they look once more (a wait "may" find work; a spurious wake costs one claim).
      () => {
        if (!this.eventChannels.has(channel)) return this.notify(channel);
        // Events of any job may have been missed: every waiter on this channel looks again.
        for (const key of [...this.waiters.keys()]) {
          if (key.startsWith(`${channel}\n`)) this.notifyEvent(channel, key.slice(channel.length + 1));
        }
      },
      (error: unknown) => {
        // Polling (the caller's timeout) still works; try again on the next wait.
        this.subscribed.delete(channel);
        this.logger?.debug('job store wake-up subscription failed; falling back to polling', { error: (error as Error).message });
      },
    );
    this.subscribed.set(channel, done);
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [channel, set] of this.waiters) {
      this.waiters.delete(channel);
      for (const wake of set) wake();
    }
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) sub.disconnect();
  }
}
