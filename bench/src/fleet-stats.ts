/**
 * Pure helpers of the fleet benchmark: percentiles, time intervals (union, clipping), the
 * simulators' records turned into intervals, a process tree's resident memory, and the readiness probe.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A time interval in epoch milliseconds, `start <= end`. */
export interface Interval {
  start: number;
  end: number;
}

/** The p-th percentile (0–100) by the nearest-rank method; NaN for no samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export const median = (values: readonly number[]) => percentile(values, 50);

/** Total length of the union of `intervals`, counting only what lies inside `within`. */
export function unionLength(intervals: readonly Interval[], within: Interval): number {
  const clipped = intervals
    .map((i) => ({ start: Math.max(i.start, within.start), end: Math.min(i.end, within.end) }))
    .filter((i) => i.end > i.start)
    .sort((a, b) => a.start - b.start);
  let total = 0;
  let current: Interval | undefined;
  for (const i of clipped) {
    if (current && i.start <= current.end) current.end = Math.max(current.end, i.end);
    else {
      if (current) total += current.end - current.start;
      current = { ...i };
    }
  }
  if (current) total += current.end - current.start;
  return total;
}

/** Length of `interval` inside `within`. */
export const overlap = (interval: Interval, within: Interval) => Math.max(0, Math.min(interval.end, within.end) - Math.max(interval.start, within.start));

/** A github-sim REST path with ids replaced, so calls group by route: `DELETE /orgs/acme/actions/runners/{id}`. */
export const routeOf = (method: string, path: string) => `${method} ${path.replace(/\/\d+(?=\/|$)/g, '/{id}')}`;

/** One REST request github-sim served, from its `log` line: `github-sim: GET /x -> 200 (3 ms)`. */
export interface SimRequest extends Interval {
  route: string;
  status: number;
}

const REQUEST_LINE = /^github-sim: (\w+) (\S+) -> (\d+) \((\d+) ms\)$/;

/** Parses a github-sim log line logged at `at` (the end of the request); undefined for other lines. */
export function parseSimRequest(line: string, at: number): SimRequest | undefined {
  const m = REQUEST_LINE.exec(line);
  if (!m) return undefined;
  return { route: routeOf(m[1]!, m[2]!), status: Number(m[3]), start: at - Number(m[4]), end: at };
}

/** Resident memory (kB) of a process and every descendant, from `/proc/<pid>/status` VmRSS. */
export function treeRssKb(rootPid: number): { kb: number; pids: number[] } {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name (field 2) may hold spaces: the parent pid is the 2nd field after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const pids = [rootPid];
  for (let i = 0; i < pids.length; i++) for (const [pid, ppid] of parents) if (ppid === pids[i]) pids.push(pid);
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // gone meanwhile
    }
  }
  return { kb, pids };
}

/** Polls `<url>readyz` every 5 ms until it answers 200 (returns when) or `until()` says stop (undefined). */
export async function readyz(url: string, until: () => boolean): Promise<number | undefined> {
  while (!until()) {
    try {
      const response = await fetch(`${url}readyz`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return Date.now();
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  return undefined;
}
