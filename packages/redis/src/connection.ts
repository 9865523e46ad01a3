import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '@anklet/core';
import type { DatabaseConfig } from './database-config.js';
import { resolveRetryPolicy, type RetryPolicy } from './retry.js';

export { resolveDatabaseConfig, type DatabaseConfig, type GlobalDatabaseConfig } from './database-config.js';

/** What {@link createRedisConnection} returns; pass it to `createRedisJobStore`. */
export interface RedisConnection {
  readonly client: Redis | Cluster;
  readonly cluster: boolean;
  readonly retry: RetryPolicy;
  /** `host:port` for messages (never credentials). */
  readonly target: string;
  /** A second connection with the same settings (the store uses one for pub/sub). */
  duplicate(): Redis | Cluster;
  /**
   * The last socket-level error of the main client (e.g. an untrusted TLS certificate), cleared once
   * it is ready. A failing command only says it gave up; this says why.
   */
  lastError(): string | undefined;
  /** Closes the connection (QUIT, then disconnect). */
  close(): Promise<void>;
}

/** Options for {@link createRedisConnection} that are not part of the config file. */
export interface RedisConnectionOptions {
  readonly logger?: Logger | undefined;
  /** Shown in `CLIENT LIST`. */
  readonly connectionName?: string | undefined;
  /** Upper bound for any one command, ms (default 5000): a hung server never hangs a handler. */
  readonly commandTimeoutMs?: number | undefined;
  /** Connect at once (default true); false connects on the first command. */
  readonly connect?: boolean | undefined;
}

function parseAddress(config: DatabaseConfig): { host: string; port: number; tls: boolean; user?: string; password?: string; db?: number } {
  if (/^rediss?:\/\//.test(config.url)) {
    const u = new URL(config.url);
    const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
    return {
      host: u.hostname,
      port: u.port ? Number(u.port) : (config.port ?? 6379),
      tls: u.protocol === 'rediss:',
      ...(u.username ? { user: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    };
  }
  return { host: config.url, port: config.port ?? 6379, tls: false };
}

/**
 * Opens an ioredis connection (standalone or Cluster) from a plugin's effective database config.
 *
 * Each command is bounded by `commandTimeoutMs`; while Redis is down a command fails at the next
 * reconnect attempt instead of waiting forever, and the store retries it with the configured
 * backoff (`max_retries`, `retry_delay`, `retry_backoff_factor`), then gives up with
 * `ANKLET_ERR_STORE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const connection = createRedisConnection({ url: 'redis.internal', port: 6379, cluster_mode: true });
 * const store = createRedisJobStore({ redis: connection, prefix: 'anklet' });
 * ```
 */
export function createRedisConnection(config: DatabaseConfig, options: RedisConnectionOptions = {}): RedisConnection {
  const address = parseAddress(config);
  const retry = resolveRetryPolicy(config);
  const useTls = Boolean(config.tls_enabled) || address.tls;
  const tls: ConnectionOptions | undefined = useTls
    ? { rejectUnauthorized: !config.tls_insecure, servername: address.host }
    : undefined;
  const username = config.user || address.user;
  const password = config.password || address.password;
  const target = `${address.host}:${address.port}`;
  // Reconnect at the retry delay, never slower than every 2 s: the operation-level retry does the
  // backoff, the socket just has to be back as soon as Redis is.
  const reconnectDelay = Math.min(retry.retryDelayMs, 2000);
  const base: RedisOptions = {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls } : {}),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    connectTimeout: 5000,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    // A command waiting for a reconnect fails when that reconnect attempt fails; withRetry decides.
    maxRetriesPerRequest: 0,
    retryStrategy: () => reconnectDelay,
    lazyConnect: options.connect === false,
  };

  const cluster = Boolean(config.cluster_mode);
  let mainError: string | undefined;
  const make = (track = false): Redis | Cluster => {
    let client: Redis | Cluster;
    if (cluster) {
      const clusterOptions: ClusterOptions = {
        redisOptions: base,
        clusterRetryStrategy: () => reconnectDelay,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        slotsRefreshTimeout: 2000,
        lazyConnect: options.connect === false,
        // TLS certificates name the host we were given, not the IPs the cluster announces.
        ...(tls ? { dnsLookup: (addr: string, callback: (err: null, address: string) => void) => callback(null, addr) } : {}),
      };
      client = new Cluster([{ host: address.host, port: address.port }], clusterOptions);
    } else {
      const db = config.database || address.db;
      client = new Redis({ ...base, host: address.host, port: address.port, ...(db ? { db } : {}) });
    }
    // Without a listener ioredis prints every reconnect failure; log them once per change instead.
    let lastMessage = '';
    client.on('error', (error: Error) => {
      if (track) mainError = error.message;
      if (error.message === lastMessage) return;
      lastMessage = error.message;
      options.logger?.warn('redis connection error', { target, error: error.message });
    });
    client.on('ready', () => {
      lastMessage = '';
      if (track) mainError = undefined;
    });
    return client;
  };

  const client = make(true);
  return {
    client,
    cluster,
    retry,
    target,
    duplicate: () => make(),
    lastError: () => mainError,
    async close() {
      await closeClient(client);
    },
  };
}

/** QUIT with a short bound, then disconnect: closing never hangs on a dead server. */
export async function closeClient(client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return;
  try {
    await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 500))]);
  } catch {
    // Already closed or unreachable: disconnect below is enough.
  }
  client.disconnect();
}
