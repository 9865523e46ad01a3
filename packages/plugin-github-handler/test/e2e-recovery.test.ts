import { describe, it } from 'vitest';
import { msg } from '../../../apps/anklet/test/helpers.js';
import { TEMPLATE, withInstalledPlugins } from './setup.js';
import { ankaCli, ankletVms, hostConfig, makeWorld, metricsPortOf, newHome, prefixOf, startHost, useWorlds, labels, type World } from './world.js';

/**
 * Recovery across processes and hosts, with the packed plugins and the real `anklet` binary (see
 * e2e.test.ts): a job whose handler was SIGKILLed is reaped and run by another host, and a restart
 * deletes only the VMs and runners that are provably the restarting handler's own. The two
 * scenarios run concurrently, each in its own world (world.ts).
 */
const { shared, pluginsPath } = withInstalledPlugins('anklet-handler-recovery-');
const TOKEN = 'ghp_e2e_recovery_token_never_logged';
useWorlds();
const world = (ctx: Parameters<typeof makeWorld>[0]): Promise<World> => makeWorld(ctx, { shared, pluginsPath, token: TOKEN });
const start = startHost;

describe.concurrent('github handler recovery', () => {
  it('a job whose handler was SIGKILLed is reaped and run by another host; the dead host cleans its VM up when it comes back', async (ctx) => {
    const { expect } = ctx;
    const w = await world(ctx);
    const { sim, store } = w;
    // The receiver on its own host, as on Linux; handlers on hosts A and B.
    const homeR = newHome(w, 'receiver-');
    const homeA = newHome(w, 'host-a-');
    const homeB = newHome(w, 'host-b-');
    const [configR, configA, configB] = await Promise.all([
      hostConfig(w, homeR, {}, true),
      hostConfig(w, homeA, { GITHUB_HANDLER1: 'lease_seconds: 10' }, false),
      hostConfig(w, homeB, { GITHUB_HANDLER2: 'lease_seconds: 10' }, false),
    ]);
    const receiver = start(w, configR, homeR);
    // Host A hangs in the runner install of its VM; then it dies without any clean-up.
    w.anka.setFaults([{ command: 'run', times: 1, delayMs: 20_000 }]);
    const a = start(w, configA, homeA);
    await receiver.waitFor(msg('receiver finished starting'), { timeoutMs: 60_000 });
    await a.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: labels('reaped'), name: 'reaped', durationMs: 300 });
    await a.waitFor(msg('installing github runner inside of vm'), { timeoutMs: 60_000 });
    const prefixA = prefixOf(expect, a, 'GITHUB_HANDLER1');
    a.child.kill('SIGKILL');
    await a.exited;
    expect(ankletVms(w.anka).filter((name) => name.startsWith(prefixA))).toHaveLength(1);
    expect((await store.get('acme', String(job.id)))?.owner).toMatch(/^GITHUB_HANDLER1@[0-9a-f]{16}$/);

    // Host B: its reaper returns the job once A's lease ran out, and B runs it.
    const b = start(w, configB, homeB);
    await b.waitFor(msg('jobs of a dead handler returned to the queue'), { timeoutMs: 40_000 });
    expect((await sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await b.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    expect(b.lines.find(msg('queued job found'))?.attempts).toBe(1);
    const text = await (await fetch(`http://127.0.0.1:${metricsPortOf(configB)}/metrics/v1?format=prometheus`)).text();
    expect(text).toMatch(/^anklet_jobs_reaped_total\{.*GITHUB_HANDLER2.*\} 1$/m);

    // A comes back: its old VM is provably its own and owned by no job any more.
    const again = start(w, configA, homeA);
    await again.waitFor(msg('github handler started'), { timeoutMs: 60_000 });
    expect(again.lines.find(msg('deleting orphaned vm that no job owns'))?.vmName).toMatch(new RegExp(`^${prefixA}`));
    // Four anklet starts, a lease running out and two VMs: more than the default limit on a busy machine.
  }, 240_000);

  it('two handlers on two queues of one host: a restart deletes only each handler’s own orphans', async (ctx) => {
    const { expect } = ctx;
    const w = await world(ctx);
    const { sim } = w;
    const home = newHome(w, 'two-queues-');
    const config = await hostConfig(w, home, { GITHUB_HANDLER1: '', GITHUB_HANDLER2: 'queue_name: other' }, true);
    const first = start(w, config, home);
    await first.waitFor(msg('github handler started'), { count: 2, timeoutMs: 60_000 });
    const prefix1 = prefixOf(expect, first, 'GITHUB_HANDLER1');
    const prefix2 = prefixOf(expect, first, 'GITHUB_HANDLER2');
    expect(prefix1).not.toBe(prefix2);
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: labels('adopted'), name: 'adopted', durationMs: 12_000 });
    await first.waitFor(msg('job found registered runner and is now in progress'), { timeoutMs: 60_000 });

    // Left behind by handler 2 (a crash after registration): a VM and a runner no job owns.
    const lost = `${prefix2}${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`;
    ankaCli(w.anka, 'clone', TEMPLATE, lost);
    const registered = await fetch(`${sim.url}/orgs/acme/actions/runners/generate-jitconfig`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: lost, labels: ['self-hosted'], runner_group_id: 1 }),
    });
    expect(registered.status).toBe(201);
    // Another handler's VM on this host, e.g. one a Go anklet made: nobody here may delete it.
    ankaCli(w.anka, 'clone', TEMPLATE, 'anklet-vm-not-ours');

    // SIGINT while the job runs: its VM stays for the next start (the Go rule).
    first.signal('SIGINT');
    expect((await first.exited).code).toBe(0);
    const second = start(w, config, home);
    await second.waitFor(msg('github handler started'), { count: 2, timeoutMs: 60_000 });
    expect(second.lines.some(msg('found job of a previous run still in its vm; watching it'))).toBe(true);
    const deletedVms = second.lines.filter(msg('deleting orphaned vm that no job owns')).map((l) => l.vmName);
    const deletedRunners = second.lines.filter(msg('deleting orphaned runner that no job owns')).map((l) => l.runnerName);
    expect(deletedVms).toEqual([lost]);
    expect(deletedRunners).toEqual([lost]);
    expect((await sim.control.waitForJob(job.id, 'completed', 60_000)).conclusion).toBe('success');
    await second.waitFor(msg('cleanup | finished'), { timeoutMs: 30_000 });
    expect(ankletVms(w.anka)).toEqual(['anklet-vm-not-ours']);
    const text = await (await fetch(`http://127.0.0.1:${metricsPortOf(config)}/metrics/v1?format=prometheus`)).text();
    expect(text).toMatch(/^anklet_orphans_cleaned_total\{.*kind="runner".*GITHUB_HANDLER2.*\} 1$|^anklet_orphans_cleaned_total\{.*GITHUB_HANDLER2.*kind="runner".*\} 1$/m);
    ankaCli(w.anka, 'delete', '--yes', 'anklet-vm-not-ours');
  });
});
