/** The Go `database:` / `global_database_*` keys; no Redis client here (a host on the embedded store never loads one). */

/**
 * A `database:` block with the Go anklet's keys, after `global_database_*` precedence was applied
 * (see {@link resolveDatabaseConfig}).
 */
export interface DatabaseConfig {
  /** Host name or IP (the Go key holds a host, not a URL); `redis://` / `rediss://` URLs are accepted too. */
  readonly url: string;
  readonly port?: number | undefined;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  /** DB index; ignored in cluster mode. */
  readonly database?: number | undefined;
  readonly cluster_mode?: boolean | undefined;
  readonly tls_enabled?: boolean | undefined;
  /** Skip certificate verification (self-signed test setups only). */
  readonly tls_insecure?: boolean | undefined;
  /** Retries of an operation while Redis is unreachable (default 5; negative = none). */
  readonly max_retries?: number | undefined;
  /** First retry delay in ms (default 1000). */
  readonly retry_delay?: number | undefined;
  /** Multiplier of the delay per retry (default 2.0). */
  readonly retry_backoff_factor?: number | undefined;
}

/** The `global_database_*` keys of the Go config, as the host has them. */
export interface GlobalDatabaseConfig {
  readonly global_database_url?: string | undefined;
  readonly global_database_port?: number | undefined;
  readonly global_database_user?: string | undefined;
  readonly global_database_password?: string | undefined;
  readonly global_database_database?: number | undefined;
  readonly global_database_cluster_mode?: boolean | undefined;
  readonly global_database_tls_enabled?: boolean | undefined;
  readonly global_database_tls_insecure?: boolean | undefined;
  readonly global_database_max_retries?: number | undefined;
  readonly global_database_retry_delay?: number | undefined;
  readonly global_database_retry_backoff_factor?: number | undefined;
}

/**
 * A plugin's effective database config: each field from the globals when set (non-empty, non-zero,
 * true), else from the plugin's own `database:` block, as in the Go anklet. Unlike the Go version,
 * cluster, TLS and retry keys are honoured at plugin level too. Returns null when neither gives a
 * URL: the plugin runs on the embedded store.
 */
export function resolveDatabaseConfig(globals: GlobalDatabaseConfig, plugin: Partial<DatabaseConfig> | undefined): DatabaseConfig | null {
  const p = plugin ?? {};
  const url = globals.global_database_url || p.url;
  if (!url) return null;
  const num = (g: number | undefined, v: number | undefined): number | undefined => (g ? g : v);
  return {
    url,
    port: num(globals.global_database_port, p.port),
    user: globals.global_database_user || p.user,
    password: globals.global_database_password || p.password,
    database: num(globals.global_database_database, p.database),
    cluster_mode: globals.global_database_cluster_mode || p.cluster_mode,
    tls_enabled: globals.global_database_tls_enabled || p.tls_enabled,
    tls_insecure: globals.global_database_tls_insecure || p.tls_insecure,
    max_retries: num(globals.global_database_max_retries, p.max_retries),
    retry_delay: num(globals.global_database_retry_delay, p.retry_delay),
    retry_backoff_factor: num(globals.global_database_retry_backoff_factor, p.retry_backoff_factor),
  };
}
