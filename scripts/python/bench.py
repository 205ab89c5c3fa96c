#!/usr/bin/env python3
"""The Python package's figures, each against its reference measured in the same run.

1. ``neuropipe.dsp.Bandpass.process`` (1-40 Hz, order 4) on a (64, N) array, float32 and
   float64, against ``scipy.signal.sosfilt``: one-shot on the whole array, and chunked
   (32-frame chunks with ``zi`` carried, as a streaming consumer would). neuropipe is timed
   both on the whole array and chunked the same way (its state carries by itself).
2. Tap throughput: a 64-channel simulated EEG replayed as fast as it runs through a
   band-pass, read from a lossless tap into NumPy: MB/s of float64 arrays delivered.

Usage (from the repository root, after ``bash scripts/python_package.sh`` installed the wheel):

    .venv/bin/python scripts/python/bench.py [--frames 1000000] [--reps 3]

Throughput is in Ms/s = millions of channel-samples per second, best of ``--reps``.
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import datetime, timezone

import numpy as np
import scipy
import scipy.signal as sig

import neuropipe
from neuropipe import dsp

CH = 64
FS = 250.0
CHUNK = 32


def best(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def bench_filters(frames, reps):
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((CH, frames)) * 20.0
    sos = sig.butter(4, [1.0, 40.0], "bandpass", fs=FS, output="sos")
    chunked_frames = min(frames, 200_000)
    for dtype in (np.float32, np.float64):
        x = x64.astype(dtype)
        xc = x[:, :chunked_frames]
        n = CH * frames
        nc = CH * chunked_frames

        def np_whole():
            dsp.Bandpass(1.0, 40.0, order=4, fs=FS, channels=CH).process(x)

        def np_chunked():
            f = dsp.Bandpass(1.0, 40.0, order=4, fs=FS, channels=CH)
            for s in range(0, chunked_frames, CHUNK):
                f.process(xc[:, s:s + CHUNK])

        def sp_whole():
            sig.sosfilt(sos, x, axis=-1)

        def sp_chunked():
            z = np.zeros((sos.shape[0], CH, 2))
            for s in range(0, chunked_frames, CHUNK):
                _, z = sig.sosfilt(sos, xc[:, s:s + CHUNK], axis=-1, zi=z)

        t_np, t_npc = best(np_whole, reps), best(np_chunked, reps)
        t_sp, t_spc = best(sp_whole, reps), best(sp_chunked, reps)
        name = np.dtype(dtype).name
        print(f"band-pass {name}, (64, {frames}):")
        print(f"  neuropipe.dsp whole  {n / t_np / 1e6:8.1f} Ms/s   scipy one-shot {n / t_sp / 1e6:8.1f} Ms/s"
              f"   ratio {t_sp / t_np:5.2f}x")
        print(f"  neuropipe.dsp chunks {nc / t_npc / 1e6:8.1f} Ms/s   scipy chunked  {nc / t_spc / 1e6:8.1f} Ms/s"
              f"   ratio {t_spc / t_npc:5.2f}x   ({CHUNK}-frame chunks, zi carried)")


def bench_tap(seconds):
    cfg = {
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg",
             "params": {"channels": CH, "sample_rate": 1000, "frames": 32, "realtime": False,
                        "duration_s": seconds}},
            {"id": "uv", "type": "RawToVoltage"},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}},
            {"id": "end", "type": "ContinuityCheck"},
        ],
        "links": ["eeg -> uv", "uv -> bp", "bp -> end"],
    }
    p = neuropipe.Pipeline.from_json(cfg)
    tap = p.tap("bp", lossless=True)
    t0 = time.perf_counter()
    p.start()
    nbytes = frames = 0
    for c in tap:
        nbytes += c.data.nbytes
        frames += c.data.shape[1]
    dt = time.perf_counter() - t0
    p.wait()
    assert frames == seconds * 1000, frames
    print(f"tap (lossless) 64 ch x 1 kHz, 32-frame packets, {seconds} s of signal: "
          f"{nbytes / dt / 1e6:.0f} MB/s into NumPy ({frames / dt / 1e3:.0f} k frames/s, "
          f"{frames / 32 / dt:.0f} chunks/s, {seconds / dt:.0f}x real time)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tap-seconds", type=int, default=60)
    a = ap.parse_args()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_name()}, "
          f"neuropipe {neuropipe.__version__}, SciPy {scipy.__version__}, NumPy {np.__version__}")
    bench_filters(a.frames, a.reps)
    bench_tap(a.tap_seconds)


if __name__ == "__main__":
    main()
