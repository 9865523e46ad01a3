import type { HandlerContext, JobLease, PluginInstance, VmReservation } from '@anklet/core';
import { connectionOptionsOf, queueNameOf, resolveScope, type GitHubScope, type QueueJob } from '@anklet/github';
import type { HandlerConfig } from './config.js';
import { startAffinity, type Affinity } from './affinity.js';
import { backoffDelayMs } from './backoff.js';
import { startDiagnosticsSweeper, type DiagnosticsSweeper } from './diagnostics.js';
import { connectGitHub, describeError, type GitHubApi } from './github-api.js';
import { PluginHealth } from './health.js';
import { hostFaultOf } from './host-faults.js';
import { JobRun, type JobRunDeps } from './job-run.js';
import { leaseOwnerOf } from './lease-owner.js';
import { publishQueueStats, startQueueGauges, type QueueGauges } from './queue-gauges.js';
import { readQueueJob } from './payload.js';
import { startReaper, type Reaper } from './reaper.js';
import { startReconciler, type ReconcilerLoop } from './reconciler.js';
import { hostRunnerCache } from './runner-cache.js';
import { installRunnerScripts } from './runner-scripts.js';
import { loadVmNamePrefix } from './vm-names.js';

/** How long an idle `run()` waits for an enqueue before looking again (the polling fallback). */
const IDLE_WAIT_MS = 5_000;
/** Shortest wait between two empty claims (a due job this handler may not take must not make it spin). */
const MIN_WAIT_MS = 250;

/**
 * The GitHub handler: takes jobs from the store one at a time, runs each in a new Anka VM with an
 * ephemeral runner, and cleans up. `start()` installs the runner scripts and recovers what a
 * previous process left; every `run()` handles at most one job.
 */
