#!/usr/bin/env python3
"""Compare neuropipe-dsp streaming filter throughput with SciPy on the same workload.

Workload: 64 channels x N frames (default 1,000,000) at 250 Hz, EEG-like random data;
  * band-pass 1-40 Hz, Butterworth order 4 (4 sections)
  * notch 50 Hz, Q 30 (1 section, via sosfilt)
  * 101-tap FIR low-pass 40 Hz (firwin, Hamming), via lfilter
each in float32 and float64.

SciPy is timed in its natural layout (channels, frames), axis=-1:
  * one-shot: a single sosfilt / lfilter call on the whole array;
  * chunked: 32-frame chunks with the state (zi) carried, as a streaming pipeline would.
neuropipe is timed by the `dsp_bench` example (frame-major interleaved, 32-frame packets,
best of several runs), built and run with `cargo run --release`.

Usage (from the repository root):

    PY=$(bash scripts/venv.sh | tail -1)
    $PY scripts/dsp/bench_compare.py [--frames 1000000] [--chunked-frames 200000] [--reps 3]

Throughput is in Ms/s = millions of channel-samples per second. Only one process runs at a
time; on a shared machine, rerun for stable numbers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.signal as sig

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = 64
FS = 250.0
PACKET = 32


def make_signal(frames: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(frames) / FS
    x = 10.0 * (rng.random((CHANNELS, frames)) - 0.5)
    x += 20.0 * np.sin(2 * np.pi * 10.0 * t + 0.1 * np.arange(CHANNELS)[:, None])
    x += 5.0 * np.sin(2 * np.pi * 50.0 * t)
    return x


def best_time(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def scipy_cases(x64: np.ndarray, chunked_frames: int, reps: int) -> dict[str, tuple[float, float]]:
    bandpass = sig.butter(4, [1.0, 40.0], btype="bandpass", fs=FS, output="sos")
    b, a = sig.iirnotch(50.0, 30.0, fs=FS)
    notch = np.concatenate([b, a])[None, :]
    taps = sig.firwin(101, 40.0, window="hamming", fs=FS)
    out: dict[str, tuple[float, float]] = {}
    for dtype, suffix in ((np.float32, "f32"), (np.float64, "f64")):
        x = x64.astype(dtype)
        xc = np.ascontiguousarray(x[:, :chunked_frames])
        for name, sos in (("bandpass", bandpass), ("notch", notch)):
            s = sos.astype(dtype)

            def one_shot() -> None:
                sig.sosfilt(s, x, axis=-1)

            def chunked() -> None:
                zi = np.zeros((s.shape[0], CHANNELS, 2), dtype=dtype)
                for i in range(0, xc.shape[1], PACKET):
                    _, zi = sig.sosfilt(s, xc[:, i:i + PACKET], axis=-1, zi=zi)

            t1 = best_time(one_shot, reps)
            t2 = best_time(chunked, reps)
            out[f"{name}_{suffix}"] = (x.size / t1 / 1e6, xc.size / t2 / 1e6)
        t = taps.astype(dtype)
        one = np.ones(1, dtype=dtype)

        def fir_one_shot() -> None:
            sig.lfilter(t, one, x, axis=-1)

        def fir_chunked() -> None:
            zi = np.zeros((CHANNELS, t.size - 1), dtype=dtype)
            for i in range(0, xc.shape[1], PACKET):
                _, zi = sig.lfilter(t, one, xc[:, i:i + PACKET], axis=-1, zi=zi)

        t1 = best_time(fir_one_shot, reps)
        t2 = best_time(fir_chunked, reps)
        out[f"fir101_{suffix}"] = (x.size / t1 / 1e6, xc.size / t2 / 1e6)
    return out


def rust_cases(frames: int, reps: int, workspace: Path) -> dict[str, float]:
    cmd = [
        "cargo", "run", "--quiet", "--release", "-p", "neuropipe-dsp", "--example", "dsp_bench", "--",
        "--frames", str(frames), "--packet", str(PACKET), "--reps", str(max(reps, 3)),
    ]
    print("running:", " ".join(cmd), file=sys.stderr)
    res = subprocess.run(cmd, cwd=workspace, check=True, capture_output=True, text=True)
    out = {}
    for line in res.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rec = json.loads(line)
            out[rec["case"]] = rec["msps"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--chunked-frames", type=int, default=200_000,
                    help="frames used for the (slow) chunked SciPy runs")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workspace", type=Path, default=ROOT,
                    help="cargo workspace to build the dsp_bench example in (default: this repository)")
    args = ap.parse_args()

    print(f"numpy {np.__version__}, scipy {scipy.__version__}; {CHANNELS} ch x {args.frames} frames, "
          f"{PACKET}-frame packets", file=sys.stderr)
    rust = rust_cases(args.frames, args.reps, args.workspace)
    x = make_signal(args.frames)
    sp = scipy_cases(x, min(args.chunked_frames, args.frames), args.reps)

    header = ("case", "neuropipe Ms/s", "SciPy one-shot Ms/s", "SciPy chunked Ms/s",
              "x one-shot", "x chunked")
    rows = []
    for case in ("bandpass_f32", "bandpass_f64", "notch_f32", "notch_f64", "fir101_f32", "fir101_f64"):
        r = rust.get(case, float("nan"))
        s1, s2 = sp[case]
        rows.append((case, f"{r:.0f}", f"{s1:.0f}", f"{s2:.1f}", f"{r / s1:.1f}", f"{r / s2:.1f}"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")


if __name__ == "__main__":
    main()
