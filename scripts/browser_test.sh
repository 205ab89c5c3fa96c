#!/usr/bin/env bash
# Browser test of the dashboard: headless Chromium (Debian's /usr/bin/chromium) driven by
# playwright-core (npm, cached in $PLAYWRIGHT_DIR; no browser download). The server and Chromium
# run inside a private network namespace where only `lo` exists, so Chromium's own background
# requests cannot leave the machine. Installs nothing system-wide (scripts/test.sh installs
# chromium). Screenshots go to $SCREENSHOT_DIR (default target/ci-artifacts): CI keeps them.
# Usage: scripts/browser_test.sh [NEUROPIPE_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/release/neuropipe}")
[ -x /usr/bin/chromium ] || { echo "browser test: /usr/bin/chromium missing (apt-get install -y chromium)"; exit 1; }
command -v node >/dev/null || { echo "browser test: node missing"; exit 1; }
export PLAYWRIGHT_DIR="${PLAYWRIGHT_DIR:-$HOME/.cache/neuropipe-browser}/node_modules"
if [ ! -f "$PLAYWRIGHT_DIR/playwright-core/package.json" ]; then
  mkdir -p "$(dirname "$PLAYWRIGHT_DIR")"
  (cd "$(dirname "$PLAYWRIGHT_DIR")" && npm install --no-save --no-audit --no-fund playwright-core@1.65.1 >/dev/null)
fi
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$PWD/target/ci-artifacts}"
mkdir -p "$SCREENSHOT_DIR"
export SCREENSHOT="${SCREENSHOT:-$SCREENSHOT_DIR/dashboard.png}"
# The dashboard's Record button records here (idle until pressed).
RECDIR=$(mktemp -d)
export NEUROPIPE_RECDIR="$RECDIR"
export NEUROPIPE_URL=http://127.0.0.1:7878
# A second server requiring a token (given in the environment, never on a command line).
export NEUROPIPE_TOKEN_URL=http://127.0.0.1:7879
NEUROPIPE_TEST_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export NEUROPIPE_TEST_TOKEN
LOG=$(mktemp)
LOG2=$(mktemp)
unshare -n sh -c '
  ip link set lo up
  "$0" run scripts/browser/dashboard_pipeline.json --quiet --serve 127.0.0.1:7878 \
    --record "$NEUROPIPE_RECDIR/dash_{n}.bdf" --record-idle 2>"$1" &
  SERVER=$!
  NEUROPIPE_TOKEN=$NEUROPIPE_TEST_TOKEN "$0" run scripts/browser/dashboard_pipeline.json --quiet \
    --serve 127.0.0.1:7879 --require-token 2>"$2" &
  SERVER2=$!
  for i in $(seq 50); do grep -q "^serving" "$1" && grep -q "^serving" "$2" && break; sleep 0.1; done
  node scripts/browser/dashboard_test.mjs
  RC=$?
  node scripts/browser/token_test.mjs || RC=1
  kill -TERM $SERVER $SERVER2; wait $SERVER || RC=1; wait $SERVER2 || RC=1
  exit $RC
' "$BIN" "$LOG" "$LOG2" || { echo "== server logs"; cat "$LOG" "$LOG2"; rm -f "$LOG" "$LOG2"; rm -rf "$RECDIR"; exit 1; }
rm -f "$LOG" "$LOG2"
# The file recorded from the dashboard opens in MNE with the marker set while recording.
if [ -n "${NEUROPIPE_PYTHON:-}" ]; then
  "$NEUROPIPE_PYTHON" - "$RECDIR/dash_1.bdf" <<'PY' || { rm -rf "$RECDIR"; exit 1; }
import sys, warnings
import mne
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    raw = mne.io.read_raw_bdf(sys.argv[1], verbose="error")
texts = list(raw.annotations.description)
secs = raw.n_times / raw.info["sfreq"]
assert secs >= 1.0, f"{secs} s recorded"
assert "while recording" in texts, texts
print(f"ok   {sys.argv[1].split('/')[-1]}: {secs:.1f} s, {len(raw.ch_names)} channels, marker inside (MNE)")
PY
fi
rm -rf "$RECDIR"
