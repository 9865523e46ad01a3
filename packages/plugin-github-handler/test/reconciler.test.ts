import { generateKeyPairSync } from 'node:crypto';
import type { JobStore, Logger } from '@anklet/core';
import { toQueueJob, type QueueJob, type WorkflowJobEvent } from '@anklet/github';
import { runSimulatedRunner, startGitHubSim, type GitHubSim, type GitHubSimOptions } from '@anklet/github-sim';
import { createRedisJobStore } from '@anklet/redis';
import { deleteKeysWithPrefix, startRedisServer, uniquePrefix, type RedisServer } from '@anklet/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectGitHub } from '../src/github-api.js';
import { readQueueJob } from '../src/payload.js';
import { Reconciler } from '../src/reconciler.js';

const TOKEN = 'ghp_reconcile_test_token';
const TEMPLATE = '84266873-da90-4e0d-903b-ed0233471f9f';
const anka = (unique: string) => [`anka-template:${TEMPLATE}`, 'anka-template-tag:vanilla', unique];
const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quiet, addSecret: () => undefined };

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());

/** One test's world: github-sim (no hooks: no webhook ever reaches anyone) and a store with its own prefix. */
interface World {
  sim: GitHubSim;
  store: JobStore;
  prefix: string;
}
const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await w.store.close();
    await w.sim.close();
    await deleteKeysWithPrefix(redis.url, w.prefix);
  }
});

async function world(sim: GitHubSimOptions = {}): Promise<World> {
  const prefix = uniquePrefix('reconcile');
  const w = {
    sim: await startGitHubSim({ tokens: [TOKEN], ...sim }),
    store: createRedisJobStore({ redis: new Redis(redis.url), prefix }),
    prefix,
  };
  worlds.push(w);
  return w;
}

async function orgReconciler(w: World, budgetPercent = 5): Promise<Reconciler> {
  const scope = { kind: 'organization', owner: 'acme' } as const;
  const api = await connectGitHub({ baseUrl: w.sim.url, token: TOKEN, scope, logger: quiet });
  return new Reconciler({ api, store: w.store, queue: 'acme', scope, logger: quiet, budgetPercent });
}

/** What the receiver would have stored from the job's `queued` webhook. */
function asReceiverStores(w: World, jobId: number): QueueJob {
  const job = w.sim.control.job(jobId)!;
  const repo = w.sim.world.jobs.get(jobId)!.repo;
  const event = { action: 'queued', workflow_job: job, repository: { name: repo.name, owner: { login: repo.owner.login }, visibility: 'private', private: true } };
  return toQueueJob(event as unknown as WorkflowJobEvent);
}

