#!/usr/bin/env python3
"""Write reference EDF+ and BDF+ files with edfio, for neuropipe's reader to read.

Usage:
    write_reference.py OUT_DIR

Writes into OUT_DIR, for KIND in edf and bdf:
    edfio.KIND          the file, written by edfio
    edfio.KIND.json     what it holds: labels, sample rates, start, annotations,
                        per-signal physical range and LSB, and the data files
    edfio.KIND.s<N>.f64 signal N as read back by edfio (little-endian float64)
    edfio.KIND.o<N>.f64 signal N as given to edfio before quantisation

Signals have different rates (256 Hz and 64 Hz) to exercise per-signal reading.
"""

import datetime as dt
import json
import pathlib
import sys

import numpy as np
import edfio


def signals(cls, digital_range):
    t256 = np.arange(256 * 4) / 256
    t64 = np.arange(64 * 4) / 64
    specs = [
        ("EEG Fp1", 256, 300 * np.sin(2 * np.pi * 10 * t256), (-3276.8, 3276.7)),
        ("EEG O2", 256, 150 * np.cos(2 * np.pi * 3 * t256) + 20, (-500.0, 500.0)),
        ("Resp", 64, 0.8 * np.sin(2 * np.pi * 0.25 * t64), (-1.0, 1.0)),
    ]
    out = []
    for label, rate, data, prange in specs:
        out.append((label, rate, data, prange,
                    cls(data, rate, label=label, physical_dimension="uV",
                        physical_range=prange, digital_range=digital_range)))
    return out


def write(kind, out_dir):
    if kind == "edf":
        container, sig_cls, drange = edfio.Edf, edfio.EdfSignal, (-32768, 32767)
    else:
        container, sig_cls, drange = edfio.Bdf, edfio.BdfSignal, (-8388608, 8388607)
    sigs = signals(sig_cls, drange)
    annotations = [
        edfio.EdfAnnotation(0.5, None, "eyes open"),
        edfio.EdfAnnotation(1.75, 0.5, "artifact"),
        edfio.EdfAnnotation(3.0, None, "stimulus ü"),
    ]
    rec = edfio.Recording(startdate=dt.date(2023, 11, 20))
    edf = container([s[4] for s in sigs], recording=rec, starttime=dt.time(8, 30, 15),
                    annotations=annotations)
    path = out_dir / f"edfio.{kind}"
    edf.write(path)
    back = edfio.read_bdf(path) if kind == "bdf" else edfio.read_edf(path)
    expect = {
        "format": kind,
        "labels": [s.label for s in back.signals],
        "sample_rates": [s.sampling_frequency for s in back.signals],
        "start": dt.datetime.combine(back.startdate, back.starttime).isoformat(),
        "annotations": [[a.onset, a.duration, a.text] for a in back.annotations],
        "physical_ranges": [list(s[3]) for s in sigs],
        "lsb": [(s[3][1] - s[3][0]) / (drange[1] - drange[0]) for s in sigs],
        "readback": [],
        "original": [],
    }
    for i, (s, (_, _, data, _, _)) in enumerate(zip(back.signals, sigs)):
        rb = out_dir / f"edfio.{kind}.s{i}.f64"
        og = out_dir / f"edfio.{kind}.o{i}.f64"
        np.asarray(s.data, dtype="<f8").tofile(rb)
        np.asarray(data, dtype="<f8").tofile(og)
        expect["readback"].append(rb.name)
        expect["original"].append(og.name)
    (out_dir / f"edfio.{kind}.json").write_text(json.dumps(expect, indent=1))
    print(f"wrote {path}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind in ("edf", "bdf"):
        write(kind, out_dir)


if __name__ == "__main__":
    main()
