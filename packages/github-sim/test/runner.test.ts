import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startGitHubSim, runSimulatedRunner, type GitHubSim, type GitHubSimOptions } from '../src/index.js';
import { api, eventually, startReceiver } from './helpers.js';
import { startBin } from './processes.js';

const TOKEN = 'ghp_runner_test';
const dir = mkdtempSync(join(tmpdir(), 'github-sim-runner-'));
let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function setup(options: GitHubSimOptions = {}) {
  const receiver = await startReceiver();
  const sim = await startGitHubSim({ tokens: [TOKEN], repositories: ['acme/app'], hooks: [{ org: 'acme', url: receiver.url, secret: 's' }], ...options });
  cleanup.push(() => receiver.close(), () => sim.close());
  return { sim, receiver };
}

async function jitFile(sim: GitHubSim, name: string, labels: string[]): Promise<{ path: string; runnerId: number; encoded: string }> {
  const res = await api(sim.url, 'POST', '/orgs/acme/actions/runners/generate-jitconfig', { token: TOKEN, body: { name, runner_group_id: 1, labels } });
  expect(res.status).toBe(201);
  const path = join(dir, `${name}.jit`);
  writeFileSync(path, res.body.encoded_jit_config, { mode: 0o600 });
  return { path, runnerId: res.body.runner.id, encoded: res.body.encoded_jit_config };
}

const runnerNames = async (sim: GitHubSim) =>
  (await api(sim.url, 'GET', '/orgs/acme/actions/runners', { token: TOKEN })).body.runners.map((r: { name: string }) => r.name);

