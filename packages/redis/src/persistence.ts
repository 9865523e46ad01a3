import type { Cluster, Redis } from 'ioredis';

/**
 * What a Redis server keeps across a restart, read with `CONFIG GET` (managed services often
 * refuse CONFIG; then it is `unknown`, never a guess):
 * - `aof`: the append-only file is on; with `appendfsync everysec` at most about a second of
 *   writes is lost in a crash, and nothing in a clean restart;
 * - `rdb`: snapshots only (`save`); a clean restart keeps the jobs, a crash loses those written
 *   since the last snapshot;
 * - `none`: no AOF and no `save` rule: a restart of the server loses every queued job;
 * - `unknown`: the server would not say.
 */
export type PersistenceMode = 'aof' | 'rdb' | 'none' | 'unknown';

export interface PersistenceReport {
  readonly mode: PersistenceMode;
  /** One line for people, e.g. `AOF on (appendfsync everysec)`. */
  readonly detail: string;
  /** What to do, when anything should be done. */
  readonly fix?: string | undefined;
}

/** The advice the docs give (README, "Deploying Redis"). */
export const PERSISTENCE_FIX =
  'run Redis with AOF (appendonly yes, appendfsync everysec: redis-cli CONFIG SET appendonly yes, then CONFIG REWRITE), or a managed Redis with persistence on';

async function configValue(node: Redis, name: string): Promise<string> {
  const reply = (await node.call('CONFIG', 'GET', name)) as unknown;
  // `[name, value]` (RESP2); an empty list means this server does not know the parameter.
  return Array.isArray(reply) && reply.length >= 2 ? String(reply[1]) : '';
}

async function checkNode(node: Redis): Promise<PersistenceReport> {
  let appendonly: string;
  let save: string;
  let fsync: string;
  try {
    [appendonly, save, fsync] = await Promise.all([configValue(node, 'appendonly'), configValue(node, 'save'), configValue(node, 'appendfsync')]);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    return {
      mode: 'unknown',
      detail: `persistence could not be checked (CONFIG GET refused: ${reason})`,
      fix: `make sure this Redis persists its data: ${PERSISTENCE_FIX}`,
    };
  }
  if (appendonly === 'yes') {
    return fsync === 'no'
      ? { mode: 'aof', detail: 'AOF on (appendfsync no: the OS flushes when it likes, up to ~30 s of jobs lost in a crash)', fix: 'set appendfsync everysec' }
      : { mode: 'aof', detail: `AOF on (appendfsync ${fsync || 'everysec'})` };
  }
  if (save.trim() !== '') {
    return {
      mode: 'rdb',
      detail: `RDB snapshots only (save ${save}): a crash loses the jobs written since the last snapshot`,
      fix: 'turn AOF on (appendonly yes, appendfsync everysec) so a crash loses at most a second',
    };
  }
  return { mode: 'none', detail: 'no AOF and no RDB save rule: a restart of Redis loses every queued job', fix: PERSISTENCE_FIX };
}

const RANK: Record<PersistenceMode, number> = { none: 0, unknown: 1, rdb: 2, aof: 3 };

/**
 * Reads the server's persistence settings (every master of a cluster; the weakest one is the
 * answer). Never throws: a server that refuses CONFIG gives `unknown`.
 */
export async function checkRedisPersistence(client: Redis | Cluster): Promise<PersistenceReport> {
  const cluster = (client as { isCluster?: boolean }).isCluster === true;
  const nodes: Redis[] = cluster ? (client as Cluster).nodes('master') : [client as Redis];
  const reports = await Promise.all(nodes.map((node) => checkNode(node)));
  const worst = reports.reduce((a, b) => (RANK[b.mode] < RANK[a.mode] ? b : a), reports[0] ?? { mode: 'unknown', detail: 'no server to ask' });
  if (!cluster || nodes.length <= 1) return worst;
  const weak = reports.filter((r) => r.mode === worst.mode).length;
  return { ...worst, detail: `${worst.detail} (${weak} of ${nodes.length} masters)` };
}