describe('reconciliation with GitHub (github-sim, real Redis)', () => {
  it('enqueues anka jobs queued on GitHub but unknown to the store, as the receiver would have stored them, and nothing else', async () => {
    const w = await world({ repositories: ['acme/app', 'acme/lib'] });
    const lost = w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka('lost-1'), name: 'lost-1' });
    // A matrix run: one job taken by a runner that is not ours, one still waiting for a runner.
    const jit = await fetch(`${w.sim.url}/orgs/acme/actions/runners/generate-jitconfig`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'someone-else', runner_group_id: 1, labels: [...anka('m-0'), 'foreign'] }),
    });
    const { encoded_jit_config: jitConfig } = (await jit.json()) as { encoded_jit_config: string };
    const matrix = w.sim.control.dispatchRun({
      repository: 'acme/lib',
      jobs: [
        { name: 'foreign', labels: [...anka('m-0'), 'foreign'], durationMs: 60_000 },
        { name: 'waiting', labels: anka('m-1') },
      ],
    });
    const foreign = runSimulatedRunner({ jitConfig, pollSeconds: 1 });
    await w.sim.control.waitForJob(matrix.jobs[0]!.id, 'in_progress');
    const plain = w.sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'macOS'], name: 'not-ours' });
    const bad = w.sim.control.dispatchJob({ repository: 'acme/app', labels: ['anka-template', 'x'], name: 'bad-labels' });
    const known = w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka('known'), name: 'known' });
    await w.store.enqueue({ id: String(known.id), queue: 'acme', payload: asReceiverStores(w, known.id), deliveryId: 'd-known', repositoryOwner: 'acme' });

    const reconciler = await orgReconciler(w);
    const report = await reconciler.pass();
    expect(report).toMatchObject({ repos: 2, enqueued: 2, finished: 0, truncated: false });
    for (const id of [lost.id, matrix.jobs[1]!.id]) {
      const stored = await w.store.get<QueueJob>('acme', String(id));
      expect(stored?.payload).toEqual(asReceiverStores(w, id));
      expect(stored?.repositoryOwner).toBe('acme');
      expect(stored?.template).toBe(TEMPLATE);
      // What the handler checks when it claims it.
      const lease = await w.store.claim<QueueJob>({ queue: 'acme', owner: 'probe', leaseMs: 60_000, skipJobIds: [lost.id, matrix.jobs[1]!.id].filter((x) => x !== id).map(String).concat(String(known.id)) });
      expect(lease?.job.id).toBe(String(id));
      expect(readQueueJob(lease!).ok).toBe(true);
      await w.store.requeue(lease!, 'probe', { countAttempt: false });
    }
    // In progress on a runner that is not ours, without anka labels, or with broken ones: never stored.
    for (const id of [matrix.jobs[0]!.id, plain.id, bad.id]) expect(await w.store.get('acme', String(id))).toBeNull();
    expect((await w.store.stats('acme')).queued).toBe(3);

    // Nothing changed on GitHub: every listing answers 304 and costs nothing, and nothing is stored
    // twice. The second pass is a quick one (the repository list and the queued runs of each
    // repository); the third a full one, which reads the page of newest runs of each repository
    // for the first time (no ETag yet: counted); from then on that page is a 304 too.
    const quick = await reconciler.pass();
    expect(quick).toMatchObject({ full: false, repos: 2, calls: 0, notModified: 3, enqueued: 0, finished: 0 });
    expect(await reconciler.pass()).toMatchObject({ full: true, repos: 2, calls: 2, notModified: 1, enqueued: 0, finished: 0 });
    expect(await reconciler.pass()).toMatchObject({ full: false, calls: 0, notModified: 3 });
    expect(await reconciler.pass()).toMatchObject({ full: true, calls: 0, notModified: 3, enqueued: 0, finished: 0 });
    w.sim.control.cancelRun(matrix.run_id);
    await foreign;
  });

  it('finishes stored jobs GitHub already completed (lost completed webhook) by recording their completed event', async () => {
    const w = await world({ repositories: ['acme/app'] });
    const jobs = [0, 1, 2].map((i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka(`done-${i}`), name: `done-${i}` }));
    const reconciler = await orgReconciler(w);
    expect((await reconciler.pass()).enqueued).toBe(3);
    // Two runs are cancelled on GitHub; their `completed` webhooks never arrive.
    w.sim.control.cancelRun(jobs[0]!.run_id);
    w.sim.control.cancelRun(jobs[1]!.run_id);
    // A quick pass does not ask about stored jobs whose run it no longer lists; the next (full) one does.
    expect(await reconciler.pass()).toMatchObject({ full: false, enqueued: 0, finished: 0, calls: 1 });
    const report = await reconciler.pass();
    expect(report).toMatchObject({ full: true, enqueued: 0, finished: 2 });
    for (const job of jobs.slice(0, 2)) expect((await w.store.get('acme', String(job.id)))?.events.completed).toMatchObject({ action: 'completed', conclusion: 'cancelled' });
    expect((await w.store.get('acme', String(jobs[2]!.id)))?.events.completed).toBeUndefined();
    // Recorded once: the next pass has nothing to do.
    expect(await reconciler.pass()).toMatchObject({ enqueued: 0, finished: 0 });
  });

  it('enqueues again what a store that lost its data forgot, though GitHub answers 304', async () => {
    const w = await world({ repositories: ['acme/app'] });
    const jobs = [0, 1].map((i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka(`wiped-${i}`), name: `wiped-${i}` }));
    const reconciler = await orgReconciler(w);
    expect((await reconciler.pass()).enqueued).toBe(2);
    await deleteKeysWithPrefix(redis.url, w.prefix);
    const report = await reconciler.pass();
    expect(report).toMatchObject({ calls: 0, enqueued: 2 });
    for (const job of jobs) expect(await w.store.get('acme', String(job.id))).not.toBeNull();
  });

  it('pages through long listings, and a finished job is not enqueued again', async () => {
    const w = await world({ repositories: ['acme/app'] });
    const jobs = Array.from({ length: 130 }, (_, i) => w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka(`page-${i}`), name: `page-${i}` }));
    const reconciler = await orgReconciler(w);
    expect((await reconciler.pass()).enqueued).toBe(130);
    for (const job of jobs) expect(await w.store.get('acme', String(job.id))).not.toBeNull();
    // A handler finished one (say GitHub is slow to show it running): GitHub still lists it as
    // queued, and the store, which remembers finished ids, refuses it.
    const lease = await w.store.claim({ queue: 'acme', owner: 'h', leaseMs: 60_000 });
    await w.store.finish(lease!, 'success');
    expect(await reconciler.pass()).toMatchObject({ enqueued: 0 });
    expect((await w.store.stats('acme')).queued).toBe(129);
  });

  it('leaves out the workflows the receiver would ignore (reconcile_workflows)', async () => {
    const w = await world({ repositories: ['acme/app'] });
    const nightly = w.sim.control.dispatchJob({ repository: 'acme/app', workflowName: 'Nightly', labels: anka('nightly'), name: 'nightly' });
    const ci = w.sim.control.dispatchJob({ repository: 'acme/app', workflowName: 'CI', labels: anka('ci'), name: 'ci' });
    const scope = { kind: 'organization', owner: 'acme' } as const;
    const api = await connectGitHub({ baseUrl: w.sim.url, token: TOKEN, scope, logger: quiet });
    const reconciler = new Reconciler({ api, store: w.store, queue: 'acme', scope, logger: quiet, budgetPercent: 5, workflows: { include: [], exclude: ['Nightly'] } });
    expect(await reconciler.pass()).toMatchObject({ enqueued: 1 });
    expect(await w.store.get('acme', String(ci.id))).not.toBeNull();
    expect(await w.store.get('acme', String(nightly.id))).toBeNull();
  });

  it('leaves runs younger than its grace to their webhooks', async () => {
    const w = await world({ repositories: ['acme/app'] });
    // Dispatched ten minutes ago (on GitHub's clock), and just now.
    w.sim.control.advanceClock(-600);
    const old = w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka('old'), name: 'old' });
    w.sim.control.advanceClock(600);
    const young = w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka('young'), name: 'young' });
    const scope = { kind: 'organization', owner: 'acme' } as const;
    const api = await connectGitHub({ baseUrl: w.sim.url, token: TOKEN, scope, logger: quiet });
    const reconciler = new Reconciler({ api, store: w.store, queue: 'acme', scope, logger: quiet, budgetPercent: 5, graceMs: 60_000 });
    // Three listings and the old run's jobs; the young run's jobs are not read.
    expect(await reconciler.pass()).toMatchObject({ enqueued: 1, calls: 4 });
    expect(await w.store.get('acme', String(old.id))).not.toBeNull();
    expect(await w.store.get('acme', String(young.id))).toBeNull();
  });

  it('stays within its budget over a sliding hour', async () => {
    // 100 requests an hour, 3% of them for sweeps: 3 counted calls per sliding hour.
    const w = await world({ repositories: ['acme/a', 'acme/b', 'acme/c'], rateLimit: { limit: 100 } });
    for (const repo of ['a', 'b', 'c']) w.sim.control.dispatchJob({ repository: `acme/${repo}`, labels: anka(repo), name: repo });
    const reconciler = await orgReconciler(w, 3);
    const first = await reconciler.pass();
    expect(first.truncated).toBe(true);
    expect(first.calls).toBeLessThanOrEqual(3);
    // The budget is spent for this hour: the next pass makes no counted call at all.
    const second = await reconciler.pass();
    expect(second).toMatchObject({ truncated: true, calls: 0 });
  });

  it('sweeps repository and enterprise scopes', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const w = await world({
      repositories: ['acme/app', 'acme/other', 'beta/svc'],
      enterprises: { acme: 'acme-corp', beta: 'acme-corp' },
      app: { id: 91, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), installations: [{ account: 'acme' }, { account: 'beta' }] },
    });
    const inApp = w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka('e-1'), name: 'e-1' });
    const inOther = w.sim.control.dispatchJob({ repository: 'acme/other', labels: anka('e-2'), name: 'e-2' });
    const inBeta = w.sim.control.dispatchJob({ repository: 'beta/svc', labels: anka('e-3'), name: 'e-3' });

    const repoScope = { kind: 'repository', owner: 'acme', repo: 'app' } as const;
    const repoApi = await connectGitHub({ baseUrl: w.sim.url, token: TOKEN, scope: repoScope, logger: quiet });
    const byRepo = new Reconciler({ api: repoApi, store: w.store, queue: 'acme', scope: repoScope, logger: quiet, budgetPercent: 5 });
    expect(await byRepo.pass()).toMatchObject({ repos: 1, enqueued: 1 });
    expect(await w.store.get('acme', String(inApp.id))).not.toBeNull();
    expect(await w.store.get('acme', String(inOther.id))).toBeNull();

    // Enterprise (no delivery API: this is its only recovery): every organization the App is installed on.
    const scope = { kind: 'enterprise', enterprise: 'acme-corp' } as const;
    const api = await connectGitHub({
      baseUrl: w.sim.url,
      token: TOKEN,
      privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      appId: 91,
      scope,
      logger: quiet,
    });
    const byEnterprise = new Reconciler({ api, store: w.store, queue: 'acme-corp', scope, logger: quiet, budgetPercent: 5 });
    expect(await byEnterprise.pass()).toMatchObject({ repos: 3, enqueued: 3 });
    for (const job of [inApp, inOther, inBeta]) expect((await w.store.get<QueueJob>('acme-corp', String(job.id)))?.payload.workflow_job.id).toBe(job.id);
    // Or only the organizations configured.
    const onlyBeta = new Reconciler({ api, store: w.store, queue: 'beta-only', scope, logger: quiet, budgetPercent: 5, organizations: ['beta'] });
    expect(await onlyBeta.pass()).toMatchObject({ repos: 1, enqueued: 1 });
  });
});

