/**
 * The Go handler acceptance scenarios that run on one handler host (go-anklet-handler.md §11.2–11.4,
 * 11.7, 11.8), ported to the real `anklet` binaries at simulator speed. One fleet serves them all:
 * a receiver-only host `tester` and a host `mac` with two handlers on simulated 8-CPU/16 GB hardware
 * (Go's "handler-8-16"), its handlers mounting a host folder into every VM. Each scenario checks the
 * conclusions on github-sim, the handler's log lines and its metrics.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_TEMPLATE, MISSING_TEMPLATE, startFleet, type Fleet, type FleetHost, type FleetJob } from '../../src/index.js';
import { MOUNT_NAME, MOUNT_OK, MOUNT_PROBE, TEMPLATE2, TEMPLATE2_TAG, ankaCalls, goTemplates, dumpLogsOnFailure, labels, linesWith, metricSum, until, waitForIdle, waitForLine } from './helpers.js';

const JOB_MS = 300;

describe('acceptance: one handler host (Go §11.2–11.4, 11.7, 11.8)', () => {
  let fleet: Fleet;
  let mac: FleetHost;
  const mountDir = mkdtempSync(path.join(tmpdir(), 'anklet-mount-'));

  dumpLogsOnFailure(() => fleet);

  beforeAll(async () => {
    writeFileSync(path.join(mountDir, MOUNT_PROBE), MOUNT_OK, { mode: 0o644 });
    fleet = await startFleet({
      store: 'redis',
      templates: goTemplates(),
      prePull: true,
      hosts: [
        { name: 'tester', receiver: true },
        { name: 'mac', handlers: 2, hardware: { cpuCores: 8, memoryGiB: 16 }, handlerConfig: `host_to_guest_folder_mounts: ["${mountDir}:${MOUNT_NAME}"]` },
      ],
    });
    mac = fleet.host('mac');
  });

  afterAll(async () => {
    const left = await fleet?.stop();
    rmSync(mountDir, { recursive: true, force: true });
    expect(left).toEqual({ vms: [], runners: [], claimed: 0, queued: 0 });
  });

  it('the host sizes VMs against its simulated hardware', async () => {
    const started = mac.process!.lines.find((l) => l.msg === 'github handler started')!;
    expect([started.hostCPUCount, started.hostMemoryBytes]).toEqual([8, 16 * 2 ** 30]);
  });

  // §11.2 1-test-cancellation: the five cancellation workflows end `cancelled`, the handler cancels them.
  it('cancels jobs whose template or tag is not in the registry, or that name no template', async () => {
    const jobs = fleet.dispatch([
      { name: 't1-cancelled-failure-no-tag-in-registry', labels: labels(TEMPLATE2, 'not-a-tag', 'no-tag-in-registry'), expect: 'cancelled' },
      { name: 't1-cancelled-failure-no-tag', labels: labels(TEMPLATE2, 'not-a-tag', 'no-tag'), expect: 'cancelled' },
      { name: 't1-cancelled-failure-no-template-in-registry', labels: labels(MISSING_TEMPLATE, TEMPLATE2_TAG, 'no-template-in-registry'), expect: 'cancelled' },
      { name: 't1-cancelled-failure-no-template', labels: labels(MISSING_TEMPLATE, TEMPLATE2_TAG, 'no-template'), expect: 'cancelled' },
      { name: 't1-cancelled-failure-no-template-specified', labels: labels(undefined, TEMPLATE2_TAG, 'no-template-specified'), expect: 'cancelled' },
    ]);
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(jobs.map((j) => j.conclusion)).toEqual(jobs.map(() => 'cancelled'));
    for (const job of jobs.slice(0, 4)) expect(linesWith(mac, 'anka template or tag not found in registry; cancelling job', job.id)).toHaveLength(1);
    expect(linesWith(mac, 'anka-template label missing from workflow job; cancelling job', jobs[4]!.id)).toHaveLength(1);
    for (const job of jobs) expect(linesWith(mac, 'job cancelled', job.id)).toHaveLength(1);
    // Cancelled before any VM existed.
    expect(ankaCalls(mac, 'clone')).toEqual([]);
    expect(jobs.every((j) => j.starts === 0)).toBe(true);
    expect(await metricSum(mac, 'anklet_jobs_completed_total', { conclusion: 'canceled' })).toBe(5);
  });

  // §11.3 2-test-failures, first case: the job fails inside its VM.
  it('reports a job that fails in its VM as failure', async () => {
    const [job] = fleet.dispatch({ name: 't1-failure-tag-1-in-vm', tag: '6c14r', conclusion: 'failure', durationMs: JOB_MS });
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(job!.conclusion).toBe('failure');
    expect(job!.starts).toBe(1);
    const completed = linesWith(mac, 'job completed', job!.id);
    expect(completed.map((l) => l.conclusion)).toEqual(['failure']);
    expect(await metricSum(mac, 'anklet_jobs_completed_total', { conclusion: 'failure' })).toBe(1);
  });

  // §11.3, the too-big templates: logged as never fitting, handed back (no attempt spent), and gone
  // from the store once the harness cancels the run.
  const tooBig: FleetJob[] = [];
  it('hands back jobs whose template is bigger than the host until their run is cancelled', async () => {
    const jobs = fleet.dispatch([
      { name: 't2-12c20r-1', tag: '12c20r', expect: 'cancelled' },
      { name: 't2-20c20r-1', tag: '20c20r', expect: 'cancelled' },
    ]);
    for (const job of jobs) {
      const line = await waitForLine(mac, 'host does not have enough resources to run vm', job.id);
      expect(String(line.reason)).toMatch(/not have enough (CPU cores|memory)/);
    }
    for (const job of jobs) fleet.sim.control.cancelRun(job.runId);
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(jobs.map((j) => j.conclusion)).toEqual(['cancelled', 'cancelled']);
    expect(jobs.every((j) => j.starts === 0 && j.vmName === undefined)).toBe(true);
    expect(jobs.flatMap((j) => linesWith(mac, 'pushing job back to the queue for another attempt', j.id))).toEqual([]);
    tooBig.push(...jobs);
  });

  // §11.4 3-test-success: every success workflow on one host with two handlers, then all idle.
  it('runs the success workflows with two handlers and goes back to idle', async () => {
    // The earlier scenarios' VMs are deleted after GitHub has their conclusions: start from an idle host.
    await waitForIdle(fleet, ['mac']);
    const [withTag] = fleet.dispatch({ name: 't1-with-tag-1', tag: '6c14r', conclusion: 'success', durationMs: JOB_MS });
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(withTag!.conclusion).toBe('success');
    // A claim that finds the host still busy hands the job back (no attempt) and claims it again.
    const handedBack = linesWith(mac, 'handing job back to the queue', withTag!.id).length;
    for (const text of ['queued job found', 'handling anka workflow run job', 'cleanup | WorkflowJobPayload | queuedJob']) {
      expect(linesWith(mac, text, withTag!.id), text).toHaveLength(1 + handedBack);
    }
    for (const text of [
      'vm has enough resources now to run; starting runner',
      'job found registered runner and is now in progress',
      'cleanup | anka.VM | queuedJob',
      'job completed',
    ]) {
      expect(linesWith(mac, text, withTag!.id), text).toHaveLength(1);
    }
    expect(mac.handlers).toContain(withTag!.handler);

    const matrix = fleet.dispatchRun(
      [1, 2].map((node) => ({ name: `t1-with-tag-1-matrix-nodes-2 (${node})`, labels: labels(FLEET_TEMPLATE, '6c14r', `matrix-${node}`), conclusion: 'success' as const, durationMs: JOB_MS })),
      { workflowName: 't1-with-tag-1-matrix-nodes-2' },
    );
    const others = fleet.dispatch([
      { name: 't1-without-tag', labels: labels(FLEET_TEMPLATE, undefined, 'without-tag'), conclusion: 'success', durationMs: JOB_MS },
      { name: 't1-template2-without-tag', labels: labels(TEMPLATE2, undefined, 'template2'), conclusion: 'success', durationMs: JOB_MS },
      { name: 't2-6c14r-1', tag: '6c14r', conclusion: 'success', durationMs: JOB_MS },
      // 8 CPUs on an 8-CPU host fits.
      { name: 't2-8c14r-1', tag: '8c14r', conclusion: 'success', durationMs: JOB_MS },
    ]);
    const dual = fleet.dispatchRun(
      [
        { name: 't2-dual-without-tag (anklet)', labels: labels(FLEET_TEMPLATE, undefined, 'dual-1'), conclusion: 'success', durationMs: JOB_MS },
        { name: 't2-dual-without-tag (vanilla)', labels: labels(TEMPLATE2, undefined, 'dual-2'), conclusion: 'success', durationMs: JOB_MS },
      ],
      { workflowName: 't2-dual-without-tag' },
    );
    await fleet.waitForAll({ timeoutMs: 240_000 });
    for (const job of [...matrix, ...others, ...dual]) {
      expect([job.name, job.conclusion, job.starts]).toEqual([job.name, 'success', 1]);
      // A job that does not fit next to the running ones is handed back and handled again.
      expect(linesWith(mac, 'handling anka workflow run job', job.id).length).toBeGreaterThanOrEqual(1);
    }
    // No tag: the latest tag of each template.
    const handled = (id: number) => linesWith(mac, 'handling anka workflow run job', id)[0]!;
    expect(handled(others[0]!.id).tag).toBe('(using latest)');
    // Both handlers of the host took jobs.
    expect(new Set([withTag, ...matrix, ...others, ...dual].map((j) => j!.handler))).toEqual(new Set(mac.handlers));
    await waitForIdle(fleet, ['mac', 'tester']);
    expect(await metricSum(mac, 'anklet_jobs_completed_total', { conclusion: 'success' })).toBe(9);
  });

  // §11.8 8-test-host-to-guest-folder-mount: the job reads the marker through the mount.
  it('mounts the host folder into the VM, where the job reads the marker', async () => {
    const [job] = fleet.dispatch({ name: 't8-host-to-guest-folder-mount', tag: 'mount-probe', durationMs: JOB_MS, expect: 'success' });
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(job!.conclusion).toBe('success');
    expect(linesWith(mac, 'handling anka workflow run job', job!.id)).toHaveLength(1);
    const mounted = linesWith(mac, 'mounted host folder into guest vm').filter((l) => l.vm === job!.vmName);
    expect(mounted.map((l) => l.mountSpec)).toEqual([`${mountDir}:${MOUNT_NAME}`]);
    // The probe is real: with another marker the same job fails.
    writeFileSync(path.join(mountDir, MOUNT_PROBE), 'something else');
    const [wrong] = fleet.dispatch({ name: 't8-wrong-marker', tag: 'mount-probe', durationMs: JOB_MS, expect: 'failure' });
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(wrong!.conclusion).toBe('failure');
  });

  // §11.7 7-test-overcommit: with the resource checks skipped (set through the env overrides), two
  // 6-CPU/14 GB jobs run at once on the 8-CPU/16 GB host (their VMs run side by side).
  it('overcommits the host when skip_cpu_and_memory_resource_checks is set', async () => {
    await fleet.restartHost('mac', 'SIGTERM', { env: { MAC_HANDLER1_SKIP_CPU_AND_MEMORY_RESOURCE_CHECKS: 'true', MAC_HANDLER2_SKIP_CPU_AND_MEMORY_RESOURCE_CHECKS: 'true' } });
    const run = mac.process!;
    // Long enough for the second VM to be prepared while the first job runs.
    const jobs = fleet.dispatch([1, 2].map((i) => ({ name: `t2-6c14r-2-5m-pause (${i})`, tag: '6c14r', conclusion: 'success' as const, durationMs: 5000 })));
    await waitForLine(mac, 'skipping VM CPU and memory resource checks; this plugin may overcommit host resources; use at your own risk', jobs[1]!.id);
    // Overcommitted: two 6-CPU/14 GB VMs running at once in the 8-CPU/16 GB host's Anka.
    await until('two VMs running at once on mac', () => fleet.slots().find((s) => s.host === 'mac')!.vms.filter((vm) => vm.status === 'running').length === 2, 120_000);
    await fleet.waitForAll({ timeoutMs: 120_000 });
    expect(jobs.map((j) => j.conclusion)).toEqual(['success', 'success']);
    expect(run.lines.filter((l) => String(l.msg).startsWith('skipping VM CPU and memory resource checks')).length).toBeGreaterThanOrEqual(2);
    expect(run.lines.filter((l) => l.msg === 'job found registered runner and is now in progress')).toHaveLength(2);
    expect(jobs.flatMap((j) => linesWith(mac, 'cannot run vm yet, waiting for enough resources to be available...', j.id))).toEqual([]);
    await waitForIdle(fleet, ['mac']);
  });

  // The end of the too-big scenario, last so that the other scenarios run meanwhile: the next
  // handler to claim a cancelled job removes it (its `completed` event is in the store); a handler
  // that handed it off skips it for its 60 s cooldown first.
  it('removes the cancelled too-big jobs from the store', async () => {
    expect(tooBig).toHaveLength(2);
    await until('the cancelled jobs gone from the store (queued or handed off)', async () => {
      const left = await fleet.leftovers();
      return left.queued === 0 && left.claimed === 0;
    }, 75_000);
    for (const job of tooBig) expect(linesWith(mac, 'job completed on GitHub while queued; removing it', job.id), job.name).toHaveLength(1);
    expect(ankaCalls(mac, 'clone').filter((argv) => argv.some((a) => a === '12c20r' || a === '20c20r'))).toEqual([]);
  });
});
