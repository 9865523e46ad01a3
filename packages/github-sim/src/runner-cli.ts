#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runSimulatedRunner, type SimulatedRunnerOptions } from './runner.js';
import type { JobConclusion } from './options.js';

const USAGE = `Usage:
  github-sim-runner --jitconfig-file <path|->                         (like run.sh --jitconfig)
  github-sim-runner --url <url> --name <name> --labels <a,b,...>      (like config.sh + run.sh)
                    [--token-file <path|->] [--runnergroup <group>] [--ephemeral]
                    [--no-default-labels] [--replace] [--sim-url <url>]
Common options:
  --conclusion success|failure|cancelled   outcome when the sim does not choose one
  --duration-ms <n>                        run time when the sim does not choose one
  --max-idle-seconds <n>                   give up when no job came (exit 3)
  --poll-seconds <n>                       length of each job long-poll (default 5)
  --json                                   print the result as a JSON line at the end
  --diag-dir <path>                        where Runner_*.log and Worker_*.log go (default _diag,
                                           in the current folder, as the real runner's _diag)
Secrets never go on the command line: the JIT config comes from a file or stdin
(or ACTIONS_RUNNER_INPUT_JITCONFIG), the registration token from --token-file or
ACTIONS_RUNNER_INPUT_TOKEN. GITHUB_SIM_URL names the sim when --url is a github.com URL.
Exit codes: 0 job finished (any conclusion) or cancelled, 1 error, 2 registration deleted
before a job came, 3 idle timeout, 130/143 interrupted.`;

function fail(message: string): never {
  process.stderr.write(`github-sim-runner: ${message}\n`);
  process.exit(1);
}

function readSecret(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8').trim();
  } catch (error) {
    fail(`cannot read ${path === '-' ? 'stdin' : path}: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  // Refuse secrets on argv before parsing, so the message is about the secret, not the flag.
  for (const flag of ['--jitconfig', '--token', '--pat']) {
    if (process.argv.some((arg) => arg === flag || arg.startsWith(`${flag}=`))) {
      fail(`${flag} would put a secret on the command line; use ${flag === '--jitconfig' ? '--jitconfig-file' : '--token-file'} or the environment`);
    }
  }
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'jitconfig-file': { type: 'string' },
        url: { type: 'string' },
        name: { type: 'string' },
        labels: { type: 'string' },
        'token-file': { type: 'string' },
        runnergroup: { type: 'string' },
        ephemeral: { type: 'boolean' },
        'no-default-labels': { type: 'boolean' },
        replace: { type: 'boolean' },
        'sim-url': { type: 'string' },
        conclusion: { type: 'string' },
        'duration-ms': { type: 'string' },
        'max-idle-seconds': { type: 'string' },
        'poll-seconds': { type: 'string' },
        json: { type: 'boolean' },
        'diag-dir': { type: 'string' },
        // Accepted for config.sh compatibility; they change nothing here.
        unattended: { type: 'boolean' },
        disableupdate: { type: 'boolean' },
        work: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  const controller = new AbortController();
  let signalCode = 0;
  const onSignal = (code: number) => () => {
    signalCode = code;
    controller.abort();
  };
  process.on('SIGINT', onSignal(130));
  process.on('SIGTERM', onSignal(143));

  const options: SimulatedRunnerOptions = {
    signal: controller.signal,
    log: (line) => process.stdout.write(`${line}\n`),
    diagDir: values['diag-dir'] ?? '_diag',
  };
  const jit = values['jitconfig-file'] !== undefined ? readSecret(values['jitconfig-file']) : process.env.ACTIONS_RUNNER_INPUT_JITCONFIG;
  delete process.env.ACTIONS_RUNNER_INPUT_JITCONFIG;
  if (jit) {
    options.jitConfig = jit;
  } else {
    if (!values.url || !values.name || !values.labels) fail(`give --jitconfig-file, or --url, --name and --labels\n${USAGE}`);
    const token = values['token-file'] !== undefined ? readSecret(values['token-file']) : process.env.ACTIONS_RUNNER_INPUT_TOKEN;
    delete process.env.ACTIONS_RUNNER_INPUT_TOKEN;
    if (!token) fail('no registration token: use --token-file or ACTIONS_RUNNER_INPUT_TOKEN');
    const registration: NonNullable<SimulatedRunnerOptions['registration']> = {
      url: values.url,
      token,
      name: values.name,
      labels: values.labels.split(',').map((l) => l.trim()).filter(Boolean),
      ephemeral: values.ephemeral ?? false,
      replace: values.replace ?? false,
      noDefaultLabels: values['no-default-labels'] ?? false,
    };
    if (values.runnergroup) registration.runnerGroup = values.runnergroup;
    const simUrl = values['sim-url'] ?? process.env.GITHUB_SIM_URL;
    if (simUrl) registration.serverUrl = simUrl;
    options.registration = registration;
  }
  if (values.conclusion !== undefined) {
    if (!['success', 'failure', 'cancelled'].includes(values.conclusion)) fail(`--conclusion must be success, failure or cancelled`);
    options.defaultConclusion = values.conclusion as JobConclusion;
  }
  const number = (flag: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) fail(`${flag} must be a non-negative number, got "${raw}"`);
    return n;
  };
  const duration = number('--duration-ms', values['duration-ms']);
  if (duration !== undefined) options.defaultDurationMs = duration;
  const idle = number('--max-idle-seconds', values['max-idle-seconds']);
  if (idle !== undefined) options.maxIdleMs = idle * 1000;
  const poll = number('--poll-seconds', values['poll-seconds']);
  if (poll !== undefined) options.pollSeconds = poll;

  let result;
  try {
    result = await runSimulatedRunner(options);
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  const codes = { completed: 0, cancelled: 0, removed: 2, 'idle-timeout': 3, aborted: signalCode || 130 } as const;
  process.exit(codes[result.outcome]);
}

void main();
