#!/usr/bin/env bash
# XDF write throughput next to pyxdf's read of the same file (the figures the closing notes
# and README quote): neuropipe records 64 channels of simulated EEG at 1 kHz, not paced,
# float32, for 10 s of wall time into one XDF file; then pyxdf 1.17.5 (pinned) loads that file
# with clock synchronisation and dejittering on. Prints MB/s for both, the CPU and the date.
#   bash scripts/xdf/throughput.sh [target/release/neuropipe]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/neuropipe}
PY=$(bash scripts/venv.sh | tail -n 1)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/p.json" <<JSON
{
  "stages": [
    { "id": "eeg", "type": "SimulatedEeg", "params": { "channels": 64, "sample_rate": 1000, "frames": 64, "realtime": false } },
    { "id": "uv", "type": "RawToVoltage" },
    { "id": "xdf", "type": "XdfRecorder", "params": { "path": "$dir/t.xdf", "markers": false } }
  ],
  "links": ["eeg -> uv", "uv -> xdf"]
}
JSON
start=$(date +%s.%N)
"$bin" run "$dir/p.json" --duration 10 --quiet >/dev/null 2>&1
end=$(date +%s.%N)
"$PY" - "$dir/t.xdf" "$start" "$end" <<'PY'
import os, sys, time, platform
import pyxdf
path, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
size = os.path.getsize(path) / 1e6
t0 = time.perf_counter()
streams, _ = pyxdf.load_xdf(path, synchronize_clocks=True, dejitter_timestamps=True)
read_s = time.perf_counter() - t0
frames = streams[0]["time_series"].shape[0]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu}, {os.cpu_count()} CPUs")
print(f"neuropipe XdfRecorder: {size:.0f} MB ({frames} frames x 64 ch float32 + time stamps) in {end - start:.1f} s wall "
      f"(simulator + conversion + writer, one run): {size / (end - start):.0f} MB/s")
print(f"pyxdf {pyxdf.__version__} load_xdf (sync + dejitter) of the same file: {read_s:.2f} s: {size / read_s:.0f} MB/s")
PY
