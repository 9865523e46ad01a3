#!/usr/bin/env bash
# anklet: prepares the runner's registration inside the VM. The secret always comes on stdin, never
# as an argument (arguments of `anka run` are visible on the host).
#
#   register-runner.bash --jit                                   stdin: the encoded JIT config
#   register-runner.bash <name> - <url> <labels> [<runner_group>] stdin: a registration token
#
# JIT: the config is kept in a private file that start-runner.bash hands to run.sh and deletes.
# Token: config.sh registers an ephemeral runner carrying exactly the job's labels.
set -eo pipefail
RUNNER_HOME="${RUNNER_HOME:-$HOME/actions-runner}"
cd "$RUNNER_HOME"
umask 077
if [[ "$1" == "--jit" ]]; then
  cat > .anklet-jitconfig
  if [[ ! -s .anklet-jitconfig ]]; then
    echo "Error: no JIT config on stdin." >&2
    exit 1
  fi
  echo "runner successfully configured"
  exit 0
fi
[[ -n "$1" ]] || { echo "Error: Runner name argument is missing." >&2; exit 1; }
[[ "$2" == "-" ]] || { echo "Error: Token argument must be - (the token comes on stdin)." >&2; exit 1; }
[[ -n "$3" ]] || { echo "Error: URL argument is missing." >&2; exit 1; }
[[ -n "$4" ]] || { echo "Error: Labels argument is missing." >&2; exit 1; }
IFS= read -r ACTIONS_RUNNER_INPUT_TOKEN || true
[[ -n "$ACTIONS_RUNNER_INPUT_TOKEN" ]] || { echo "Error: no token on stdin." >&2; exit 1; }
export ACTIONS_RUNNER_INPUT_TOKEN
args=(--name "$1" --url "$3" --no-default-labels --labels "$4" --disableupdate --unattended --ephemeral)
if [[ -n "$5" ]]; then args+=(--runnergroup "$5"); fi
./config.sh "${args[@]}"
echo "runner successfully configured"
