/**
 * Key layout. Every key of one queue carries the hash tag `{<queue>}`, so all the keys a script
 * touches live in one Redis Cluster slot. A leadership's two keys share the tag `{<name>}`.
 *
 * ```
 * <prefix>:jobs:{<queue>}:meta          hash   tail/head position counters
 * <prefix>:jobs:{<queue>}:queued        zset   job id -> position (head requeues get negative positions)
 * <prefix>:jobs:{<queue>}:handoff       zset   job id -> position, claimed before `queued`
 * <prefix>:jobs:{<queue>}:leases        zset   job id -> lease end (ms, Redis server clock)
 * <prefix>:jobs:{<queue>}:delayed       zset   job id -> time it is due (ms, server clock)
 * <prefix>:jobs:{<queue>}:job:<id>      hash   the job record
 * <prefix>:jobs:{<queue>}:done:<id>     string tombstone of a finished job (TTL)
 * <prefix>:jobs:{<queue>}:delivery:<id> string a webhook delivery seen (TTL)
 * <prefix>:jobs:{<queue>}:quarantine    list   notes on records set aside
 * <prefix>:jobs:{<queue>}:bad:<id>      hash   a record set aside
 * <prefix>:jobs:{<queue>}:wake          channel  published on enqueue, requeue and hand-off
 * <prefix>:jobs:{<queue>}:events        channel  a job id, published when an event is recorded for it
 * <prefix>:leader:{<name>}              string `<owner>:<token>` with PX TTL
 * <prefix>:leader:{<name>}:fence        string fencing counter
 * <prefix>/metrics/<owner>/<name>       string one host's metrics JSON (TTL); the Go anklet's key
 * ```
 */
export interface QueueKeys {
  readonly base: string;
  readonly meta: string;
  readonly queued: string;
  readonly handoff: string;
  readonly leases: string;
  /** Requeued jobs waiting out their back-off. */
  readonly delayed: string;
  readonly quarantine: string;
  readonly wake: string;
  /** Channel of recorded job events (message: the job id). */
  readonly events: string;
  /** Prefix of job hashes; the scripts append the id. */
  readonly jobPrefix: string;
  job(id: string): string;
  done(id: string): string;
  delivery(id: string): string;
  bad(id: string): string;
}

/** Braces would move the hash tag, so they may not appear in names that build keys. */
export function assertKeyPart(kind: string, value: string): void {
  if (value === '' || /[{}]/.test(value)) {
    throw new TypeError(`${kind} must be a non-empty string without "{" or "}": ${JSON.stringify(value)}`);
  }
}

/** The keys of one queue. */
export function queueKeys(prefix: string, queue: string): QueueKeys {
  assertKeyPart('queue name', queue);
  const base = `${prefix}:jobs:{${queue}}`;
  return {
    base,
    meta: `${base}:meta`,
    queued: `${base}:queued`,
    handoff: `${base}:handoff`,
    leases: `${base}:leases`,
    delayed: `${base}:delayed`,
    quarantine: `${base}:quarantine`,
    wake: `${base}:wake`,
    events: `${base}:events`,
    jobPrefix: `${base}:job:`,
    job: (id) => `${base}:job:${id}`,
    done: (id) => `${base}:done:${id}`,
    delivery: (id) => `${base}:delivery:${id}`,
    bad: (id) => `${base}:bad:${id}`,
  };
}

/** The keys of one leadership. */
export function leaderKeys(prefix: string, name: string): { lock: string; fence: string } {
  assertKeyPart('leadership name', name);
  const lock = `${prefix}:leader:{${name}}`;
  return { lock, fence: `${lock}:fence` };
}

/**
 * The key of one host's metrics snapshot. It keeps the Go anklet's form, `anklet/metrics/<key>`
 * (slashes, no hash tag), so Go and TypeScript hosts and aggregators read each other's snapshots.
 */
export function metricsKey(prefix: string, key: string): string {
  return `${prefix}/metrics/${metricsKeyEnding(key)}`;
}

/** `<owner>/<name>` with leading slashes removed (Go trims them when the owner is empty). */
export function metricsKeyEnding(key: string): string {
  const ending = key.replace(/^\/+/, '');
  if (ending === '') throw new TypeError('metrics key must not be empty');
  return ending;
}

/** SCAN pattern for every metrics snapshot under `prefix` (glob characters in the prefix escaped). */
export function metricsKeyPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}/metrics/*`;
}
