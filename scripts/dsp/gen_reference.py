#!/usr/bin/env python3
"""Generate SciPy reference vectors for the neuropipe-dsp tests.

Run with the project venv (pinned numpy/scipy):

    PY=$(bash scripts/venv.sh | tail -1)
    $PY scripts/dsp/gen_reference.py

Writes crates/neuropipe-dsp/tests/data/*.ref. Deterministic: fixed seeds, no clock, no
randomness from the environment; rerunning gives byte-identical files for the same numpy/scipy.

File format ("refpack", parsed by crates/neuropipe-dsp/tests/common/mod.rs), little-endian:

    magic   8 bytes  b"NPREF\\x01\\x00\\x00"
    records until EOF, each:
      u16 name length, name (UTF-8)
      u8  dtype (0 = float64, 1 = float32)
      u8  ndim
      u32 dims[ndim]
      data (C order)

Record names are "<case>/<field>", e.g. "butter/12/sos".
"""

from __future__ import annotations

import struct
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy
import scipy.signal as sig

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "neuropipe-dsp" / "tests" / "data"

BTYPES = {"lowpass": 0, "highpass": 1, "bandpass": 2, "bandstop": 3}
WINDOWS = [  # (code, scipy window, kaiser beta or 0)
    (0, "hamming", 0.0),
    (1, "hann", 0.0),
    (2, "blackman", 0.0),
    (3, ("kaiser", 0.0), 0.0),
    (3, ("kaiser", 5.0), 5.0),
    (3, ("kaiser", 8.6), 8.6),
]


class Pack:
    def __init__(self) -> None:
        self.records: list[bytes] = []

    def add(self, name: str, arr) -> None:
        a = np.asarray(arr)
        if a.dtype == np.float32:
            code = 1
        else:
            a = a.astype(np.float64)
            code = 0
        a = np.ascontiguousarray(a)
        nb = name.encode()
        head = struct.pack("<H", len(nb)) + nb + struct.pack("<BB", code, a.ndim)
        head += b"".join(struct.pack("<I", d) for d in a.shape)
        self.records.append(head + a.astype(a.dtype.newbyteorder("<")).tobytes())

    def write(self, fname: str) -> int:
        data = b"NPREF\x01\x00\x00" + b"".join(self.records)
        (OUT / fname).write_bytes(data)
        return len(data)


