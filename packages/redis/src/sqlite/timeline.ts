import type Database from 'better-sqlite3';
import {
  TIMELINE_MAX_EVENTS,
  timelineEventOf,
  timelineHistoryOf,
  type JobSummary,
  type JobTimeline,
  type NewTimelineEvent,
  type TimelineEvent,
  type TimelineHistory,
  type TimelineJobState,
} from '@anklet/core';
import type { Statement } from './statements.js';

/** Finished timelines dropped per call at most (more than one finish adds, so they never pile up). */
const DROP_BATCH = 100;

const STATES: ReadonlySet<string> = new Set<TimelineJobState>(['queued', 'running', 'finished']);

/** A stored event, or null when the text is not one (a hand edit). */
function readEvent(text: unknown): TimelineEvent | null {
  try {
    const parsed: unknown = JSON.parse(String(text));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    const event = parsed as Partial<TimelineEvent>;
    return typeof event.type === 'string' && typeof event.at === 'number' ? (event as TimelineEvent) : null;
  } catch {
    return null;
  }
}

/**
 * The job timelines of the embedded store (tables `timeline_jobs` and `timeline_events`, see
 * schema.ts). Every method runs inside the caller's transaction, so an operation's event is
 * committed with the operation.
 */
export class SqliteTimeline {
  readonly #history: { maxAgeMs: number; maxJobs: number };
  readonly #sql: Record<
    | 'job'
    | 'upsertJob'
    | 'bump'
    | 'insertEvent'
    | 'dropSecond'
    | 'events'
    | 'first'
    | 'last'
    | 'list'
    | 'olderFinished'
    | 'overflowFinished'
    | 'staleFinished'
    | 'deleteJob'
    | 'deleteEvents',
    Statement
  >;

