import type { InstanceHolder, InstanceRegistration, RegisterInstanceOptions } from '@anklet/core';
import { holderJson, readHolder } from '../instance-holder.js';
import type { Statements } from './statements.js';

interface InstanceRow {
  readonly owner: string | null;
  readonly until: number;
}

/** The `leaders` row name of an instance name (leaderships never start with `instance:`). */
function rowName(name: string): string {
  return `instance:${name}`;
}

/**
 * Registers instance name `name` for `holder` (see `JobStore.registerInstance`): taken when free,
 * run out, already the holder's, or held by `options.replace`. Run inside a write transaction.
 */
export function registerInstance(sql: Statements, name: string, holder: InstanceHolder, ttlMs: number, options: RegisterInstanceOptions = {}): InstanceRegistration {
  const now = Date.now();
  const mine = holderJson(holder);
  const current = sql.leader.get(rowName(name)) as InstanceRow | undefined;
  const live = current?.owner && current.until > now ? current.owner : null;
  if (live && live !== mine && !(options.replace && live === holderJson(options.replace))) {
    return { held: false, holder: readHolder(live), expiresInMs: current!.until - now };
  }
  sql.putLeader.run(rowName(name), mine, 0, now + Math.max(1, Math.round(ttlMs)));
  return { held: true };
}

/** Gives an instance name up when `holder` still has it. Run inside a write transaction. */
export function releaseInstance(sql: Statements, name: string, holder: InstanceHolder): void {
  sql.releaseInstance.run(rowName(name), holderJson(holder));
}