def signal(seed: int, frames: int, channels: int, fs: float = 250.0) -> np.ndarray:
    """EEG-like test signal, shape (frames, channels): noise, drift, offset, 10 Hz and 50 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / fs
    noise = rng.standard_normal((frames, channels))
    drift = np.cumsum(rng.standard_normal((frames, channels)), axis=0) * 0.1
    offset = rng.uniform(-50.0, 50.0, channels)[None, :]
    alpha = 3.0 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6.28, channels))
    mains = 2.0 * np.sin(2 * np.pi * 50.0 * t + rng.uniform(0, 6.28, channels))
    return noise + drift + offset + alpha + mains


# ---------------------------------------------------------------------------------------------
# Designs


def sosfilt_zi_exact(sos: np.ndarray) -> np.ndarray:
    """sosfilt_zi in exact rational arithmetic on the (f64) coefficients, rounded once.

    SciPy solves each 2x2 system with LAPACK; for sections with poles very close to z = 1 the
    system is ill-conditioned and SciPy's result carries an error of cond * eps (up to ~1e-9
    relative). This gives the correctly rounded answer to compare against as well.
    """
    out = np.zeros((sos.shape[0], 2))
    scale = Fraction(1)
    for i, row in enumerate(sos):
        b0, b1, b2, a0, a1, a2 = (Fraction(float(v)) for v in row)
        r0, r1 = b1 - a1 * b0, b2 - a2 * b0
        z0 = (r0 + r1) / (1 + a1 + a2)
        out[i] = [float(scale * z0), float(scale * (r1 - a2 * z0))]
        scale *= (b0 + b1 + b2) / (a0 + a1 + a2)
    return out


def butter_grid() -> list[tuple[str, float, tuple[float, ...]]]:
    return [
        ("lowpass", 250.0, (40.0,)),
        ("lowpass", 1000.0, (0.5,)),
        ("lowpass", 500.0, (200.0,)),
        ("lowpass", 2048.0, (100.3,)),
        ("highpass", 250.0, (1.0,)),
        ("highpass", 250.0, (0.1,)),
        ("highpass", 1000.0, (300.0,)),
        ("highpass", 500.0, (240.0,)),
        ("bandpass", 250.0, (1.0, 40.0)),
        ("bandpass", 250.0, (8.0, 13.0)),
        ("bandpass", 1000.0, (0.5, 100.0)),
        ("bandpass", 500.0, (40.0, 200.0)),
        ("bandpass", 2048.0, (0.1, 1000.0)),
        ("bandstop", 250.0, (48.0, 52.0)),
        ("bandstop", 1000.0, (45.0, 55.0)),
        ("bandstop", 500.0, (1.0, 240.0)),
        ("bandstop", 250.0, (5.0, 100.0)),
    ]


def gen_designs() -> int:
    p = Pack()
    i = 0
    for btype, fs, edges in butter_grid():
        for order in range(1, 11):
            wn = edges[0] if len(edges) == 1 else list(edges)
            sos = sig.butter(order, wn, btype=btype, fs=fs, output="sos")
            f2 = edges[1] if len(edges) == 2 else 0.0
            p.add(f"butter/{i}/params", [BTYPES[btype], order, fs, edges[0], f2])
            p.add(f"butter/{i}/sos", sos)
            p.add(f"butter/{i}/zi", sig.sosfilt_zi(sos))
            p.add(f"butter/{i}/zi_exact", sosfilt_zi_exact(sos))
            i += 1

    # Band edges symmetric about fs/4 give pole pairs of equal radius: their section order is
    # decided by the last bit of rounding (even SciPy's order depends on the CPU's SIMD tan and
    # hypot). Stored separately; the tests compare them up to section order.
    ties = [
        ("bandpass", 250.0, (1.0, 124.0), 4),
        ("bandstop", 1.0, (0.1, 0.4), 6),
        ("bandpass", 128.0, (10.24668528170621, 53.753314718293794), 6),
        ("bandpass", 2.0, (0.2, 0.8), 7),
        ("bandstop", 2048.0, (273.71900097773846, 750.2809990222615), 6),
    ]
    for i, (btype, fs, edges, order) in enumerate(ties):
        sos = sig.butter(order, list(edges), btype=btype, fs=fs, output="sos")
        p.add(f"butter_tie/{i}/params", [BTYPES[btype], order, fs, edges[0], edges[1]])
        p.add(f"butter_tie/{i}/sos", sos)

    i = 0
    for fs in (250.0, 500.0, 1000.0):
        for w0 in (1.0, 17.3, 50.0, 60.0, 100.0):
            for q in (0.5, 1.0, 10.0, 30.0, 100.0):
                for kind, fn in ((0, sig.iirnotch), (1, sig.iirpeak)):
                    b, a = fn(w0, q, fs=fs)
                    p.add(f"notch/{i}/params", [kind, w0, q, fs])
                    p.add(f"notch/{i}/sos", np.concatenate([b, a])[None, :])
                    i += 1

    for i, (base, q, fs) in enumerate([(50.0, 30.0, 250.0), (60.0, 35.0, 1000.0), (50.0, 10.0, 500.0)]):
        rows = []
        k = 1
        while k * base < fs / 2:
            b, a = sig.iirnotch(k * base, q, fs=fs)
            rows.append(np.concatenate([b, a]))
            k += 1
        sos = np.array(rows)
        p.add(f"harmonics/{i}/params", [base, q, fs])
        p.add(f"harmonics/{i}/sos", sos)
        p.add(f"harmonics/{i}/zi", sig.sosfilt_zi(sos))

    # firwin grid; invalid combinations are recorded as expected errors.
    i = 0
    j = 0
    cutoff_sets = [(250.0, (40.0,)), (250.0, (0.5,)), (1000.0, (8.0, 13.0)), (250.0, (5.0, 20.0, 60.0))]
    for code, window, beta in WINDOWS:
        for pass_zero in (True, False):
            for numtaps in (1, 2, 11, 64, 101, 255):
                for fs, cutoffs in cutoff_sets:
                    params = [code, beta, float(pass_zero), numtaps, fs, *cutoffs]
                    try:
                        with np.errstate(invalid="ignore", divide="ignore"):
                            h = sig.firwin(numtaps, list(cutoffs), window=window, pass_zero=pass_zero,
                                           fs=fs)
                        if not np.all(np.isfinite(h)):
                            # SciPy returns NaN taps (zero gain to normalise); neuropipe rejects.
                            raise ValueError("non-finite taps")
                    except ValueError:
                        p.add(f"firwin_err/{j}/params", params)
                        j += 1
                        continue
                    p.add(f"firwin/{i}/params", params)
                    p.add(f"firwin/{i}/taps", h)
                    i += 1
    return p.write("designs.ref")


# ---------------------------------------------------------------------------------------------
# Filtering

SIGNALS = [  # (seed, frames, channels)
    (1, 2000, 1),
    (2, 600, 3),
    (3, 300, 8),
    (4, 120, 64),
]


def filters() -> list[tuple[str, np.ndarray]]:
    return [
        ("bandpass_1_40_o4", sig.butter(4, [1.0, 40.0], btype="bandpass", fs=250.0, output="sos")),
        ("highpass_0.5_o2", sig.butter(2, 0.5, btype="highpass", fs=250.0, output="sos")),
        ("lowpass_30_o8", sig.butter(8, 30.0, btype="lowpass", fs=250.0, output="sos")),
        ("bandstop_45_55_o3", sig.butter(3, [45.0, 55.0], btype="bandstop", fs=250.0, output="sos")),
        ("notch_50_q30", np.concatenate(sig.iirnotch(50.0, 30.0, fs=250.0))[None, :]),
    ]


def gen_sosfilt() -> int:
    p = Pack()
    for seed, frames, channels in SIGNALS:
        x = signal(seed, frames, channels)
        p.add(f"signal/{seed}/x", x)
    for fi, (name, sos) in enumerate(filters()):
        p.add(f"filter/{fi}/sos", sos)
        for seed, frames, channels in SIGNALS:
            x = signal(seed, frames, channels)
            y = sig.sosfilt(sos, x, axis=0)
            p.add(f"sosfilt/{fi}/{seed}/f64", y)
            # f32 data as users filter it: f64 coefficients, so SciPy computes in f64.
            x32 = x.astype(np.float32)
            y32 = sig.sosfilt(sos, x32, axis=0)
            assert y32.dtype == np.float64
            p.add(f"sosfilt/{fi}/{seed}/f32in", y32)
            if fi > 1:
                continue
            # Steady-state start: zi = sosfilt_zi(sos) * x[0] per channel.
            zi = sig.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
            y_ss, _ = sig.sosfilt(sos, x, axis=0, zi=zi)
            p.add(f"sosfilt_ss/{fi}/{seed}/f64", y_ss)
    return p.write("sosfilt.ref")


# (name, fs, seconds, channels, sos): the filters EEG uses most, at 500-2000 Hz, including
# sub-Hz high-passes, which f32 coefficients or f32 state get badly wrong.
PRECISION = [
    ("highpass_0.5_o2", 500.0, 5, 8, lambda fs: sig.butter(2, 0.5, "highpass", fs=fs, output="sos")),
    ("highpass_0.1_o4", 1000.0, 5, 6, lambda fs: sig.butter(4, 0.1, "highpass", fs=fs, output="sos")),
    ("highpass_0.05_o2", 2000.0, 5, 4, lambda fs: sig.butter(2, 0.05, "highpass", fs=fs, output="sos")),
    ("bandpass_0.1_40_o4", 1000.0, 5, 6,
     lambda fs: sig.butter(4, [0.1, 40.0], "bandpass", fs=fs, output="sos")),
    ("bandpass_0.5_100_o2", 2000.0, 5, 4,
     lambda fs: sig.butter(2, [0.5, 100.0], "bandpass", fs=fs, output="sos")),
    ("lowpass_40_o8", 2000.0, 5, 4, lambda fs: sig.butter(8, 40.0, "lowpass", fs=fs, output="sos")),
    ("bandstop_48_52_o2", 1000.0, 5, 6,
     lambda fs: sig.butter(2, [48.0, 52.0], "bandstop", fs=fs, output="sos")),
    ("notch_50_q30", 1000.0, 5, 6, lambda fs: np.concatenate(sig.iirnotch(50.0, 30.0, fs=fs))[None, :]),
    ("notch_60_q35", 2000.0, 5, 4, lambda fs: np.concatenate(sig.iirnotch(60.0, 35.0, fs=fs))[None, :]),
]


def eeg_with_offsets(seed: int, frames: int, channels: int, fs: float) -> np.ndarray:
    """~15 uV RMS of EEG-like signal riding on +-20 mV electrode offsets with slow drift (uV)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / fs
    offset = rng.uniform(-20000.0, 20000.0, channels)[None, :]
    drift = 40.0 * np.sin(2 * np.pi * 0.03 * t + rng.uniform(0, 6.28, channels))
    alpha = 12.0 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6.28, channels))
    noise = 8.0 * rng.standard_normal((frames, channels))
    return offset + drift + alpha + noise


