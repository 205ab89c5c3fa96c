#!/usr/bin/env bash
# Closed-loop latency of the P300 speller chain (band-pass → Epoch → Xdawn → Vectorize → Lda →
# sink):
# from the moment the packet completing an epoch's window leaves the source to the moment
# its prediction reaches the sink, p50/p99/max over a real-time run, at CHANNELS channels;
# next to the same chain hand-rolled in Python (scripts/bci/latency_reference.py), timed from
# the completing packet's availability to its prediction, in the same run.
#
# TASK mi: the motor-imagery chain of pipelines/motor_imagery_tangent.json instead (band-pass
# 8-13 Hz → Epoch 0.5-3.5 s → Covariance (OAS) → TangentSpace → Lda → sink), a cue every
# 4.5 s, against its Python twin (pyRiemann Covariances + TangentSpace, scikit-learn LDA).
#
# Usage: scripts/bci/latency.sh [BIN] [CHANNELS] [SECONDS] [p300|mi] [RUN OPTIONS...]
#        (defaults: release binary, 64, 60, p300; RUN OPTIONS go to `neuropipe run`, e.g.
#        `--threads 1`)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/release/neuropipe}
channels=${2:-64}
secs=${3:-60}
task=${4:-p300}
shift $(( $# < 4 ? $# : 4 ))
case "$task" in
  p300) pipeline=p300_speller.json ;;
  mi) pipeline=motor_imagery_tangent.json ;;
  *) echo "task is p300 or mi, not $task" >&2; exit 2 ;;
esac
py=$(bash "$root/scripts/venv.sh" | tail -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" - "$root/pipelines/$pipeline" "$tmp/speller.json" "$channels" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
# The decoding chain only: no LSL outlet (and no network).
gone = {s["id"] for s in v["stages"] if s["type"] == "LslOutlet"}
v["stages"] = [s for s in v["stages"] if s["id"] not in gone]
v["links"] = [l for l in v["links"] if not any(l.startswith(g + " ") or l.endswith(" " + g) for g in gone)]
for s in v["stages"]:
    if s["type"] == "SimulatedEeg":
        s["params"]["channels"] = int(sys.argv[3])
        if s["params"].get("task") == "motor_imagery":
            s["params"]["trial_interval_s"] = 4.5
    if "model" in s.get("params", {}):
        s["params"]["model"] = "model.json"
json.dump(v, open(sys.argv[2], "w"))
PY
"$bin" train "$tmp/speller.json" --duration 240 > "$tmp/train.txt"
"$bin" run "$tmp/speller.json" --duration "$secs" --quiet --stats-json "$tmp/stats.json" "$@" > /dev/null 2> "$tmp/run.txt"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, run options: ${*:-none}"
"$py" - "$tmp/stats.json" "$channels" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
sink = next(st for st in s["stages"] if st["id"] == "show")
us = lambda ns: ns / 1e3
print(f"neuropipe, {sys.argv[2]} ch: {sink['latency_count']} predictions, latency p50 {us(sink['latency_p50_ns']):.0f} us, "
      f"p99 {us(sink['latency_p99_ns']):.0f} us, max {us(sink['latency_max_ns']):.0f} us")
PY
"$py" "$root/scripts/bci/latency_reference.py" "$channels" "$secs" "$task"
