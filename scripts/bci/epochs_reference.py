#!/usr/bin/env python3
"""Reference epochs from MNE for neuropipe's `Epoch` stage.

Usage:
    epochs_reference.py OUT_DIR

Writes into OUT_DIR:
    epochs.edf     EDF+ (written by edfio): 5 EEG channels and 1 EOG at 250 Hz, 30 s, with
                   "target"/"nontarget" annotations (on and between sample times), one at
                   the very start and one at the very end (their windows leave the data),
                   an unrelated annotation, an EEG artifact and an EOG blink (rejected);
    epochs.json    what mne.Epochs makes of it (read_raw_edf with infer_types, events from
                   the annotations, tmin=-0.2, tmax=0.5, baseline=(-0.2, 0),
                   reject=dict(eeg=150 uV, eog=250 uV)): per kept epoch its class, event
                   sample and data in uV (channels x times); the drop counts;
    epochs.f64     the kept epochs' data, little-endian float64, epochs x channels x times.

Deterministic (fixed seed). Versions: python/requirements.txt.
"""

import json
import pathlib
import sys

import edfio
import mne
import numpy as np

FS = 250
SECONDS = 30
TMIN, TMAX = -0.2, 0.5
REJECT_UV = {"eeg": 150.0, "eog": 250.0}


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n = FS * SECONDS
    t = np.arange(n) / FS
    eeg = [
        20 * np.sin(2 * np.pi * (6 + k) * t + k) + 10 * rng.standard_normal(n) + 15 * k
        for k in range(5)
    ]
    eog = 30 * np.sin(2 * np.pi * 0.3 * t) + 5 * rng.standard_normal(n)

    onsets, texts = [], []
    for i in range(26):
        onset = 1.0 + i * 1.1 + (0.0013 if i % 3 == 1 else 0.0) + (0.0061 if i % 5 == 2 else 0.0)
        onsets.append(round(onset, 6))
        texts.append("target" if i % 4 == 0 else "nontarget")
    # Windows leaving the data: MNE drops them (NO_DATA).
    onsets += [0.1, 29.9]
    texts += ["target", "nontarget"]
    # Not a class.
    onsets.append(5.55)
    texts.append("button")
    # An EEG artifact inside the epoch of event 6, a blink in event 11's.
    s6 = int(round(onsets[6] * FS))
    eeg[2][s6 + 20 : s6 + 30] += 180.0
    s11 = int(round(onsets[11] * FS))
    eog[s11 + 40 : s11 + 80] += 300.0 * np.hanning(40)

    signals = [
        edfio.EdfSignal(x, FS, label=f"EEG E{k + 1}", physical_dimension="uV",
                        physical_range=(-1000.0, 1000.0))
        for k, x in enumerate(eeg)
    ]
    signals.append(edfio.EdfSignal(eog, FS, label="EOG VEOG", physical_dimension="uV",
                                   physical_range=(-1000.0, 1000.0)))
    annotations = [edfio.EdfAnnotation(o, None, s) for o, s in zip(onsets, texts)]
    edf = edfio.Edf(signals, annotations=annotations)
    path = out / "epochs.edf"
    edf.write(path)

    raw = mne.io.read_raw_edf(path, preload=True, infer_types=True, verbose="error")
    event_id = {"target": 1, "nontarget": 2}
    events, _ = mne.events_from_annotations(raw, event_id=event_id, verbose="error")
    epochs = mne.Epochs(
        raw, events, event_id=event_id, tmin=TMIN, tmax=TMAX, baseline=(TMIN, 0),
        reject={k: v * 1e-6 for k, v in REJECT_UV.items()}, preload=True, verbose="error",
    )
    data = epochs.get_data(copy=True) * 1e6
    names = {v: k for k, v in event_id.items()}
    kept = [
        {"class": names[int(code)], "sample": int(sample)}
        for sample, _, code in epochs.events
    ]
    drops = [d for d in epochs.drop_log if d and d != ("IGNORED",)]
    summary = {
        "mne": mne.__version__,
        "channels": raw.ch_names,
        "types": raw.get_channel_types(),
        "times": len(epochs.times),
        "first_offset": int(round(TMIN * FS)),
        "kept": kept,
        # Windows starting before the data (NO_DATA) or running past its end (TOO_SHORT).
        "no_data": sum(1 for d in drops if d in (("NO_DATA",), ("TOO_SHORT",))),
        "rejected": sum(1 for d in drops if d not in (("NO_DATA",), ("TOO_SHORT",))),
        "rejected_channels": [list(d) for d in drops if d not in (("NO_DATA",), ("TOO_SHORT",))],
    }
    (out / "epochs.json").write_text(json.dumps(summary, indent=1))
    data.astype("<f8").tofile(out / "epochs.f64")
    print(f"{len(kept)} epochs kept, {summary['rejected']} rejected, {summary['no_data']} without data")


if __name__ == "__main__":
    main(sys.argv[1])
