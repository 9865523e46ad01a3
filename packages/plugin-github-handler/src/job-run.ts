import path from 'node:path';
import {
  ErrorCodes,
  isAnkaFailure,
  isAnkletError,
  isLeaseRefusal,
  type HandlerContext,
  type JobLease,
  type JobPhase,
  type JobPhaseName,
  type Logger,
  type NewTimelineEvent,
  type VmReservation,
} from '@anklet/core';
import { parseAnkaLabels, type QueueJob } from '@anklet/github';
import { backoffDelayMs, sleep } from './backoff.js';
import type { HandlerConfig } from './config.js';
import { configSecretsOf, diagnosticsReasonOf, diagnosticsRootOf, jitConfigSecretsOf, keepRunnerDiagnostics } from './diagnostics.js';
import { describeError, registrationUrlOf, type GitHubApi, type JobRef, type JobStatus } from './github-api.js';
import { hostFaultOf, type HostFault } from './host-faults.js';
import type { RunnerCache } from './runner-cache.js';
import { NO_RUNNER_AVAILABLE, NoRunnerAvailable, prepareRunner } from './runner-install.js';
import { newVmName } from './vm-names.js';

/** How one attempt at a job ended, and so what clean-up does with the job. */
export type Outcome =
  /** GitHub says the job completed (any conclusion): finish it. */
  | { readonly kind: 'done'; readonly conclusion: string }
  /** The job cannot run anywhere: cancel its run on GitHub and finish it. */
  | { readonly kind: 'cancel'; readonly reason: string }
  /** Another attempt, on a new VM, at the head of the queue (attempts + 1). */
  | { readonly kind: 'retry'; readonly reason: string }
  /** Back to the queue for another host or later, attempts unchanged. */
  | { readonly kind: 'handoff'; readonly reason: string; readonly cooldownMs: number }
  /** Shutting down while the job runs in its VM: keep VM, runner and lease for the next start (Go rule). */
  | { readonly kind: 'leave'; readonly reason: string }
  /** The lease was taken from us (or the store lost the job and GitHub says it is not running on our runner): clean our VM up and touch nothing in the store. */
  | { readonly kind: 'lost'; readonly reason: string; readonly conclusion?: string }
  /** GitHub refused the host (credentials, installation, runner group, rate limit): back to the queue, attempts unchanged. */
  | { readonly kind: 'host_fault'; readonly reason: string; readonly fault: HostFault };

/**
 * `lastReason` prefix of a job given up whose cancel GitHub refused or did not confirm: it waits in
 * the store (delayed, no attempt counted), and whoever claims it next cancels again before anything else.
 */
export const CANCEL_PENDING = 'cancel_pending: ';
/** A job whose lease was lost while our runner ran it, and which then completed: its VM goes, its record is not ours. */
const LEASE_LOST_AFTER_RUN = 'lease_lost_after_run';

/** What a job run needs from its handler. */
export interface JobRunDeps {
  readonly ctx: HandlerContext<HandlerConfig>;
  readonly api: GitHubApi;
  readonly queue: string;
  readonly scripts: ReadonlyArray<string>;
  /** `anklet-vm-<token>-`: the names of this handler's VMs and runners (see vm-names.ts). */
  readonly vmNamePrefix: string;
  /** Told when GitHub refuses the host rather than the job (the plugin stops claiming until it works again). */
  readonly onHostFault?: ((fault: HostFault) => void) | undefined;
  /** The host's runner cache; undefined when `runner_cache` is off (install-runner.bash downloads in the VM). */
  readonly runnerCache?: RunnerCache | undefined;
}

const POLL_MS = 1000;
/** Shortest time between two questions to GitHub about a job whose record vanished (the watch loop polls every second). */
const VANISHED_RECHECK_MS = 10_000;

/** Tries of one idempotent Anka step before the attempt counts as failed. */
const STEP_TRIES = 3;
/** Back-off between those tries: about 1 s, then 2 s. */
const STEP_BACKOFF_MS = 1_000;
/**
 * Anka failures worth repeating on the same VM at once: the generic ones (`failed to start: No
 * child processes`, a garbled answer). Timeouts are not (the step already waited its full time),
 * nor are VM-limit, disk or licence problems (the host is the problem, not the call).
 */
const TRANSIENT_ANKA_REASONS = new Set(['failed', 'no_json']);

/**
 * One claimed job, from labels to clean-up. `execute()` never throws: every failure becomes an
 * {@link Outcome}, and clean-up (runner, VM, store) runs whatever happened, without the shutdown
 * signal, so a signal never leaves a VM or runner behind.
 */
export class JobRun {
  readonly #ctx: HandlerContext<HandlerConfig>;
  readonly #api: GitHubApi;
  readonly #queue: string;
  readonly #scripts: ReadonlyArray<string>;
  readonly #vmNamePrefix: string;
  readonly #onHostFault: ((fault: HostFault) => void) | undefined;
  readonly #runnerCache: RunnerCache | undefined;
  #lease: JobLease<QueueJob>;
  readonly #log: Logger;
  readonly #ref: JobRef;
  /** Aborts on the host's signal or when the lease is lost. */
  readonly #local = new AbortController();
  readonly #signal: AbortSignal;
  #leaseLost = false;
  #renewTimer: NodeJS.Timeout | undefined;
  #vmName: string | undefined;
  #runnerId: number | undefined;
  #reservation: VmReservation | undefined;
  #inProgress = false;
  /** True once our VM started (for the running-VMs metric). */
  #vmRunning = false;
  #phase: JobPhase;
  /** What the handler was doing, for retry reasons (`error_<step>`). */
  #step = 'preparing';
  /** How this attempt ends, decided when the store lost the job's record and GitHub was asked (see #checkVanishedRecord). */
  #verdict: Outcome | undefined;
  /** The check of a vanished record in flight: the renew timer, an update and the watch loop may all find it. */
  #recordCheck: Promise<Outcome | undefined> | undefined;
  /** The record is gone and could not be written back, but our runner runs the job: it is watched to its end without the store. */
  #storeless = false;
  /** When GitHub was last asked about a vanished record. */
  #lastRecordCheckAt = 0;
  /** This attempt's runner secrets (JIT config, registration token): scrubbed from kept runner logs. */
  readonly #runnerSecrets: string[] = [];

