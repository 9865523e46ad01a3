#!/usr/bin/env bash
# anklet: installs the GitHub Actions runner into $RUNNER_HOME (default ~/actions-runner) inside the VM.
# A template that already carries a runner (run.sh present) is left alone, which saves the download
# on every job; keep such templates updated (GitHub refuses runners older than 30 days).
set -eo pipefail
RUNNER_HOME="${RUNNER_HOME:-$HOME/actions-runner}"
mkdir -p "$RUNNER_HOME"
cd "$RUNNER_HOME"
if [[ -x ./run.sh ]]; then
  echo "runner already installed in $RUNNER_HOME"
  exit 0
fi
arch="${RUNNER_ARCH:-$(uname -m)}"
case "$arch" in
  x86_64 | x64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
esac
# The release API names every asset; pick the macOS one for this architecture.
api="${RUNNER_RELEASES_API:-https://api.github.com/repos/actions/runner/releases/latest}"
url="$(curl -fsSL "$api" | grep -Eo '"browser_download_url": *"[^"]*actions-runner-osx-'"$arch"'-[0-9.]+\.tar\.gz"' | head -n 1 | sed -E 's/.*"(https?:[^"]+)"/\1/')"
if [[ -z "$url" ]]; then
  echo "Error: no actions-runner-osx-$arch release found at $api" >&2
  exit 1
fi
curl -fsSL -o runner.tar.gz "$url"
tar xzf runner.tar.gz
rm -f runner.tar.gz
echo "runner successfully installed"
