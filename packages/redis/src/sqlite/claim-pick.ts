import type Database from 'better-sqlite3';
import type { ClaimRequest, LeftForAffinity } from '@anklet/core';
import type { Holder } from '../host-capacity.js';

/** A group of jobs that share a state and the claim filters' columns (one `job_groups` row). */
interface Group {
  readonly state: string;
  readonly owner_filter: unknown;
  readonly template: unknown;
  readonly handed_off_by: unknown;
}

/**
 * Finds the job a claim takes, without reading the jobs it may not take. The filters are all on
 * the columns of a group, so the claimer's eligible groups are chosen from `job_groups` (a few
 * rows: one per repository owner × template × hand-off author present in the queue), and each
 * group's oldest job is one seek down `jobs_pick`. The oldest of those wins: FIFO among eligible
 * jobs, hand-offs before the main queue. Skipped job ids are the only filter on single jobs; a
 * group's seek steps over them (at most as many rows as the claimer skips).
 */
export class ClaimPicker {
  private readonly groups: Database.Statement<[string]>;
  private readonly oldest: Database.Statement<[string, string, unknown, unknown, unknown, string]>;
  /** Jobs the last {@link pick} left for a host that holds their template. */
  left: LeftForAffinity[] = [];

  constructor(db: Database.Database) {
    this.groups = db.prepare(`SELECT state, owner_filter, template, handed_off_by FROM job_groups WHERE queue = ? AND state IN ('handed_off', 'queued') AND n > 0`);
    this.oldest = db.prepare(
      `SELECT rowid, pos, id, enqueued_at FROM jobs INDEXED BY jobs_pick
       WHERE queue = ? AND state = ? AND owner_filter = ? AND template = ? AND handed_off_by = ?
         AND id NOT IN (SELECT value FROM json_each(?))
       ORDER BY pos LIMIT 1`,
    );
  }

  /**
   * The rowid of the job `request` takes next, or undefined when it may take none. With
   * `holders` (template affinity: the other live hosts with a free slot, by template), a group
   * whose oldest job has a template this host does not hold, queued less than the grace before
   * `now`, and held by one of them, is passed over (the jobs behind it are younger), and its
   * oldest job is noted in {@link left}.
   */
  pick(request: ClaimRequest, holders?: ReadonlyMap<string, Holder>, now = Date.now()): number | undefined {
    this.left = [];
    const affinity = request.affinity;
    const graceMs = holders && affinity && affinity.graceMs > 0 ? Math.round(affinity.graceMs) : 0;
    const held = new Set(affinity?.templates ?? []);
    const owners = new Set(request.repositoryOwners ?? []);
    const refused = new Set(request.refusedTemplates ?? []);
    const skipHandedOffBy = new Set(request.skipHandedOffBy ?? []);
    const skipIds = JSON.stringify(request.skipJobIds ?? []);
    const eligible = (this.groups.all(request.queue) as Group[]).filter((g) => {
      const owner = typeof g.owner_filter === 'string' ? g.owner_filter : '';
      const template = typeof g.template === 'string' ? g.template : '';
      if (owners.size > 0 && owner !== '' && !owners.has(owner)) return false;
      if (template !== '' && refused.has(template)) return false;
      if (g.state === 'handed_off' && typeof g.handed_off_by === 'string' && skipHandedOffBy.has(g.handed_off_by)) return false;
      return true;
    });
    for (const state of ['handed_off', 'queued']) {
      let best: { rowid: number; pos: number } | undefined;
      for (const g of eligible) {
        if (g.state !== state) continue;
        const row = this.oldest.get(request.queue, state, g.owner_filter, g.template, g.handed_off_by, skipIds) as OldestRow | undefined;
        if (row && graceMs > 0 && typeof g.template === 'string' && g.template !== '' && !held.has(g.template)) {
          const holder = holders?.get(g.template);
          const age = typeof row.enqueued_at === 'number' ? now - row.enqueued_at : Infinity;
          if (holder && age < graceMs) {
            this.left.push({ jobId: String(row.id), template: g.template, hostId: holder.hostId, hostName: holder.hostName, remainingMs: graceMs - age });
            continue;
          }
        }
        if (row && (best === undefined || comparePos(row.pos, best.pos) < 0)) best = row;
      }
      if (best) return best.rowid;
    }
    return undefined;
  }
}

/** A group's oldest job as {@link ClaimPicker} reads it (columns may hold anything in a poisoned row). */
interface OldestRow {
  readonly rowid: number;
  readonly pos: number;
  readonly id: unknown;
  readonly enqueued_at: unknown;
}

/** Orders positions as SQLite does (numbers before anything else), so a poison row sorts last. */
function comparePos(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return 0;
}