describe('the github-sim-runner bin', () => {
  it('JIT config from a file: takes the job, runs it, reports success, and the ephemeral runner is gone', async () => {
    const { sim } = await setup();
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'anka-template:abc'], durationMs: 300 });
    const jit = await jitFile(sim, 'vm-file', ['self-hosted', 'anka-template:abc']);
    const run = startBin('runner-cli.js', ['--jitconfig-file', jit.path, '--poll-seconds', '1', '--json']);
    const started = await sim.control.waitForJob(job.id, 'in_progress');
    expect(started.runner_name).toBe('vm-file');
    expect(await runnerNames(sim)).toContain('vm-file');
    const finished = await run.done;
    expect(finished.code).toBe(0);
    expect(finished.stdout).toContain('Listening for Jobs');
    expect(JSON.parse(finished.stdout.trim().split('\n').pop()!)).toMatchObject({ outcome: 'completed', jobId: job.id, conclusion: 'success' });
    expect(sim.control.job(job.id)).toMatchObject({ status: 'completed', conclusion: 'success' });
    expect(await runnerNames(sim)).not.toContain('vm-file');
    // The secret never reaches the runner's output.
    expect(finished.stdout + finished.stderr).not.toContain(jit.encoded);
    // Like the real runner, its own logs are in _diag: the listener's and the job's.
    const diag = readdirSync(path.join(run.cwd, '_diag')).sort();
    expect(diag).toEqual([expect.stringMatching(/^Runner_\d{8}-\d{6}-utc\.log$/), expect.stringMatching(/^Worker_\d{8}-\d{6}-utc\.log$/)]);
    const runnerLog = readFileSync(path.join(run.cwd, '_diag', diag[0]!), 'utf8');
    expect(runnerLog).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ INFO Runner\] .*Listening for Jobs$/m);
    expect(readFileSync(path.join(run.cwd, '_diag', diag[1]!), 'utf8')).toMatch(/INFO Worker\] Job result after all job steps finish: Succeeded$/m);
    expect(runnerLog).not.toContain(jit.encoded);
  });

  it('JIT config from stdin, and the outcome chosen per job name', async () => {
    const { sim } = await setup({ jobOutcomes: [{ jobName: '/^fail-/', conclusion: 'failure', durationMs: 50 }] });
    const job = sim.control.dispatchJob({ repository: 'acme/app', name: 'fail-on-purpose', labels: ['self-hosted'] });
    const jit = await jitFile(sim, 'vm-stdin', ['self-hosted']);
    const finished = await startBin('runner-cli.js', ['--jitconfig-file', '-', '--poll-seconds', '1'], { stdin: jit.encoded }).done;
    expect(finished.code).toBe(0);
    expect(sim.control.job(job.id)).toMatchObject({ status: 'completed', conclusion: 'failure' });
  });

  it('registration token mode, as config.sh takes it; the token comes from the environment', async () => {
    const { sim } = await setup();
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'macOS', 'job-123'], durationMs: 50 });
    const { body } = await api(sim.url, 'POST', '/repos/acme/app/actions/runners/registration-token', { token: TOKEN });
    const finished = await startBin('runner-cli.js', [
      '--url', `${sim.url}/acme/app`, '--name', 'vm-token', '--labels', 'job-123', '--ephemeral', '--unattended', '--disableupdate', '--poll-seconds', '1', '--json',
    ], { env: { ACTIONS_RUNNER_INPUT_TOKEN: body.token } }).done;
    expect(finished.code).toBe(0);
    const result = JSON.parse(finished.stdout.trim().split('\n').pop()!);
    expect(result).toMatchObject({ outcome: 'completed', runnerName: 'vm-token', jobId: job.id });
    expect(sim.control.job(job.id)).toMatchObject({ runner_name: 'vm-token', conclusion: 'success' });
    expect(finished.stdout).not.toContain(body.token);
  });

  it('a non-ephemeral runner stays registered (offline) after its job; a wrong token is refused', async () => {
    const { sim } = await setup();
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted'], durationMs: 10 });
    const { body } = await api(sim.url, 'POST', '/repos/acme/app/actions/runners/registration-token', { token: TOKEN });
    const ok = await startBin('runner-cli.js', ['--url', `${sim.url}/acme/app`, '--name', 'keeper', '--labels', 'x', '--poll-seconds', '1'], { env: { ACTIONS_RUNNER_INPUT_TOKEN: body.token } }).done;
    expect(ok.code).toBe(0);
    const listed = await api(sim.url, 'GET', '/repos/acme/app/actions/runners', { token: TOKEN });
    expect(listed.body.runners).toMatchObject([{ name: 'keeper', status: 'offline', busy: false, ephemeral: false }]);
    expect(listed.body.runners[0].labels.map((l: { name: string }) => l.name)).toEqual(['self-hosted', 'macOS', 'ARM64', 'x']);
    const bad = await startBin('runner-cli.js', ['--url', `${sim.url}/acme/app`, '--name', 'x', '--labels', 'x'], { env: { ACTIONS_RUNNER_INPUT_TOKEN: 'WRONGTOKEN' } }).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('registration failed (404)');
  });

  it('refuses secrets on the command line without echoing them', async () => {
    const finished = await startBin('runner-cli.js', ['--url', 'http://127.0.0.1:1/a/b', '--name', 'n', '--labels', 'l', '--token', 'SUPERSECRET']).done;
    expect(finished.code).toBe(1);
    expect(finished.stderr).toContain('--token would put a secret on the command line');
    expect(finished.stderr).not.toContain('SUPERSECRET');
    const jit = await startBin('runner-cli.js', ['--jitconfig', 'abc']).done;
    expect(jit.code).toBe(1);
    expect(jit.stderr).toContain('--jitconfig-file');
  });

  it('a garbage JIT config is an error, not a stack trace', async () => {
    const finished = await startBin('runner-cli.js', ['--jitconfig-file', '-'], { stdin: 'not base64 json' }).done;
    expect(finished.code).toBe(1);
    expect(finished.stderr).toContain('the JIT config is not valid');
    expect(finished.stderr).not.toContain('    at ');
  });
});

