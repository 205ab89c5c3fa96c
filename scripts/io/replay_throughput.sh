#!/usr/bin/env bash
# Replay cost per channel-sample as the channel count grows: for 64, 256 and 1,024 channels a
# BDF file of the same number of samples (SECONDS s at 1 kHz of 1,024 channels: 16 times as
# long at 64) is recorded from the simulator (`neuropipe run --record`),
# then replayed as fast as possible (`FileReplay`, realtime false, 100-frame packets) into
# `ContinuityCheck`; the replay's wall time (best of 3, the whole `neuropipe run` process)
# per channel-sample, and Ms/s (millions of channel-samples per second). The goal is a flat
# cost per sample from 64 to 1,024 channels.
# Usage: scripts/io/replay_throughput.sh [SECONDS]   (needs target/release/neuropipe)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${NEUROPIPE:-target/release/neuropipe}
SECS=${1:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs; $((SECS * 1024)) k samples per file"
for ch in 64 256 1024; do
  secs=$((SECS * 1024 / ch))
  cat >"$tmp/make.json" <<JSON
{ "stages": [
    { "id": "eeg", "type": "SimulatedEeg", "params": { "channels": $ch, "sample_rate": 1000, "frames": 100, "realtime": false, "duration_s": $secs } },
    { "id": "volts", "type": "RawToVoltage" },
    { "id": "check", "type": "ContinuityCheck" } ],
  "links": [ "eeg -> volts", "volts -> check" ] }
JSON
  "$BIN" run "$tmp/make.json" --record "$tmp/r$ch.bdf" --quiet >/dev/null 2>&1
  cat >"$tmp/replay.json" <<JSON
{ "stages": [
    { "id": "replay", "type": "FileReplay", "params": { "path": "r$ch.bdf", "realtime": false, "frames": 100 } },
    { "id": "check", "type": "ContinuityCheck" } ],
  "links": [ "replay -> check" ] }
JSON
  best=""
  for _ in 1 2 3; do
    t0=$(date +%s.%N)
    "$BIN" run "$tmp/replay.json" --quiet --stats-json "$tmp/stats.json" >/dev/null 2>&1
    t1=$(date +%s.%N)
    best=$(python3 -c "b='$best'; t=$t1-$t0; print(t if not b else min(float(b), t))")
  done
  frames=$(python3 -c "import json; s=json.load(open('$tmp/stats.json')); print(next(x for x in s['stages'] if x['id']=='check')['frames_in'])")
  python3 -c "
ch, frames, t = $ch, $frames, $best
n = ch * frames
print(f'{ch:5d} ch: {frames} frames in {t:.3f} s: {1e9 * t / n:.2f} ns per channel-sample, {n / t / 1e6:.0f} Ms/s')"
done
