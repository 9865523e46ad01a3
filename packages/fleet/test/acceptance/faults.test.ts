/**
 * Fault run (issue #9 item 3): at least 50 jobs on 3 handler hosts (two handlers each, simulated
 * 8 CPU/16 GB) and a receiver-only host on Redis, while a seeded schedule SIGKILLs handler hosts
 * (one stays down past its lease so that the reaper returns its jobs), restarts Redis, takes the
 * receiver down while jobs are dispatched (github-sim records the deliveries as failed; the
 * receiver redelivers them when it is back), makes new runners hit the registration race
 * (actions/runner#3621) and answers GitHub calls with primary and secondary rate limits.
 *
 * Seeded and reproducible: `FAULT_SEED` (default below, printed at start) drives the jobs (kind,
 * duration, dispatch time) and the fault schedule (what, when, which host, how long); github-sim
 * gets the same seed. The interleaving with the processes is the machine's, so a replay hits the
 * same faults at the same times, not necessarily the same job phases. `FAULT_JOBS` (default 50)
 * makes longer runs: `pnpm --filter @anklet/fleet fault-run`.
 *
 * Bounded: every job must be done (completed on GitHub and cleaned up by a handler) within a
 * deadline, else the test fails listing each stuck job with its state, host and GitHub status.
 *
 * What "right" means:
 * - Conclusion: the one the job was dispatched with; a job with a template no registry has ends
 *   `cancelled`. One exception, GitHub's own rule: a job whose runner was running it when its VM
 *   was deleted (its host was SIGKILLed while the job was in `vm`/`running` and the restart or the
 *   reaper removed the VM) is failed by GitHub as a lost runner; `failure` is right for such a
 *   job, and the run prints how many there were ("lost runner").
 * - Ran twice: a job taken by more than one runner, counted on github-sim (distinct runner names
 *   of its `in_progress` deliveries) and in the handlers' logs (distinct VMs that saw their runner
 *   take it). A killed host's VM may be retried on a new VM (one start per VM), but github-sim gives
 *   each job to one runner only, and a handler that claims a job already in progress waits for
 *   that runner instead of starting another.
 * - Left over: no `anklet-vm-*` VM on any host, no runner on github-sim, nothing claimed or queued
 *   in the store, once every host has run its start-up clean-up.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet, type FleetJob, type FleetJobSpec } from '../../src/index.js';
import { deliveredJob, until } from './helpers.js';

const SEED = Number(process.env.FAULT_SEED ?? 9009);
const JOBS = Math.max(1, Number(process.env.FAULT_JOBS ?? 50));
const HOSTS = ['mac-1', 'mac-2', 'mac-3'];
/** Jobs are dispatched over this window (ms); the faults happen inside it. */
const WINDOW_MS = Math.max(15_000, JOBS * 300);
const DEADLINE_MS = WINDOW_MS + 150_000;

