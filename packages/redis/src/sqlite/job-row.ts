import type { JobEvent, JobPhase, JobState, StoredJob } from '@anklet/core';

/** A `jobs` row as SQLite returns it: nothing is trusted until {@link decodeJobRow} checked it. */
export interface JobRow {
  readonly rowid: number;
  readonly queue: unknown;
  readonly id: unknown;
  readonly state: unknown;
  readonly pos: unknown;
  readonly owner_filter: unknown;
  readonly template: unknown;
  readonly handed_off_by: unknown;
  readonly payload: unknown;
  readonly attempts: unknown;
  readonly phase: unknown;
  readonly enqueued_at: unknown;
  readonly token: unknown;
  readonly owner: unknown;
  readonly lease_until: unknown;
  readonly vm_name: unknown;
  readonly runner_id: unknown;
  readonly last_reason: unknown;
  readonly not_before: unknown;
  readonly events: unknown;
}

/** A decoded row: the job, its state in the queue and its fencing token. */
export interface DecodedJob<P = unknown> {
  readonly job: StoredJob<P>;
  readonly state: JobState;
  readonly token: number;
}

/** A row that cannot be turned into a job; the store quarantines it with this reason. */
export class PoisonRowError extends Error {
  override readonly name = 'PoisonRowError';
}

export const JOB_STATES: ReadonlySet<string> = new Set<JobState>(['queued', 'delayed', 'handed_off', 'claimed']);
const PHASES: ReadonlySet<string> = new Set<JobPhase>(['queued', 'claimed', 'preparing', 'vm_started', 'registered', 'in_progress', 'cleaning', 'finished']);

function integer(row: JobRow, column: keyof JobRow): number {
  const value = row[column];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new PoisonRowError(`${column} is not an integer`);
  return value;
}

function optionalInteger(row: JobRow, column: keyof JobRow): number | undefined {
  return row[column] === null ? undefined : integer(row, column);
}

function text(row: JobRow, column: keyof JobRow): string {
  const value = row[column];
  if (typeof value !== 'string') throw new PoisonRowError(`${column} is not text`);
  return value;
}

/** Text or NULL; '' also reads as unset (`update` stores '' as NULL, older rows may hold ''). */
function optionalText(row: JobRow, column: keyof JobRow): string | undefined {
  if (row[column] === null) return undefined;
  const value = text(row, column);
  return value === '' ? undefined : value;
}

function decodeEvents(raw: unknown): Record<string, JobEvent> {
  // A broken event note does not make the job unreadable (the Redis store reads it the same way):
  // the job itself is fine, and the next event overwrites the note.
  if (typeof raw !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    const events: Record<string, JobEvent> = {};
    for (const [action, event] of Object.entries(parsed as Record<string, unknown>)) {
      if (event && typeof event === 'object' && !Array.isArray(event)) events[action] = event as JobEvent;
    }
    return events;
  } catch {
    return {};
  }
}

/** Checks every column of a row and builds the job; throws {@link PoisonRowError} on the first bad one. */
export function decodeJobRow<P>(row: JobRow): DecodedJob<P> {
  const id = text(row, 'id');
  if (id === '') throw new PoisonRowError('id is empty');
  const state = text(row, 'state');
  if (!JOB_STATES.has(state)) throw new PoisonRowError(`unknown state ${JSON.stringify(state).slice(0, 40)}`);
  const phase = text(row, 'phase');
  if (!PHASES.has(phase)) throw new PoisonRowError(`unknown phase ${JSON.stringify(phase).slice(0, 40)}`);
  integer(row, 'pos');
  let payload: P;
  try {
    payload = JSON.parse(text(row, 'payload')) as P;
  } catch (error) {
    if (error instanceof PoisonRowError) throw error;
    throw new PoisonRowError('payload is not JSON');
  }
  const token = integer(row, 'token');
  const job: StoredJob<P> = {
    id,
    queue: text(row, 'queue'),
    payload,
    attempts: integer(row, 'attempts'),
    phase: phase as JobPhase,
    enqueuedAt: integer(row, 'enqueued_at'),
    owner: optionalText(row, 'owner'),
    leaseExpiresAt: optionalInteger(row, 'lease_until'),
    vmName: optionalText(row, 'vm_name'),
    runnerId: optionalText(row, 'runner_id'),
    repositoryOwner: optionalText(row, 'owner_filter'),
    template: optionalText(row, 'template'),
    handedOffBy: optionalText(row, 'handed_off_by'),
    lastReason: optionalText(row, 'last_reason'),
    notBefore: optionalInteger(row, 'not_before'),
    events: decodeEvents(row.events),
  };
  return { job, state: state as JobState, token };
}

/** The columns {@link decodeJobRow} reads, for `SELECT ${JOB_COLUMNS} FROM jobs`. */
export const JOB_COLUMNS =
  'rowid, queue, id, state, pos, owner_filter, template, handed_off_by, payload, attempts, phase, enqueued_at, token, owner, lease_until, vm_name, runner_id, last_reason, not_before, events';
