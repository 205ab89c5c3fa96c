#!/usr/bin/env bash
# Validates every pipelines/*.json and runs each for a few seconds; fails on any error.
set -euo pipefail
bin=${1:-target/release/neuropipe}
cd "$(dirname "$0")/.."
fail=0
# LSL pipelines (any LslInlet or LslOutlet stage) must never reach the real network: they run
# inside a private network namespace with only `lo`, with the loopback-only liblsl configuration.
lslcfg="$PWD/crates/neuropipe-lsl/lsl_api.cfg"
for f in pipelines/*.json; do
  echo "-- $f"
  ns=()
  if grep -q '"type": *"Lsl' "$f"; then
    ns=(env LSLAPICFG="$lslcfg" unshare -n sh -c 'ip link set lo up && exec "$@"' sh)
  fi
  "${ns[@]}" "$bin" validate "$f" || { fail=1; continue; }
  # Relative paths in a pipeline (its data, its recordings) are relative to the pipeline file:
  # run a copy of pipelines/ so recordings land in a temporary directory, not in the repository.
  out=$(mktemp -d)
  cp -r pipelines "$out/"
  if ! (cd "$out" && timeout 60 "${ns[@]}" "$OLDPWD/$bin" run "$out/$f" --duration 3 --quiet --stats-json stats.json); then
    echo "FAILED: $f"; fail=1
  fi
  rm -rf "$out"
done
echo "-- built-in default (no file)"
timeout 60 "$bin" run --duration 2 --quiet || fail=1
exit $fail