def gen_precision() -> int:
    """f32 input, SciPy in f64 (f64 coefficients): the designed filter's true response.

    References are stored as float32 (adds ~6e-8 relative error, far below the 1e-5 target)
    to keep the file small; inputs are float32 by construction.
    """
    p = Pack()
    for i, (name, fs, seconds, channels, design) in enumerate(PRECISION):
        sos = design(fs)
        x32 = eeg_with_offsets(100 + i, int(fs * seconds), channels, fs).astype(np.float32)
        y0 = sig.sosfilt(sos, x32, axis=0)
        zi = sig.sosfilt_zi(sos)[:, :, None] * x32[0].astype(np.float64)[None, None, :]
        yss, _ = sig.sosfilt(sos, x32, axis=0, zi=zi)
        assert y0.dtype == np.float64 and yss.dtype == np.float64
        p.add(f"precision/{i}/fs", [fs])
        p.add(f"precision/{i}/sos", sos)
        p.add(f"precision/{i}/x", x32)
        p.add(f"precision/{i}/zero", y0.astype(np.float32))
        p.add(f"precision/{i}/steady", yss.astype(np.float32))
    return p.write("precision.ref")


def fir_designs() -> list[np.ndarray]:
    return [
        sig.firwin(101, 40.0, window="hamming", fs=250.0),
        sig.firwin(50, [8.0, 30.0], window="blackman", pass_zero=False, fs=250.0),
        sig.firwin(31, 1.0, window=("kaiser", 8.6), pass_zero=False, fs=250.0),
    ]


