/**
 * `anklet explain` (issue #18): one live fleet of real `anklet` hosts on github-sim, anka-sim and a
 * real redis-server gives the common answers from what real hosts did:
 * - mac-2 (two handlers) runs two long jobs, so it is busy; one of its handlers finds the other's
 *   pull running and hands its job back;
 * - mac-1 (one handler, simulated as 1 core / 1 GB), started then, is too small for the next job,
 *   so it pulls the template, refuses and hands the job back;
 * - mac-3 is draining, and runs the receiver.
 * A third job then waits with a reason for each host; a job with a misspelt label is ignored by the
 * receiver (`on_bad_labels: ignore`); a job whose webhook GitHub never sent waits for the next
 * reconcile sweep. The rarer answers (a failed attempt with kept runner logs, a finished job, an
 * unknown id) are built in the same store through the store's own calls.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStore } from '@anklet/core';
import { FLEET_TEMPLATE, runCli, startFleet, type Fleet, type FleetJob } from '@anklet/fleet';
import { createRedisConnection, createRedisJobStore } from '@anklet/redis';
import type { Explanation } from '../src/explain/explain-job.js';

const OWNER = 'acme';
/** A long sweep interval: no sweep runs during the test, so a job whose webhook was lost stays lost. */
const SWEEP = 'reconcile_interval_seconds: 600';
let fleet: Fleet;
let store: JobStore;
let longJobs: FleetJob[];

/** `anklet explain` run with a host's config (mac-2's by default). */
async function explain(args: string[], host = 'mac-2') {
  const h = fleet.host(host);
  return runCli(['-c', h.config, 'explain', ...args], { home: h.home, timeoutMs: 30_000 });
}

async function explainJson(args: string[], host?: string): Promise<Explanation> {
  const run = await explain([...args, '--json'], host);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Explanation;
}