describe('job assignment', () => {
  it('goes only to a runner whose labels are a superset of runs-on (case-insensitive)', async () => {
    const { sim } = await setup();
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'macOS', 'anka-template:t1'], durationMs: 50 });
    const wrong = await jitFile(sim, 'vm-linux', ['self-hosted', 'linux', 'anka-template:t1']);
    const miss = await runSimulatedRunner({ jitConfig: wrong.encoded, maxIdleMs: 700, pollSeconds: 1 });
    expect(miss.outcome).toBe('idle-timeout');
    expect(sim.control.job(job.id)).toMatchObject({ status: 'queued' });
    const right = await jitFile(sim, 'vm-mac', ['Self-Hosted', 'macos', 'ANKA-TEMPLATE:t1', 'extra']);
    const hit = await runSimulatedRunner({ jitConfig: right.encoded, pollSeconds: 1 });
    expect(hit).toMatchObject({ outcome: 'completed', jobId: job.id });
  });

  it('a run with several jobs (a matrix) goes in progress, then completes with the worst conclusion', async () => {
    const { sim } = await setup();
    const res = await fetch(`${sim.url}/_sim/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        repository: 'acme/app',
        workflowName: 't1-matrix',
        jobs: [
          { name: 'build (1)', labels: ['self-hosted', 'node-1'], durationMs: 10 },
          { name: 'build (2)', labels: ['self-hosted', 'node-2'], durationMs: 10, conclusion: 'failure' },
        ],
      }),
    });
    expect(res.status).toBe(201);
    const run = (await res.json()) as { run_id: number; jobs: Array<{ id: number; workflow_name: string }> };
    expect(run.jobs.map((j) => j.workflow_name)).toEqual(['t1-matrix', 't1-matrix']);
    const runPath = `/repos/acme/app/actions/runs/${run.run_id}`;
    expect((await api(sim.url, 'GET', runPath, { token: TOKEN })).body).toMatchObject({ status: 'queued', conclusion: null });
    const first = await jitFile(sim, 'vm-n1', ['self-hosted', 'node-1']);
    await runSimulatedRunner({ jitConfig: first.encoded, pollSeconds: 1 });
    expect((await api(sim.url, 'GET', runPath, { token: TOKEN })).body).toMatchObject({ status: 'in_progress', conclusion: null });
    const second = await jitFile(sim, 'vm-n2', ['self-hosted', 'node-2']);
    await runSimulatedRunner({ jitConfig: second.encoded, pollSeconds: 1 });
    expect((await api(sim.url, 'GET', runPath, { token: TOKEN })).body).toMatchObject({ status: 'completed', conclusion: 'failure' });
    const jobs = await api(sim.url, 'GET', `${runPath}/jobs`, { token: TOKEN });
    expect(jobs.body.jobs.map((j: { runner_name: string; conclusion: string }) => [j.runner_name, j.conclusion])).toEqual([['vm-n1', 'success'], ['vm-n2', 'failure']]);
    const mistake = await fetch(`${sim.url}/_sim/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"repository":"acme/app","jobs":[]}' });
    expect(mistake.status).toBe(400);
    expect(((await mistake.json()) as { message: string }).message).toBe('a run needs at least one job');
  });

  it('a repository runner never takes another repository\'s job', async () => {
    const { sim } = await setup({ repositories: ['acme/app', 'acme/other'] });
    const job = sim.control.dispatchJob({ repository: 'acme/other', labels: ['self-hosted'] });
    const res = await api(sim.url, 'POST', '/repos/acme/app/actions/runners/generate-jitconfig', { token: TOKEN, body: { name: 'repo-runner', runner_group_id: 1, labels: ['self-hosted'] } });
    const result = await runSimulatedRunner({ jitConfig: res.body.encoded_jit_config, maxIdleMs: 500, pollSeconds: 1 });
    expect(result.outcome).toBe('idle-timeout');
    expect(sim.control.job(job.id)).toMatchObject({ status: 'queued' });
  });

  it('cancelling the run ends the running job as cancelled and the runner exits', async () => {
    const { sim, receiver } = await setup();
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted'], durationMs: 20_000 });
    const jit = await jitFile(sim, 'vm-cancel', ['self-hosted']);
    const run = startBin('runner-cli.js', ['--jitconfig-file', jit.path, '--poll-seconds', '1', '--json']);
    await sim.control.waitForJob(job.id, 'in_progress');
    expect((await api(sim.url, 'POST', `/repos/acme/app/actions/runs/${job.run_id}/cancel`, { token: TOKEN })).status).toBe(202);
    const finished = await run.done;
    expect(finished.code).toBe(0);
    expect(JSON.parse(finished.stdout.trim().split('\n').pop()!)).toMatchObject({ outcome: 'cancelled', conclusion: 'cancelled' });
    await sim.control.deliveriesSettled();
    const completed = receiver.received.map((r) => JSON.parse(r.body)).find((p) => p.action === 'completed');
    expect(completed.workflow_job).toMatchObject({ id: job.id, conclusion: 'cancelled', runner_name: 'vm-cancel' });
  });

  it('a finished runner stays busy for runnerBusyAfterJobMs: delete answers 422 meanwhile', async () => {
    const { sim } = await setup({ runnerBusyAfterJobMs: 800 });
    sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted'], durationMs: 10 });
    const jit = await jitFile(sim, 'vm-linger', ['self-hosted']);
    await runSimulatedRunner({ jitConfig: jit.encoded, pollSeconds: 1 });
    const busy = await api(sim.url, 'DELETE', `/orgs/acme/actions/runners/${jit.runnerId}`, { token: TOKEN });
    expect(busy.status).toBe(422);
    expect(busy.body.message).toContain('is currently running a job and cannot be deleted');
    await eventually(async () => !(await runnerNames(sim)).includes('vm-linger'));
  });

  it('a runner killed while waiting for a job is not handed one', async () => {
    const { sim } = await setup();
    const jit = await jitFile(sim, 'vm-dead', ['self-hosted']);
    const run = startBin('runner-cli.js', ['--jitconfig-file', jit.path, '--poll-seconds', '20']);
    await eventually(() => run.output().includes('Listening for Jobs'));
    run.child.kill('SIGKILL');
    await run.done;
    await new Promise((r) => setTimeout(r, 100));
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted'], durationMs: 10 });
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.control.job(job.id)).toMatchObject({ status: 'queued' });
    const next = await jitFile(sim, 'vm-alive', ['self-hosted']);
    expect(await runSimulatedRunner({ jitConfig: next.encoded, pollSeconds: 1 })).toMatchObject({ outcome: 'completed', jobId: job.id });
  });

  it('a runner killed mid-job loses the job (failure) once runnerLostAfterMs passes', async () => {
    const { sim } = await setup({ runnerLostAfterMs: 500 });
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted'], durationMs: 60_000 });
    const jit = await jitFile(sim, 'vm-killed', ['self-hosted']);
    const run = startBin('runner-cli.js', ['--jitconfig-file', jit.path, '--poll-seconds', '1']);
    await sim.control.waitForJob(job.id, 'in_progress');
    run.child.kill('SIGKILL');
    await run.done;
    expect(await sim.control.waitForJob(job.id, 'completed', 5000)).toMatchObject({ conclusion: 'failure' });
  });
});

