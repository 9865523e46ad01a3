import type { JobEvent, JobPhase, StoredJob } from '@anklet/core';

/** A record that cannot be turned into a job: logged with its key and quarantined by the store. */
export class MalformedRecordError extends Error {
  override readonly name = 'MalformedRecordError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`malformed job record at ${key}: ${reason}`);
  }
}

/**
 * The most bytes in one payload piece. Redis keeps a hash in its compact listpack encoding while
 * every value is at most `hash-max-listpack-value` bytes (64 by default); one longer value turns
 * the whole record into a hash table, about twice the memory. 63, not 64: a listpack string of up
 * to 63 bytes has a one-byte header.
 */
export const PIECE_BYTES = 63;

/** Turns a flat `[field, value, ...]` reply into an object. */
export function pairsToRecord(flat: ReadonlyArray<unknown>, from = 0): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = from; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

/** Cuts text into pieces of at most {@link PIECE_BYTES} UTF-8 bytes, never inside a character. */
export function payloadPieces(text: string): string[] {
  // ASCII only (the usual webhook): a character is a byte, so string slices are the pieces.
  if (Buffer.byteLength(text, 'utf8') === text.length) {
    const pieces: string[] = [];
    for (let start = 0; start < text.length; start += PIECE_BYTES) pieces.push(text.slice(start, start + PIECE_BYTES));
    return pieces.length > 0 ? pieces : [''];
  }
  const bytes = Buffer.from(text, 'utf8');
  const pieces: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + PIECE_BYTES, bytes.length);
    // A continuation byte (10xxxxxx) at the cut would split a character: cut before its lead byte.
    while (end < bytes.length && end > start + 1 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
    pieces.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
  }
  return pieces.length > 0 ? pieces : [''];
}

/** Joins the payload pieces `0`, `1`, ... of a record. */
function payloadText(hash: Record<string, string>): string | undefined {
  if (hash['0'] === undefined) return undefined;
  let text = '';
  for (let i = 0; hash[String(i)] !== undefined; i += 1) text += hash[String(i)];
  return text;
}

const int = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));

/**
 * Decodes a record in format 2 (see `lua/_lib.lua`) that a script already checked field by field;
 * what is left to check here is the payload. Throws {@link MalformedRecordError}.
 */
export function decodeJob<P>(key: string, id: string, queue: string, hash: Record<string, string>): StoredJob<P> {
  const rawPayload = payloadText(hash);
  if (rawPayload === undefined) throw new MalformedRecordError(key, 'missing payload');
  let payload: P;
  try {
    payload = JSON.parse(rawPayload) as P;
  } catch {
    throw new MalformedRecordError(key, 'payload is not JSON');
  }
  const events: Record<string, JobEvent> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith('e:')) continue;
    try {
      events[field.slice(2)] = JSON.parse(value) as JobEvent;
    } catch {
      // A broken event note must not make the job unreadable; the job itself is fine.
    }
  }
  return {
    id,
    queue,
    payload,
    attempts: int(hash['a']) ?? 0,
    // Defaults are not stored: no phase is `queued`, no token or attempts is 0.
    phase: (hash['f'] ?? 'queued') as JobPhase,
    enqueuedAt: int(hash['t']) ?? 0,
    owner: hash['w'],
    leaseExpiresAt: int(hash['l']),
    vmName: hash['x'],
    runnerId: hash['r'],
    repositoryOwner: hash['o'],
    template: hash['m'],
    handedOffBy: hash['b'],
    lastReason: hash['y'],
    notBefore: int(hash['z']),
    events,
  };
}

/** Record fields `update` may change, by the name the contract uses. */
export const UPDATE_FIELDS = { phase: 'f', vmName: 'x', runnerId: 'r' } as const;
