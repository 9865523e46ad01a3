import type { Cluster, Redis } from 'ioredis';
import type { HostSnapshot, HostSnapshotListOptions, Logger } from '@anklet/core';
import { metricsKey, metricsKeyEnding, metricsKeyPattern } from './keys.js';
import type { ScriptRunner } from './scripts.js';

/**
 * The fleet's host index: one sorted set, `<prefix>:metrics:hosts`, of snapshot key endings
 * (`<owner>/<name>`) scored by their last write on the Redis server's clock. The aggregator reads
 * the index and then the snapshots in one MGET, so a scrape costs two round trips whatever else
 * the keyspace holds (the Go aggregator SCANs all of it).
 *
 * The index key is outside `<prefix>/metrics/*` on purpose: a Go aggregator SCANs that pattern and
 * GETs every match, and a sorted set there would break its answer.
 */
export function hostIndexKey(prefix: string): string {
  return `${prefix}:metrics:hosts`;
}

/** How often the fallback for unindexed (Go) hosts scans the keyspace, at most (default 60 s). */
export const UNINDEXED_RESCAN_MS = 60_000;

/** Index entries older than this are pruned on write: the 7-day snapshot TTL hosts use (as Go). */
const INDEX_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;

/** Most keys in one MGET: bounds one reply (500 hosts of ~4 KB is ~2 MB). */
const MGET_CHUNK = 500;

export interface HostIndexOptions {
  readonly client: Redis | Cluster;
  readonly prefix: string;
  readonly run: ScriptRunner;
  /** Wraps each Redis call in the store's retry policy. */
  readonly op: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  readonly logger?: Logger | undefined;
  readonly rescanIntervalMs?: number | undefined;
}

/** Host snapshots and their index, for {@link RedisJobStore}'s `*HostSnapshot` methods. */
export class HostIndex {
  readonly #o: HostIndexOptions;
  readonly #index: string;
  /** Keys the last scan found that the index does not know, and when that scan ran. */
  #unindexed: { keys: string[]; at: number } | undefined;
  #scanning: Promise<void> | undefined;

  constructor(options: HostIndexOptions) {
    this.#o = options;
    this.#index = hostIndexKey(options.prefix);
  }

  /** SET of the Go key (Go aggregators still read it) and the index entry, sent together. */
  async put(key: string, json: string, ttlMs: number): Promise<void> {
    const ending = metricsKeyEnding(key);
    const ttl = Math.max(1, Math.round(ttlMs));
    // Another host may write with a longer TTL: prune the index only past the longest one in use.
    const horizon = Math.max(ttl, INDEX_HORIZON_MS);
    await this.#o.op('export metrics', () =>
      Promise.all([this.#o.client.set(metricsKey(this.#o.prefix, ending), json, 'PX', ttl), this.#o.run('register-host', [this.#index], [ending, horizon])]),
    );
  }

  async delete(key: string): Promise<void> {
    const ending = metricsKeyEnding(key);
    await this.#o.op('delete metrics', () => Promise.all([this.#o.client.del(metricsKey(this.#o.prefix, ending)), this.#o.client.zrem(this.#index, ending)]));
  }

  async list(options: HostSnapshotListOptions = {}): Promise<HostSnapshot[]> {
    const maxAge = options.maxAgeMs !== undefined && options.maxAgeMs > 0 ? Math.round(options.maxAgeMs) : 0;
    const [serverNow, flat] = (await this.#o.op('read host index', () => this.#o.run('read-host-index', [this.#index], [maxAge]))) as [number, string[]];
    // Scores are on the server's clock; the caller's clock is what it compares with.
    const skew = Date.now() - Number(serverNow);
    const updatedAt = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) updatedAt.set(flat[i]!, Number(flat[i + 1]) + skew);
    const endings = [...updatedAt.keys()];
    if (options.includeUnindexed) {
      for (const ending of await this.#unindexedEndings()) if (!updatedAt.has(ending)) endings.push(ending);
    }
    const values = await this.#read(endings.map((e) => metricsKey(this.#o.prefix, e)));
    const snapshots: HostSnapshot[] = [];
    endings.forEach((key, i) => {
      const json = values[i];
      if (typeof json === 'string') snapshots.push({ key, json, ...(updatedAt.has(key) ? { updatedAt: updatedAt.get(key) } : {}) });
    });
    return snapshots.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The snapshots' values, `null` for a key gone (expired, deleted) or not a string. */
  async #read(keys: string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    const client = this.#o.client;
    if ((client as { isCluster?: boolean }).isCluster !== true) {
      const out: Array<string | null> = [];
      for (let i = 0; i < keys.length; i += MGET_CHUNK) {
        // MGET answers nil for a key of another type rather than failing the whole read.
        out.push(...(await this.#o.op('read metrics', () => client.mget(keys.slice(i, i + MGET_CHUNK)))));
      }
      return out;
    }
    // In a cluster the keys (no hash tag: Go's layout) live in many slots and MGET would be refused;
    // the GETs are sent at once, so this is still about one round trip per node.
    return Promise.all(
      keys.map(async (key) => {
        try {
          return await this.#o.op('read metrics', () => client.get(key));
        } catch (error) {
          this.#o.logger?.warn('unreadable metrics key skipped', { key, error: (error as Error).message });
          return null;
        }
      }),
    );
  }

  /**
   * Key endings under `<prefix>/metrics/` found by SCAN (Go hosts never write the index). The scan
   * walks the whole keyspace, so it runs at most once per interval: the first call waits for it,
   * later ones use the last result while a new scan runs in the background.
   */
  async #unindexedEndings(): Promise<string[]> {
    const interval = this.#o.rescanIntervalMs ?? UNINDEXED_RESCAN_MS;
    const due = !this.#unindexed || Date.now() - this.#unindexed.at >= interval;
    if (due && !this.#scanning) {
      this.#scanning = this.#scan()
        .then((keys) => void (this.#unindexed = { keys, at: Date.now() }))
        .catch((error: unknown) => this.#o.logger?.warn('scan for unindexed metrics keys failed', { error: (error as Error).message }))
        .finally(() => (this.#scanning = undefined));
    }
    if (!this.#unindexed) await this.#scanning;
    return this.#unindexed?.keys ?? [];
  }

  async #scan(): Promise<string[]> {
    const pattern = metricsKeyPattern(this.#o.prefix);
    const start = `${this.#o.prefix}/metrics/`.length;
    const client = this.#o.client;
    // A cluster spreads the snapshots over every master, and SCAN only walks the node it is sent to.
    const nodes: Redis[] = (client as { isCluster?: boolean }).isCluster === true ? (client as Cluster).nodes('master') : [client as Redis];
    const endings = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await this.#o.op('scan metrics', () => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
        cursor = next;
        for (const key of batch) endings.add(key.slice(start));
      } while (cursor !== '0');
    }
    return [...endings];
  }
}
