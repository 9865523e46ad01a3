#!/usr/bin/env bash
# anklet: starts the configured runner in the background and returns; the runner takes one job and
# exits (it is ephemeral). Its output goes to $RUNNER_HOME/anklet-runner.log.
set -eo pipefail
RUNNER_HOME="${RUNNER_HOME:-$HOME/actions-runner}"
cd "$RUNNER_HOME"
jit=""
if [[ -f .anklet-jitconfig ]]; then
  jit="$(cat .anklet-jitconfig)"
  rm -f .anklet-jitconfig
fi
if [[ -n "$jit" ]]; then
  # run.sh reads any of its options from ACTIONS_RUNNER_INPUT_<NAME>: the config stays off argv and
  # is in the environment of run.sh alone (not exported to this script's other commands).
  ACTIONS_RUNNER_INPUT_JITCONFIG="$jit" nohup ./run.sh > anklet-runner.log 2>&1 < /dev/null &
else
  nohup ./run.sh > anklet-runner.log 2>&1 < /dev/null &
fi
unset jit
disown || true
echo "runner started"
