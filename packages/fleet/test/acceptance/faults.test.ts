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
import { simulatedTemplate, startFleet, type Fleet, type FleetJob, type FleetJobSpec } from '../../src/index.js';
import { deliveredJob, linesWith, logDigest, until } from './helpers.js';

const SEED = Number(process.env.FAULT_SEED ?? 9009);
const JOBS = Math.max(1, Number(process.env.FAULT_JOBS ?? 50));
const HOSTS = ['mac-1', 'mac-2', 'mac-3'];
/** Jobs are dispatched over this window (ms); the faults happen inside it. */
const WINDOW_MS = Math.max(30_000, JOBS * 2000);
/** Every job done by then (a hang bound: on a busy 2-core machine a job takes its handler ~25 s). */
const DEADLINE_MS = WINDOW_MS + 240_000;
/** lease_seconds of the handlers (the smallest allowed) and how long the long kill keeps its host down: past the lease and a reaper pass. */
const LEASE_SECONDS = 10;
const LONG_KILL_MS = 16_000;
/** The phases a kill aims at: it waits (bounded) for a job of its host in that phase. */
const PHASES = ['claimed', 'vm', 'running'] as const;

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
  | { at: number; kind: 'kill'; pick: number; phase: (typeof PHASES)[number]; downMs: number }
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
    // One tag for all: a host keeps one local tag of a template, so mixed tags would make every
    // host pull back and forth, which is not what this run is about (one-host.test.ts has tags).
    if (roll < 0.1) jobs.push({ at, name: `job-${i}-missing`, template: 'missing' });
    else jobs.push({ at, name: `job-${i}`, tag: '1c2r', durationMs, conclusion: roll < 0.3 ? 'failure' : 'success' });
  }
  jobs.sort((a, b) => a.at - b.at);
  // The faults are spread over the window: one per equal slot (at a random point inside it), the
  // kinds shuffled over the slots, so that they hit jobs at different phases instead of bunching.
  // Each group of faults starts with the long kill (down past the lease, so that the reaper returns
  // its jobs), early enough for the reaper and the restart to happen while jobs still come.
  const scale = Math.max(1, Math.round(JOBS / 50));
  type Kind = 'long-kill' | 'kill' | 'redis' | 'receiver' | 'race' | 'primary' | 'secondary';
  const kinds: Kind[] = [];
  for (let i = 0; i < scale; i++) kinds.push('kill', 'kill', 'redis', 'receiver', 'race', 'race', 'primary', 'secondary');
  for (let i = kinds.length - 1; i > 0; i--) {
    const k = Math.floor(rnd() * (i + 1));
    [kinds[i], kinds[k]] = [kinds[k]!, kinds[i]!];
  }
  const slots = kinds.length + scale;
  const slotAt = (slot: number) => Math.round(WINDOW_MS * (0.05 + (0.85 * (slot + rnd())) / slots));
  const order: Kind[] = [];
  for (let i = 0; i < scale; i++) order.push('long-kill', ...kinds.slice(i * 8, (i + 1) * 8));
  const faults: Fault[] = order.map((kind, slot) => {
    const at = slotAt(slot);
    switch (kind) {
      case 'long-kill':
        return { at, kind: 'kill', pick: rnd(), phase: PHASES[int(0, 2)]!, downMs: LONG_KILL_MS };
      case 'kill':
        return { at, kind: 'kill', pick: rnd(), phase: PHASES[int(0, 2)]!, downMs: int(300, 3000) };
      case 'redis':
        return { at, kind: 'redis', downMs: int(300, 1500) };
      case 'receiver':
        return { at, kind: 'receiver', downMs: int(1000, 3000) };
      case 'race':
        return { at, kind: 'race', runners: int(1, 2) };
      default:
        return { at, kind: 'rate-limit', limit: kind, count: int(2, 5) };
    }
  });
  faults.sort((a, b) => a.at - b.at);
  return { jobs, faults };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