  constructor(db: Database.Database, history: TimelineHistory | undefined) {
    this.#history = timelineHistoryOf(history);
    const p = (sql: string): Statement => db.prepare(sql);
    this.#sql = {
      job: p('SELECT state, since, next_seq, kept FROM timeline_jobs WHERE queue = ? AND id = ?'),
      upsertJob: p(
        `INSERT INTO timeline_jobs (queue, id, state, since) VALUES (?, ?, ?, ?)
         ON CONFLICT (queue, id) DO UPDATE SET state = excluded.state, since = excluded.since`,
      ),
      bump: p('UPDATE timeline_jobs SET next_seq = next_seq + 1, kept = kept + ? WHERE queue = ? AND id = ?'),
      insertEvent: p('INSERT INTO timeline_events (queue, id, seq, event) VALUES (?, ?, ?, ?)'),
      // The second event goes when the list is full: the first (`received`) stays.
      dropSecond: p(
        `DELETE FROM timeline_events WHERE queue = ? AND id = ? AND seq =
           (SELECT seq FROM timeline_events WHERE queue = ? AND id = ? ORDER BY seq LIMIT 1 OFFSET 1)`,
      ),
      events: p('SELECT event FROM timeline_events WHERE queue = ? AND id = ? ORDER BY seq'),
      first: p('SELECT event FROM timeline_events WHERE queue = ? AND id = ? ORDER BY seq LIMIT 1'),
      last: p('SELECT event FROM timeline_events WHERE queue = ? AND id = ? ORDER BY seq DESC LIMIT 1'),
      list: p('SELECT id, since FROM timeline_jobs INDEXED BY timeline_jobs_state WHERE queue = ? AND state = ? AND since >= ? ORDER BY since DESC LIMIT ?'),
      olderFinished: p(`SELECT id FROM timeline_jobs INDEXED BY timeline_jobs_state WHERE queue = ? AND state = 'finished' AND since < ? LIMIT ?`),
      overflowFinished: p(`SELECT id FROM timeline_jobs INDEXED BY timeline_jobs_state WHERE queue = ? AND state = 'finished' ORDER BY since DESC LIMIT ? OFFSET ?`),
      staleFinished: p(`SELECT queue, id FROM timeline_jobs INDEXED BY timeline_finished WHERE state = 'finished' AND since < ? ORDER BY since LIMIT ?`),
      deleteJob: p('DELETE FROM timeline_jobs WHERE queue = ? AND id = ?'),
      deleteEvents: p('DELETE FROM timeline_events WHERE queue = ? AND id = ?'),
    };
  }

  /**
   * Appends an event (cleaned by `timelineEventOf`) stamped `now`; with `state`, the job moves to
   * it (since `now`). A job without a timeline yet gets one (state `queued` unless told).
   */
  append(queue: string, id: string, event: NewTimelineEvent, now: number, state?: TimelineJobState): void {
    const clean = timelineEventOf(event);
    if (!clean) return;
    let row = this.#sql.job.get(queue, id) as { next_seq: number; kept: number } | undefined;
    if (!row || state) this.#sql.upsertJob.run(queue, id, state ?? 'queued', now);
    row ??= { next_seq: 0, kept: 0 };
    this.#sql.insertEvent.run(queue, id, row.next_seq, JSON.stringify({ ...clean, at: now }));
    const full = row.kept + 1 > TIMELINE_MAX_EVENTS;
    if (full) this.#sql.dropSecond.run(queue, id, queue, id);
    this.#sql.bump.run(full ? 0 : 1, queue, id);
  }

  /** True when the store keeps a timeline for the job (a finished one past the history bound is gone). */
  has(queue: string, id: string, now: number): boolean {
    const row = this.#sql.job.get(queue, id) as { state: unknown; since: unknown } | undefined;
    if (!row) return false;
    return !(row.state === 'finished' && typeof row.since === 'number' && row.since < now - this.#history.maxAgeMs);
  }

  /** The job left the store with `event`: its timeline is kept for the history bound, older ones go. */
  finish(queue: string, id: string, event: NewTimelineEvent, now: number): void {
    this.append(queue, id, event, now, 'finished');
    const old = this.#sql.olderFinished.all(queue, now - this.#history.maxAgeMs, DROP_BATCH) as Array<{ id: string }>;
    const over = this.#sql.overflowFinished.all(queue, DROP_BATCH, this.#history.maxJobs) as Array<{ id: string }>;
    for (const { id: gone } of [...old, ...over]) this.#drop(queue, gone);
  }

  /** Drops a few finished timelines past the age bound in any queue (called with the store's other sweeps). */
  sweep(now: number, batch: number): void {
    const stale = this.#sql.staleFinished.all(now - this.#history.maxAgeMs, batch) as Array<{ queue: string; id: string }>;
    for (const { queue, id } of stale) this.#drop(queue, id);
  }

  #drop(queue: string, id: string): void {
    this.#sql.deleteEvents.run(queue, id);
    this.#sql.deleteJob.run(queue, id);
  }

  get(queue: string, id: string, now: number): JobTimeline | null {
    const row = this.#sql.job.get(queue, id) as { state: unknown; since: unknown } | undefined;
    if (!row || typeof row.state !== 'string' || !STATES.has(row.state) || typeof row.since !== 'number') return null;
    if (row.state === 'finished' && row.since < now - this.#history.maxAgeMs) return null;
    const events = (this.#sql.events.pluck().all(queue, id) as unknown[]).map(readEvent).filter((e): e is TimelineEvent => e !== null);
    if (events.length === 0) return null;
    return { id, queue, state: row.state as TimelineJobState, since: row.since, events };
  }

  list(queue: string, state: TimelineJobState, limit: number, now: number): JobSummary[] {
    const from = state === 'finished' ? now - this.#history.maxAgeMs : Number.MIN_SAFE_INTEGER;
    const rows = this.#sql.list.all(queue, state, from, limit) as Array<{ id: string; since: number }>;
    const jobs: JobSummary[] = [];
    for (const { id, since } of rows) {
      const first = readEvent(this.#sql.first.pluck().get(queue, id));
      const last = readEvent(this.#sql.last.pluck().get(queue, id));
      if (first && last) jobs.push({ id, queue, state, since, first, last });
    }
    return jobs;
  }
}
