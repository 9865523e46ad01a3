import type { RegistryTemplateSeed } from '@anklet/anka-sim';

/**
 * The template's simulated actions runner: run.sh hands the JIT config (from the environment, as
 * the real run.sh reads ACTIONS_RUNNER_INPUT_JITCONFIG) to github-sim's runner on stdin; config.sh
 * (token mode) keeps its arguments and token for run.sh, as the real one keeps its registration.
 * `GITHUB_SIM_RUNNER` comes from anka-sim's `guestEnv`.
 */
export const RUN_SH = `#!/usr/bin/env bash
cd "$(dirname "$0")"
if [[ -n "$ACTIONS_RUNNER_INPUT_JITCONFIG" ]]; then
  printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" | node "$GITHUB_SIM_RUNNER" --jitconfig-file -
  exit $?
fi
eval "args=($(cat .sim-args))"
ACTIONS_RUNNER_INPUT_TOKEN="$(cat .sim-token)" exec node "$GITHUB_SIM_RUNNER" "\${args[@]}"
`;
export const CONFIG_SH = `#!/usr/bin/env bash
cd "$(dirname "$0")"
printf '%s' "$ACTIONS_RUNNER_INPUT_TOKEN" > .sim-token
printf '%q ' "$@" > .sim-args
echo "configured"
`;

/** The files every simulated template carries: `actions-runner/run.sh` and `config.sh`. */
export const runnerFiles = {
  'actions-runner/run.sh': { content: RUN_SH, mode: 0o755 },
  'actions-runner/config.sh': { content: CONFIG_SH, mode: 0o755 },
};

const GiB = 2 ** 30;

/** The template the fleet's jobs ask for unless told otherwise. */
export const FLEET_TEMPLATE = '84266873-da90-4e0d-903b-ed0233471f9f';

/** One tag of a simulated template. */
export interface TemplateTag {
  tag: string;
  cpuCores?: number;
  ramGiB?: number;
}



/**
 * A registry template whose every tag carries the simulated runner, e.g.
 * `simulatedTemplate({ tags: [{ tag: '1c2r', cpuCores: 1, ramGiB: 2 }] })`. Default: `1c2r` and `2c4r`.
 */
export function simulatedTemplate(options: { uuid?: string; name?: string; tags?: TemplateTag[] } = {}): RegistryTemplateSeed {
  const tags = options.tags ?? [
    { tag: '1c2r', cpuCores: 1, ramGiB: 2 },
    { tag: '2c4r', cpuCores: 2, ramGiB: 4 },
  ];
  return {
    name: options.name ?? 'anklet',
    uuid: options.uuid ?? FLEET_TEMPLATE,
    tags: tags.map((t) => ({ tag: t.tag, cpuCores: t.cpuCores ?? 1, ramBytes: (t.ramGiB ?? 2) * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles })),
  };
}