describe(`fault run (seed ${SEED}, ${JOBS} jobs, ${HOSTS.length} hosts)`, () => {
  let fleet: Fleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
  });

  it('ends every job right, runs none twice, and leaves nothing behind', { timeout: DEADLINE_MS + 180_000 }, async () => {
    const { jobs: specs, faults } = plan(SEED);
    console.log(`fault run seed=${SEED} jobs=${JOBS} hosts=${HOSTS.length} (replay: FAULT_SEED=${SEED} FAULT_JOBS=${JOBS})`);
    fleet = await startFleet({
      store: 'redis',
      templates: [simulatedTemplate({ tags: [{ tag: '1c2r', cpuCores: 1, ramGiB: 2 }] })],
      prePull: true,
      sim: { seed: SEED, runnerLostAfterMs: 3000 },
      hosts: [
        { name: 'receiver', receiver: true, redeliver: true },
        ...HOSTS.map((name) => ({
          name,
          handlers: 2,
          hardware: { cpuCores: 8, memoryGiB: 16 },
          handlerConfig: [
            `lease_seconds: ${LEASE_SECONDS}`,
            'registration_timeout_seconds: 8',
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

    // Each fault runs at its own time, so that a kill waiting for its phase delays no other fault;
    // kills go one after the other (the never-all-down rule reads `down`).
    let kills: Promise<void> = Promise.resolve();
    const act = async (fault: Fault): Promise<void> => {
      switch (fault.kind) {
        case 'kill': {
          // Never all hosts down: wait for one to come back first.
          await until('a second handler host up', () => HOSTS.filter((h) => !down.has(h)).length > 1, 120_000);
          const up = HOSTS.filter((h) => !down.has(h));
          const name = up[Math.floor(fault.pick * up.length)]!;
          // Aim at the phase: wait (bounded) until the host holds a job in it, else kill anyway.
          const inPhase = await until(`a job ${fault.phase} on ${name}`, () => f.jobs().some((j) => j.host === name && j.state === fault.phase), 5000).then(
            () => true,
            () => false,
          );
          const held = f.jobs().filter((j) => j.host === name && ['claimed', 'vm', 'running'].includes(j.state));
          // Jobs whose runner may be running in a VM of this host: GitHub may fail them as lost.
          for (const j of held) if (j.state === 'vm' || j.state === 'running') lostRunner.add(j.id);
          const what = `SIGKILL ${name} holding ${held.map((j) => `${j.name} (${j.state})`).join(', ') || 'no job'}${inPhase ? '' : ` (no job ${fault.phase} within 5 s)`}, down ${fault.downMs} ms`;
          down.add(name);
          await f.killHost(name);
          counts.kills++;
          note(what);
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
    };
    const faulting = Promise.all(
      faults.map(async (fault) => {
        await sleep(t0 + fault.at - Date.now());
        if (fault.kind !== 'kill') return act(fault);
        const turn = kills.then(() => act(fault));
        kills = turn;
        return turn;
      }),
    ).then(() => Promise.all(pending));

    const jobs = await dispatching;
    await faulting;
    let done: FleetJob[];
    try {
      done = await f.waitForAll({ timeoutMs: Math.max(10_000, t0 + DEADLINE_MS - Date.now()) });
    } catch (err) {
      console.log(`fault schedule (seed ${SEED}):\n  ${log.join('\n  ')}`);
      console.log(`log of the jobs not done:\n${logDigest(f, 0, new Set(f.jobs().filter((j) => j.state !== 'done').map((j) => j.id)))}`);
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
    // The reaper's returns (jobs of a dead handler back in the queue), over every host's log.
    const reaped = f.hosts.flatMap((h) => linesWith(h, 'jobs of a dead handler returned to the queue')).reduce((n, l) => n + (Array.isArray(l.jobs) ? l.jobs.length : 1), 0);
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
        `faults: kills=${counts.kills}, redis restarts=${counts.redisRestarts}, receiver downtime=${counts.receiverDowntimeMs}ms, races=${counts.races}, rate limits=${counts.rateLimits}, reaped=${reaped}; ` +
        `retried claims ${jobs.reduce((n, j) => n + Math.max(0, j.claims - 1), 0)}, ${((Date.now() - t0) / 1000).toFixed(1)}s`,
    );
    console.log(`fault schedule (seed ${SEED}):\n  ${log.join('\n  ')}`);
    if (wrong.length || ranTwice.length) console.log(`log of the wrong or twice-run jobs:\n${logDigest(f, 0, new Set([...wrong, ...ranTwice].map((j) => j.id)))}`);
    expect(wrong.map((j) => `${j.name}: ${String(j.conclusion)} (expected ${String(j.expected)}, host ${String(j.host)}, claims ${j.claims})`)).toEqual([]);
    expect(ranTwice.map((j) => j.name)).toEqual([]);
    expect(left).toEqual({ vms: [], runners: [], claimed: 0, queued: 0 });
    expect(counts.kills).toBeGreaterThan(0);
  });
});
