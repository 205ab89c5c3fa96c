#!/usr/bin/env bash
# CPU cost of a paced pipeline: 64 channels at 1 kHz in 10-frame packets (100 packets/s),
# simulated in real time -> RawToVoltage -> band-pass 1-40 Hz -> notch 50 Hz ->
# ContinuityCheck, as `neuropipe run` runs it: the CPU time of all its threads (user + system,
# in nanoseconds from /proc/PID/task/*/schedstat) over a window after a warm-up, as a
# percentage of one core. Runs ROUNDS times and prints each and the median. Further arguments
# go to `neuropipe run` (e.g. `--threads 1`).
# Usage: scripts/paced_cpu.sh [SECONDS] [ROUNDS] [RUN OPTIONS...]   (needs target/release/neuropipe)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
ROUNDS=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
BIN=${NEUROPIPE:-target/release/neuropipe}
PIPE=$(mktemp --suffix .json)
trap 'rm -f "$PIPE"' EXIT
cat >"$PIPE" <<'JSON'
{ "name": "paced-64x1k-10",
  "stages": [
    { "id": "eeg", "type": "SimulatedEeg", "params": { "channels": 64, "sample_rate": 1000, "frames": 10 } },
    { "id": "volts", "type": "RawToVoltage" },
    { "id": "bp", "type": "Bandpass", "params": { "low_hz": 1, "high_hz": 40, "order": 4 } },
    { "id": "notch", "type": "Notch", "params": { "freq_hz": 50 } },
    { "id": "check", "type": "ContinuityCheck" } ],
  "links": [ "eeg -> volts", "volts -> bp", "bp -> notch", "notch -> check" ] }
JSON
# Nanoseconds on a CPU, summed over the process's threads (none start or end in the window).
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }
results=()
for r in $(seq "$ROUNDS"); do
  "$BIN" run "$PIPE" --quiet "$@" >/dev/null 2>&1 &
  pid=$!
  sleep 2
  c0=$(cpu $pid); t0=$(date +%s.%N)
  sleep "$SECS"
  c1=$(cpu $pid); t1=$(date +%s.%N)
  kill -INT $pid; wait $pid || true
  pct=$(python3 -c "print(f'{100 * ($c1 - $c0) / 1e9 / ($t1 - $t0):.3f}')")
  echo "round $r: $pct % of one core"
  results+=("$pct")
done
python3 -c "import statistics,sys; print(f'median {statistics.median(map(float, sys.argv[1:])):.3f} % of one core ({len(sys.argv)-1} rounds of $SECS s, run options: ${*:-none}, $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))')" "${results[@]}"
