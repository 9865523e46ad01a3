import type { ClaimRequest, HostCapacity, LeftForAffinity } from '@anklet/core';

/**
 * Capacity records for template affinity: one per host, what it holds and its free VM slots (see
 * `JobStore.putHostCapacity`). Both stores keep the same JSON per host and read it back with
 * {@link decodeHostCapacity}, so they answer the same.
 */

/** The Redis hash of capacity records: host id -> `<until ms>|<JSON>` (see lua/put-host-capacity-1.lua). */
export function hostCapacityKey(prefix: string): string {
  return `${prefix}:hosts:capacity`;
}

/** The stored JSON of a record (the host id is its key). */
export function encodeHostCapacity(capacity: HostCapacity): string {
  return JSON.stringify({ hostName: capacity.hostName, templates: [...capacity.templates], freeSlots: capacity.freeSlots });
}

/** A stored record, or null when it cannot be read (another version, a hand edit): it is then ignored. */
export function decodeHostCapacity(hostId: string, json: string): HostCapacity | null {
  try {
    const parsed = JSON.parse(json) as { hostName?: unknown; templates?: unknown; freeSlots?: unknown };
    if (typeof parsed.hostName !== 'string' || typeof parsed.freeSlots !== 'number' || !Array.isArray(parsed.templates)) return null;
    const templates = parsed.templates.filter((t): t is string => typeof t === 'string');
    return { hostId, hostName: parsed.hostName, templates, freeSlots: parsed.freeSlots };
  } catch {
    return null;
  }
}

/** Sorted by host id, as `listHostCapacity` answers. */
export function sortCapacity(records: HostCapacity[]): HostCapacity[] {
  return records.sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
}

/** A host that could take a job of some template now. */
export interface Holder {
  readonly hostId: string;
  readonly hostName: string;
}

/**
 * For each template, the first host (by id) other than `self` that holds it and has a free slot:
 * the hosts a claim may leave a job for.
 */
export function holdersElsewhere(records: ReadonlyArray<HostCapacity>, self: string): Map<string, Holder> {
  const out = new Map<string, Holder>();
  for (const record of records) {
    if (record.hostId === self || record.freeSlots <= 0) continue;
    for (const template of record.templates) if (!out.has(template)) out.set(template, { hostId: record.hostId, hostName: record.hostName });
  }
  return out;
}

/** The `left` list a claim script answered (JSON), tolerant of an empty Lua table (`{}`). */
export function readLeft(json: unknown): LeftForAffinity[] {
  try {
    const parsed: unknown = JSON.parse(String(json));
    return Array.isArray(parsed) ? (parsed as LeftForAffinity[]) : [];
  } catch {
    return [];
  }
}

/** Tells the claimer which jobs its claim left (when it left any and asked to know). */
export function reportLeft(request: ClaimRequest, left: ReadonlyArray<LeftForAffinity>): void {
  if (left.length === 0) return;
  try {
    request.affinity?.onLeft?.(left);
  } catch {
    // A report, not part of the claim: a failing listener must not lose a job already claimed.
  }
}
