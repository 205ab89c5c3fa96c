#!/usr/bin/env python3
"""Check that EDF+/BDF+ files open in MNE, pyedflib and edfio with the expected content.

Usage:
    check_edf.py FILE --expect EXPECT.json [FILE --expect EXPECT.json ...]

EXPECT.json (paths relative to the JSON file's folder):
    {
      "format": "edf" | "bdf",
      "labels": ["EEG Fp1", ...],
      "sample_rate": 256.0,
      "n_samples": 1536,                      # per channel
      "start": "2024-03-05T14:07:09",         # UTC, whole seconds
      "unit": "uV",
      "annotations": [[onset_s, duration_s_or_null, "text"], ...],
      "data": "FILE.f64",                     # little-endian float64, channel after channel
      "lsb": [0.1, ...]                       # physical units per digital step, per channel
    }

Every reader must report the same labels, rate, sample count, start time and
annotations, and data within 0.5 LSB of the expected values. Prints one line
per check and exits with status 1 if any check failed.
"""

import argparse
import datetime as dt
import json
import pathlib
import sys
import warnings

import numpy as np

UNIT_SCALE = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "nV": 1e-9}


class Checker:
    def __init__(self):
        self.failures = 0

    def check(self, what, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}")
        if not ok:
            self.failures += 1

    def data(self, what, got, want, lsb):
        got = np.asarray(got, dtype=np.float64)
        if got.shape != want.shape:
            self.check(what, False, f"shape {got.shape}, expected {want.shape}")
            return
        # 0.5 LSB of quantisation, plus float rounding slack.
        tol = 0.5 * lsb[:, None] * (1 + 1e-9) + 1e-12 * np.abs(want)
        err = np.abs(got - want)
        worst = np.unravel_index(np.argmax(err - tol), err.shape)
        ok = bool(np.all(err <= tol))
        self.check(what, ok, f"channel {worst[0]} sample {worst[1]}: {got[worst]} vs {want[worst]} "
                             f"(|diff| {err[worst]:.3g} > {tol[worst]:.3g})")

    def annotations(self, what, got, want):
        def norm(items):
            return sorted(((round(float(o), 6), None if d is None else round(float(d), 6), str(t))
                           for o, d, t in items),
                          key=lambda a: (a[0], -1.0 if a[1] is None else a[1], a[2]))
        g, w = norm(got), norm(want)
        self.check(what, g == w, f"got {g}, expected {w}")


def check_mne(c, path, exp, want):
    import mne
    name = "mne"
    read = mne.io.read_raw_bdf if exp["format"] == "bdf" else mne.io.read_raw_edf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = read(str(path), preload=True, verbose="error")
    c.check(f"{name}: labels", raw.ch_names == exp["labels"], f"{raw.ch_names}")
    c.check(f"{name}: sample rate", raw.info["sfreq"] == exp["sample_rate"], f"{raw.info['sfreq']}")
    c.check(f"{name}: sample count", raw.n_times == exp["n_samples"], f"{raw.n_times}")
    start = dt.datetime.fromisoformat(exp["start"]).replace(tzinfo=dt.timezone.utc)
    c.check(f"{name}: start", raw.info["meas_date"] == start, f"{raw.info['meas_date']}")
    scale = UNIT_SCALE[exp["unit"]]
    c.data(f"{name}: data", raw.get_data() / scale, want, np.asarray(exp["lsb"]))
    got = [(a["onset"], a["duration"] if a["duration"] > 0 else None, a["description"])
           for a in raw.annotations]
    # MNE reports a missing duration as 0.
    expected = [(o, d if d else None, t) for o, d, t in exp["annotations"]]
    c.annotations(f"{name}: annotations", got, expected)


def check_pyedflib(c, path, exp, want):
    import pyedflib
    name = "pyedflib"
    f = pyedflib.EdfReader(str(path))
    try:
        n = f.signals_in_file
        labels = [f.getLabel(i) for i in range(n)]
        c.check(f"{name}: labels", labels == exp["labels"], f"{labels}")
        rates = [f.getSampleFrequency(i) for i in range(n)]
        c.check(f"{name}: sample rate", all(r == exp["sample_rate"] for r in rates), f"{rates}")
        counts = list(f.getNSamples())
        c.check(f"{name}: sample count", all(k == exp["n_samples"] for k in counts), f"{counts}")
        start = dt.datetime.fromisoformat(exp["start"])
        c.check(f"{name}: start", f.getStartdatetime() == start, f"{f.getStartdatetime()}")
        units = [f.getPhysicalDimension(i) for i in range(n)]
        c.check(f"{name}: units", all(u == exp["unit"] for u in units), f"{units}")
        got = np.vstack([f.readSignal(i) for i in range(n)])
        c.data(f"{name}: data", got, want, np.asarray(exp["lsb"]))
        onsets, durations, texts = f.readAnnotations()
        got = [(o, d if d > 0 else None, t) for o, d, t in zip(onsets, durations, texts)]
        expected = [(o, d if d else None, t) for o, d, t in exp["annotations"]]
        c.annotations(f"{name}: annotations", got, expected)
    finally:
        f.close()


def check_edfio(c, path, exp, want):
    import edfio
    name = "edfio"
    edf = edfio.read_bdf(path) if exp["format"] == "bdf" else edfio.read_edf(path)
    labels = [s.label for s in edf.signals]
    c.check(f"{name}: labels", labels == exp["labels"], f"{labels}")
    rates = [s.sampling_frequency for s in edf.signals]
    c.check(f"{name}: sample rate", all(r == exp["sample_rate"] for r in rates), f"{rates}")
    counts = [len(s.data) for s in edf.signals]
    c.check(f"{name}: sample count", all(k == exp["n_samples"] for k in counts), f"{counts}")
    start = dt.datetime.fromisoformat(exp["start"])
    got_start = dt.datetime.combine(edf.startdate, edf.starttime)
    c.check(f"{name}: start", got_start == start, f"{got_start}")
    c.data(f"{name}: data", np.vstack([s.data for s in edf.signals]), want, np.asarray(exp["lsb"]))
    got = [(a.onset, a.duration, a.text) for a in edf.annotations]
    c.annotations(f"{name}: annotations", got, [tuple(a) for a in exp["annotations"]])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="+", help="EDF/BDF file, each followed by --expect JSON")
    parser.add_argument("--expect", action="append", required=True, help="expectations JSON")
    args = parser.parse_intermixed_args()
    if len(args.file) != len(args.expect):
        parser.error(f"{len(args.file)} files but {len(args.expect)} --expect files")
    c = Checker()
    for file, expect in zip(args.file, args.expect):
        path = pathlib.Path(file)
        exp_path = pathlib.Path(expect)
        exp = json.loads(exp_path.read_text())
        want = np.fromfile(exp_path.parent / exp["data"], dtype="<f8").reshape(len(exp["labels"]), -1)
        print(f"== {path}")
        for check in (check_mne, check_pyedflib, check_edfio):
            try:
                check(c, path, exp, want)
            except Exception as e:  # a reader refusing the file is a failure, not a crash
                c.check(f"{check.__name__[6:]}: opens the file", False, f"{type(e).__name__}: {e}")
    print(f"{c.failures} checks failed")
    sys.exit(1 if c.failures else 0)


if __name__ == "__main__":
    main()
