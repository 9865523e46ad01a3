import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '@anklet/core';

/** How long an event nobody waited for still wakes the next wait for its job. */
const EVENT_LATCH_MS = 30_000;
/** Most latched events kept (older ones are dropped first). */
const EVENT_LATCH_MAX = 256;

const eventKey = (channel: string, jobId: string): string => `${channel}\n${jobId}`;

/** Registers a waiter token as idle in the store; false when the caller should look again at once. */
export type RegisterIdle = (token: string, timeoutMs: number) => Promise<boolean>;
/** Takes a waiter token off the idle set (its wait ended without a wake). */
export type UnregisterIdle = (token: string) => void;

interface TokenWaiter {
  readonly channel: string;
  /** Ends the wait; `consumed`: the store already took the token off its idle set. */
  readonly end: (consumed: boolean) => void;
}

/**
 * Turns wake-ups into resolved waits.
 *
 * Work (targeted): a waiter gets a token, registered in the store's idle set; an enqueue takes one
 * token off that set and publishes it, so one enqueue wakes one waiter in the whole fleet. A token
 * of this process whose wait already ended is passed to another waiter of the same queue here.
 * In process (the embedded store), {@link Waker.notify} wakes one waiter, or the next wait.
 *
 * Events (per job): a recorded event publishes the job id; waiters of that job wake. An event that
 * arrives while nobody waits is latched for a short while.
 *
 * Every map entry is removed when its wait ends: nothing is kept per job beyond its wait, except a
 * bounded, expiring latch of recent events.
 */
export class Waker {
  private subscriber: Redis | Cluster | undefined;
  private readonly subscribed = new Map<string, Promise<boolean>>();
  /** In-process waits and event waits, by channel (or `<channel>\n<job id>`). */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Targeted work waits, by token (insertion order: oldest first). */
  private readonly tokens = new Map<string, TokenWaiter>();
  private readonly pending = new Set<string>();
  private readonly latched = new Map<string, number>();
  private readonly eventChannels = new Set<string>();
  private readonly id = randomBytes(6).toString('hex');
  private counter = 0;
  private closed = false;
  /** Wake-ups this process acted on (a waiter resolved by a message or a notify), for tests and metrics. */
  wakeups = 0;

  constructor(
    /** Opens the subscriber connection; undefined for in-process use (only {@link Waker.notify} wakes). */
    private readonly open: (() => Redis | Cluster) | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** In process: marks `channel` as having work for `count` waiters (the rest find it on their next wait). */
  notify(channel: string, count = 1): void {
    if (this.closed) return;
    for (let i = 0; i < count; i += 1) {
      const set = this.waiters.get(channel);
      const first = set?.values().next().value;
      if (!first) {
        this.pending.add(channel);
        return;
      }
      this.wakeups += 1;
      first();
    }
  }

  /** Marks an event of job `jobId` on `channel` (called by the publisher in process, or by a message). */
  notifyEvent(channel: string, jobId: string): void {
    if (this.closed) return;
    const key = eventKey(channel, jobId);
    const set = this.waiters.get(key);
    if (!set || set.size === 0) {
      // Remember it briefly: the watcher may be between reading the job and waiting.
      const now = Date.now();
      for (const [k, at] of this.latched) if (now - at > EVENT_LATCH_MS || this.latched.size >= EVENT_LATCH_MAX) this.latched.delete(k);
      this.latched.set(key, now);
      return;
    }
    for (const wake of [...set]) wake();
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

  /** In process: waits for {@link Waker.notify} on `channel`, the timeout or the signal. */
  wait(channel: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    if (this.pending.delete(channel)) return Promise.resolve();
    return this.park(channel, timeoutMs, signal);
  }

  /**
   * Targeted: waits until a message on `channel` names this wait's token, the timeout or the
   * signal. The token is registered (after the subscription took effect, so no wake is missed)
   * with `register`, and taken back with `unregister` when the wait ends otherwise.
   */
  waitTargeted(channel: string, timeoutMs: number, signal: AbortSignal | undefined, register: RegisterIdle, unregister: UnregisterIdle): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.counter += 1;
      const token = `${this.id}:${this.counter.toString(36)}`;
      let registered = false;
      let settled = false;
      const end = (consumed: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.tokens.delete(token);
        if (registered && !consumed) unregister(token);
        resolve();
      };
      const onAbort = (): void => end(false);
      const timer = setTimeout(onAbort, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.tokens.set(token, { channel, end });
      void this.subscribe(channel).then(async (ok) => {
        if (settled || !ok) return;
        try {
          const parked = await register(token, timeoutMs);
          if (settled) {
            if (parked) unregister(token);
          } else if (parked) {
            registered = true;
          } else {
            end(true);
          }
        } catch (error) {
          // The timeout still ends the wait (the polling fallback).
          this.logger?.debug('job store idle registration failed; falling back to polling', { error: (error as Error).message });
        }
      });
    });
  }

  private onWorkMessage(channel: string, token: string): void {
    const waiter = this.tokens.get(token);
    if (waiter) {
      this.wakeups += 1;
      waiter.end(true);
      return;
    }
    if (!token.startsWith(`${this.id}:`)) return; // another process's waiter
    // Ours, but that wait already ended: the job is still there, so another waiter here looks.
    for (const other of this.tokens.values()) {
      if (other.channel !== channel) continue;
      this.wakeups += 1;
      other.end(false);
      return;
    }
  }

  private park(key: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const waiting = set;
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiting.delete(done);
        if (waiting.size === 0 && this.waiters.get(key) === waiting) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
      waiting.add(done);
    });
  }

  /** Subscribes once per channel; resolves false when pub/sub is not available (polling only). */
  private subscribe(channel: string): Promise<boolean> {
    const existing = this.subscribed.get(channel);
    if (existing) return existing;
    if (!this.open) return Promise.resolve(false);
    if (!this.subscriber) {
      this.subscriber = this.open();
      this.subscriber.on('message', (ch: string, message: string) => {
        if (this.closed) return;
        if (this.eventChannels.has(ch)) this.notifyEvent(ch, message);
        else this.onWorkMessage(ch, message);
      });
    }
    const done = this.subscriber.subscribe(channel).then(
      () => {
        // Events of any job may have been missed before the subscription took effect: every
        // waiter on this channel looks again (a spurious wake costs one read).
        if (this.eventChannels.has(channel)) {
          for (const key of [...this.waiters.keys()]) {
            if (key.startsWith(`${channel}\n`)) this.notifyEvent(channel, key.slice(channel.length + 1));
          }
        }
        return true;
      },
      (error: unknown) => {
        // Polling (the caller's timeout) still works; try again on the next wait.
        this.subscribed.delete(channel);
        this.logger?.debug('job store wake-up subscription failed; falling back to polling', { error: (error as Error).message });
        return false;
      },
    );
    this.subscribed.set(channel, done);
    return done;
  }

  /** Waits in progress (for tests: nothing may be left behind per job). */
  get size(): { waiters: number; tokens: number; latched: number } {
    return { waiters: this.waiters.size, tokens: this.tokens.size, latched: this.latched.size };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [key, set] of this.waiters) {
      this.waiters.delete(key);
      for (const wake of [...set]) wake();
    }
    for (const waiter of [...this.tokens.values()]) waiter.end(false);
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) sub.disconnect();
  }
}
