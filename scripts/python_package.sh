#!/usr/bin/env bash
# The Python package, as a user gets it: builds the wheel with maturin (abi3: one wheel for
# CPython >= 3.9), installs it into a clean venv (its only dependency is NumPy) and runs a
# smoke test there, then installs it into ./.venv and runs the pytest suite (python/tests,
# against the pinned SciPy/MNE/pyedflib) and the example notebook headless.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash scripts/venv.sh | tail -n 1)
venv_bin=$(dirname "$PY")

echo "-- maturin build (wheel)"
rm -rf target/wheels
(cd python && PATH="$venv_bin:$PATH" maturin build --release --quiet --out ../target/wheels)
wheel=$(ls target/wheels/neuropipe-*-abi3-*.whl)
echo "$wheel"

echo "-- clean venv: install the wheel alone, import, run the default pipeline briefly"
clean=target/py-clean
rm -rf "$clean"
python3 -m venv "$clean"
"$clean/bin/pip" install --quiet --disable-pip-version-check "$wheel"
(cd /tmp && "$OLDPWD/$clean/bin/python" -c '
import neuropipe
report = neuropipe.Pipeline.default().run(duration=0.5)
eeg = next(s for s in report["stages"] if s["id"] == "eeg")
assert eeg["frames_out"] > 0, report
print("neuropipe", neuropipe.__version__, "ran", eeg["frames_out"], "frames")
')

echo "-- pytest (python/tests)"
"$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
"$PY" -m pytest -q python/tests

echo "-- example notebook, executed headless"
"$PY" scripts/run_notebook.py examples/notebooks/live_tap.ipynb
