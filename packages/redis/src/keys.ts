/**
 * Key layout. Every key of one queue carries the hash tag `{<queue>}`, so all the keys a script
 * touches live in one Redis Cluster slot. A leadership's two keys share the tag `{<name>}`.
 *
 * ```
 * <prefix>:jobs:{<queue>}:meta          hash   tail/head position counters, change counter `seq`,
 *                                              quarantined count `bad`, record format `fmt`
 * <prefix>:jobs:{<queue>}:qg            set    names of the main queue's non-empty groups
 * <prefix>:jobs:{<queue>}:q:<group>     list   queued job ids of one group (owner, template), head first
 * <prefix>:jobs:{<queue>}:hg            set    names of the non-empty hand-off groups
 * <prefix>:jobs:{<queue>}:groups        hash   group id -> group name (`<#owner>:<owner><template>`)
 * <prefix>:jobs:{<queue>}:gids          hash   group name -> group id
 * <prefix>:jobs:{<queue>}:h:<group>     list   handed-off job ids of one group (by, owner, template)
 * <prefix>:jobs:{<queue>}:leases        zset   job id -> lease end (ms, Redis server clock)
 * <prefix>:jobs:{<queue>}:delayed       zset   job id -> time it is due (ms, server clock)
 * <prefix>:jobs:{<queue>}:j:<id>        hash   the job record (format 2: see lua/_lib.lua)
 * <prefix>:jobs:{<queue>}:done:<id>     string tombstone of a finished or quarantined job (TTL)
 * <prefix>:jobs:{<queue>}:dl2:<b>:<s>  hash   webhook deliveries seen in time bucket b (as wide as the delivery TTL), first byte s (TTL)
 * <prefix>:jobs:{<queue>}:quarantine    list   notes on records set aside (newest first, 1,000 kept)
 * <prefix>:jobs:{<queue>}:bad:<id>      any    a record set aside (TTL)
 * <prefix>:jobs:{<queue>}:tl:<id>       list   the job's timeline: event JSON, oldest first, at most 50 (none while only queued; TTL once finished)
 * <prefix>:jobs:{<queue>}:tlq           zset   job ids whose timeline state is queued -> since (ms, server clock)
 * <prefix>:jobs:{<queue>}:tlr           zset   job ids whose timeline state is running -> since
 * <prefix>:jobs:{<queue>}:tlf           zset   finished job ids whose timeline is kept -> finished at (bounded)
 * <prefix>:jobs:{<queue>}:aff:<id>      string the job was left for template affinity (PX: the grace): waiters were woken once
 * <prefix>:jobs:{<queue>}:idle          zset   idle waiter token -> end of its wait (ms)
 * <prefix>:jobs:{<queue>}:wake          channel  a waiter token, published to wake that one waiter
 * <prefix>:jobs:{<queue>}:events        channel  a job id, published when an event is recorded for it
 * <prefix>:leader:{<name>}              string `<owner>:<token>` with PX TTL
 * <prefix>:leader:{<name>}:fence        string fencing counter
 * <prefix>:instance:{<name>}            string the JSON of the host holding a handler instance name, PX TTL
 * <prefix>/metrics/<owner>/<name>       string one host's metrics JSON (TTL); the Go anklet's key
 * <prefix>:hosts:capacity               hash   host id -> `<until ms>|<JSON>`: templates held, free slots (template affinity)
 * ```
 *
 * Format 1 (anklet before store v2; moved to format 2 on first use, see lua/migrate-queue-1.lua):
 * `queued` and `handoff` sorted sets, `job:<id>` hashes, `delivery:<id>` strings.
 */
export interface QueueKeys {
  readonly base: string;
  readonly meta: string;
  readonly leases: string;
  /** Requeued jobs waiting out their back-off. */
  readonly delayed: string;
  readonly quarantine: string;
  readonly idle: string;
  readonly wake: string;
  /** Channel of recorded job events (message: the job id). */
  readonly events: string;
  job(id: string): string;
  done(id: string): string;
  bad(id: string): string;
  /** Format 1 keys, for migration tests and tools. */
  readonly legacy: { readonly queued: string; readonly handoff: string; job(id: string): string; delivery(id: string): string };
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
    leases: `${base}:leases`,
    delayed: `${base}:delayed`,
    quarantine: `${base}:quarantine`,
    idle: `${base}:idle`,
    wake: `${base}:wake`,
    events: `${base}:events`,
    job: (id) => `${base}:j:${id}`,
    done: (id) => `${base}:done:${id}`,
    bad: (id) => `${base}:bad:${id}`,
    legacy: {
      queued: `${base}:queued`,
      handoff: `${base}:handoff`,
      job: (id) => `${base}:job:${id}`,
      delivery: (id) => `${base}:delivery:${id}`,
    },
  };
}

/** The keys of one leadership. */
export function leaderKeys(prefix: string, name: string): { lock: string; fence: string } {
  assertKeyPart('leadership name', name);
  const lock = `${prefix}:leader:{${name}}`;
  return { lock, fence: `${lock}:fence` };
}

/** The key of one registered instance name (see `JobStore.registerInstance`). */
export function instanceKey(prefix: string, name: string): string {
  assertKeyPart('instance name', name);
  return `${prefix}:instance:{${name}}`;
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
