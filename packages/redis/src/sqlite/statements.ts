import type Database from 'better-sqlite3';
import { JOB_COLUMNS } from './job-row.js';

/** A prepared statement of the store (an interface, so that declaration files can name it). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Statement extends Database.Statement<unknown[], unknown> {}

/**
 * Every statement the embedded store runs, prepared once. Each one is a seek on an index of
 * `schema.ts` (noted where the planner needs telling), never a scan of a table.
 */
export function createStatements(db: Database.Database): Record<StatementName, Statement> {
  return buildStatements(db);
}

function buildStatements(db: Database.Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  return {
    // Jobs by key.
    jobById: p(`SELECT ${JOB_COLUMNS} FROM jobs WHERE queue = ? AND id = ?`),
    jobByRowid: p(`SELECT ${JOB_COLUMNS} FROM jobs WHERE rowid = ?`),
    jobExists: p('SELECT 1 FROM jobs WHERE queue = ? AND id = ?'),
    eventsOf: p('SELECT rowid, events FROM jobs WHERE queue = ? AND id = ?'),
    deleteRow: p('DELETE FROM jobs WHERE rowid = ?'),

    // Order within a state: max + 1 at the tail, min - 1 at the head (both one seek on jobs_order).
    tailPos: p('SELECT COALESCE(MAX(pos), 0) + 1 FROM jobs WHERE queue = ? AND state = ?'),
    headPos: p(`SELECT COALESCE(MIN(pos), 0) - 1 FROM jobs WHERE queue = ? AND state = 'queued'`),
    head: p(`SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_order WHERE queue = ? AND state = 'queued' ORDER BY pos LIMIT 1`),

    insertJob: p(
      `INSERT INTO jobs (queue, id, state, pos, owner_filter, template, payload, phase, enqueued_at)
       VALUES (@queue, @id, 'queued', @pos, @ownerFilter, @template, @payload, 'queued', @enqueuedAt)`,
    ),
    // A claimed job written back by its owner after its row was lost (see JobStore.restore).
    insertClaimed: p(
      `INSERT INTO jobs (queue, id, state, pos, owner_filter, template, payload, attempts, phase, enqueued_at, token, owner,
         lease_until, vm_name, runner_id, last_reason, events)
       VALUES (@queue, @id, 'claimed', 0, @ownerFilter, @template, @payload, @attempts, @phase, @enqueuedAt, @token, @owner,
         @leaseUntil, @vmName, @runnerId, @lastReason, @events)`,
    ),
    claimRow: p(`UPDATE jobs SET state = 'claimed', phase = 'claimed', token = ?, owner = ?, lease_until = ?, handed_off_by = '' WHERE rowid = ?`),
    setLease: p('UPDATE jobs SET lease_until = ? WHERE rowid = ?'),
    patchRow: p('UPDATE jobs SET phase = ?, vm_name = ?, runner_id = ? WHERE rowid = ?'),
    setEvents: p('UPDATE jobs SET events = ? WHERE rowid = ?'),
    toQueue: p(
      `UPDATE jobs SET state = 'queued', phase = 'queued', attempts = attempts + ?, last_reason = ?, pos = ?,
         owner = NULL, lease_until = NULL, vm_name = NULL, runner_id = NULL, not_before = NULL WHERE rowid = ?`,
    ),
    toDelayed: p(
      `UPDATE jobs SET state = 'delayed', phase = 'queued', attempts = attempts + ?, last_reason = ?, not_before = ?,
         owner = NULL, lease_until = NULL, vm_name = NULL, runner_id = NULL WHERE rowid = ?`,
    ),
    toHead: p(`UPDATE jobs SET state = 'queued', pos = ?, not_before = NULL WHERE rowid = ?`),
    toHandOff: p(
      `UPDATE jobs SET state = 'handed_off', phase = 'queued', handed_off_by = owner, pos = ?, last_reason = ?,
         owner = NULL, lease_until = NULL WHERE rowid = ?`,
    ),
    dueDelayed: p(`SELECT rowid FROM jobs INDEXED BY jobs_due WHERE queue = ? AND state = 'delayed' AND not_before <= ? ORDER BY not_before DESC`),
    soonestDue: p(`SELECT MIN(not_before) FROM jobs INDEXED BY jobs_due WHERE queue = ? AND state = 'delayed'`),
    expiredLeases: p(`SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_lease WHERE queue = ? AND state = 'claimed' AND lease_until <= ? ORDER BY lease_until LIMIT ?`),
    ownedBy: p(`SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_owned WHERE queue = ? AND state = 'claimed' AND owner = ?`),

    // Admin views.
    listInOrder: p(`SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_order WHERE queue = ? AND state = ? ORDER BY pos LIMIT ? OFFSET ?`),
    listClaimed: p(`SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_lease WHERE queue = ? AND state = 'claimed' ORDER BY lease_until LIMIT ? OFFSET ?`),
    listDelayed: p(`SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_due WHERE queue = ? AND state = 'delayed' ORDER BY not_before LIMIT ? OFFSET ?`),
    counts: p('SELECT state, SUM(n) AS n FROM job_groups WHERE queue = ? GROUP BY state'),
    groupStates: p('SELECT DISTINCT state FROM job_groups WHERE queue = ?'),
    rowsInState: p(`SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_order WHERE queue = ? AND state = ? LIMIT 100`),

    // Finished ids and deliveries, remembered until `until`; swept a batch at a time, oldest first.
    doneById: p('SELECT kind, by_owner, token, outcome FROM done WHERE queue = ? AND id = ? AND until > ?'),
    putDone: p(`INSERT OR REPLACE INTO done (queue, id, until, kind, by_owner, token, outcome) VALUES (@queue, @id, @until, @kind, @owner, @token, @outcome)`),
    sweepDone: p('DELETE FROM done WHERE rowid IN (SELECT rowid FROM done INDEXED BY done_until WHERE until <= ? ORDER BY until LIMIT ?)'),
    deliverySeen: p('SELECT 1 FROM deliveries WHERE queue = ? AND id = ? AND until > ?'),
    putDelivery: p('INSERT OR REPLACE INTO deliveries (queue, id, until) VALUES (?, ?, ?)'),
    sweepDeliveries: p('DELETE FROM deliveries WHERE rowid IN (SELECT rowid FROM deliveries INDEXED BY deliveries_until WHERE until <= ? ORDER BY until LIMIT ?)'),

    addNote: p('INSERT INTO quarantine (queue, key, job_id, reason, at) VALUES (?, ?, ?, ?, ?)'),
    notes: p('SELECT key, job_id, reason, at FROM quarantine INDEXED BY quarantine_queue WHERE queue = ? ORDER BY at DESC, rowid DESC LIMIT ?'),
    countNotes: p('SELECT COUNT(*) FROM quarantine WHERE queue = ?'),

    leader: p('SELECT owner, token, until FROM leaders WHERE name = ?'),
    putLeader: p('INSERT OR REPLACE INTO leaders (name, owner, token, until) VALUES (?, ?, ?, ?)'),
    releaseLeader: p('UPDATE leaders SET owner = NULL, until = 0 WHERE name = ? AND owner = ? AND token = ?'),
    // Instance names share the leaders table under the name `instance:<name>`, the holder's JSON as owner.
    releaseInstance: p('DELETE FROM leaders WHERE name = ? AND owner = ?'),

    putSnapshot: p('INSERT OR REPLACE INTO host_snapshots (key, json, until, updated_at) VALUES (?, ?, ?, ?)'),
    snapshots: p('SELECT key, json, updated_at FROM host_snapshots ORDER BY key'),
    dropExpiredSnapshots: p('DELETE FROM host_snapshots WHERE until <= ? OR updated_at < ?'),
    deleteSnapshot: p('DELETE FROM host_snapshots WHERE key = ?'),

    putCapacity: p('INSERT OR REPLACE INTO host_capacity (host_id, json, until) VALUES (?, ?, ?)'),
    capacity: p('SELECT host_id, json FROM host_capacity WHERE until > ? ORDER BY host_id'),
    dropExpiredCapacity: p('DELETE FROM host_capacity WHERE until <= ?'),
  };
}

type StatementName = keyof ReturnType<typeof buildStatements>;
export type Statements = Record<StatementName, Statement>;
