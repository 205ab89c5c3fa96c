#!/usr/bin/env bash
# Validates every pipelines/*.json and runs each for a few seconds; fails on any error.
set -euo pipefail
bin=${1:-target/release/neuropipe}
cd "$(dirname "$0")/.."
fail=0
for f in pipelines/*.json; do
  echo "-- $f"
  "$bin" validate "$f" || { fail=1; continue; }
  out=$(mktemp -d)
  if ! (cd "$out" && timeout 60 "$OLDPWD/$bin" run "$OLDPWD/$f" --duration 3 --quiet --stats-json stats.json); then
    echo "FAILED: $f"; fail=1
  fi
  rm -rf "$out"
done
echo "-- built-in default (no file)"
timeout 60 "$bin" run --duration 2 --quiet || fail=1
exit $fail
