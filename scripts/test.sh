#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/integration tests (Rust and the Python
# interoperability checks), the Python package (wheel, pytest, notebook), and every example
# pipeline in pipelines/ validated and run briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

echo "== python venv (pinned SciPy/MNE/pyedflib/edfio for reference and interop tests)"
PY=$(bash scripts/venv.sh | tail -n 1)
export NEUROPIPE_PYTHON="$PY"

echo "== system packages (cmake builds the vendored liblsl for neuropipe-lsl)"
if ! command -v cmake >/dev/null; then
  apt-get update -qq && apt-get install -y -qq cmake >/dev/null
fi

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo doc (broken intra-doc links and doc warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

echo "== cargo build (release binary used by the pipeline checks)"
cargo build --release -p neuropipe-cli

echo "== cargo test"
cargo test --workspace --release

echo "== python package (maturin wheel into a clean venv, pytest, the example notebook)"
bash scripts/python_package.sh

echo "== dashboard in headless Chromium (private network namespace)"
if [ ! -x /usr/bin/chromium ]; then apt-get update && apt-get install -y chromium chromium-driver; fi
SCREENSHOT_DIR="$PWD/target/ci-artifacts" bash scripts/browser_test.sh target/release/neuropipe

echo "== examples"
cargo run --release --example custom_stage
cargo run --release -p neuropipe-stages --example sim_bench -- 8 2

echo "== example pipelines"
bash scripts/check_pipelines.sh target/release/neuropipe
