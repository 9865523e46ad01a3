/**
 * `@anklet/redis`: the job store anklet's receivers and handlers share.
 *
 * - {@link createRedisConnection}: ioredis (standalone, TLS, Cluster) from the Go `database:` keys;
 * - {@link createRedisJobStore}: the `JobStore` on Redis, every multi-key step one Lua script;
 * - {@link createEmbeddedJobStore}: the same contract in process, persisted to a directory;
 * - {@link checkRedisPersistence}: whether the server keeps the queue across a restart.
 *
 * @packageDocumentation
 */
export {
  createRedisConnection,
  resolveDatabaseConfig,
  closeClient,
  type DatabaseConfig,
  type GlobalDatabaseConfig,
  type RedisConnection,
  type RedisConnectionOptions,
} from './connection.js';
export { createRedisJobStore, RedisJobStore, type RedisJobStoreOptions } from './redis-job-store.js';
export { createEmbeddedJobStore, EmbeddedJobStore, type EmbeddedJobStoreOptions } from './embedded-job-store.js';
export { defaultRetryPolicy, resolveRetryPolicy, retryDelay, isTransientRedisError, type RetryPolicy } from './retry.js';
export { queueKeys, leaderKeys, metricsKey, type QueueKeys } from './keys.js';
export { loadScripts, type LuaScript } from './scripts.js';
export { MalformedRecordError } from './record.js';
export { checkRedisPersistence, PERSISTENCE_FIX, type PersistenceMode, type PersistenceReport } from './persistence.js';
export { hostIndexKey, UNINDEXED_RESCAN_MS } from './host-index.js';
