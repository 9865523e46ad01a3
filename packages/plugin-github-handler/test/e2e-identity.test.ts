import { realpathSync } from 'node:fs';
import path from 'node:path';
import { createEmbeddedJobStore, queueKeys } from '@anklet/redis';
import { Redis } from 'ioredis';
import { describe, it } from 'vitest';
import { msg } from '../../../apps/anklet/test/helpers.js';
import { withInstalledPlugins } from './setup.js';
import { addMac, ankletVms, hostConfig, labels, makeWorld, newHome, prefixOf, prometheusOf, startHost, useWorlds, type World } from './world.js';

/**
 * Fleet identity and a store that forgets, with the packed plugins and the real `anklet` binary:
 * a job whose record vanished from Redis while it ran still completes; a second host with a
 * copied config is refused its handler's name while the first host lives, and once it takes the
 * name over from a dead host it never takes that host's running job for its own leftover; two
 * anklet processes on one work dir share the embedded store and lose no acknowledged job to
 * SIGKILLs. Each scenario runs in its own world (world.ts), concurrently.
 */
const { shared, pluginsPath } = withInstalledPlugins('anklet-handler-identity-');
const TOKEN = 'ghp_e2e_identity_token_never_logged';
useWorlds();
const world = (ctx: Parameters<typeof makeWorld>[0]): Promise<World> => makeWorld(ctx, { shared, pluginsPath, token: TOKEN });

const nameTaken = (line: { readonly code?: unknown }) => line.code === 'ANKLET_ERR_INSTANCE_NAME_TAKEN';
/** Lines that would mean a running job was torn down or cancelled. */
const TEAR_DOWN = ['lease on the job was lost', 'job cancelled', 'cleaning up job left by a previous run'];

