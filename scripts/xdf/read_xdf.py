#!/usr/bin/env python3
"""Reads an XDF file with pyxdf (clock synchronisation and dejittering on, as users load
LabRecorder files) and prints what it found as JSON, for the Rust tests to compare with
what neuropipe wrote.

Usage: read_xdf.py FILE.xdf [OUT.f64 [synced]]

JSON: per stream (in file order): name, type, channel_format, nominal_srate, channel
labels/units/types, sample count, whether it has a footer, the time stamps (numeric
streams: first, last, and the largest deviation of the dejittered stamps from the raw
ones), and for string streams every (time stamp, text). With OUT.f64, the first numeric
stream's samples are written there as little-endian float64, frame-major, followed by its
raw time stamps (each further numeric stream's to OUT.f64.1, OUT.f64.2, ... alike; with
"synced", the stamps pyxdf gives with clock synchronisation and without dejittering); and the stream is loaded into MNE (mne.io.RawArray, volts from the unit)
to report the channel names and types MNE sees.
"""

import json
import sys

import numpy as np
import pyxdf


def main(path, out=None, synced=False):
    raw_streams, _ = pyxdf.load_xdf(path, synchronize_clocks=False, dejitter_timestamps=False)
    if synced:
        raw_streams, _ = pyxdf.load_xdf(path, synchronize_clocks=True, dejitter_timestamps=False)
    streams, header = pyxdf.load_xdf(path, synchronize_clocks=True, dejitter_timestamps=True)
    raw_by_id = {s["info"]["stream_id"]: s for s in raw_streams}
    report = {"file_header": header["info"]["version"][0], "streams": []}
    first_numeric = None
    numeric = 0
    for s in streams:
        info = s["info"]
        name = info["name"][0]
        desc = info["desc"][0] if info.get("desc") and isinstance(info["desc"][0], dict) else {}
        chans = desc.get("channels", [{}])[0] or {}
        chans = chans.get("channel", []) if isinstance(chans, dict) else []
        entry = {
            "name": name,
            "type": info["type"][0],
            "channel_format": info["channel_format"][0],
            "nominal_srate": float(info["nominal_srate"][0]),
            "labels": [c["label"][0] for c in chans],
            "units": [c["unit"][0] for c in chans],
            "types": [c["type"][0] for c in chans],
            "filters": (desc.get("filters") or [None])[0],
            "manufacturer": (desc.get("manufacturer") or [None])[0],
            "samples": int(len(s["time_stamps"])),
            "footer": "footer" in s,
            "measured_srate": next((float(m[0]) for m in [((s.get("footer") or {}).get("info") or {}).get("measured_srate")] if m), None),
        }
        ts = np.asarray(s["time_stamps"])
        raw_ts = np.asarray(raw_by_id[info["stream_id"]]["time_stamps"])
        if info["channel_format"][0] == "string":
            entry["markers"] = [[float(t), v[0]] for t, v in zip(raw_ts, s["time_series"])]
        elif len(ts):
            entry["first"] = float(raw_ts[0])
            entry["last"] = float(raw_ts[-1])
            entry["dejitter_max_dev"] = float(np.max(np.abs(ts - raw_ts)))
            entry["monotonic"] = bool(np.all(np.diff(raw_ts) > 0))
            if first_numeric is None:
                first_numeric = (s, raw_ts, entry)
            elif out:
                with open(f"{out}.{numeric}", "wb") as f:
                    f.write(np.asarray(s["time_series"], dtype=np.float64).astype("<f8").tobytes())
                    f.write(raw_ts.astype("<f8").tobytes())
            numeric += 1
            entry["source_id"] = (info.get("source_id") or [None])[0]
        report["streams"].append(entry)
    if out and first_numeric is not None:
        s, raw_ts, entry = first_numeric
        data = np.asarray(s["time_series"], dtype=np.float64)
        with open(out, "wb") as f:
            f.write(data.astype("<f8").tobytes())
            f.write(raw_ts.astype("<f8").tobytes())
        import mne

        scale = {"microvolts": 1e-6, "millivolts": 1e-3, "volts": 1.0}
        types = [t.lower() if t.lower() in ("eeg", "eog", "emg", "ecg", "misc") else "misc" for t in entry["types"]]
        factors = np.array([scale.get(u, 1.0) for u in entry["units"]])
        raw = mne.io.RawArray((data * factors).T, mne.create_info(entry["labels"], entry["nominal_srate"], types), verbose="error")
        report["mne"] = {
            "ch_names": raw.ch_names,
            "ch_types": raw.get_channel_types(),
            "sfreq": float(raw.info["sfreq"]),
            "n_times": int(raw.n_times),
            "max_abs_volts": float(np.max(np.abs(raw.get_data()))) if raw.n_times else 0.0,
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None, len(sys.argv) > 3 and sys.argv[3] == "synced")
