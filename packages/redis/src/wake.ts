import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '@anklet/core';

/**
 * Turns pub/sub messages into resolved waits. One subscriber connection per store, opened on the
 * first wait; a channel stays subscribed once asked for. A message that arrives while nobody waits
 * is remembered, so a wait that starts right after a fruitless claim does not miss the enqueue that
 * happened in between.
 */
export class Waker {
  private subscriber: Redis | Cluster | undefined;
  private readonly subscribed = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly pending = new Set<string>();
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

  wait(channel: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    if (this.pending.delete(channel)) return Promise.resolve();
    void this.subscribe(channel);
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(channel);
      if (!set) {
        set = new Set();
        this.waiters.set(channel, set);
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
      this.subscriber.on('message', (ch: string) => this.notify(ch));
    }
    const done = this.subscriber.subscribe(channel).then(
      // An enqueue may have happened before the subscription took effect: wake the first waiters
      // so that they look once more (a wait "may" find work; a spurious wake costs one claim).
      () => this.notify(channel),
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
