import { existsSync, readFileSync, renameSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { Logger } from '@anklet/core';

/** The file the embedded store wrote before it moved to SQLite (format `version: 1`). */
export const LEGACY_FILE = 'job-store.json';

type Loose = Record<string, unknown>;

const isObject = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value);
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const str = (value: unknown): string => (typeof value === 'string' ? value : '');
/** A value as SQLite should keep it: numbers and text as they are, anything else as NULL. */
const scalar = (value: unknown): string | number | null => (typeof value === 'string' || typeof value === 'number' ? value : null);

/**
 * Imports `<dir>/job-store.json` of the JSON-file store into the SQLite database, once: in the
 * same transaction, the file is renamed to `job-store.json.imported-<time>` (and renamed back when
 * the transaction fails), so two processes starting together cannot both import it. A file that
 * is not JSON of the old format is moved aside to `job-store.json.corrupt-<time>` and logged.
 *
 * Records are copied as they are: one of the wrong shape becomes a row that the store quarantines
 * the first time it reads it, the same as any other unreadable row. Ids listed without a record
 * are quarantined here.
 */
export function importLegacyJsonStore(db: Database.Database, file: string, logger: Logger | undefined): void {
  if (!existsSync(file)) return;
  let snapshot: Loose;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isObject(parsed) || parsed['version'] !== 1 || !isObject(parsed['queues'])) throw new Error('not an anklet job-store.json of version 1');
    snapshot = parsed;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    const aside = `${file}.corrupt-${Date.now()}`;
    try {
      renameSync(file, aside);
    } catch {
      // Another process moved it first.
      return;
    }
    logger?.error('old embedded job store file unreadable; moved aside, not imported', { key: file, movedTo: aside, reason: (error as Error).message });
    return;
  }
  const now = Date.now();
  const counts = { jobs: 0, quarantined: 0 };
  const importAll = db.transaction(() => {
    const done = `${file}.imported-${now}`;
    // Inside the transaction: the write lock is ours, so whoever renames the file is the importer.
    try {
      renameSync(file, done);
    } catch {
      return false;
    }
    try {
      writeSnapshot(db, snapshot, file, now, counts, logger);
    } catch (error) {
      renameSync(done, file);
      throw error;
    }
    logger?.info('imported the old embedded job store file into SQLite', { key: file, movedTo: done, ...counts });
    return true;
  });
  importAll.immediate();
}

