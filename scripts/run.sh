#!/usr/bin/env bash
# Runs neuropipe from source: `bash scripts/run.sh [ARGS]` = `cargo run --release -p neuropipe-cli -- run [ARGS]`.
# On a fresh machine it first installs CMake (needed once to build the vendored liblsl used by
# the LSL stages). With no ARGS it runs the built-in default pipeline (simulated EEG).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null; then
  echo "installing cmake (builds liblsl for the LSL stages)..." >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq cmake >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq cmake >/dev/null; fi
fi
exec cargo run --release -p neuropipe-cli -- run "$@"
