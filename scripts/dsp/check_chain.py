#!/usr/bin/env python3
"""Checks a neuropipe filter chain's output against SciPy computing in float64.

    check_chain.py --input IN.csv --output OUT.csv --chain CHAIN.json --dtype f32|f64

IN.csv is what a FileReplay read (timestamp_s + one column per channel), OUT.csv what a
CsvRecorder wrote after the chain. CHAIN.json lists the filters in order, as the pipeline
stages were configured, e.g.
    {"fs": 1000, "steady_state": true,
     "filters": [{"type": "highpass", "order": 4, "cutoff_hz": 0.1},
                 {"type": "bandpass", "order": 4, "low_hz": 1, "high_hz": 40},
                 {"type": "notch", "freq_hz": 50, "q": 30}]}

The reference is SciPy as people use it: butter/iirnotch coefficients in float64 and
sosfilt in float64 on the same input (for f32 pipelines: the float32 input, upcast), each
filter started in the steady state of its first input frame (sosfilt_zi * x[0]) when
steady_state is true, from zero otherwise. Targets (issue 9): f32 <= 1e-5 relative RMS error;
f64 <= 1e-10 relative to the output's peak, or within 1e-11 of the input's full scale when the
input's DC offset dwarfs the output. Prints one JSON line; exits 1 on a miss.
"""
import argparse
import json
import sys

import numpy as np
import scipy.signal as sig


def design(f, fs):
    t = f["type"]
    if t == "notch":
        b, a = sig.iirnotch(f["freq_hz"], f.get("q", 30.0), fs=fs)
        return np.concatenate([b, a])[None, :]
    if t in ("highpass", "lowpass"):
        return sig.butter(f.get("order", 4), f["cutoff_hz"], t, fs=fs, output="sos")
    return sig.butter(f.get("order", 4), [f["low_hz"], f["high_hz"]], t, fs=fs, output="sos")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--chain", required=True)
    p.add_argument("--dtype", choices=["f32", "f64"], required=True)
    a = p.parse_args()
    chain = json.load(open(a.chain))
    x = np.loadtxt(a.input, delimiter=",", skiprows=1, ndmin=2)[:, 1:]
    got = np.loadtxt(a.output, delimiter=",", skiprows=1, ndmin=2)[:, 1:]
    if a.dtype == "f32":
        x = x.astype(np.float32)
    y = x.astype(np.float64) if a.dtype == "f64" else x
    for f in chain["filters"]:
        sos = design(f, chain["fs"])
        if chain.get("steady_state", True):
            zi = sig.sosfilt_zi(sos)[:, :, None] * np.asarray(y[0], dtype=np.float64)[None, None, :]
            y, _ = sig.sosfilt(sos, y, axis=0, zi=zi)
        else:
            y = sig.sosfilt(sos, y, axis=0)
        assert y.dtype == np.float64
    if got.shape != y.shape:
        print(json.dumps({"ok": False, "problem": f"shape {got.shape} vs {y.shape}"}))
        return 1
    err = got - y
    out = {"dtype": a.dtype, "frames": int(y.shape[0]), "channels": int(y.shape[1])}
    if a.dtype == "f32":
        rel = float(np.sqrt(np.mean(err ** 2)) / np.sqrt(np.mean(y ** 2)))
        out.update(rel_rms=rel, ok=rel <= 1e-5)
    else:
        rel = float(np.max(np.abs(err)) / np.max(np.abs(y)))
        full = float(np.max(np.abs(err)) / np.max(np.abs(x)))
        out.update(rel_peak=rel, rel_full_scale=full, ok=rel <= 1e-10 or full <= 1e-11)
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
