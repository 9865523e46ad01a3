import { renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from '@anklet/core';

/** The schema version this code writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION = 1;

/**
 * One table per kind of record. Every hot query is a seek on one of the indexes below, so each
 * operation costs O(log n) whatever the depth of the queue or the length of the history:
 *
 * - `jobs`: a live job. `state` is where it sits (`queued`, `delayed`, `handed_off`, `claimed`) and
 *   `pos` its place within that state (smaller first: an enqueue takes max + 1, a requeue min - 1).
 *   The claim filters (`owner_filter`, `template`, `handed_off_by`) are columns with '' for "unset"
 *   so that they can be index keys.
 * - `job_groups`: how many jobs sit in each (queue, state, owner, template, hand-off) group, kept
 *   by triggers. A claim walks the few groups it may take from and seeks each group's oldest job
 *   through `jobs_pick`, so ineligible jobs are never read; stats add the counts up.
 * - `done`: ids of finished or quarantined jobs until `until` (a late redelivery is refused; a
 *   repeated finish by the same lease succeeds), `deliveries`: webhook deliveries seen until `until`.
 *   Both are swept a few rows at a time through their `until` index.
 * - `timeline_jobs`, `timeline_events`: each job's timeline (see sqlite/timeline.ts):
 *   its state (`queued`, `running`, `finished`) since when, and its events by sequence number, at
 *   most 50; a finished job's rows go once past the history bound.
 * - `leaders`: fleet leaderships by name; registered handler instance names are rows named
 *   `instance:<name>` whose owner is the holder's JSON (see sqlite/instances.ts).
 */
const DDL = `
CREATE TABLE IF NOT EXISTS jobs (
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  state TEXT NOT NULL,
  pos INTEGER NOT NULL,
  owner_filter TEXT NOT NULL DEFAULT '',
  template TEXT NOT NULL DEFAULT '',
  handed_off_by TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  phase TEXT NOT NULL DEFAULT 'queued',
  enqueued_at INTEGER NOT NULL,
  token INTEGER NOT NULL DEFAULT 0,
  owner TEXT,
  lease_until INTEGER,
  vm_name TEXT,
  runner_id TEXT,
  last_reason TEXT,
  not_before INTEGER,
  events TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS jobs_order ON jobs (queue, state, pos);
CREATE INDEX IF NOT EXISTS jobs_pick ON jobs (queue, state, owner_filter, template, handed_off_by, pos);
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (queue, lease_until) WHERE state = 'claimed';
CREATE INDEX IF NOT EXISTS jobs_owned ON jobs (queue, owner) WHERE state = 'claimed';
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (queue, not_before) WHERE state = 'delayed';

CREATE TABLE IF NOT EXISTS job_groups (
  queue TEXT NOT NULL,
  state TEXT NOT NULL,
  owner_filter TEXT NOT NULL,
  template TEXT NOT NULL,
  handed_off_by TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (queue, state, owner_filter, template, handed_off_by)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS jobs_group_add AFTER INSERT ON jobs BEGIN
  INSERT INTO job_groups VALUES (NEW.queue, NEW.state, NEW.owner_filter, NEW.template, NEW.handed_off_by, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS jobs_group_remove AFTER DELETE ON jobs BEGIN
  UPDATE job_groups SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state AND owner_filter = OLD.owner_filter
    AND template = OLD.template AND handed_off_by = OLD.handed_off_by;
  DELETE FROM job_groups WHERE queue = OLD.queue AND state = OLD.state AND owner_filter = OLD.owner_filter
    AND template = OLD.template AND handed_off_by = OLD.handed_off_by AND n <= 0;
END;
CREATE TRIGGER IF NOT EXISTS jobs_group_move AFTER UPDATE OF queue, state, owner_filter, template, handed_off_by ON jobs
  WHEN OLD.queue IS NOT NEW.queue OR OLD.state IS NOT NEW.state OR OLD.owner_filter IS NOT NEW.owner_filter
    OR OLD.template IS NOT NEW.template OR OLD.handed_off_by IS NOT NEW.handed_off_by
BEGIN
  UPDATE job_groups SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state AND owner_filter = OLD.owner_filter
    AND template = OLD.template AND handed_off_by = OLD.handed_off_by;
  DELETE FROM job_groups WHERE queue = OLD.queue AND state = OLD.state AND owner_filter = OLD.owner_filter
    AND template = OLD.template AND handed_off_by = OLD.handed_off_by AND n <= 0;
  INSERT INTO job_groups VALUES (NEW.queue, NEW.state, NEW.owner_filter, NEW.template, NEW.handed_off_by, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TABLE IF NOT EXISTS done (
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  until INTEGER NOT NULL,
  kind TEXT NOT NULL,
  by_owner TEXT,
  token INTEGER,
  outcome TEXT,
  PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS done_until ON done (until);

CREATE TABLE IF NOT EXISTS deliveries (
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  until INTEGER NOT NULL,
  PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS deliveries_until ON deliveries (until);

CREATE TABLE IF NOT EXISTS quarantine (
  queue TEXT NOT NULL,
  key TEXT NOT NULL,
  job_id TEXT,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_queue ON quarantine (queue, at);

CREATE TABLE IF NOT EXISTS leaders (
  name TEXT PRIMARY KEY,
  owner TEXT,
  token INTEGER NOT NULL,
  until INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS host_snapshots (
  key TEXT PRIMARY KEY,
  json TEXT NOT NULL,
  until INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

/**
 * The timeline tables. Added without a schema version change (an older anklet opening the file
 * ignores them, so a downgrade keeps working): created on every open when missing.
 */
const TIMELINE_DDL = `
CREATE TABLE IF NOT EXISTS timeline_jobs (
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  state TEXT NOT NULL,
  since INTEGER NOT NULL,
  next_seq INTEGER NOT NULL DEFAULT 0,
  kept INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS timeline_jobs_state ON timeline_jobs (queue, state, since);
CREATE INDEX IF NOT EXISTS timeline_finished ON timeline_jobs (since) WHERE state = 'finished';

CREATE TABLE IF NOT EXISTS timeline_events (
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (queue, id, seq)
);
`;

/**
 * Capacity records for template affinity (see host-capacity.ts): one row per host, gone once past
 * `until`. Added like the timeline tables: created on open when missing, no version change.
 */
const HOST_CAPACITY_DDL = `
CREATE TABLE IF NOT EXISTS host_capacity (
  host_id TEXT PRIMARY KEY,
  json TEXT NOT NULL,
  until INTEGER NOT NULL
);
`;

/** How long a call waits for another process's write lock before it fails (SQLite `busy_timeout`). */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (and creates or upgrades) the store database at `file`. WAL lets readers run beside the
 * writer; `synchronous=FULL` fsyncs the log on every commit, so an acknowledged call survives a
 * SIGKILL or a power loss. Several processes may open the same file: SQLite's locks serialise
 * their writes and `busy_timeout` makes a writer wait for the lock instead of failing.
 */
export function openStoreDatabase(file: string): Database.Database {
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = OFF');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`${file} was written by a newer anklet (schema ${version}, this one knows ${SCHEMA_VERSION})`);
    }
    if (version < SCHEMA_VERSION) {
      // IMMEDIATE: two processes starting together must not both create the schema half-way.
      db.transaction(() => {
        db.exec(DDL);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    }
    const hasTimeline = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'timeline_events'`).get();
    if (!hasTimeline) db.transaction(() => db.exec(TIMELINE_DDL)).immediate();
    const hasCapacity = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'host_capacity'`).get();
    if (!hasCapacity) db.transaction(() => db.exec(HOST_CAPACITY_DDL)).immediate();
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * {@link openStoreDatabase}, except that a file that is not a SQLite database (or is corrupt) is
 * moved aside to `<file>.corrupt-<time>` and logged, and an empty store is opened: a host never
 * crash-loops on its store file.
 */
export function openStoreDatabaseOrSetAside(file: string, logger: Logger | undefined): Database.Database {
  try {
    return openStoreDatabase(file);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'SQLITE_NOTADB' && code !== 'SQLITE_CORRUPT') throw error;
    const aside = `${file}.corrupt-${Date.now()}`;
    renameSync(file, aside);
    logger?.error('embedded job store file unreadable; moved aside, starting empty', { key: file, movedTo: aside, reason: (error as Error).message });
    return openStoreDatabase(file);
  }
}