export function createHandler(ctx: HandlerContext<HandlerConfig>): PluginInstance {
  const config = ctx.config;
  const scope: GitHubScope = resolveScope(config);
  const queue = queueNameOf(config);
  const owner = leaseOwnerOf(ctx);
  let deps: JobRunDeps | undefined;
  let reaper: Reaper | undefined;
  let reconciler: ReconcilerLoop | undefined;
  let queueGauges: QueueGauges | undefined;
  let diagnosticsSweeper: DiagnosticsSweeper | undefined;
  let affinity: Affinity | undefined;
  /** Jobs of a previous process still running in their VMs; watched before new work is taken. */
  const adopted: JobRun[] = [];
  /** Jobs this handler gave back for lack of room, with the time until which it will not take them again. */
  const cooling = new Map<string, number>();
  let drainLogged = false;
  /** Whether what a previous process left was recovered (deferred while GitHub refuses us). */
  let recovered = false;
  const health = new PluginHealth(ctx);

  function connect(): Promise<GitHubApi> {
    return connectGitHub({
      ...connectionOptionsOf(config),
      scope,
      logger: ctx.logger,
      metrics: ctx.metrics,
      signal: ctx.signal,
      resumeStatus: () => 'running' as const,
    });
  }

  /**
   * Adopts or cleans up the jobs, VMs and runners a previous process of this plugin left behind.
   * Only leases whose owner carries this host's id are candidates, and only VMs and runners named
   * with this instance's prefix, so handlers of other queues on this host, and other hosts (even
   * one with the same instance name, from a copied config), never lose theirs.
   */
  async function recover(d: JobRunDeps): Promise<void> {
    // VMs first, then jobs: a VM created after this listing cannot be taken for an orphan.
    const vms = (await ctx.anka.listOwnVms()).filter((vm) => vm.name.startsWith(d.vmNamePrefix));
    // The runner listing is also the start-up check of the credentials (the one call made before
    // the first claim): a refusal throws a host fault before any job is touched. This process
    // creates no runner before it returns, so the listing can be taken before the jobs.
    const runners = await listRunnersOrNull(d);
    // A named runner group that does not exist is a configuration fault: found here, not at the first job.
    await d.api.runnerGroupId(config.runner_group);
    const owned = [...(await ctx.store.listOwned(queue, owner)), ...(await legacyLeases(d))];
    for (const any of owned) {
      const check = readQueueJob(any);
      if (!check.ok) {
        await quarantine(any, check.reason);
        continue;
      }
      try {
        await recoverOne(d, check.lease, vms);
      } catch (err) {
        // Skipped, not fatal: the lease runs out and the reaper gives the job back.
        ctx.logger.error('error recovering a job left by a previous run; skipping it', { workflowJobID: any.job.id, error: describeError(err) });
        ctx.metrics.count('job_errors', { step: 'recovery' });
      }
    }
    // What is left with our prefix belongs to no job we still hold: the adopted jobs' VMs stay.
    const live = new Set(adopted.map((run) => run.vmName).filter((name): name is string => name !== undefined));
    for (const vm of vms) {
      if (live.has(vm.name)) continue;
      ctx.logger.warn('deleting orphaned vm that no job owns', { vmName: vm.name });
      try {
        await ctx.anka.delete(vm.name);
        ctx.metrics.count('orphans_cleaned', { kind: 'vm' });
      } catch (err) {
        ctx.logger.error('error deleting orphaned vm', { vmName: vm.name, error: describeError(err) });
      }
    }
    if (runners) await removeOrphanRunners(d, runners, live);
  }

  /**
   * Leases taken under the bare instance name, before owners carried the host id: only those whose
   * VM is named with this instance's prefix are provably this host's. The others may be another
   * host's (a copied config): they are left alone, and the reaper returns them if nobody renews them.
   */
  async function legacyLeases(d: JobRunDeps): Promise<ReadonlyArray<JobLease>> {
    if (owner === ctx.name) return [];
    const leases = await ctx.store.listOwned(queue, ctx.name);
    const mine = leases.filter((lease) => lease.job.vmName?.startsWith(d.vmNamePrefix));
    const others = leases.filter((lease) => !mine.includes(lease)).map((lease) => lease.job.id);
    if (others.length > 0) ctx.logger.warn('leaving leases held under this instance name that are not provably this host\'s', { jobs: others });
    return mine;
  }

  /** Sets aside a claimed job whose record the handler cannot read; the queue flows on. */
  async function quarantine(lease: JobLease, reason: string): Promise<void> {
    ctx.logger.error('claimed job cannot be read; quarantining it', { workflowJobID: lease.job.id, reason });
    ctx.metrics.count('jobs_quarantined', { reason: 'unreadable_payload' });
    try {
      await ctx.store.quarantine(lease, reason);
    } catch (err) {
      // Refused (finished, taken) or the store is down: nothing more to do with it here.
      ctx.logger.error('error quarantining an unreadable job', { workflowJobID: lease.job.id, error: describeError(err) });
    }
  }

  async function recoverOne(d: JobRunDeps, lease: JobLease<QueueJob>, vms: ReadonlyArray<{ name: string; status: string }>): Promise<void> {
    const job = lease.job;
    const log = ctx.logger.child({ workflowJobID: job.payload.workflow_job.id, vmName: job.vmName });
    const vmAlive = job.vmName ? vms.some((vm) => vm.name === job.vmName && vm.status === 'running') : false;
    if (vmAlive && (job.phase === 'in_progress' || job.phase === 'registered')) {
      const slot = ctx.host.vmSlots.tryAcquire();
      if (slot) {
        log.info('found job of a previous run still in its vm; watching it', { phase: job.phase });
        const reservation: VmReservation = { started: () => undefined, release: slot };
        adopted.push(new JobRun(d, lease, { reservation }));
        return;
      }
    }
    // Not running (or no room to watch it): the job goes back, its VM and runner go away. A job
    // that may have reached its runner counts as an attempt; one that never did does not.
    const reachedRunner = job.phase === 'registered' || job.phase === 'in_progress';
    log.warn('cleaning up job left by a previous run', { phase: job.phase });
    await new JobRun(d, lease).abandon(reachedRunner ? { kind: 'retry', reason: 'restarted_while_running' } : { kind: 'handoff', reason: 'restarted_before_running', cooldownMs: 0 });
  }

  type RunnerList = Awaited<ReturnType<GitHubApi['listRunners']>>;

  /** This instance's runners, or null when GitHub could not list them; a host fault is thrown. */
  async function listRunnersOrNull(d: JobRunDeps): Promise<RunnerList | null> {
    try {
      return await d.api.listRunners(d.vmNamePrefix);
    } catch (err) {
      if (hostFaultOf(err)) throw err;
      ctx.logger.error('error listing runners to find orphans', { error: describeError(err) });
      return null;
    }
  }

  /**
   * Deletes runners this instance registered (runner name = VM name) whose job record or VM is
   * gone: a crash between registration and clean-up, or a job record removed by hand. A busy one
   * is left alone (GitHub refuses; its job ends and the ephemeral runner goes with it).
   */
  async function removeOrphanRunners(d: JobRunDeps, runners: RunnerList, live: ReadonlySet<string>): Promise<void> {
    for (const runner of runners) {
      if (live.has(runner.name)) continue;
      ctx.logger.warn('deleting orphaned runner that no job owns', { runnerName: runner.name, runnerId: runner.id, status: runner.status });
      try {
        await d.api.removeRunner(runner.id);
        ctx.metrics.count('orphans_cleaned', { kind: 'runner' });
      } catch (err) {
        ctx.logger.error('error deleting orphaned runner', { runnerName: runner.name, runnerId: runner.id, error: describeError(err) });
      }
    }
  }

  function skipJobIds(): string[] {
    const now = Date.now();
    for (const [id, until] of cooling) if (until <= now) cooling.delete(id);
    return [...cooling.keys()];
  }

  let scripts: ReadonlyArray<string> = [];

  /** Connects and recovers what a previous process left, once; throws what GitHub answered. */
  async function ensureReady(): Promise<void> {
    if (!deps) {
      const api = await connect();
      deps = { ctx, api, queue, scripts, vmNamePrefix: loadVmNamePrefix(ctx.paths.dataDir, ctx.host.hostId), onHostFault: (fault) => health.report(fault), runnerCache: hostRunnerCache(ctx) };
    }
    if (!recovered) {
      await recover(deps);
      recovered = true;
      reaper ??= startReaper({ ctx, api: deps.api, queue, owner });
      if (config.reconcile) reconciler ??= startReconciler({ ctx, api: deps.api, queue, scope, healthy: () => !health.fault, onHostFault: (fault) => health.report(fault) });
    }
  }

  /**
   * While GitHub refuses the plugin: waits out the back-off, then asks again with one cheap call
   * (or connects and recovers, if start-up could not). Jobs are not claimed meanwhile.
   */
  async function recheck(): Promise<void> {
    if (!(await health.waitForCheck())) return;
    try {
      if (deps && recovered) await deps.api.checkAccess(config.runner_group);
      else await ensureReady();
      health.recovered();
    } catch (err) {
      const fault = hostFaultOf(err);
      if (fault) health.report(fault);
      else ctx.logger.warn('error checking GitHub access; asking again later', { error: describeError(err) });
    }
  }

  return {
    async start() {
      scripts = installRunnerScripts(ctx.paths.packageDir, ctx.paths.pluginsPath, ctx.logger);
      if (scope.kind === 'organization') ctx.logger.info("no repo set for plugin; assuming it's an organization level plugin");
      if (scope.kind === 'enterprise') ctx.logger.info('enterprise set for plugin; using enterprise level plugin');
      try {
        await ensureReady();
      } catch (err) {
        // Credentials or configuration GitHub refuses: a visible state and re-checks, not a failed start.
        const fault = hostFaultOf(err);
        if (!fault) throw err;
        health.report(fault);
      }
      // The queue gauges come from the store, on their own timer: current while every handler is busy.
      queueGauges ??= startQueueGauges(ctx, queue);
      // Kept runner logs older than runner_diagnostics_keep_hours go, now and every hour.
      diagnosticsSweeper ??= startDiagnosticsSweeper(ctx);
      affinity ??= startAffinity(ctx, queue, config.template_affinity_grace_seconds);
      ctx.logger.info('github handler started', { queue, leaseOwner: owner, registrationMethod: config.registration_method, vmNamePrefix: deps?.vmNamePrefix, state: health.fault?.state ?? 'ok' });
    },

    async run() {
      if (health.fault || !deps || !recovered) {
        if (ctx.signal.aborted || ctx.host.shutdownMode() !== 'none') return;
        await recheck();
        return { again: true };
      }
      const d = deps;
      const resume = adopted.shift();
      if (resume) {
        await resume.execute(true);
        ctx.metrics.setStatus(ctx.host.isDraining() ? 'draining' : 'idle');
        return { again: true };
      }
      if (ctx.signal.aborted || ctx.host.shutdownMode() !== 'none') return;
      if (ctx.host.isDraining()) {
        if (!drainLogged) ctx.logger.warn('drain file present; not picking up new jobs');
        drainLogged = true;
        ctx.metrics.setStatus('draining');
        return;
      }
      drainLogged = false;
      ctx.metrics.setStatus('idle');
      const stats = await ctx.store.stats(queue).catch(() => null);
      if (stats) publishQueueStats(ctx, queue, stats);
      if (ctx.host.vmSlots.used >= ctx.host.vmSlots.total) {
        ctx.logger.debug('host does not have vm capacity');
        await ctx.store.waitForWork(queue, IDLE_WAIT_MS, ctx.signal);
        return { again: true };
      }
      const lease = await ctx.store.claim<QueueJob>({
        queue,
        owner,
        leaseMs: config.lease_seconds * 1000,
        repositoryOwners: scope.kind === 'enterprise' ? undefined : [scope.owner],
        skipJobIds: skipJobIds(),
        affinity: affinity?.claimAffinity(),
      });
      if (!lease) {
        ctx.logger.debug('no queued jobs found');
        // No wake-up is sent when a delayed job becomes due: wake for it ourselves.
        let waitMs = cooling.size > 0 ? 1_000 : IDLE_WAIT_MS;
        if (stats?.nextDelayedDueMs != null) waitMs = Math.min(waitMs, Math.max(MIN_WAIT_MS, stats.nextDelayedDueMs + 50));
        // A job left for a host that holds its template: look again when its grace ends.
        const graceEndsMs = affinity?.retryInMs();
        if (graceEndsMs !== undefined) waitMs = Math.min(waitMs, Math.max(MIN_WAIT_MS, graceEndsMs + 50));
        await ctx.store.waitForWork(queue, waitMs, ctx.signal);
        return { again: true };
      }
      ctx.metrics.count('jobs_claimed');
      affinity?.claimed(lease);
      try {
        ctx.logger.info('queued job found', { workflowJobID: lease.job.id, attempts: lease.job.attempts, handedOffBy: lease.job.handedOffBy });
        const check = readQueueJob(lease);
        if (!check.ok) {
          await quarantine(lease, check.reason);
          return { again: true };
        }
        try {
          const outcome = await new JobRun(d, check.lease).execute();
          if (outcome.kind === 'handoff' && outcome.cooldownMs > 0) cooling.set(lease.job.id, Date.now() + outcome.cooldownMs);
          if (health.fault) return { again: true };
        } catch (err) {
          // `execute` turns failures into outcomes; anything that still escapes is this job's
          // failure (an attempt, with back-off), never the plugin's.
          ctx.logger.error('unexpected error handling job; counted against the job', { workflowJobID: lease.job.id, error: describeError(err) });
          ctx.metrics.count('job_errors', { step: 'unexpected' });
          const delayMs = backoffDelayMs(lease.job.attempts + 1, config.retry_backoff_seconds * 1000, config.retry_backoff_max_seconds * 1000);
          await ctx.store.requeue(lease, 'error_unexpected', { delayMs }).catch((again: unknown) => {
            ctx.logger.error('error requeueing the job after an unexpected error', { workflowJobID: lease.job.id, error: describeError(again) });
          });
        }
      } finally {
        affinity?.released();
      }
      ctx.metrics.setStatus(ctx.host.isDraining() ? 'draining' : 'idle');
      return { again: true };
    },

    async stop() {
      queueGauges?.stop();
      diagnosticsSweeper?.stop();
      affinity?.stop();
      await Promise.all([reaper?.stop(), reconciler?.stop()]);
      // Adopted jobs not watched yet stay claimed with their VMs: the next start adopts them again.
      if (adopted.length > 0) ctx.logger.warn('leaving jobs of a previous run in their vms for the next start', { jobs: adopted.map((r) => r.jobId) });
    },
  };
}
