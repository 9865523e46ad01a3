#!/usr/bin/env bash
# anklet: starts the configured runner in the background and returns; the runner takes one job and
# exits (it is ephemeral). Its output goes to $RUNNER_HOME/anklet-runner.log.
set -eo pipefail
RUNNER_HOME="${RUNNER_HOME:-$HOME/actions-runner}"
cd "$RUNNER_HOME"
if [[ -f .anklet-jitconfig ]]; then
  # run.sh reads any of its options from ACTIONS_RUNNER_INPUT_<NAME>: the config stays off argv.
  ACTIONS_RUNNER_INPUT_JITCONFIG="$(cat .anklet-jitconfig)"
  export ACTIONS_RUNNER_INPUT_JITCONFIG
  rm -f .anklet-jitconfig
fi
nohup ./run.sh > anklet-runner.log 2>&1 < /dev/null &
disown || true
echo "runner started"
