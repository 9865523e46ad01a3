import { AnkletError, ErrorCodes, type LeaderLease } from '@anklet/core';
import type { Statements } from './statements.js';

interface LeaderRow {
  readonly owner: string | null;
  readonly token: number;
  readonly until: number;
}

/**
 * Takes leadership `name` when nobody holds it (or it expired), or extends it for its holder. The
 * row outlives a release (owner NULL) so that the next leader's fencing token is greater.
 * Run inside a write transaction.
 */
export function acquireLeader(sql: Statements, name: string, owner: string, ttlMs: number): LeaderLease | null {
  const now = Date.now();
  const current = sql.leader.get(name) as LeaderRow | undefined;
  if (current?.owner && current.until > now) {
    if (current.owner !== owner) return null;
    sql.putLeader.run(name, owner, current.token, now + ttlMs);
    return { name, owner, token: current.token };
  }
  const token = (current?.token ?? 0) + 1;
  sql.putLeader.run(name, owner, token, now + ttlMs);
  return { name, owner, token };
}

/** Extends a held leadership; `ANKLET_ERR_LEASE_LOST` when it expired or another holds it. Run inside a write transaction. */
export function renewLeader(sql: Statements, lease: LeaderLease, ttlMs: number): void {
  const now = Date.now();
  const current = sql.leader.get(lease.name) as LeaderRow | undefined;
  if (!current || current.owner !== lease.owner || current.token !== lease.token || current.until <= now) {
    throw new AnkletError(ErrorCodes.LEASE_LOST, `leadership ${lease.name} is no longer held by ${lease.owner}`, { details: { ...lease } });
  }
  sql.putLeader.run(lease.name, lease.owner, lease.token, now + ttlMs);
}