describe.concurrent('fleet identity', () => {
  it('a job whose record vanished from Redis while it ran completes: the handler asks GitHub and writes the record back', async (ctx) => {
    const { expect } = ctx;
    const w = await world(ctx);
    const home = newHome(w, 'vanished-');
    const config = await hostConfig(w, home, { GITHUB_HANDLER1: 'lease_seconds: 10' }, true);
    const host = startHost(w, config, home);
    await host.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('vanished'), name: 'vanished', durationMs: 8_000 });
    await host.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 60_000 });
    // Redis restarted without its data: every key is gone (this test's own server).
    const raw = new Redis(w.redis.url);
    await raw.flushall();
    await raw.quit();

    await host.waitFor(msg('job record written back to the store'), { timeoutMs: 30_000 });
    expect((await w.store.get('acme', String(job.id)))?.owner).toMatch(/^GITHUB_HANDLER1@[0-9a-f]{16}$/);
    expect((await w.sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await host.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    expect(host.lines.find(msg('job completed'))?.conclusion).toBe('success');
    for (const line of TEAR_DOWN) expect(host.lines.filter(msg(line)), line).toEqual([]);
    // Finished through the written-back record: its tombstone refuses a late redelivery.
    expect(await w.store.enqueue({ id: String(job.id), queue: 'acme', payload: {} })).toBe('duplicate_job');
    expect(await prometheusOf(config)).toMatch(/^anklet_job_records_restored_total\{[^}]*GITHUB_HANDLER1[^}]*\} 1$/m);
  }, 180_000);

  it('a job whose record vanished before its runner existed is handed back to the queue, its attempts unchanged, and runs', async (ctx) => {
    const { expect } = ctx;
    const w = await world(ctx);
    const home = newHome(w, 'vanished-early-');
    const config = await hostConfig(w, home, { GITHUB_HANDLER1: 'lease_seconds: 10' }, true);
    // The runner install in the first VM hangs: the record vanishes while the job is being prepared.
    w.anka.setFaults([{ command: 'run', times: 1, delayMs: 30_000 }]);
    const host = startHost(w, config, home);
    await host.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('early'), name: 'early', durationMs: 300 });
    await host.waitFor(msg('installing github runner inside of vm'), { timeoutMs: 60_000 });
    const raw = new Redis(w.redis.url);
    await raw.flushall();
    await raw.quit();

    // The lease renewal finds the record gone; GitHub says queued and our runner does not exist yet.
    const decided = (line: { msg?: unknown }) => line.msg === 'job record vanished from the store; GitHub decides how the attempt ends';
    await host.waitFor(decided, { timeoutMs: 30_000 });
    expect(host.lines.find(decided)).toMatchObject({ githubStatus: 'queued', outcome: 'handoff', reason: 'job_record_lost_before_running' });
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    await host.waitFor(msg('cleanup | finished'), { count: 2, timeoutMs: 30_000 });
    // Claimed twice, both times as its first attempt; one VM removed by the hand-back, one by the run.
    expect(host.lines.filter(msg('queued job found')).map((l) => l.attempts)).toEqual([0, 0]);
    for (const line of TEAR_DOWN) expect(host.lines.filter(msg(line)), line).toEqual([]);
    expect(await w.store.enqueue({ id: String(job.id), queue: 'acme', payload: {} })).toBe('duplicate_job');
  }, 180_000);

  it('a second Mac with a copied config is refused the name while the first runs its job, and takes it on a clean stop', async (ctx) => {
    const { expect } = ctx;
    const w = await world(ctx);
    const macB = addMac(w);
    const homeA = newHome(w, 'copied-a-');
    const homeB = newHome(w, 'copied-b-');
    const configA = await hostConfig(w, homeA, { GITHUB_HANDLER1: '' }, true);
    const configB = await hostConfig(w, homeB, { GITHUB_HANDLER1: '' }, false);
    const a = startHost(w, configA, homeA);
    await a.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('copied'), name: 'copied', durationMs: 8_000 });
    await a.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 60_000 });

    const b = startHost(w, configB, homeB, macB);
    await b.waitFor(nameTaken, { timeoutMs: 60_000 });
    const refusal = b.lines.find(nameTaken)!;
    expect(refusal.msg).toContain(`handler instance name "GITHUB_HANDLER1" is held by anklet on `);
    expect(refusal.msg).toContain(`pid ${a.child.pid}`);
    expect(refusal.msg).toContain(`work dir ${realpathSync(homeA)}`);
    expect(String(refusal.hint)).toContain('rename this plugin in config.yml');
    // A visible state, not a crash loop: B runs on, its handler shown as name_taken.
    await expect.poll(() => prometheusOf(configB), { timeout: 30_000 }).toMatch(/^anklet_plugin_status\{[^}]*status="name_taken"[^}]*\} 1$/m);

    expect((await w.sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await a.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    for (const line of TEAR_DOWN) expect(a.lines.filter(msg(line)), line).toEqual([]);
    expect(b.running).toBe(true);
    expect(b.lines.filter(msg('github handler started'))).toEqual([]);
    expect(b.lines.filter(nameTaken)).toHaveLength(1);

    // A clean stop releases the name: B starts its handler at its next look, with nothing to recover.
    a.signal('SIGTERM');
    expect((await a.exited).code).toBe(0);
    await b.waitFor(msg('instance name is free again; starting the plugin'), { timeoutMs: 30_000 });
    await b.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    for (const line of TEAR_DOWN) expect(b.lines.filter(msg(line)), line).toEqual([]);
  }, 180_000);

  it('a host that takes a dead host’s name over never takes its running job for its own leftover', async (ctx) => {
    const { expect } = ctx;
    const w = await world(ctx);
    const macB = addMac(w);
    const homeR = newHome(w, 'takeover-r-');
    const homeA = newHome(w, 'takeover-a-');
    const homeB = newHome(w, 'takeover-b-');
    const handler = { GITHUB_HANDLER1: 'lease_seconds: 10\nstatus_check_interval_seconds: 5' };
    const [configR, configA, configB] = await Promise.all([hostConfig(w, homeR, {}, true), hostConfig(w, homeA, handler, false), hostConfig(w, homeB, handler, false)]);
    const receiver = startHost(w, configR, homeR);
    const a = startHost(w, configA, homeA);
    await receiver.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
    await a.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const prefixA = prefixOf(expect, a, 'GITHUB_HANDLER1');
    // Long enough to still run when B has waited out A's registration.
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('takeover'), name: 'takeover', durationMs: 60_000 });
    await a.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 60_000 });
    // A dies; its VM and runner go on running the job on Mac A.
    a.child.kill('SIGKILL');
    await a.exited;

    const b = startHost(w, configB, homeB, macB);
    await b.waitFor(nameTaken, { timeoutMs: 60_000 });
    // A's heartbeat stopped: B takes the name once its registration ran out (30 s).
    await b.waitFor(msg('instance name is free again; starting the plugin'), { timeoutMs: 60_000 });
    await b.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(w.sim.control.job(job.id)?.status).toBe('in_progress');
    // The lease is A's (its owner carries A's host id), not B's leftover; A's runner keeps the job.
    for (const line of TEAR_DOWN) expect(b.lines.filter(msg(line)), line).toEqual([]);
    expect(b.lines.filter(msg('deleting orphaned runner that no job owns'))).toEqual([]);
    expect((await w.sim.control.waitForJob(job.id, 'completed', 90_000)).conclusion).toBe('success');
    expect(ankletVms(w.anka).filter((name) => name.startsWith(prefixA))).toHaveLength(1);

    // A comes back once B has stopped (B held the name): its VM is its own leftover now.
    b.signal('SIGTERM');
    expect((await b.exited).code).toBe(0);
    const again = startHost(w, configA, homeA);
    await again.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    await expect.poll(() => ankletVms(w.anka), { timeout: 30_000 }).toEqual([]);
    expect(again.lines.filter(nameTaken)).toEqual([]);
  }, 300_000);

  it('after an upgrade, a lease owned by the bare name is adopted only when its VM is provably this handler’s', async (ctx) => {
    const { expect } = ctx;
    const w = await world(ctx);
    const home = newHome(w, 'upgrade-');
    const config = await hostConfig(w, home, { GITHUB_HANDLER1: '' }, true);
    const first = startHost(w, config, home);
    await first.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('upgrade'), name: 'upgrade', durationMs: 10_000 });
    await first.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 60_000 });
    // SIGINT while the job runs: its VM and lease stay for the next start (the Go rule).
    first.signal('SIGINT');
    expect((await first.exited).code).toBe(0);
    // What an anklet before host ids left: the lease owned by the bare name.
    const raw = new Redis(w.redis.url);
    await raw.hset(queueKeys('anklet', 'acme').job(String(job.id)), 'w', 'GITHUB_HANDLER1');
    await raw.quit();
    // And a lease under the same bare name whose VM is not this handler's (another host's, from a copied config).
    const other = w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels('other'), name: 'other', durationMs: 200 });
    const payload = { workflow_job: { id: other.id, run_id: other.run_id, labels: labels('other'), name: 'other' }, repository: { name: 'app', owner: 'acme' } };
    await w.store.enqueue({ id: String(other.id), queue: 'acme', payload, repositoryOwner: 'acme' });
    const foreign = (await w.store.claim({ queue: 'acme', owner: 'GITHUB_HANDLER1', leaseMs: 600_000 }))!;
    expect(foreign.job.id).toBe(String(other.id));
    await w.store.update(foreign, { phase: 'in_progress', vmName: `anklet-vm-0123456789ab-${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}` });

    const second = startHost(w, config, home);
    await second.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(second.lines.filter(msg('found job of a previous run still in its vm; watching it')).map((l) => l.workflowJobID)).toEqual([job.id]);
    expect(second.lines.find(msg("leaving leases held under this instance name that are not provably this host's"))?.jobs).toEqual([String(other.id)]);
    expect((await w.sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await second.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    // The foreign lease was not touched: still claimed by its owner, who finishes it.
    expect((await w.store.get('acme', String(other.id)))?.owner).toBe('GITHUB_HANDLER1');
    await w.store.finish(foreign, 'cancelled by the test');
    w.sim.control.cancelRun(other.run_id);
  }, 180_000);

  it('two anklet processes on one work dir share the embedded store: SIGKILLs lose no acknowledged job', async (ctx) => {
    const { expect } = ctx;
    const w = await world(ctx);
    const workDir = path.join(newHome(w, 'one-workdir-'), 'work');
    const home1 = newHome(w, 'process-1-');
    const home2 = newHome(w, 'process-2-');
    const home3 = newHome(w, 'process-3-');
    // Leases outlast a restart: a SIGKILLed process comes back to its own running jobs.
    const handler = 'lease_seconds: 60\nstatus_check_interval_seconds: 5';
    const config1 = await hostConfig(w, home1, { GITHUB_HANDLER1: handler }, true, { embeddedWorkDir: workDir });
    const config2 = await hostConfig(w, home2, { GITHUB_HANDLER2: handler }, false, { embeddedWorkDir: workDir });
    const config3 = await hostConfig(w, home3, { GITHUB_HANDLER1: handler }, false, { embeddedWorkDir: workDir });
    let p1 = startHost(w, config1, home1);
    let p2 = startHost(w, config2, home2);
    await p1.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    await p1.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
    await p2.waitFor(msg('github handler started'), { timeoutMs: 60_000 });

    // A third process of this work dir with a name process 1 holds is refused, naming process 1.
    const p3 = startHost(w, config3, home3);
    await p3.waitFor(nameTaken, { timeoutMs: 60_000 });
    expect(p3.lines.find(nameTaken)?.msg).toContain(`another anklet process of this host (pid ${p1.child.pid}, work dir ${realpathSync(workDir)})`);
    p3.signal('SIGTERM');
    expect((await p3.exited).code).toBe(0);

    const dispatch = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: labels(`${tag}${i}`), name: `${tag}${i}`, durationMs: 4_000 }).id);
    const jobs = dispatch(4, 'first');
    // Process 2 dies with a job in its VM and comes back at once (same host, its pid gone: no wait for the name).
    await p2.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 90_000 });
    p2.child.kill('SIGKILL');
    await p2.exited;
    p2 = startHost(w, config2, home2);
    await p2.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(p2.lines.filter(nameTaken)).toEqual([]);

    // Process 1 (receiver and handler) dies with a job in its VM; deliveries meanwhile fail (GitHub keeps them as failed).
    jobs.push(...dispatch(3, 'second'));
    await p1.waitFor(msg('job found registered runner and is now in progress'), { count: p1.lines.filter(msg('job found registered runner and is now in progress')).length + 1, timeoutMs: 90_000 });
    p1.child.kill('SIGKILL');
    await p1.exited;
    jobs.push(...dispatch(2, 'unacked'));
    p1 = startHost(w, config1, home1);
    await p1.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
    await p1.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(p1.lines.filter(nameTaken)).toEqual([]);
    jobs.push(...dispatch(3, 'third'));

    // Every job whose `queued` delivery the receiver acknowledged runs to success. (A delivery the
    // receiver stored but answered after GitHub's timeout counts as not acknowledged: GitHub would
    // redeliver it; it runs all the same.)
    await w.sim.control.deliveriesSettled();
    const acked = new Set<number>();
    for (const d of w.sim.control.deliveries()) {
      const payload = (d.request as { payload?: { workflow_job?: { id?: number } } } | undefined)?.payload;
      if (d.event === 'workflow_job' && d.action === 'queued' && d.success && payload?.workflow_job?.id) acked.add(payload.workflow_job.id);
    }
    const unacked = jobs.slice(7, 9);
    expect(unacked.filter((id) => acked.has(id))).toEqual([]);
    expect(acked.size).toBeGreaterThanOrEqual(5);
    const outcomes = await Promise.all([...acked].map(async (id) => (await w.sim.control.waitForJob(id, 'completed', 180_000).catch(() => ({ conclusion: 'lost' }))).conclusion));
    const lost = outcomes.filter((c) => c === 'lost').length;
    const notSuccess = outcomes.filter((c) => c !== 'success');
    expect({ acked: acked.size, lost, notSuccess }).toEqual({ acked: acked.size, lost: 0, notSuccess: [] });

    // Whatever else the store took runs to its end too before the processes stop: the shared store
    // drains (nothing queued, nothing claimed).
    const store = createEmbeddedJobStore({ dir: path.join(workDir, 'store') });
    try {
      await expect
        .poll(
          async () => {
            const stats = await store.stats('acme');
            return stats.claimed + stats.queued + stats.handedOff + stats.delayed;
          },
          { timeout: 180_000, interval: 500 },
        )
        .toBe(0);
    } finally {
      await store.close();
    }
    for (const id of jobs.filter((job) => !unacked.includes(job))) {
      const conclusion = w.sim.control.job(id)?.conclusion;
      if (conclusion !== undefined && conclusion !== null) expect(conclusion, String(id)).toBe('success');
    }
  }, 420_000);
});