/** Asks until `check` passes (the hosts write their snapshots every few seconds), at most `timeoutMs`. */
async function until<T>(ask: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await ask();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

const jobUrl = (job: { id: number; runId: number }) => `https://github.com/${OWNER}/app/actions/runs/${job.runId}/job/${job.id}`;

beforeAll(async () => {
  fleet = await startFleet({
    store: 'redis',
    owner: OWNER,
    ankaLatency: { pullMs: 4_000 },
    hosts: [
      { name: 'mac-1', handlers: 1, hardware: { cpuCores: 1, memoryGiB: 1 }, handlerConfig: SWEEP, start: false },
      { name: 'mac-2', handlers: 2, hardware: { cpuCores: 8, memoryGiB: 16 }, handlerConfig: SWEEP },
      // Draining stops its handler, not its receiver.
      { name: 'mac-3', handlers: 1, receiver: true, receiverConfig: 'on_bad_labels: ignore', start: false, handlerConfig: SWEEP },
    ],
  });
  // mac-3 starts drained (`anklet drain` writes this file in the config's folder).
  writeFileSync(path.join(path.dirname(fleet.host('mac-3').config), '.drain'), 'drained by the test\n');
  await fleet.startHost('mac-3');
  store = createRedisJobStore({ redis: createRedisConnection({ url: fleet.redis!.url }), prefix: 'anklet' });

  // Two long jobs fill mac-2's two slots (mac-3 drains); its handlers take them together, so one
  // finds the other pulling the template and hands its job back.
  longJobs = fleet.dispatch([
    { name: 'long-a', tag: '1c2r', durationMs: 600_000 },
    { name: 'long-b', tag: '1c2r', durationMs: 600_000 },
  ]);
  const deadline = Date.now() + 90_000;
  while (longJobs.some((j) => j.state !== 'running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  expect(longJobs.map((j) => [j.state, j.host])).toEqual([
    ['running', 'mac-2'],
    ['running', 'mac-2'],
  ]);
  // The small host comes once mac-2 is full: it sees only the jobs that come after.
  await fleet.startHost('mac-1');
}, 180_000);

afterAll(async () => {
  await store?.close();
  await fleet?.stop();
}, 120_000);

describe('anklet explain', () => {
  it('says why a queued job waits: what it needs, and why each host does not take it', async () => {
    const [job] = fleet.dispatch({ name: 'big', tag: '2c4r', durationMs: 1_000 });
    // mac-1 pulls the 2c4r tag, finds it needs more than the host has, and hands it back.
    const answer = await until(
      () => explainJson([String(job!.id)]),
      (e) => e.state === 'queued' && /mac-1 refused/.test(String(e.answer)) && /\(2 cores, 4 GB\)/.test(String(e.answer)),
      60_000,
    );
    expect(answer.state).toBe('queued');
    expect(answer.answer).toMatch(new RegExp(`^queued \\S+: needs template ${FLEET_TEMPLATE} tag 2c4r \\(2 cores, 4 GB\\); `));
    expect(answer.answer).toMatch(/mac-1 refused \(1 core, 1 GB\)/);
    expect(answer.answer).toMatch(/mac-2 busy \(2\/2 VMs for \S+\)/);
    expect(answer.answer).toMatch(/mac-3 draining/);
    expect(answer.answer).toMatch(/mac-1 has the template/);
    expect(answer.hosts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ host: 'mac-1', state: 'refused' }),
        expect.objectContaining({ host: 'mac-2', state: 'busy' }),
        expect.objectContaining({ host: 'mac-3', state: 'draining' }),
      ]),
    );
    expect(answer.template).toMatchObject({ id: FLEET_TEMPLATE, tag: '2c4r', cpu_cores: 2, ram_bytes: 4 * 2 ** 30, on_hosts: ['mac-1'] });
    expect(answer.hand_backs).toEqual(expect.arrayContaining([expect.objectContaining({ host: 'mac-1', reason: 'not_enough_host_resources' })]));
    // The terminal form is the same answer, by URL too.
    const text = await explain([jobUrl(job!)]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`job ${job!.id} (${jobUrl(job!)})`);
    expect(text.stdout).toMatch(/^queued .*mac-1 refused .*mac-2 busy .*mac-3 draining/m);
  });

  it('tells a running job where it runs and its hand-backs (a pull already running on mac-2)', async () => {
    const answers = await Promise.all(longJobs.map((j) => explainJson([String(j.id)])));
    for (const [i, a] of answers.entries()) {
      expect(a.state).toBe('running');
      expect(a.running).toMatchObject({ host: 'mac-2', phase: 'in_progress' });
      expect(a.running?.vm).toBe(longJobs[i]!.vmName);
      expect(a.answer).toMatch(new RegExp(`^running on mac-2 \\(handler MAC_2_HANDLER\\d, VM ${longJobs[i]!.vmName}\\): in_progress for \\S+, since \\d\\d:\\d\\d:\\d\\d UTC$`));
    }
    // Both went to mac-2 together: one of its handlers found the other's pull running and handed its job back.
    const lines = answers.flatMap((a) => a.details);
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^handed back \d+×: .*pull already running on mac-2/)]));
  });

  it('says a job with a misspelt label is not in anklet, and what the label should be', async () => {
    const [job] = fleet.dispatch({ name: 'typo', labels: [`anka-templates:${FLEET_TEMPLATE}`, 'anka-template-tag:1c2r'] });
    // The receiver got the webhook and ignored it (on_bad_labels: ignore): nothing is stored.
    await fleet.host('mac-3').process!.waitFor((l) => String(l.msg).startsWith('ignoring workflow_job: its labels look like anka labels') && l.workflowJobID === job!.id, { timeoutMs: 30_000 });
    const answer = await explainJson([jobUrl(job!)]);
    expect(answer).toMatchObject({ state: 'not_in_anklet', job_id: String(job!.id), github: { status: 'queued' } });
    expect(answer.answer).toBe(`not in anklet: its labels do not parse ('anka-templates:${FLEET_TEMPLATE}', did you mean 'anka-template:${FLEET_TEMPLATE}')`);
  });

  it('says a job whose webhook never came waits for the next reconcile sweep, and when it is', async () => {
    fleet.sim.control.dropNextDeliveries({ count: 1, action: 'queued' });
    const [job] = fleet.dispatch({ name: 'lost', tag: '1c2r' });
    await fleet.sim.control.deliveriesSettled();
    const answer = await explainJson([jobUrl(job!)]);
    expect(answer).toMatchObject({ state: 'not_in_anklet', queue: OWNER, github: { status: 'queued' } });
    expect(answer.answer).toMatch(/^not in anklet: no webhook received; the next sweep is at (\d\d:\d\d:\d\d) UTC$/);
    // The time is the sweeping handlers' own: within one reconcile interval (600 s here) from now.
    const next = Date.parse(answer.next_sweep_at ?? '');
    expect(next).toBeGreaterThan(Date.now());
    expect(next).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(answer.answer).toContain(new Date(next).toISOString().slice(11, 19));
  });

  it('says a failed attempt, its reason, the attempt count and where the runner log was kept', async () => {
    // Built through the store's own calls, as a handler whose runner never registered leaves it.
    const queue = 'built';
    const id = '880000001';
    const payload = { workflow_job: { id: Number(id), labels: [`anka-template:${FLEET_TEMPLATE}`, 'anka-template-tag:1c2r'] } };
    await store.enqueue({ id, queue, payload, template: FLEET_TEMPLATE });
    for (const [round, delayMs] of [0, 60_000].entries()) {
      const lease = (await store.claim({ queue, owner: 'MAC_2_HANDLER1', leaseMs: 60_000 }))!;
      expect(lease.job.id).toBe(id);
      await store.appendTimeline!(queue, id, { type: 'vm_started', by: lease.owner, detail: `anklet-vm-built-${round}` });
      await store.appendTimeline!(queue, id, { type: 'retried', by: lease.owner, reason: 'waiting_for_runner_registration_timed_out' });
      await store.appendTimeline!(queue, id, { type: 'diagnostics_kept', by: lease.owner, reason: 'registration_timeout', detail: `diagnostics/${id}` });
      await store.requeue(lease, 'waiting_for_runner_registration_timed_out', { delayMs });
    }
    const answer = await explainJson([id, '--queue', queue]);
    expect(answer.state).toBe('queued');
    expect(answer.attempts).toEqual({ failed: 2, max: 5 });
    expect(answer.diagnostics).toEqual({ host: 'mac-2', path: `diagnostics/${id}` });
    expect(answer.answer).toMatch(new RegExp(`^failed: runner did not pick the job within 80 s \\(attempt 2/5\\), runner log kept at diagnostics/${id} on mac-2; retried after \\d\\d:\\d\\d:\\d\\d UTC$`));
  });

  it('says when no host has the template, and what pulling it costs when a host knows its size', async () => {
    // In a queue no host serves, so it stays where it is.
    const queue = 'built';
    const jobs = [
      { id: '880000003', template: '0b6c3a52-5f7e-4d7c-9a53-2f0e5c6b1d11', tag: 'v1' },
      { id: '880000004', template: FLEET_TEMPLATE, tag: 'no-host-has-it' },
    ];
    for (const j of jobs) {
      const labels = [`anka-template:${j.template}`, `anka-template-tag:${j.tag}`];
      await store.enqueue({ id: j.id, queue, payload: { workflow_job: { id: Number(j.id), labels } }, template: j.template });
    }
    const [unknown, otherTag] = await Promise.all(jobs.map((j) => explainJson([j.id, '--queue', queue])));
    expect(unknown!.answer).toMatch(/^queued \S+: needs template 0b6c3a52-\S+ tag v1; no handler host reports for this queue; no host has the template \(the first to take it will pull it\)$/);
    // The hosts hold other tags of the fleet template: its size is known (5 GB in the simulated registry).
    expect(otherTag!.answer).toMatch(/; no host has tag no-host-has-it of the template \(the first to take it will pull it, ~5 GB\)$/);
    expect(otherTag!.template).toMatchObject({ id: FLEET_TEMPLATE, tag: 'no-host-has-it', size_bytes: 5 * 2 ** 30, on_hosts: [] });
  });

  it('says how a finished job ended, and that an unknown id is unknown', async () => {
    // A queue of its own: the claim below must take this job, not one the tests above left waiting.
    const queue = 'built-finished';
    const id = '880000002';
    await store.enqueue({ id, queue, payload: { workflow_job: { id: Number(id), labels: [] } } });
    const lease = (await store.claim({ queue, owner: 'MAC_2_HANDLER2', leaseMs: 60_000 }))!;
    await store.recordEvent(queue, id, { action: 'completed', conclusion: 'success', at: Date.now() });
    await store.finish(lease, 'success');
    const finished = await explainJson([id, '--queue', queue]);
    expect(finished).toMatchObject({ state: 'finished', finished: { conclusion: 'success' } });
    expect(finished.answer).toMatch(/^finished \S+ ago \(\d\d:\d\d:\d\d UTC\): success$/);
    expect(finished.timeline?.map((e) => e.type)).toEqual(expect.arrayContaining(['received', 'claimed', 'completed', 'finished']));

    const unknown = await explain(['990000009']);
    expect(unknown.code, unknown.stderr).toBe(0);
    expect(unknown.stdout).toMatch(/^unknown job 990000009: not in the store/m);
    expect(unknown.stdout).toMatch(/give the job URL/);
    const bad = await explain(['not-a-job']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/neither a job id nor a GitHub job URL/);
  });
});