describe('the cost of sweeping a busy repository (github-sim, real HTTP, real Redis)', () => {
  it('costs one counted call per pass besides the reads that find lost jobs, and finds every lost job within two passes', async () => {
    const simLines: string[] = [];
    const w = await world({ repositories: ['acme/app'], log: (line) => simLines.push(line) });
    // What GitHub itself answered, pass by pass: counted calls and 304s (the control API aside).
    const answered = () => {
      let counted = 0;
      let notModified = 0;
      for (const line of simLines.splice(0)) {
        const m = /^github-sim: GET (\S+) -> (\d+)/.exec(line);
        if (!m || m[1]!.startsWith('/_sim')) continue;
        if (m[2] === '304') notModified += 1;
        else counted += 1;
      }
      return { counted, notModified };
    };
    /** The receiver got the job's `queued` webhook and stored it. */
    const delivered = (jobId: number) => w.store.enqueue({ id: String(jobId), queue: 'acme', payload: asReceiverStores(w, jobId), deliveryId: `d-${jobId}`, repositoryOwner: 'acme' });

    const reconciler = await orgReconciler(w);
    const lost: Array<{ id: number; before: number; kind: string }> = [];
    const foundIn = new Map<number, number>();
    const reports: Array<Awaited<ReturnType<Reconciler['pass']>>> = [];
    const deliveredJobs: Array<{ id: number; run_id: number }> = [];
    let foreign: Promise<unknown> | undefined;
    let matrixRun = 0;
    const PASSES = 8;
    for (let pass = 1; pass <= PASSES; pass += 1) {
      // Every pass, three new single-job runs: two whose webhook came, one whose webhook was lost.
      for (let i = 0; i < 3; i += 1) {
        const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka(`p${pass}-${i}`), name: `p${pass}-${i}` });
        if (i === 0) lost.push({ id: job.id, before: pass, kind: 'single' });
        else {
          expect(await delivered(job.id)).toBe('enqueued');
          deliveredJobs.push(job);
        }
      }
      // A run ends every pass (cancelled; its `completed` webhook comes), so the listings change.
      if (pass > 1) {
        const ended = deliveredJobs.shift()!;
        w.sim.control.cancelRun(ended.run_id);
        expect(await w.store.recordEvent('acme', String(ended.id), { action: 'completed', conclusion: 'cancelled', at: Date.now() })).toBe(true);
      }
      if (pass === 2) {
        // Before a quick pass: a matrix run with one job running (its webhook came: the store holds
        // it) and one queued whose webhook was lost.
        const jit = await fetch(`${w.sim.url}/orgs/acme/actions/runners/generate-jitconfig`, {
          method: 'POST',
          headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'busy-foreign', runner_group_id: 1, labels: [...anka('busy-m-0'), 'foreign'] }),
        });
        const { encoded_jit_config: jitConfig } = (await jit.json()) as { encoded_jit_config: string };
        const matrix = w.sim.control.dispatchRun({
          repository: 'acme/app',
          jobs: [
            { name: 'running', labels: [...anka('busy-m-0'), 'foreign'], durationMs: 120_000 },
            { name: 'waiting', labels: anka('busy-m-1') },
          ],
        });
        matrixRun = matrix.run_id;
        expect(await delivered(matrix.jobs[0]!.id)).toBe('enqueued');
        foreign = runSimulatedRunner({ jitConfig, pollSeconds: 1 });
        await w.sim.control.waitForJob(matrix.jobs[0]!.id, 'in_progress', 30_000);
        lost.push({ id: matrix.jobs[1]!.id, before: pass, kind: 'matrix' });
      }
      simLines.splice(0);
      const report = await reconciler.pass();
      reports.push(report);
      // The report counts what GitHub answered.
      expect(answered()).toEqual({ counted: report.calls, notModified: report.notModified });
      for (const job of lost) if (!foundIn.has(job.id) && (await w.store.get('acme', String(job.id)))) foundIn.set(job.id, pass);
    }
    w.sim.control.cancelRun(matrixRun);
    await foreign;

    // Every lost job is found: a lost single-job run in the pass that follows it; the matrix
    // run's queued job within two passes (by the next full pass).
    for (const job of lost) {
      expect(foundIn.get(job.id), `${job.kind} job ${job.id} lost before pass ${job.before}`).toBeDefined();
      expect(foundIn.get(job.id)! - job.before).toBeLessThanOrEqual(job.kind === 'single' ? 0 : 1);
    }
    expect(reports.reduce((n, r) => n + r.enqueued, 0)).toBe(lost.length);

    const overhead = reports.slice(1).reduce((n, r) => n + r.calls - r.jobReadsFindingLost, 0) / (PASSES - 1);
    console.log(
      `busy repository, ${PASSES} passes: counted per pass ${reports.map((r) => `${r.full ? 'F' : 'q'}${r.calls}(${r.jobReadsFindingLost} found lost)`).join(' ')}; 304s ${reports.map((r) => r.notModified).join(' ')}; ` +
        `overhead after the first pass ${overhead.toFixed(2)} per pass = ${(overhead * 30).toFixed(0)} per hour at 30 passes`,
    );
    // Quick passes: one counted call (the queued runs changed) besides the one read per run with a
    // lost job; the runs whose webhooks came are not read. Full passes: one too (the page of newest
    // runs changed); the matrix run, running and held by the store, is read once.
    const quick = reports.filter((r) => !r.full);
    const full = reports.filter((r) => r.full);
    expect(quick.length).toBe(PASSES / 2);
    for (const r of quick) {
      expect(r.calls - r.jobReadsFindingLost).toBe(1);
      expect(r.jobReads).toBe(r.jobReadsFindingLost);
    }
    for (const r of full.slice(1)) {
      expect(r.calls - r.jobReadsFindingLost).toBe(1);
      expect(r.jobReads).toBe(r.jobReadsFindingLost);
    }
    // Per hour at the default interval (30 passes), besides one read per lost job's run.
    expect(overhead * 30).toBeLessThanOrEqual(30);
  });

  it('lists the running runs too when they may not all be on the page of newest runs', async () => {
    const simLines: string[] = [];
    const w = await world({ repositories: ['acme/app'], log: (line) => simLines.push(line) });
    // Listings of the repository's runs a pass made (github-sim logs the path without the query).
    const runListings = () => simLines.splice(0).filter((l) => l.startsWith('github-sim: GET /repos/acme/app/actions/runs -> ')).length;
    const reconciler = await orgReconciler(w);
    expect(await reconciler.pass()).toMatchObject({ full: true, enqueued: 0 });
    expect(await reconciler.pass()).toMatchObject({ full: false, enqueued: 0 });

    // A matrix run: one job running (its webhook came), one queued whose webhook was lost...
    const jit = await fetch(`${w.sim.url}/orgs/acme/actions/runners/generate-jitconfig`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'deep-foreign', runner_group_id: 1, labels: [...anka('deep-0'), 'foreign'] }),
    });
    const { encoded_jit_config: jitConfig } = (await jit.json()) as { encoded_jit_config: string };
    const matrix = w.sim.control.dispatchRun({
      repository: 'acme/app',
      jobs: [
        { name: 'running', labels: [...anka('deep-0'), 'foreign'], durationMs: 120_000 },
        { name: 'waiting', labels: anka('deep-1') },
      ],
    });
    await w.store.enqueue({ id: String(matrix.jobs[0]!.id), queue: 'acme', payload: asReceiverStores(w, matrix.jobs[0]!.id), deliveryId: 'd-deep-0', repositoryOwner: 'acme' });
    const foreign = runSimulatedRunner({ jitConfig, pollSeconds: 1 });
    await w.sim.control.waitForJob(matrix.jobs[0]!.id, 'in_progress', 30_000);
    // ...then 110 runs that come and go (their webhooks came, `completed` too): the matrix run is
    // no longer among the 100 newest runs.
    for (let i = 0; i < 110; i += 1) {
      const job = w.sim.control.dispatchJob({ repository: 'acme/app', labels: anka(`flood-${i}`), name: `flood-${i}` });
      await w.store.enqueue({ id: String(job.id), queue: 'acme', payload: asReceiverStores(w, job.id), deliveryId: `d-flood-${i}`, repositoryOwner: 'acme' });
      w.sim.control.cancelRun(job.run_id);
      await w.store.recordEvent('acme', String(job.id), { action: 'completed', conclusion: 'cancelled', at: Date.now() });
    }
    simLines.splice(0);
    // More than a page of runs came since the last look at the newest ones: the running runs are
    // listed too, and the lost job of the matrix run is found.
    expect(await reconciler.pass()).toMatchObject({ full: true, enqueued: 1, finished: 0 });
    // The page of newest runs and the running runs.
    expect(runListings()).toBe(2);
    expect(await w.store.get('acme', String(matrix.jobs[1]!.id))).not.toBeNull();
    expect(await reconciler.pass()).toMatchObject({ full: false, enqueued: 0 });
    // A run the sweep takes as running is not on the page: listed again (a 304 now).
    simLines.splice(0);
    const again = await reconciler.pass();
    expect(again).toMatchObject({ full: true, calls: 0, enqueued: 0, finished: 0 });
    expect(runListings()).toBe(2);
    w.sim.control.cancelRun(matrix.run_id);
    await foreign;
  });
});
