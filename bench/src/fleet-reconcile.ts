/**
 * Run R of bench:fleet (issue 17 item 1): reconciliation with GitHub. A receiver host and one
 * handler host (two handlers) on Redis, the handlers sweeping GitHub every
 * BENCH_FLEET_RECONCILE_INTERVAL seconds. Jobs of 1 s are dispatched one every
 * 1.5 s, and github-sim never sends the `queued` webhook of every third one (dropped entirely: no
 * failed delivery to redeliver). Then the fleet stays idle for IDLE_PASSES sweeps.
 *
 * Measured from github-sim's request log (route and status) and anklet's log lines:
 * - the longest wait of a dropped job: GitHub's dispatch → the claim;
 * - the sweep's requests per pass and repository, counted (200s) and 304s apart, while jobs flow
 *   and while idle, and per repository per hour at the default interval (120 s: 30 passes an hour);
 * - the other GitHub calls per successful job (the handlers' own), to show the sweep adds none.
 */
import type { SimRequest } from './fleet-stats.js';
import { median, parseSimRequest } from './fleet-stats.js';
import { linesOf, timeOf } from './fleet-records.js';
import { simulatedTemplate, startFleet } from '@anklet/fleet';

const INTERVAL_S = Number(process.env.BENCH_FLEET_RECONCILE_INTERVAL ?? 10);
const JOBS = Number(process.env.BENCH_FLEET_RECONCILE_JOBS ?? 12);
const IDLE_PASSES = 3;
/** Passes an hour at the default `reconcile_interval_seconds` (120). */
const DEFAULT_PASSES_PER_HOUR = 30;
const PASS_LINE = 'finished reconciling the queue with GitHub';
const ENQUEUED = 'job queued on GitHub but unknown to the store (webhook lost, or the store lost its data); enqueued it';
const say = (text: string) => process.stderr.write(`${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The routes the sweep uses to list (the handlers themselves never call them). */
export const isSweepRoute = (route: string) => /^GET \/(orgs|users)\/[^/]+\/repos$/.test(route) || /^GET \/repos\/[^/]+\/[^/]+\/actions\/runs(\/\{id\}\/jobs)?$/.test(route);

/** One sweep pass, per repository: counted calls, 304s, reads that found a lost job; `full` or quick; the leader's first pass. */
export interface PassCount {
  calls: number;
  notModified: number;
  findingLost: number;
  full: boolean;
  first: boolean;
}

export interface ReconcileRun {
  intervalS: number;
  jobs: number;
  dropped: number;
  succeeded: number;
  /** Dispatch → claim of each dropped job. */
  droppedWaitMs: number[];
  /** Dispatch → the sweep's `enqueued` line of each dropped job (the sweep's own part of the wait). */
  droppedToStoreMs: number[];
  /** The other calls by route. */
  otherRoutes: Map<string, number>;
  /** Per pass (repository count 1): counted calls and 304s, while jobs flowed and while idle. */
  busyPasses: PassCount[];
  idlePasses: PassCount[];
  /** REST calls of anything but the sweep, per successful job. */
  otherCallsPerJob: number;
  otherCalls: number;
}

export async function runReconcile(pluginsPath: string, templates = [simulatedTemplate({ tags: [{ tag: '1c2r', cpuCores: 1, ramGiB: 2 }] })]): Promise<ReconcileRun> {
  const requests: SimRequest[] = [];
  say(`run R: Redis, receiver host + 1 host × 2 handlers, sweep every ${INTERVAL_S} s, ${JOBS} jobs of 1 s, the queued webhook of every third never sent`);
  const fleet = await startFleet({
    store: 'redis',
    hosts: [{ name: 'receiver', receiver: true }, { name: 'mac-1', handlers: 2, handlerConfig: `reconcile_interval_seconds: ${INTERVAL_S}` }],
    prePull: true,
    templates,
    pluginsPath,
    sim: {
      defaultJobDurationMs: 1_000,
      log: (line) => {
        const r = parseSimRequest(line, Date.now());
        if (r) requests.push(r);
      },
    },
  });
  try {
    const host = fleet.host('mac-1');
    const dropped = new Set<number>();
    const firstDispatch = Date.now();
    for (let i = 0; i < JOBS; i++) {
      if (i % 3 === 0) fleet.sim.control.dropNextDeliveries({ count: 1, action: 'queued' });
      const [job] = fleet.dispatch({ name: `reconcile-${i}`, durationMs: 1_000 });
      if (i % 3 === 0) dropped.add(job!.id);
      await sleep(1_500);
    }
    const jobs = await fleet.waitForAll({ timeoutMs: 600_000 });
    const busyEnd = Date.now();
    // Idle: the sweeps of a fleet with nothing to do.
    const passesBefore = linesOf(host, PASS_LINE).length;
    const deadline = Date.now() + (IDLE_PASSES + 2) * INTERVAL_S * 1000 + 60_000;
    while (linesOf(host, PASS_LINE).length < passesBefore + IDLE_PASSES + 1 && Date.now() < deadline) await sleep(500);

    // Each pass logs its counts; the request log says which route each call was.
    const passes = linesOf(host, PASS_LINE).map((l, i) => ({ at: timeOf(l), calls: Number(l.calls), notModified: Number(l.notModified), repos: Number(l.repos), findingLost: Number(l.jobReadsFindingLost ?? 0), full: l.full === true, first: i === 0 }));
    const perRepo = (p: { calls: number; notModified: number; repos: number; findingLost: number; full: boolean; first: boolean }): PassCount => ({
      calls: p.calls / Math.max(1, p.repos),
      notModified: p.notModified / Math.max(1, p.repos),
      findingLost: p.findingLost / Math.max(1, p.repos),
      full: p.full,
      first: p.first,
    });
    const busyPasses = passes.filter((p) => p.at <= busyEnd).map(perRepo);
    // The first idle pass may still see the last jobs' runs change: keep the ones after it.
    const idlePasses = passes.filter((p) => p.at > busyEnd).slice(1).map(perRepo);
    // From the first dispatch on: the start-up's own calls (the orphan runner listing) are not the jobs'.
    const rest = requests.filter((r) => !r.route.includes(' /_sim/') && r.start >= firstDispatch && r.end <= busyEnd);
    const other = rest.filter((r) => !isSweepRoute(r.route));
    const succeeded = jobs.filter((j) => j.conclusion === 'success').length;
    const storedAt = new Map(linesOf(host, ENQUEUED).map((l) => [Number(l.workflowJobID), timeOf(l)]));
    const otherRoutes = new Map<string, number>();
    for (const r of other) otherRoutes.set(`${r.route} → ${r.status}`, (otherRoutes.get(`${r.route} → ${r.status}`) ?? 0) + 1);
    return {
      droppedToStoreMs: jobs.filter((j) => dropped.has(j.id)).map((j) => (storedAt.get(j.id) ?? Number.NaN) - j.times.dispatched),
      otherRoutes,
      intervalS: INTERVAL_S,
      jobs: jobs.length,
      dropped: dropped.size,
      succeeded,
      droppedWaitMs: jobs.filter((j) => dropped.has(j.id)).map((j) => (j.times.claimed ?? Number.NaN) - j.times.dispatched),
      busyPasses,
      idlePasses,
      otherCalls: other.length,
      otherCallsPerJob: other.length / Math.max(1, succeeded),
    };
  } finally {
    const left = await fleet.stop();
    if (left.vms.length || left.runners.length || left.claimed || left.queued) say(`  run R left ${left.vms.length} VMs, ${left.runners.length} runners, ${String(left.claimed)} claimed, ${String(left.queued)} queued`);
  }
}

/** Run R's rows for the results table. */
export function reconcileRows(r: ReconcileRun): string[] {
  const yes = (ok: boolean) => (ok ? 'met' : '**not met**');
  const longest = Math.max(...r.droppedWaitMs);
  const longestToStore = Math.max(...r.droppedToStoreMs);
  const mean = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  const busyCalls = mean(r.busyPasses.map((p) => p.calls));
  const busy304 = mean(r.busyPasses.map((p) => p.notModified));
  const idleCalls = mean(r.idlePasses.map((p) => p.calls));
  const idle304 = mean(r.idlePasses.map((p) => p.notModified));
  const busyLost = mean(r.busyPasses.map((p) => p.findingLost));
  const perHourBusy = busyCalls * DEFAULT_PASSES_PER_HOUR;
  const perHourBusyOverhead = (busyCalls - busyLost) * DEFAULT_PASSES_PER_HOUR;
  const perHourIdle = idleCalls * DEFAULT_PASSES_PER_HOUR;
  // The leader's first pass lists both states and reads every run once: a cost per leadership
  // taken, not per hour. The steady state is the passes after it.
  const steady = r.busyPasses.filter((p) => !p.first);
  const steadyOverhead = mean(steady.map((p) => p.calls - p.findingLost));
  const perHourSteady = steadyOverhead * DEFAULT_PASSES_PER_HOUR;
  const shape = r.busyPasses.map((p) => `${p.full ? 'F' : 'q'}${p.calls - p.findingLost}${p.findingLost > 0 ? `+${p.findingLost}` : ''}`).join(' ');
  return [
    `| reconciliation: longest wait of a job whose \`queued\` webhook GitHub never sent, sweep every ${r.intervalS} s | ${r.dropped} of ${r.jobs} jobs dropped, ${r.succeeded} succeeded | dispatch → stored by the sweep ${Math.round(longestToStore)} ms (p50 ${Math.round(median(r.droppedToStoreMs))} ms); → claim ${Math.round(longest)} ms (p50 ${Math.round(median(r.droppedWaitMs))} ms; includes waiting for one of the 2 slots) | ≤ 2 intervals (${2 * r.intervalS * 1000} ms) | ${yes(longestToStore <= 2 * r.intervalS * 1000)} (stored)${longest <= 2 * r.intervalS * 1000 ? ', met (claim)' : ', **not met** (claim)'} |`,
    `| reconciliation: the sweep's GitHub calls per repository per hour at the default interval (120 s, 30 passes) | ${r.busyPasses.length} passes while jobs flowed, ${r.idlePasses.length} idle | while jobs flow: ${perHourBusy.toFixed(0)} counted + ${(busy304 * DEFAULT_PASSES_PER_HOUR).toFixed(0)} 304s (per pass ${busyCalls.toFixed(2)} + ${busy304.toFixed(2)}), of which ${(busyLost * DEFAULT_PASSES_PER_HOUR).toFixed(0)} reads that found a lost job (per pass ${busyLost.toFixed(2)}), ${perHourBusyOverhead.toFixed(0)} without them; idle: ${perHourIdle.toFixed(0)} counted + ${(idle304 * DEFAULT_PASSES_PER_HOUR).toFixed(0)} 304s | ≤ 30 counted (304s apart) | ${yes(perHourBusy <= 30)} busy (${yes(perHourBusyOverhead <= 30)} without the reads that found lost jobs), ${yes(perHourIdle <= 30)} idle |`,
    `| reconciliation: the same, steady state (the passes after the leader's first), reads that found a lost job apart | ${steady.length} passes while jobs flowed; per pass (F full, q quick; counted + reads finding lost): ${shape} | ${perHourSteady.toFixed(0)} counted per repository per hour (per pass ${steadyOverhead.toFixed(2)}) | ≤ 30 counted | ${yes(perHourSteady <= 30)} |`,
    `| reconciliation: other GitHub calls per successful job (same run, sweep listings excluded) | ${r.otherCalls} calls / ${r.succeeded} jobs: ${[...r.otherRoutes].map(([route, n]) => `\`${route}\` × ${n}`).join(', ')} | ${r.otherCallsPerJob.toFixed(2)} | 1 | ${yes(r.otherCallsPerJob <= 1.05)} |`,
  ];
}
