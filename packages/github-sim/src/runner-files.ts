/**
 * The simulated actions runner as files: what a template carries in `actions-runner/` and what the
 * runner release tarballs hold. run.sh hands the JIT config (from the environment, as the real
 * run.sh reads ACTIONS_RUNNER_INPUT_JITCONFIG) to github-sim's runner on stdin; config.sh (token
 * mode) keeps its arguments and token for run.sh, as the real one keeps its registration, and
 * answers `--version` like the real one. `GITHUB_SIM_RUNNER` comes from anka-sim's `guestEnv`.
 */

/** The runner version the simulated templates carry and the sim's default newest release. */
export const SIM_RUNNER_VERSION = '2.330.0';

export const RUN_SH = `#!/usr/bin/env bash
cd "$(dirname "$0")"
if [[ -n "$ACTIONS_RUNNER_INPUT_JITCONFIG" ]]; then
  printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" | node "$GITHUB_SIM_RUNNER" --jitconfig-file -
  exit $?
fi
eval "args=($(cat .sim-args))"
ACTIONS_RUNNER_INPUT_TOKEN="$(cat .sim-token)" exec node "$GITHUB_SIM_RUNNER" "\${args[@]}"
`;

/** config.sh of a runner of `version`. */
export function configSh(version: string): string {
  return `#!/usr/bin/env bash
cd "$(dirname "$0")"
if [[ "$1" == "--version" ]]; then
  echo "${version}"
  exit 0
fi
printf '%s' "$ACTIONS_RUNNER_INPUT_TOKEN" > .sim-token
printf '%q ' "$@" > .sim-args
echo "configured"
`;
}

export const CONFIG_SH = configSh(SIM_RUNNER_VERSION);

/** A file of a simulated runner: its content and mode. */
export interface RunnerFile {
  content: string;
  mode: number;
}

/**
 * The runner's files relative to its root (`run.sh`, `config.sh`), as the release tarball holds
 * them; a template carries them under `actions-runner/` (see {@link templateRunnerFiles}).
 */
export function runnerRootFiles(version: string = SIM_RUNNER_VERSION): Record<string, RunnerFile> {
  return {
    'run.sh': { content: RUN_SH, mode: 0o755 },
    'config.sh': { content: configSh(version), mode: 0o755 },
  };
}

/** The files of a template whose baked runner is `version`: `actions-runner/run.sh` and `config.sh`. */
export function templateRunnerFiles(version: string = SIM_RUNNER_VERSION): Record<string, RunnerFile> {
  return Object.fromEntries(Object.entries(runnerRootFiles(version)).map(([name, file]) => [`actions-runner/${name}`, file]));
}