  constructor(deps: JobRunDeps, lease: JobLease<QueueJob>, adopt?: { reservation?: VmReservation | undefined }) {
    this.#ctx = deps.ctx;
    this.#api = deps.api;
    this.#queue = deps.queue;
    this.#scripts = deps.scripts;
    this.#vmNamePrefix = deps.vmNamePrefix;
    this.#onHostFault = deps.onHostFault;
    this.#runnerCache = deps.runnerCache;
    this.#lease = lease;
    this.#signal = AbortSignal.any([deps.ctx.signal, this.#local.signal]);
    const job = lease.job;
    const wj = job.payload.workflow_job;
    this.#ref = {
      owner: job.payload.repository.owner ?? job.repositoryOwner ?? '',
      repo: job.payload.repository.name ?? '',
      jobId: wj.id,
      runId: wj.run_id,
    };
    this.#log = deps.ctx.logger.child({
      workflowJobID: wj.id,
      workflowJobRunID: wj.run_id,
      workflowName: wj.workflow_name,
      workflowJobName: wj.name,
      workflowJobURL: wj.html_url,
      attempts: job.attempts,
    });
    this.#vmName = job.vmName;
    this.#runnerId = job.runnerId ? Number(job.runnerId) : undefined;
    this.#phase = job.phase;
    this.#reservation = adopt?.reservation;
    this.#vmRunning = adopt !== undefined;
  }

  get jobId(): string {
    return this.#lease.job.id;
  }

  /** The job's VM (and runner) name, once chosen. */
  get vmName(): string | undefined {
    return this.#vmName;
  }

  /** Runs the job (or resumes an adopted one) and cleans up. */
  async execute(resume = false): Promise<Outcome> {
    this.#startRenewing();
    let outcome: Outcome;
    try {
      outcome = resume ? await this.#resume() : await this.#prepareAndWatch();
    } catch (err) {
      outcome = this.#classify(err);
    } finally {
      clearInterval(this.#renewTimer);
    }
    await this.#cleanup(outcome);
    return outcome;
  }

  /** Cleans up a job found at start-up without running it (its VM and runner go, the job goes back). */
  async abandon(outcome: Outcome): Promise<void> {
    await this.#cleanup(outcome);
  }

  // ----------------------------------------------------------------------------------------------
  // The life of a job

  async #prepareAndWatch(): Promise<Outcome> {
    const ctx = this.#ctx;
    const config = ctx.config;
    const job = this.#lease.job;
    // Its `completed` webhook came while it waited in the queue (a run cancelled before any host
    // could take it, e.g. one no host can fit): nothing to run, it leaves the store.
    const completed = job.events.completed;
    if (completed) {
      this.#log.info('job completed on GitHub while queued; removing it', { conclusion: completed.conclusion });
      return { kind: 'done', conclusion: completed.conclusion ?? 'unknown' };
    }
    // Given up earlier, but GitHub did not confirm the cancel: cancel again, run nothing.
    if (job.lastReason?.startsWith(CANCEL_PENDING)) {
      this.#log.warn('job was given up but its cancel is not confirmed; cancelling again', { reason: job.lastReason.slice(CANCEL_PENDING.length) });
      return { kind: 'cancel', reason: job.lastReason.slice(CANCEL_PENDING.length) };
    }
    // Its `in_progress` came before its `queued` (the receiver stored the job from it): a runner
    // that is not ours took it (no runner of ours exists before the first attempt), so it is
    // watched, not run, until GitHub says it is over (or back in the queue: then it is retried).
    const started = job.events.in_progress;
    if (started && job.attempts === 0) return this.#waitForEarlierRunner(started.runnerName ?? null);
    const labels = parseAnkaLabels(job.payload.workflow_job.labels ?? []);
    if (!labels.template) {
      this.#log.error('anka-template label missing from workflow job; cancelling job', { problems: labels.problems });
      return { kind: 'cancel', reason: 'anka_template_label_missing' };
    }
    if (labels.problems.length > 0) {
      this.#log.error('anka labels of the workflow job are malformed; cancelling job', { problems: labels.problems });
      return { kind: 'cancel', reason: 'anka_labels_malformed' };
    }
    if (job.attempts > config.job_retry_attempts) {
      this.#log.warn('job has attempts > max attempts, cancelling it', {
        maxAttempts: config.job_retry_attempts,
        lastReason: job.lastReason,
      });
      return { kind: 'cancel', reason: `max_attempts_exceeded: ${job.lastReason ?? 'unknown'}` };
    }
    if (job.attempts > 0) {
      // A lost `completed` webhook must not make us start a VM for a job that is over.
      this.#step = 'updating_job_workflow_job_status';
      this.#log.warn('job has attempts > 0, checking status from API to see if the job is still even running');
      const status = await this.#api.jobStatus(this.#ref);
      if (status.status === 'completed') return this.#completedFromApi(status.conclusion);
      if (status.status === 'in_progress') return this.#waitForEarlierRunner(status.runnerName);
    }

    this.#log.info('handling anka workflow run job', { template: labels.template, tag: labels.tag ?? '(using latest)' });
    ctx.metrics.setStatus('in_progress');
    await this.#setPhase('preparing');

    // Template on the host (pull, disk buffer, LRU clean-up: the Anka client does them).
    this.#step = 'ensuring_vm_template_exists_on_host';
    const pullStarted = Date.now();
    await this.#timeline({ type: 'pull_started', detail: `${labels.template}:${labels.tag ?? 'latest'}` });
    const template = await ctx.anka.ensureTemplate(labels.template, labels.tag, { signal: this.#signal });
    ctx.metrics.setStatus('in_progress');
    switch (template.status) {
      case 'ready':
        if (template.pulled) this.#observe('pull', pullStarted);
        await this.#timeline({ type: 'pull_finished', detail: template.pulled ? 'pulled' : 'cached' });
        break;
      case 'not_found':
        this.#log.error('anka template or tag not found in registry; cancelling job', { reason: template.message });
        return { kind: 'cancel', reason: 'anka_template_or_tag_not_found' };
      case 'pull_in_progress':
        this.#log.warn('problem ensuring vm template exists on host', { reason: template.message });
        return { kind: 'handoff', reason: 'pull_already_running_on_host', cooldownMs: 3_000 };
      case 'not_on_host':
        this.#log.error('template doesn\'t exist locally', { reason: template.message });
        return { kind: 'retry', reason: 'anka_template_does_not_exist_locally' };
      case 'no_space':
        this.#log.error('insufficient space on host', { reason: template.message });
        return { kind: 'retry', reason: 'error_no_space_on_host_for_template' };
    }

    // Admission: one handler of this host sizes and starts a VM at a time (the preparing lock).
    this.#step = 'checking_host_resources';
    if (config.skip_cpu_and_memory_resource_checks) {
      this.#log.warn('skipping VM CPU and memory resource checks; this plugin may overcommit host resources; use at your own risk');
    }
    const needs = await ctx.anka.requirementsOf(template.uuid, { signal: this.#signal });
    const { admission, reservation } = await ctx.anka.reserveVm(needs, { signal: this.#signal });
    if (!reservation) {
      if (admission.decision === 'never_fits') {
        this.#log.warn('host does not have enough resources to run vm', { reason: admission.reason, cpuCores: needs.cpuCores, ramBytes: needs.ramBytes });
        return { kind: 'handoff', reason: 'not_enough_host_resources', cooldownMs: 60_000 };
      }
      this.#log.warn('cannot run vm yet, waiting for enough resources to be available...', { reason: 'reason' in admission ? admission.reason : undefined });
      this.#log.info('pushed job to paused queue');
      return { kind: 'handoff', reason: 'not_enough_free_resources_now', cooldownMs: 3_000 };
    }
    this.#reservation = reservation;
    this.#log.info('vm has enough resources now to run; starting runner');

    // The VM name is stored before the VM exists, so a crash in between leaves a name to clean up.
    this.#step = 'obtaining_anka_vm';
    const vmName = newVmName(this.#vmNamePrefix);
    this.#vmName = vmName;
    await this.#setPhase('preparing', { vmName });
    const cloneStarted = Date.now();
    await this.#retryTransient(
      () => ctx.anka.clone(template.uuid, { name: vmName, tag: labels.tag, signal: this.#signal }),
      // A failed clone may have left a partial VM under our name.
      () => ctx.anka.delete(vmName),
    );
    this.#observe('clone', cloneStarted);
    await this.#timeline({ type: 'vm_cloned', detail: vmName });
    const startStarted = Date.now();
    await this.#retryTransient(() => ctx.anka.start(vmName, { signal: this.#signal }));
    this.#observe('start', startStarted);
    await this.#timeline({ type: 'vm_started', detail: vmName });
    ctx.metrics.vmStarted();
    this.#vmRunning = true;
    reservation.started();
    ctx.metrics.observe('job_queue_wait_seconds', (Date.now() - job.enqueuedAt) / 1000, { template: labels.template });
    await this.#setPhase('vm_started');
    this.#log.info('vm started', { vmName: this.#vmName });

    await this.#registerRunner(job.payload.workflow_job.labels ?? [], template.uuid, labels.tag ?? 'latest');
    this.#log.info('finished preparing anka VM with actions runner', { vmName: this.#vmName });
    return this.#watch();
  }

  /** Copies the scripts in, installs the runner, registers it (JIT or token) and starts it. */
  async #registerRunner(labels: ReadonlyArray<string>, template: string, tag: string): Promise<void> {
    const ctx = this.#ctx;
    const vm = this.#vmName!;
    const timeoutMs = ctx.config.runner_script_timeout_seconds * 1000;
    this.#step = 'executing_anka_copy';
    for (const script of this.#scripts) await this.#retryTransient(() => ctx.anka.copyIn(vm, script, '', { signal: this.#signal }));
    // Installing and storing a JIT config can be repeated; config.sh (token) and run.sh cannot.
    const run = async (step: string, argv: string[], stdin?: string, repeatable = false) => {
      this.#step = step;
      const once = () => ctx.anka.run(vm, ['bash', ...argv], { signal: this.#signal, timeoutMs, ...(stdin !== undefined ? { stdin } : {}) });
      const result = repeatable ? await this.#retryTransient(once) : await once();
      if (result.exitCode !== 0) {
        // The scripts never print a secret; their tail says what failed.
        throw new ScriptFailed(step, result.exitCode, (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n'));
      }
    };
    this.#log.info('installing github runner inside of vm');
    if (this.#runnerCache) {
      // The host's cache (or the template's own runner) instead of a download inside the VM.
      this.#step = 'preparing_runner';
      const cache = this.#runnerCache;
      await this.#retryTransient(() => prepareRunner({ anka: ctx.anka, cache, log: this.#log, signal: this.#signal, timeoutMs }, vm, template, tag));
    } else {
      await run('executing_install_runner_bash', [`./${path.basename(this.#scripts[0]!)}`], undefined, true);
    }

    this.#log.info('registering github runner inside of vm', { registrationMethod: ctx.config.registration_method });
    const registerScript = `./${path.basename(this.#scripts[1]!)}`;
    if (ctx.config.registration_method === 'jit') {
      this.#step = 'creating_jit_config';
      const groupId = await this.#api.runnerGroupId(ctx.config.runner_group);
      const { runnerId, jitConfig } = await this.#api.generateJitConfig(vm, labels, groupId);
      ctx.logger.addSecret(jitConfig);
      this.#runnerSecrets.push(...jitConfigSecretsOf(jitConfig));
      this.#runnerId = runnerId;
      await this.#setPhase('vm_started', { runnerId: String(runnerId) });
      await run('executing_register_runner_bash', [registerScript, '--jit'], jitConfig, true);
    } else {
      this.#step = 'creating_registration_token';
      const token = await this.#api.registrationToken();
      ctx.logger.addSecret(token);
      this.#runnerSecrets.push(token);
      const url = registrationUrlOf(this.#api.scope, ctx.config.github_base_url);
      await run('executing_register_runner_bash', [registerScript, vm, '-', url, labels.join(','), ctx.config.runner_group ?? ''], `${token}\n`);
      this.#step = 'finding_registered_runner';
      const runner = await this.#api.findRunner(vm);
      if (runner) {
        this.#runnerId = runner.id;
        await this.#setPhase('vm_started', { runnerId: String(runner.id) });
      }
    }
    this.#log.info('starting github runner inside of vm');
    await run('executing_start_runner_bash', [`./${path.basename(this.#scripts[2]!)}`]);
    await this.#setPhase('registered');
    await this.#timeline({ type: 'runner_registered', detail: this.#runnerId === undefined ? vm : `${vm} (runner ${this.#runnerId})` });
  }

  /**
   * Watches the job until GitHub says it completed. The `in_progress` event must name our runner
   * (actions/runner#3621: a runner can register and never get its job); if it does not come within
   * `registration_timeout_seconds`, the attempt is retried on a new VM.
   */
  async #watch(askApiFirst = false): Promise<Outcome> {
    const config = this.#ctx.config;
    const registeredAt = Date.now();
    let lastApiCheck = Date.now();
    let apiCheckDue = askApiFirst;
    let lastEventAt = Date.now();
    let waitingLogged = false;
    let otherRunnerLogged = false;
    this.#step = 'watching_job';
    for (;;) {
      if (this.#verdict) return this.#verdict;
      if (this.#leaseLost && !this.#inProgress) return { kind: 'lost', reason: 'lease_lost' };
      if (this.#ctx.signal.aborted) {
        // Go: a job already running in its VM is left to run; the next start adopts it.
        return this.#inProgress ? { kind: 'leave', reason: 'shutdown_while_running' } : { kind: 'handoff', reason: 'shutdown_before_running', cooldownMs: 0 };
      }
      const stored = await this.#ctx.store.get(this.#queue, this.jobId);
      // (With the lease lost, the record is its new owner's to finish or restore, not ours.)
      if (!stored && !this.#leaseLost) {
        // The store lost the record (a Redis restarted without its data): GitHub says what it is.
        const verdict = await this.#recordVanished();
        if (verdict) return verdict;
      }
      const started = stored?.events.in_progress;
      if (started) {
        lastEventAt = Math.max(lastEventAt, started.at);
        if (this.#isOurs(started.runnerName, started.runnerId)) await this.#markInProgress(registeredAt);
        else if (!otherRunnerLogged) {
          otherRunnerLogged = true;
          this.#log.warn('job is in progress on a runner that is not ours', { runnerName: started.runnerName, vmName: this.#vmName });
        }
      } else if (!waitingLogged) {
        waitingLogged = true;
        this.#log.info('job is waiting for registered runner');
      }
      const completed = stored?.events.completed;
      if (completed) return this.#ended(completed.conclusion ?? 'unknown');

      const now = Date.now();
      const timedOut = !this.#inProgress && now - registeredAt >= config.registration_timeout_seconds * 1000;
      // While the host shuts down, a receiver in the same process is already gone: ask more often.
      const checkEveryMs = this.#ctx.host.shutdownMode() === 'none' ? config.status_check_interval_seconds * 1000 : 5_000;
      const silent = now - Math.max(lastApiCheck, lastEventAt) >= checkEveryMs;
      if (timedOut || silent || apiCheckDue) {
        // Webhooks get lost: ask the API before giving up on a registration, and after a long silence.
        lastApiCheck = now;
        apiCheckDue = false;
        const status = await this.#api.jobStatus(this.#ref).catch((err: unknown) => {
          this.#log.warn('error getting job status from the API', { error: describeError(err) });
          return null;
        });
        if (status?.status === 'completed') return this.#leaseLost ? this.#ended(status.conclusion ?? 'unknown') : this.#completedFromApi(status.conclusion);
        if (status?.status === 'in_progress' && this.#isOurs(status.runnerName, status.runnerId)) await this.#markInProgress(registeredAt, status.runnerName);
        if (timedOut && !this.#inProgress) {
          this.#log.error('waiting for runner registration timed out, will retry', { registrationTimeoutSeconds: config.registration_timeout_seconds });
          this.#ctx.metrics.count('registration_timeouts');
          return { kind: 'retry', reason: 'waiting_for_runner_registration_timed_out' };
        }
      }
      if (now - registeredAt > config.job_timeout_hours * 3_600_000) {
        this.#log.warn('job timeout exceeded, cleaning up potentially orphaned job');
        return { kind: 'cancel', reason: 'job_timed_out' };
      }
      // Woken when the receiver records this job's `in_progress` or `completed` event; the poll is the fallback.
      const store = this.#ctx.store;
      if (store.waitForEvent) await store.waitForEvent(this.#queue, this.jobId, POLL_MS, this.#signal);
      else await sleep(POLL_MS, this.#signal);
    }
  }

  /**
   * The job already runs on a runner of an earlier attempt (one whose clean-up could not remove it):
   * a new runner would never get it, so wait for GitHub to report it completed (Go does the same).
   */
  async #waitForEarlierRunner(runnerName: string | null): Promise<Outcome> {
    this.#log.info("job is in progress, so we'll wait for it to finish", { runnerName });
    this.#step = 'watching_job_of_earlier_attempt';
    for (;;) {
      await sleep(5_000, this.#signal);
      if (this.#leaseLost) return { kind: 'lost', reason: 'lease_lost' };
      if (this.#ctx.signal.aborted) return { kind: 'handoff', reason: 'shutdown_before_running', cooldownMs: 0 };
      const stored = await this.#ctx.store.get(this.#queue, this.jobId);
      const completed = stored?.events.completed;
      if (completed) return { kind: 'done', conclusion: completed.conclusion ?? 'unknown' };
      const status = await this.#api.jobStatus(this.#ref);
      if (status.status === 'completed') return this.#completedFromApi(status.conclusion);
      // Back in the queue (its runner died): run it ourselves.
      if (status.status === 'queued') return { kind: 'retry', reason: 'earlier_runner_lost_the_job' };
    }
  }

  /** The job completed on GitHub: done, or (our lease lost while our runner ran it) over for us, its record left to its owner. */
  #ended(conclusion: string): Outcome {
    return this.#leaseLost ? { kind: 'lost', reason: LEASE_LOST_AFTER_RUN, conclusion } : { kind: 'done', conclusion };
  }

  #isOurs(runnerName: string | null | undefined, runnerId: number | null | undefined): boolean {
    if (this.#runnerId !== undefined && runnerId === this.#runnerId) return true;
    return this.#vmName !== undefined && runnerName === this.#vmName;
  }

  /**
   * `fromApi`: the runner name GitHub's API gave (no `in_progress` webhook was recorded, so the
   * timeline gets the event from here); undefined when the recorded webhook said it.
   */
  async #markInProgress(registeredAt: number, fromApi?: string | null): Promise<void> {
    if (this.#inProgress) return;
    this.#inProgress = true;
    this.#log.info('job found registered runner and is now in progress', { vmName: this.#vmName, runnerId: this.#runnerId });
    this.#observe('runner_registration', registeredAt);
    this.#runStartedAt = Date.now();
    await this.#setPhase('in_progress');
    if (fromApi !== undefined) await this.#timeline({ type: 'in_progress', detail: `${fromApi ?? this.#vmName ?? 'runner'} (from the API)` });
  }

  /** GitHub's API says the job completed (its webhook was not recorded): the timeline gets it from here. */
  async #completedFromApi(conclusion: string | null | undefined): Promise<Outcome> {
    await this.#timeline({ type: 'completed', conclusion: conclusion ?? 'unknown', detail: 'from the API' });
    return { kind: 'done', conclusion: conclusion ?? 'unknown' };
  }

  #runStartedAt: number | undefined;

  /** A job this handler owned before a restart, whose VM still runs: watch it to the end. */
  async #resume(): Promise<Outcome> {
    this.#log.info('watching for job completion', { vmName: this.#vmName });
    this.#ctx.metrics.setStatus('in_progress');
    this.#inProgress = this.#phase === 'in_progress';
    // No receiver listened while we were down: the job may have completed meanwhile, so ask at once
    // instead of after `status_check_interval_seconds` of silence.
    return this.#watch(true);
  }

  // ----------------------------------------------------------------------------------------------
  // Failures and clean-up

  #classify(err: unknown): Outcome {
    if (this.#verdict) return this.#verdict;
    if (this.#leaseLost) return { kind: 'lost', reason: 'lease_lost' };
    const aborted = this.#ctx.signal.aborted || (isAnkletError(err) && err.code === ErrorCodes.ABORTED);
    if (aborted) {
      return this.#inProgress ? { kind: 'leave', reason: 'shutdown_while_running' } : { kind: 'handoff', reason: 'shutdown_before_running', cooldownMs: 0 };
    }
    if (isAnkaFailure(err) && err.reason === 'vm_limit') {
      // The host has no room now (VMs anklet did not start, or Anka's own limit): another host or later, no attempt counted.
      this.#log.warn('cannot run vm yet, waiting for enough resources to be available...', { reason: err.ankaMessage });
      return { kind: 'handoff', reason: 'not_enough_free_resources_now', cooldownMs: 3_000 };
    }
    if (err instanceof NoRunnerAvailable) {
      // Not the job's fault and not an attempt: another host (or this one, once GitHub answers) may have a runner.
      this.#log.warn('no actions runner for the vm: the template has none and the host cache is empty; handing the job back', { template: err.template, tag: err.tag, reason: NO_RUNNER_AVAILABLE });
      return { kind: 'handoff', reason: NO_RUNNER_AVAILABLE, cooldownMs: 10_000 };
    }
    if (isAnkaFailure(err) && err.reason === 'not_found' && this.#step === 'obtaining_anka_vm') {
      // The template was here at our tag a moment ago: another handler of this host pulled another
      // tag of it since (Anka keeps one tag of a template). Not this job's failure: the next claim
      // ensures the tag again.
      this.#log.warn('template tag replaced on the host by another pull before the clone; handing the job back', { reason: err.ankaMessage });
      return { kind: 'handoff', reason: 'template_tag_replaced_on_host', cooldownMs: 1_000 };
    }
    const fault = hostFaultOf(err);
    if (fault) {
      this.#log.warn('GitHub refused this host, not the job; handing the job back without counting an attempt', { step: this.#step, state: fault.state, reason: fault.reason });
      return { kind: 'host_fault', reason: fault.reason, fault };
    }
    const reason = `error_${this.#step}`;
    if (err instanceof ScriptFailed) {
      this.#log.error(`error executing ${err.step.replace(/^executing_/, '').replace(/_bash$/, '.bash').replace(/_/g, '-')}`, { exitCode: err.exitCode, output: err.output });
    } else if (isAnkaFailure(err)) {
      this.#log.error(this.#step === 'obtaining_anka_vm' ? 'error obtaining anka vm' : 'anka command failed', {
        error: err.ankaMessage,
        reason: err.reason,
        command: err.command.join(' '),
      });
    } else {
      this.#log.error('error handling job', { step: this.#step, error: describeError(err) });
    }
    return { kind: 'retry', reason };
  }

  async #cleanup(outcome: Outcome): Promise<void> {
    const ctx = this.#ctx;
    const started = Date.now();
    const log = this.#log.child({ outcome: outcome.kind, reason: 'reason' in outcome ? outcome.reason : undefined });
    if (outcome.kind === 'leave') {
      log.warn('job is still running; leaving its VM for the next start', { vmName: this.#vmName });
      return;
    }
    // A failed attempt's runner logs leave the VM before it is deleted.
    await this.#keepDiagnostics(outcome, log);
    // Runner first (a runner without VM would stay listed offline), then the VM: both by name/id,
    // both without the shutdown signal. A token-registered runner's id may not be known yet.
    const over = outcome.kind === 'done' || (outcome.kind === 'lost' && outcome.reason === LEASE_LOST_AFTER_RUN);
    if (this.#runnerId === undefined && this.#vmName && ctx.config.registration_method === 'token' && !over) {
      const runner = await this.#api.findRunner(this.#vmName).catch(() => null);
      if (runner) this.#runnerId = runner.id;
    }
    if (this.#runnerId !== undefined && !over) {
      try {
        await this.#api.removeRunner(this.#runnerId, this.#ref);
        log.info('successfully removed runner', { runnerId: this.#runnerId });
      } catch (err) {
        log.error('error removing runner', { runnerId: this.#runnerId, error: describeError(err) });
      }
    }
    if (this.#vmName) {
      log.info('cleanup | anka.VM | queuedJob', { vmName: this.#vmName });
      try {
        await ctx.anka.delete(this.#vmName);
        if (this.#vmRunning) ctx.metrics.vmStopped();
      } catch (err) {
        log.error('error deleting vm', { vmName: this.#vmName, error: describeError(err) });
      }
    }
    this.#reservation?.release();
    this.#reservation = undefined;
    if (over && this.#runnerId !== undefined && !this.#inProgress) {
      // Our runner never got the job (it completed elsewhere, or was cancelled first): remove it.
      // When the `in_progress` event named our runner, GitHub removed the ephemeral (JIT or
      // `--ephemeral`) runner itself once the job completed, and a delete would only get a 404.
      await this.#api.removeRunner(this.#runnerId, this.#ref).catch(() => undefined);
    }
    if (this.#runStartedAt !== undefined) ctx.metrics.observe('job_phase_duration_seconds', (Date.now() - this.#runStartedAt) / 1000, { phase: 'job_run' });
    await this.#timeline({ type: 'cleaned_up', detail: this.#vmName });

    log.info('cleanup | WorkflowJobPayload | queuedJob');
    try {
      switch (outcome.kind) {
        case 'done': {
          log.info('job completed', { conclusion: outcome.conclusion });
          if (outcome.conclusion === 'success') ctx.metrics.recordRun('success', this.#lease.job.payload.workflow_job.html_url ?? undefined);
          else if (outcome.conclusion === 'failure') ctx.metrics.recordRun('failure', this.#lease.job.payload.workflow_job.html_url ?? undefined);
          await ctx.store.finish(this.#lease, outcome.conclusion);
          break;
        }
        case 'cancel':
          await this.#giveUp(outcome.reason, log);
          break;
        case 'host_fault':
          this.#onHostFault?.(outcome.fault);
          ctx.metrics.count('job_retries', { reason: `host_fault_${outcome.reason}` });
          await this.#timeline({ type: 'retried', reason: `host_fault: ${outcome.reason}`, detail: 'attempt not counted' });
          log.warn('handing job back to the queue; not counted as an attempt', { reason: outcome.reason });
          await ctx.store.requeue(this.#lease, `host_fault: ${outcome.reason}`, { countAttempt: false });
          break;
        case 'retry': {
          ctx.metrics.count('job_retries', { reason: outcome.reason });
          await this.#timeline({ type: 'retried', reason: outcome.reason });
          // Back-off before any host may take it again: a failure that repeats at once (a
          // registry or GitHub outage) must not burn every attempt in a few seconds.
          const attemptsAfter = this.#lease.job.attempts + 1;
          const delayMs = backoffDelayMs(attemptsAfter, ctx.config.retry_backoff_seconds * 1000, ctx.config.retry_backoff_max_seconds * 1000);
          log.warn('pushing job back to the queue for another attempt', { attemptsAfter, retryInSeconds: Math.round(delayMs / 100) / 10 });
          await ctx.store.requeue(this.#lease, outcome.reason, { delayMs });
          break;
        }
        case 'handoff':
          ctx.metrics.count('job_retries', { reason: outcome.reason });
          log.warn('handing job back to the queue', {});
          await ctx.store.handOff(this.#lease, outcome.reason);
          break;
        case 'lost':
          if (outcome.reason === LEASE_LOST_AFTER_RUN) log.info('job completed on our runner; its record belongs to the handler that holds its lease now', { conclusion: outcome.conclusion });
          else log.warn('lease on the job was lost; another handler owns it now');
          break;
      }
    } catch (err) {
      // The lease stays ours; the next start of this plugin finds the job with listOwned.
      log.error('error updating the job store during cleanup', { error: describeError(err) });
    }
    this.#observe('cleanup', started);
    log.info('cleanup | finished');
  }

  /**
   * Copies the runner's logs out of the VM of an attempt that failed in it (see diagnostics.ts),
   * records where they are and counts them. Never throws: a failed copy only costs the logs.
   */
  async #keepDiagnostics(outcome: Outcome, log: Logger): Promise<void> {
    const ctx = this.#ctx;
    const reason = diagnosticsReasonOf(outcome);
    if (!reason || !this.#vmName || !this.#vmRunning || ctx.config.runner_diagnostics_max_mb <= 0) return;
    try {
      const kept = await keepRunnerDiagnostics({
        anka: ctx.anka,
        vmName: this.#vmName,
        root: diagnosticsRootOf(ctx),
        jobId: this.jobId,
        attempt: this.#lease.job.attempts + 1,
        reason,
        maxBytes: Math.floor(ctx.config.runner_diagnostics_max_mb * 1024 * 1024),
        secrets: [...this.#runnerSecrets, ...configSecretsOf(ctx.config)],
        log,
      });
      if (!kept) return;
      ctx.metrics.count('runner_diagnostics_kept', { reason });
      log.info('runner diagnostics kept', { folder: kept.path, files: kept.files, bytes: kept.bytes, truncated: kept.truncated, diagnosticsReason: reason });
      await this.#timeline({ type: 'diagnostics_kept', reason, detail: kept.folder });
    } catch (err) {
      log.warn('error keeping the runner diagnostics; deleting the vm without them', { vmName: this.#vmName, error: describeError(err) });
    }
  }

  /**
   * Gives the job up: cancels its run and finishes it once GitHub confirms (or reports it
   * completed). A cancel GitHub refuses or does not confirm leaves the job in the store, delayed and
   * not counted as an attempt, for the next claim to cancel again: a job is never dropped while its
   * run may still wait for a runner.
   */
  async #giveUp(reason: string, log: Logger): Promise<void> {
    const ctx = this.#ctx;
    const reasonLabel = reason.split(':')[0]!.trim();
    let cancelled = false;
    let error: unknown;
    try {
      cancelled = await this.#api.cancelRun(this.#ref);
    } catch (err) {
      error = err;
    }
    if (cancelled || this.#ref.runId === null) {
      // No run id (a record from an old receiver): there is nothing GitHub could confirm.
      if (cancelled) ctx.metrics.recordRun('canceled', this.#lease.job.payload.workflow_job.html_url ?? undefined);
      ctx.metrics.count('jobs_given_up', { reason: reasonLabel });
      log.warn('job cancelled', { givenUpReason: reason, cancelled });
      await this.#timeline({ type: 'cancelled', reason, detail: cancelled ? 'run cancelled on GitHub' : 'no run id to cancel' });
      await ctx.store.finish(this.#lease, `cancelled: ${reason}`);
      return;
    }
    const fault = error === undefined ? null : hostFaultOf(error);
    if (fault) this.#onHostFault?.(fault);
    const delayMs = backoffDelayMs(2, ctx.config.retry_backoff_seconds * 1000, ctx.config.retry_backoff_max_seconds * 1000);
    ctx.metrics.count('cancel_failures', { reason: fault?.reason ?? (error === undefined ? 'not_confirmed' : 'error') });
    log.error('cancelling the workflow run of a given-up job failed; keeping the job and cancelling again later', {
      givenUpReason: reason,
      error: error === undefined ? 'the run is not completed yet' : describeError(error),
      retryInSeconds: Math.round(delayMs / 100) / 10,
    });
    await ctx.store.requeue(this.#lease, `${CANCEL_PENDING}${reason}`, { countAttempt: false, delayMs });
  }

  // ----------------------------------------------------------------------------------------------
  // Helpers

  /**
   * Runs one idempotent Anka step, repeating it (up to {@link STEP_TRIES} times, with back-off) when
   * Anka fails in a way that may pass; `undo` runs before a repeat. Each repeat is logged and
   * counted (`step_retries{step}`). Store calls need no such wrapper: the store retries a Redis
   * blip itself (its `database` retry policy), and Octokit retries GitHub 5xx answers.
   */
  async #retryTransient<T>(fn: () => Promise<T>, undo?: () => Promise<unknown>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await fn();
      } catch (err) {
        const transient = isAnkaFailure(err) && TRANSIENT_ANKA_REASONS.has(err.reason);
        if (!transient || tries >= STEP_TRIES || this.#signal.aborted) throw err;
        const delayMs = backoffDelayMs(tries, STEP_BACKOFF_MS, 8 * STEP_BACKOFF_MS);
        this.#log.warn('anka command failed; repeating the step', { step: this.#step, tries, error: err.ankaMessage, retryInSeconds: Math.round(delayMs / 100) / 10 });
        this.#ctx.metrics.count('step_retries', { step: this.#step });
        await sleep(delayMs, this.#signal);
        if (undo) await undo().catch(() => undefined);
        if (this.#signal.aborted) throw err;
      }
    }
  }

  async #setPhase(phase: JobPhase, extra: { vmName?: string; runnerId?: string } = {}): Promise<void> {
    this.#phase = phase;
    try {
      await this.#ctx.store.update(this.#lease, { phase, ...extra });
    } catch (err) {
      if (!(isAnkletError(err) && err.code === ErrorCodes.JOB_NOT_FOUND)) throw err;
      // The record vanished: written back with this phase (the VM name and runner id are set
      // before this call), or a verdict ends the attempt (#classify returns it).
      if (await this.#recordVanished()) throw err;
    }
  }

  // ----------------------------------------------------------------------------------------------
  // A record the store lost

  /** Asks GitHub what a job whose record vanished is doing, once at a time (see #checkVanishedRecord). */
  #recordVanished(): Promise<Outcome | undefined> {
    if (this.#verdict) return Promise.resolve(this.#verdict);
    if (!this.#recordCheck && Date.now() - this.#lastRecordCheckAt < VANISHED_RECHECK_MS) return Promise.resolve(undefined);
    this.#lastRecordCheckAt = Date.now();
    this.#recordCheck ??= this.#checkVanishedRecord().finally(() => (this.#recordCheck = undefined));
    return this.#recordCheck;
  }

  /**
   * The store no longer has this job (a Redis restarted without its data, a record removed by
   * hand). Tearing the VM down would kill a job that runs there, so GitHub is asked first, and the
   * record is written back as ours (`store.restore`) so the store knows the job again:
   * - completed: the attempt ends as done (clean-up as usual; the finish leaves a tombstone);
   * - in progress: the watch goes on (on our runner as on any job; on another runner the usual
   *   rules apply); when the record cannot be written back and the runner is ours, the job is
   *   watched to its end without the store, never torn down;
   * - queued: when our runner is registered, the watch goes on (its registration timeout applies);
   *   before that, the job is handed back to the queue (attempts unchanged) and our VM removed.
   * A record that cannot be written back because the store knows the job again (queued anew,
   * another handler's) ends the attempt as lost, unless our runner runs the job. Returns the
   * verdict that ends the attempt, or undefined to go on (also when GitHub or the store did not
   * answer: the next renewal or watch round asks again).
   */
  async #checkVanishedRecord(): Promise<Outcome | undefined> {
    this.#log.warn("the job store no longer has this job's record; asking GitHub before touching the VM", { vmName: this.#vmName, phase: this.#phase });
    let status: JobStatus;
    try {
      status = await this.#api.jobStatus(this.#ref);
    } catch (err) {
      this.#log.warn('error getting job status from the API; asking again later', { error: describeError(err) });
      return undefined;
    }
    const ours = status.status === 'in_progress' && this.#isOurs(status.runnerName, status.runnerId);
    const written = await this.#writeBack();
    if (written === 'error') return status.status === 'completed' ? this.#decide({ kind: 'done', conclusion: status.conclusion ?? 'unknown' }, status) : undefined;
    let verdict: Outcome | undefined;
    if (status.status === 'completed') verdict = { kind: 'done', conclusion: status.conclusion ?? 'unknown' };
    else if (written === 'refused' || written === 'unsupported') {
      if (ours) {
        if (!this.#storeless) this.#log.warn('job runs on our runner; watching it to its end without its record in the store', { runnerName: status.runnerName });
        this.#storeless = true;
      } else verdict = { kind: 'lost', reason: 'job_gone_from_store' };
    } else if (status.status === 'queued' && !this.#runnerUp()) {
      verdict = { kind: 'handoff', reason: 'job_record_lost_before_running', cooldownMs: 0 };
    }
    return verdict ? this.#decide(verdict, status) : undefined;
  }

  /** Ends the attempt with `verdict`: whatever the job was doing (preparing, watching) stops. */
  #decide(verdict: Outcome, status: JobStatus): Outcome {
    this.#log.warn('job record vanished from the store; GitHub decides how the attempt ends', { githubStatus: status.status, runnerName: status.runnerName, outcome: verdict.kind, reason: 'reason' in verdict ? verdict.reason : undefined });
    this.#verdict = verdict;
    this.#local.abort();
    return verdict;
  }

  /** Whether our runner is registered (it may take the job any moment). */
  #runnerUp(): boolean {
    return this.#inProgress || this.#phase === 'registered' || this.#phase === 'in_progress';
  }

  /** Writes the job's record back as ours, with what this run knows of it (see `JobStore.restore`). */
  async #writeBack(): Promise<'restored' | 'refused' | 'unsupported' | 'error'> {
    const store = this.#ctx.store;
    if (!store.restore) {
      this.#log.warn("this host's job store cannot write a job record back (an older anklet)");
      return 'unsupported';
    }
    const job = { ...this.#lease.job, phase: this.#phase, vmName: this.#vmName, runnerId: this.#runnerId === undefined ? undefined : String(this.#runnerId) };
    try {
      this.#lease = await store.restore({ ...this.#lease, job }, this.#ctx.config.lease_seconds * 1000);
    } catch (err) {
      if (isLeaseRefusal(err)) {
        this.#log.warn('the job store refused to take the job record back; it knows the job again', { reason: err.code });
        return 'refused';
      }
      this.#log.warn('error writing the job record back to the store; trying again later', { error: describeError(err) });
      return 'error';
    }
    this.#storeless = false;
    this.#ctx.metrics.count('job_records_restored');
    this.#log.warn('job record written back to the store', { phase: this.#phase, vmName: this.#vmName, runnerId: this.#runnerId });
    return 'restored';
  }

  /**
   * Appends one of this handler's events to the job's timeline (see `JobStore.appendTimeline`).
   * A store without timelines, or a failed write, never stops the job: the timeline is a record.
   */
  async #timeline(event: NewTimelineEvent): Promise<void> {
    const store = this.#ctx.store;
    if (!store.appendTimeline) return;
    try {
      await store.appendTimeline(this.#queue, this.jobId, { by: this.#lease.owner, ...event });
    } catch (err) {
      this.#log.warn('error appending to the job timeline', { event: event.type, error: describeError(err) });
    }
  }

  #observe(phase: JobPhaseName, since: number): void {
    this.#ctx.metrics.observe('job_phase_duration_seconds', (Date.now() - since) / 1000, { phase });
  }

  #startRenewing(): void {
    const leaseMs = this.#ctx.config.lease_seconds * 1000;
    this.#renewTimer = setInterval(() => {
      this.#ctx.store.renew(this.#lease, leaseMs).then(
        (lease) => {
          this.#lease = lease;
        },
        (err: unknown) => {
          // Gone from the store: GitHub decides (see #checkVanishedRecord).
          if (isAnkletError(err) && err.code === ErrorCodes.JOB_NOT_FOUND) {
            this.#recordVanished().catch((again: unknown) => this.#log.warn('error checking a vanished job record', { error: describeError(again) }));
            return;
          }
          // Lost, finished (the reaper asked GitHub) or quarantined: stop working on it. But a job
          // our runner already runs stays ours on GitHub whoever holds the record: tearing the VM
          // down would fail it. Watch it to its end instead; the record's new owner finishes it.
          if (isLeaseRefusal(err)) {
            this.#leaseLost = true;
            clearInterval(this.#renewTimer);
            if (this.#inProgress) {
              this.#log.error('lease on the job was lost while our runner runs it; watching it to its end, its VM left running', { reason: err.code, vmName: this.#vmName });
              return;
            }
            this.#local.abort();
            this.#log.error('lease on the job was lost', { reason: err.code });
          } else {
            this.#log.warn('error renewing the lease on the job', { error: describeError(err) });
          }
        },
      );
    }, leaseMs / 3);
    this.#renewTimer.unref();
  }
}

/** A runner script exited non-zero. Its output tail is kept for the log (the scripts print no secret). */
class ScriptFailed extends Error {
  constructor(
    readonly step: string,
    readonly exitCode: number,
    readonly output: string,
  ) {
    super(`${step} exited ${exitCode}`);
  }
}