describe('the registration race (actions/runner#3621)', () => {
  it('a runner hit by it registers and goes online but never gets the job; deleting it ends the runner (exit 2)', async () => {
    const { sim } = await setup();
    sim.control.setRegistrationRace({ next: 1 });
    const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted'], durationMs: 10 });
    const unlucky = await jitFile(sim, 'vm-unlucky', ['self-hosted']);
    const run = startBin('runner-cli.js', ['--jitconfig-file', unlucky.path, '--poll-seconds', '1']);
    await eventually(async () => {
      const runner = (await api(sim.url, 'GET', `/orgs/acme/actions/runners/${unlucky.runnerId}`, { token: TOKEN })).body;
      return runner.status === 'online' && !runner.busy;
    });
    await new Promise((r) => setTimeout(r, 1200));
    expect(sim.control.job(job.id)).toMatchObject({ status: 'queued' });
    // What a handler's watchdog does: delete the runner by id, then try a fresh one.
    expect((await api(sim.url, 'DELETE', `/orgs/acme/actions/runners/${unlucky.runnerId}`, { token: TOKEN })).status).toBe(204);
    expect((await run.done).code).toBe(2);
    const lucky = await jitFile(sim, 'vm-lucky', ['self-hosted']);
    expect(await runSimulatedRunner({ jitConfig: lucky.encoded, pollSeconds: 1 })).toMatchObject({ outcome: 'completed', jobId: job.id });
  });

  it('the probability is deterministic for a given seed', async () => {
    const pattern = async (seed: number) => {
      const sim = await startGitHubSim({ seed, tokens: [TOKEN], repositories: ['acme/app'], registrationRaceProbability: 0.5 });
      cleanup.push(() => sim.close());
      for (let i = 0; i < 12; i++) {
        await api(sim.url, 'POST', '/orgs/acme/actions/runners/generate-jitconfig', { token: TOKEN, body: { name: `r${i}`, runner_group_id: 1, labels: ['x'] } });
      }
      return sim.control.runners().map((r) => r.race_affected);
    };
    const a = await pattern(7);
    expect(await pattern(7)).toEqual(a);
    expect(a).toContain(true);
    expect(a).toContain(false);
  });
});
