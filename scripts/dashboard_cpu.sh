#!/usr/bin/env bash
# CPU cost of serving the dashboard at 64 ch × 1 kHz: process CPU time (user + system) of
# `neuropipe run --serve` over the same window, without and with one dashboard client
# (examples/dashboard_client.rs: the page's three WebSocket streams). Loopback only.
# Usage: scripts/dashboard_cpu.sh [SECONDS]   (builds release binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
cargo build --release -q -p neuropipe-cli -p neuropipe-server --example dashboard_client
BIN=target/release/neuropipe
CLIENT=target/release/examples/dashboard_client
PIPE=$(mktemp --suffix .json)
cat >"$PIPE" <<'JSON'
{ "name": "cpu-64x1k",
  "stages": [
    { "id": "eeg", "type": "SimulatedEeg", "params": { "channels": 64, "sample_rate": 1000, "frames": 10 } },
    { "id": "volts", "type": "RawToVoltage" },
    { "id": "check", "type": "ContinuityCheck" } ],
  "links": [ "eeg.out -> volts.in", "volts.out -> check.in" ] }
JSON
TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # $1 = with client (0/1)
  local port=$((20000 + RANDOM % 20000))
  "$BIN" run "$PIPE" --quiet --serve "127.0.0.1:$port" 2>/dev/null &
  local pid=$!
  sleep 2
  local c0; c0=$(cpu $pid)
  if [ "$1" = 1 ]; then "$CLIENT" "127.0.0.1:$port" "$SECS" volts.out >&2; else sleep "$SECS"; fi
  local c1; c1=$(cpu $pid)
  kill -TERM $pid; wait $pid || true
  echo "scale=2; 100 * ($c1 - $c0) / $TCK / $SECS" | bc
}
A=$(measure 0)
B=$(measure 1)
echo "neuropipe process CPU, 64 ch × 1 kHz, over ${SECS} s: without client ${A} %, with one dashboard client ${B} % (of one core)"
rm -f "$PIPE"
