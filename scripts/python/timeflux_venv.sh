#!/usr/bin/env bash
# Timeflux in a venv of its own (target/timeflux-venv; it pins its own NumPy and pandas), for
# the comparison in scripts/python/stage_overhead.py. Prints the venv's python.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/timeflux-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/python/requirements-timeflux.txt" >&2
echo "$venv/bin/python"
