/**
 * `@anklet/testing`: helpers for anklet's own tests. Real servers only: a `redis-server` on a free
 * port, or a three-node Redis Cluster, each in its own temporary directory. Never the machine's own
 * Redis on 6379, never FLUSHDB on a database the harness did not create.
 *
 * @packageDocumentation
 */
export { startRedisServer, uniquePrefix, waitForRedis, deleteKeysWithPrefix, type RedisServer, type StartRedisServerOptions } from './redis-server.js';
export { startRedisCluster, type RedisCluster, type StartRedisClusterOptions } from './redis-cluster.js';
export { findFreePort, isPortFree } from './free-port.js';
export { promtoolCheck } from './promtool.js';
export { startLocalRegistry, configuredRegistry, type LocalRegistry, type StartLocalRegistryOptions } from './verdaccio.js';