/** mulberry32: a small seeded PRNG, enough for a schedule. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Fault =
  | { at: number; kind: 'kill'; pick: number; downMs: number }
  | { at: number; kind: 'redis'; downMs: number }
  | { at: number; kind: 'receiver'; downMs: number }
  | { at: number; kind: 'race'; runners: number }
  | { at: number; kind: 'rate-limit'; limit: 'primary' | 'secondary'; count: number };

/** The jobs and the fault schedule of a seed. */
function plan(seed: number) {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const jobs: Array<FleetJobSpec & { at: number }> = [];
  for (let i = 0; i < JOBS; i++) {
    const roll = rnd();
    const at = Math.round(rnd() * WINDOW_MS);
    const durationMs = int(200, 900);
    const tag = rnd() < 0.5 ? '1c2r' : '2c4r';
    if (roll < 0.1) jobs.push({ at, name: `job-${i}-missing`, template: 'missing' });
    else jobs.push({ at, name: `job-${i}`, tag, durationMs, conclusion: roll < 0.3 ? 'failure' : 'success' });
  }
  jobs.sort((a, b) => a.at - b.at);
  const inWindow = () => Math.round(WINDOW_MS * (0.1 + 0.8 * rnd()));
  const scale = Math.max(1, Math.round(JOBS / 50));
  const faults: Fault[] = [];
  for (let i = 0; i < 3 * scale; i++) faults.push({ at: inWindow(), kind: 'kill', pick: rnd(), downMs: i === 0 ? 16_000 : int(300, 3000) });
  for (let i = 0; i < scale; i++) faults.push({ at: inWindow(), kind: 'redis', downMs: int(300, 1500) });
  for (let i = 0; i < scale; i++) faults.push({ at: inWindow(), kind: 'receiver', downMs: int(1000, 3000) });
  for (let i = 0; i < 2 * scale; i++) faults.push({ at: inWindow(), kind: 'race', runners: int(1, 2) });
  for (let i = 0; i < 2 * scale; i++) faults.push({ at: inWindow(), kind: 'rate-limit', limit: i % 2 ? 'primary' : 'secondary', count: int(2, 5) });
  faults.sort((a, b) => a.at - b.at);
  return { jobs, faults };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

describe(`fault run (seed ${SEED}, ${JOBS} jobs, ${HOSTS.length} hosts)`, () => {
  let fleet: Fleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
  });

  it('ends every job right, runs none twice, and leaves nothing behind', async () => {
    const { jobs: specs, faults } = plan(SEED);
    console.log(`fault run seed=${SEED} jobs=${JOBS} hosts=${HOSTS.length} (replay: FAULT_SEED=${SEED} FAULT_JOBS=${JOBS})`);
    fleet = await startFleet({
      store: 'redis',
      prePull: true,
      sim: { seed: SEED, runnerLostAfterMs: 3000 },
      hosts: [
        { name: 'receiver', receiver: true, redeliver: true },
        ...HOSTS.map((name) => ({
          name,
          handlers: 2,
          hardware: { cpuCores: 8, memoryGiB: 16 },
          handlerConfig: [
            'lease_seconds: 10',
            'registration_timeout_seconds: 5',
            'status_check_interval_seconds: 5',
            'retry_backoff_seconds: 0.5',
            'retry_backoff_max_seconds: 2',
            'job_retry_attempts: 8',
          ].join('\n'),
        })),
      ],
    });
    const f = fleet;
    const counts = { kills: 0, redisRestarts: 0, receiverDowntimeMs: 0, races: 0, rateLimits: 0 };
    const lostRunner = new Set<number>();
    const down = new Set<string>();
    const pending: Array<Promise<unknown>> = [];
    const log: string[] = [];
    const t0 = Date.now();
    const note = (text: string) => log.push(`+${((Date.now() - t0) / 1000).toFixed(1)}s ${text}`);

    const dispatching = (async () => {
      const out: FleetJob[] = [];
      for (const { at, ...spec } of specs) {
        await sleep(t0 + at - Date.now());
        out.push(...f.dispatch(spec));
      }
      return out;
    })();

    const faulting = (async () => {
      for (const fault of faults) {
        await sleep(t0 + fault.at - Date.now());
        switch (fault.kind) {
          case 'kill': {
            const up = HOSTS.filter((h) => !down.has(h));
            if (up.length <= 1) break;
            const name = up[Math.floor(fault.pick * up.length)]!;
            // Jobs whose runner may be running in a VM of this host: GitHub may fail them as lost.
            for (const j of f.jobs()) if (j.host === name && (j.state === 'vm' || j.state === 'running')) lostRunner.add(j.id);
            down.add(name);
            await f.killHost(name);
            counts.kills++;
            note(`SIGKILL ${name}, down ${fault.downMs} ms`);
            pending.push(
              sleep(fault.downMs).then(async () => {
                await f.startHost(name);
                down.delete(name);
                note(`${name} back`);
              }),
            );
            break;
          }
          case 'redis':
            note(`redis down ${fault.downMs} ms`);
            await f.redis!.restart(fault.downMs);
            counts.redisRestarts++;
            break;
          case 'receiver': {
            note(`receiver down ${fault.downMs} ms`);
            const from = Date.now();
            await f.stopHost('receiver', 'SIGKILL');
            await sleep(fault.downMs);
            await f.startHost('receiver');
            counts.receiverDowntimeMs += Date.now() - from;
            break;
          }
          case 'race':
            f.sim.control.setRegistrationRace({ next: fault.runners });
            counts.races += fault.runners;
            note(`registration race for the next ${fault.runners} runners`);
            break;
          case 'rate-limit':
            f.sim.control.injectRateLimit(
              fault.limit === 'primary'
                ? { kind: 'primary', count: fault.count, resetInSeconds: 1, match: '/actions/' }
                : { kind: 'secondary', count: fault.count, retryAfter: 1, match: '/actions/' },
            );
            counts.rateLimits += fault.count;
            note(`${fault.limit} rate limit on the next ${fault.count} calls`);
            break;
        }
      }
      await Promise.all(pending);
    })();

    const jobs = await dispatching;
    await faulting;
    let done: FleetJob[];
    try {
      done = await f.waitForAll({ timeoutMs: Math.max(10_000, t0 + DEADLINE_MS - Date.now()) });
    } catch (err) {
      console.log(`fault schedule (seed ${SEED}):\n  ${log.join('\n  ')}`);
      throw err;
    }
    expect(done).toHaveLength(jobs.length);

    // Ran twice, on GitHub's side: distinct runners of each job's in_progress deliveries.
    const runnersOf = new Map<number, Set<string>>();
    for (const d of f.sim.control.deliveries()) {
      if (d.action !== 'in_progress') continue;
      const wj = deliveredJob(d);
      if (!runnersOf.has(wj.id)) runnersOf.set(wj.id, new Set());
      runnersOf.get(wj.id)!.add(String(wj.runner_name));
    }
    const ranTwice = jobs.filter((j) => (runnersOf.get(j.id)?.size ?? 0) > 1 || new Set(j.startedIn).size > 1);
    const right = (j: FleetJob) => j.conclusion === j.expected || (lostRunner.has(j.id) && j.conclusion === 'failure');
    const wrong = jobs.filter((j) => !right(j));
    const lost = jobs.filter((j) => j.conclusion !== j.expected && right(j));

    // Every host has restarted by now, so their start-up clean-up ran; allow it to finish.
    const clean = (l: Awaited<ReturnType<Fleet['leftovers']>>) => l.vms.length === 0 && l.runners.length === 0 && l.claimed === 0 && l.queued === 0;
    let left = await f.leftovers();
    await until('no VM, runner or claimed job left', async () => clean((left = await f.leftovers())), 30_000).catch(() => undefined);

    console.log(
      `fault run seed=${SEED} jobs=${jobs.length} hosts=${HOSTS.length}: right conclusion ${jobs.length - wrong.length}/${jobs.length} (lost runner ${lost.length}), ` +
        `ran twice ${ranTwice.length}, VMs left ${left.vms.length}, runners left ${left.runners.length}, claimed ${String(left.claimed)}, queued ${String(left.queued)}, ` +
        `faults: kills=${counts.kills}, redis restarts=${counts.redisRestarts}, receiver downtime=${counts.receiverDowntimeMs}ms, races=${counts.races}, rate limits=${counts.rateLimits}; ` +
        `retried claims ${jobs.reduce((n, j) => n + Math.max(0, j.claims - 1), 0)}, ${((Date.now() - t0) / 1000).toFixed(1)}s`,
    );
    if (wrong.length || ranTwice.length || !clean(left)) console.log(`fault schedule (seed ${SEED}):\n  ${log.join('\n  ')}`);
    expect(wrong.map((j) => `${j.name}: ${String(j.conclusion)} (expected ${String(j.expected)}, host ${String(j.host)}, claims ${j.claims})`)).toEqual([]);
    expect(ranTwice.map((j) => j.name)).toEqual([]);
    expect(left).toEqual({ vms: [], runners: [], claimed: 0, queued: 0 });
    expect(counts.kills).toBeGreaterThan(0);
  });
});
