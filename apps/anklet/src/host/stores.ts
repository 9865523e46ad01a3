import path from 'node:path';
import { AnkletError, ErrorCodes, type JobStore, type Logger, type TimelineHistory } from '@anklet/core';
import type { DatabaseConfig } from '@anklet/redis';
// The embedded store alone: a host without a Redis never loads the Redis client.
import { createEmbeddedJobStore } from '@anklet/redis/embedded';

/** Key prefix of everything anklet stores in Redis. */
export const STORE_PREFIX = 'anklet';

/** The `job_history` block of the config as the stores take it (0 or unset: the store's default). */
export function timelineHistoryOf(raw: { job_history?: { max_age_hours?: number | null; max_jobs?: number | null } | null }): TimelineHistory {
  const hours = raw.job_history?.max_age_hours;
  const jobs = raw.job_history?.max_jobs;
  return {
    maxAgeMs: hours ? hours * 3_600_000 : undefined,
    maxJobs: jobs ? jobs : undefined,
  };
}

/**
 * The job stores of this host: one Redis store per distinct database config (plugins that name the
 * same Redis share a connection), and one embedded store, persisted under the work dir, for every
 * plugin without a database, so a receiver and handlers in one process share their queue.
 */
export class HostStores {
  readonly #redis = new Map<string, JobStore>();
  #embedded: JobStore | undefined;

  constructor(
    private readonly dataRoot: string,
    private readonly logger: Logger,
    /** How long the stores keep finished jobs' timelines (the config's `job_history`). */
    private readonly timelineHistory?: TimelineHistory,
  ) {}

  /**
   * Opens (or reuses) the store for one plugin. A Redis that does not answer is an error here,
   * before any plugin starts. A newly opened Redis has its persistence checked (`checkPersistence`,
   * default true): a WARN when a restart of Redis would lose the queue.
   */
  async open(database: DatabaseConfig | null, pluginName: string, options: { checkPersistence?: boolean } = {}): Promise<JobStore> {
    if (!database) {
      this.#embedded ??= createEmbeddedJobStore({ dir: path.join(this.dataRoot, 'store'), logger: this.logger.child({ store: 'embedded' }), timelineHistory: this.timelineHistory });
      return this.#embedded;
    }
    const { checkRedisPersistence, createRedisConnection, createRedisJobStore } = await import('@anklet/redis');
    const key = JSON.stringify(database);
    const existing = this.#redis.get(key);
    if (existing) return existing;
    const connection = createRedisConnection(database, { logger: this.logger, connectionName: `anklet:${pluginName}` });
    try {
      await connection.client.ping();
    } catch (err) {
      // Read the reason before closing: close() ends the client and its error events.
      const reason = connection.lastError() ?? (err as Error).message;
      await connection.close().catch(() => undefined);
      throw new AnkletError(ErrorCodes.STORE_UNAVAILABLE, `unable to access database at ${connection.target}: ${reason}`, {
        operator: true,
        cause: err,
        hint: 'check global_database_* / database.* in the config and that Redis is running',
      });
    }
    if (options.checkPersistence ?? true) {
      const report = await checkRedisPersistence(connection.client);
      const fields = { target: connection.target, persistence: report.mode, detail: report.detail, ...(report.fix ? { hint: report.fix } : {}) };
      if (report.mode === 'none') this.logger.warn('redis does not persist its data: queued jobs would not survive a restart of redis', fields);
      else if (report.mode === 'unknown') this.logger.warn('redis persistence could not be checked', fields);
      else this.logger.info('redis persistence', fields);
    }
    const store = createRedisJobStore({ redis: connection, prefix: STORE_PREFIX, logger: this.logger.child({ store: connection.target }), timelineHistory: this.timelineHistory });
    this.#redis.set(key, store);
    return store;
  }

  /** Closes every store (after the plugins have stopped). */
  async close(): Promise<void> {
    const stores = [...this.#redis.values(), ...(this.#embedded ? [this.#embedded] : [])];
    await Promise.allSettled(stores.map((store) => store.close()));
  }
}
