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

const PHASES = new Set<JobPhase>(['queued', 'claimed', 'preparing', 'vm_started', 'registered', 'in_progress', 'cleaning', 'finished']);

/** Turns a flat `[field, value, ...]` reply into an object. */
export function pairsToRecord(flat: ReadonlyArray<unknown>, from = 0): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = from; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

/** Decodes a job hash; throws {@link MalformedRecordError} when it has no id or its payload is not JSON. */
export function decodeJob<P>(key: string, hash: Record<string, string>): StoredJob<P> {
  const id = hash['id'];
  if (!id) throw new MalformedRecordError(key, 'missing id');
  const rawPayload = hash['payload'];
  if (rawPayload === undefined) throw new MalformedRecordError(key, 'missing payload');
  let payload: P;
  try {
    payload = JSON.parse(rawPayload) as P;
  } catch {
    throw new MalformedRecordError(key, 'payload is not JSON');
  }
  const events: Record<string, JobEvent> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith('ev:')) continue;
    try {
      events[field.slice(3)] = JSON.parse(value) as JobEvent;
    } catch {
      // A broken event note must not make the job unreadable; the job itself is fine.
    }
  }
  const phase = hash['phase'] as JobPhase | undefined;
  const num = (field: string): number | undefined => (hash[field] === undefined ? undefined : Number(hash[field]));
  return {
    id,
    queue: hash['queue'] ?? '',
    payload,
    attempts: num('attempts') ?? 0,
    phase: phase && PHASES.has(phase) ? phase : 'queued',
    enqueuedAt: num('enqueuedAt') ?? 0,
    owner: hash['owner'],
    leaseExpiresAt: num('leaseUntil'),
    vmName: hash['vmName'],
    runnerId: hash['runnerId'],
    repositoryOwner: hash['repositoryOwner'],
    template: hash['template'],
    handedOffBy: hash['handedOffBy'],
    lastReason: hash['lastReason'],
    notBefore: num('notBefore'),
    events,
  };
}