function writeSnapshot(db: Database.Database, snapshot: Loose, file: string, now: number, counts: { jobs: number; quarantined: number }, logger: Logger | undefined): void {
  const insertJob = db.prepare(
    `INSERT OR IGNORE INTO jobs (queue, id, state, pos, owner_filter, template, handed_off_by, payload, attempts, phase, enqueued_at, token, owner, lease_until, vm_name, runner_id, last_reason, not_before, events)
     VALUES (@queue, @id, @state, @pos, @ownerFilter, @template, @handedOffBy, @payload, @attempts, @phase, @enqueuedAt, @token, @owner, @leaseUntil, @vmName, @runnerId, @lastReason, @notBefore, @events)`,
  );
  const insertDone = db.prepare(`INSERT OR REPLACE INTO done (queue, id, until, kind) VALUES (?, ?, ?, 'finished')`);
  const insertDelivery = db.prepare('INSERT OR REPLACE INTO deliveries (queue, id, until) VALUES (?, ?, ?)');
  const insertNote = db.prepare('INSERT INTO quarantine (queue, key, job_id, reason, at) VALUES (?, ?, ?, ?, ?)');
  const note = (queue: string, key: string, jobId: string | null, reason: string): void => {
    insertNote.run(queue, key, jobId, reason, now);
    counts.quarantined += 1;
    logger?.error('malformed job record quarantined', { key, reason });
  };

  for (const [queue, raw] of Object.entries(snapshot['queues'] as Loose)) {
    const q = isObject(raw) ? raw : {};
    const records = new Map<string, Loose>();
    for (const record of asArray(q['jobs'])) {
      if (!isObject(record) || str(record['id']) === '') {
        note(queue, `${file}#${queue}`, null, 'job record missing or without id');
        continue;
      }
      records.set(str(record['id']), record);
    }
    const placed = new Set<string>();
    const place = (id: unknown, state: string, pos: number): void => {
      const key = str(id);
      const record = records.get(key);
      if (!record) {
        note(queue, `${file}#${queue}/${key}`, key || null, 'job record missing');
        return;
      }
      if (placed.has(key)) return;
      placed.add(key);
      counts.jobs += 1;
      insertJob.run({
        queue,
        id: key,
        state,
        pos,
        ownerFilter: str(record['repositoryOwner']),
        template: str(record['template']),
        handedOffBy: state === 'handed_off' ? str(record['handedOffBy']) : '',
        payload: JSON.stringify(record['payload'] ?? null),
        attempts: scalar(record['attempts']) ?? 0,
        phase: scalar(record['phase']) ?? 'queued',
        enqueuedAt: scalar(record['enqueuedAt']) ?? now,
        token: scalar(record['token']) ?? 0,
        owner: state === 'claimed' ? scalar(record['owner']) : null,
        leaseUntil: state === 'claimed' ? scalar(record['leaseUntil']) : null,
        vmName: scalar(record['vmName']),
        runnerId: scalar(record['runnerId']),
        lastReason: scalar(record['lastReason']),
        notBefore: state === 'delayed' ? (scalar(record['notBefore']) ?? now) : null,
        events: JSON.stringify(isObject(record['events']) ? record['events'] : {}),
      });
    };
    asArray(q['handoff']).forEach((id, i) => place(id, 'handed_off', i + 1));
    asArray(q['delayed']).forEach((id, i) => place(id, 'delayed', i + 1));
    const queued = asArray(q['queued']);
    queued.forEach((id, i) => place(id, 'queued', i + 1));
    let tail = queued.length;
    for (const [id, record] of records) {
      // A claimed job sits in no list; a queued record in no list was about to be lost: queue it.
      if (!placed.has(id)) place(id, record['state'] === 'claimed' ? 'claimed' : 'queued', ++tail);
    }
    for (const entry of asArray(q['done'])) {
      const [id, until] = asArray(entry);
      if (typeof id === 'string' && typeof until === 'number' && until > now) insertDone.run(queue, id, until);
    }
    for (const entry of asArray(q['deliveries'])) {
      const [id, until] = asArray(entry);
      if (typeof id === 'string' && typeof until === 'number' && until > now) insertDelivery.run(queue, id, until);
    }
    // Notes were kept newest first; insert oldest first so that `at` order and insertion agree.
    for (const old of asArray(q['quarantine']).reverse()) {
      if (!isObject(old)) continue;
      insertNote.run(queue, str(old['key']) || `${queue}/?`, typeof old['jobId'] === 'string' ? old['jobId'] : null, str(old['reason']) || 'unknown', typeof old['at'] === 'number' ? old['at'] : now);
    }
  }
  const fences = new Map<string, number>();
  for (const entry of asArray(snapshot['fences'])) {
    const [name, token] = asArray(entry);
    if (typeof name === 'string' && typeof token === 'number') fences.set(name, token);
  }
  const upsertLeader = db.prepare('INSERT OR REPLACE INTO leaders (name, owner, token, until) VALUES (?, ?, ?, ?)');
  for (const entry of asArray(snapshot['leaders'])) {
    const [name, lease] = asArray(entry);
    if (typeof name !== 'string' || !isObject(lease) || typeof lease['token'] !== 'number') continue;
    upsertLeader.run(name, str(lease['owner']) || null, Math.max(lease['token'], fences.get(name) ?? 0), typeof lease['until'] === 'number' ? lease['until'] : 0);
    fences.delete(name);
  }
  // A fence without a leader still holds the token a new leader must go past.
  for (const [name, token] of fences) upsertLeader.run(name, null, token, 0);
}