def gen_fir() -> int:
    p = Pack()
    for seed, frames, channels in SIGNALS[:3] + [(4, 120, 64)]:
        p.add(f"signal/{seed}/x", signal(seed, frames, channels))
    for ti, taps in enumerate(fir_designs()):
        p.add(f"fir/{ti}/taps", taps)
        for seed, frames, channels in SIGNALS:
            x = signal(seed, frames, channels)
            p.add(f"lfilter/{ti}/{seed}/f64", sig.lfilter(taps, [1.0], x, axis=0))
            y32 = sig.lfilter(taps.astype(np.float32), np.float32([1.0]), x.astype(np.float32), axis=0)
            assert y32.dtype == np.float32
            p.add(f"lfilter/{ti}/{seed}/f32", y32)
            if ti > 0:
                continue
            zi = sig.lfilter_zi(taps, [1.0])[:, None] * x[0][None, :]
            y_ss, _ = sig.lfilter(taps, [1.0], x, axis=0, zi=zi)
            p.add(f"lfilter_ss/{ti}/{seed}/f64", y_ss)

    # resample_poly(x, 1, q) on two signals.
    for seed, frames, channels in [(5, 1500, 3), (6, 997, 1)]:
        x = signal(seed, frames, channels, fs=1000.0)
        p.add(f"rsignal/{seed}/x", x)
        for q in (2, 3, 4, 5, 8):
            p.add(f"resample/{seed}/{q}/y", sig.resample_poly(x, 1, q, axis=0))
            if seed == 5:
                half_len = 10 * q
                p.add(f"resample_taps/{q}", sig.firwin(2 * half_len + 1, 1.0 / q, window=("kaiser", 5.0)))
    return p.write("fir.ref")


