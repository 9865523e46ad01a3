/**
 * What the fleet-reading commands (`anklet status`, `anklet jobs`, `anklet explain`) share: the
 * config, loaded and valid, and the fleet's store, opened quietly and closed after use.
 */
import type { JobStore } from '@anklet/core';
import { describeIssues, loadConfig, type LoadedConfig } from '../config/load-config.js';
import { HostStores, timelineHistoryOf } from '../host/stores.js';
import { createLogger } from '../logging/create-logger.js';
import { SecretRegistry } from '../logging/redact.js';
import { statusDatabaseOf } from './fleet-status.js';

/** The config at `configPath` (or the default), or undefined after printing its problems to `err`. */
export function loadFleetConfig(configPath: string | undefined, err: (text: string) => void): LoadedConfig | undefined {
  const loaded = loadConfig({ configPath });
  if (loaded.issues.length === 0) return loaded;
  err(`${loaded.file}: ${loaded.issues.length} problem${loaded.issues.length === 1 ? '' : 's'} (see: anklet config validate)`);
  for (const line of describeIssues(loaded, loaded.issues)) err(`  ${line}`);
  return undefined;
}

/**
 * Opens the store the fleet shares (the configured Redis, else this host's embedded store) as
 * `purpose`, runs `use` and closes it. Connection warnings go to stderr and only when they stop
 * the command, so `--json` output stays clean.
 */
export async function withFleetStore<T>(loaded: LoadedConfig, purpose: string, use: (store: JobStore, database: ReturnType<typeof statusDatabaseOf>) => Promise<T>): Promise<T> {
  const logger = createLogger({ mode: { level: 'error', pretty: false }, secrets: new SecretRegistry(), stream: process.stderr });
  const stores = new HostStores(loaded.workDir ?? loaded.configDir, logger, timelineHistoryOf(loaded.raw));
  const database = statusDatabaseOf(loaded);
  try {
    return await use(await stores.open(database, purpose, { checkPersistence: false }), database);
  } finally {
    await stores.close();
    await logger.close();
  }
}