# Rational resampling: resample_poly(x, up, down) for the rate pairs EEG sessions mix
# (accelerometer 100 Hz or 50 Hz onto EEG 250 Hz, 250 Hz onto 1 kHz and back, 512 Hz onto
# 500 Hz, 256 Hz onto 250 Hz).
RESAMPLE = [(5, 2), (2, 5), (4, 1), (3, 2), (125, 128), (1, 3), (5, 1)]


def gen_resample() -> int:
    p = Pack()
    for seed, frames, channels in [(7, 600, 3), (8, 311, 1)]:
        x = signal(seed, frames, channels, fs=250.0)
        p.add(f"signal/{seed}/x", x)
        for up, down in RESAMPLE:
            p.add(f"resample/{seed}/{up}/{down}/y", sig.resample_poly(x, up, down, axis=0))
            if seed == 7:
                m = max(up, down)
                h = sig.firwin(2 * 10 * m + 1, 1.0 / m, window=("kaiser", 5.0)) * up
                p.add(f"taps/{up}/{down}", h)
    return p.write("resample.ref")


# ---------------------------------------------------------------------------------------------
# Spectra


def gen_welch() -> int:
    p = Pack()
    cases = [  # (seed, len, fs, nperseg, noverlap)
        (7, 1000, 250.0, 256, 128),
        (8, 2500, 250.0, 250, 125),
        (9, 777, 500.0, 128, 0),
        (10, 1000, 250.0, 255, 100),
        (11, 300, 1000.0, 64, 48),
        (12, 256, 250.0, 256, 128),
    ]
    for i, (seed, n, fs, nperseg, noverlap) in enumerate(cases):
        x = signal(seed, n, 1, fs=fs)[:, 0]
        f, pxx = sig.welch(x, fs=fs, window="hann", nperseg=nperseg, noverlap=noverlap,
                           detrend="constant", scaling="density")
        p.add(f"welch/{i}/params", [fs, nperseg, noverlap])
        p.add(f"welch/{i}/x", x)
        p.add(f"welch/{i}/f", f)
        p.add(f"welch/{i}/psd", pxx)

    # Band power: window 500, hop 125, nperseg 250, noverlap 125, default bands, 4 channels.
    fs, window, hop, nperseg, noverlap = 250.0, 500, 125, 250, 125
    bands = [(1.0, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0), (30.0, 45.0)]
    x = signal(13, 1400, 4, fs=fs)
    ends = list(range(window, x.shape[0] + 1, hop))
    powers = np.zeros((len(ends), x.shape[1], len(bands)))
    for e, end in enumerate(ends):
        f, pxx = sig.welch(x[end - window:end], fs=fs, window="hann", nperseg=nperseg,
                           noverlap=noverlap, detrend="constant", scaling="density", axis=0)
        df = f[1] - f[0]
        for b, (lo, hi) in enumerate(bands):
            mask = (f >= lo) & (f < hi)
            powers[e, :, b] = pxx[mask].sum(axis=0) * df
    p.add("bandpower/params", [fs, window, hop, nperseg, noverlap])
    p.add("bandpower/x", x)
    p.add("bandpower/ends", np.array(ends, dtype=np.float64))
    p.add("bandpower/powers", powers)
    return p.write("welch.ref")


def main() -> None:
    print(f"numpy {np.__version__}, scipy {scipy.__version__}", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    total = 0
    for gen in (gen_designs, gen_sosfilt, gen_precision, gen_fir, gen_resample, gen_welch):
        n = gen()
        total += n
        print(f"{gen.__name__}: {n / 1024:.0f} KiB", file=sys.stderr)
    print(f"total {total / 1024:.0f} KiB in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
