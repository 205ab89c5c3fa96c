#!/usr/bin/env python3
"""Builds a two-stream XDF session byte by byte from the specification (not with neuropipe),
as LabRecorder would record an EEG amplifier and an accelerometer on LSL's clock: for the
test that replays each stream with its own FileReplay and checks that they keep their timing.

Usage: make_session.py OUT.xdf [reset]

"Session EEG": 4 float32 channels at 250 Hz, 375 samples from t = 1000.0 s (chunks of 25).
"Session accel": 3 double64 channels at 100 Hz, 100 samples, from another machine whose
clock is 2.5 s behind and drifts 10 ppm: stamped from 997.87 s on its own clock, with clock
offsets every 0.3 s (20 µs of noise, one 3 ms outlier) that put it at 1000.37 s on the
recorder's (chunks of 10, interleaved with the EEG's as they would arrive). "Session
markers": two markers. The EEG's and markers' clock offsets are 0 (the recording machine).
pyxdf reads the file back before it is kept.

With "reset", the accelerometer's machine restarts half-way (after its 50th sample, at
1000.87 s on the recorder's clock): its clock then reads 5.0 s, so its later stamps and
clock offsets (measured on its own clock, as LabRecorder does) jump, and pyxdf synchronises
each side with a line of its own.
"""

import struct
import sys

import numpy as np
import pyxdf

from make_reference import chunk, header, varlen


def samples(sid, stamps, values, fmt):
    c = struct.pack("<I", sid) + varlen(len(stamps))
    for t, row in zip(stamps, values):
        c += b"\x08" + struct.pack("<d", t) + row.astype(fmt).tobytes()
    return chunk(3, c)


# How far the accelerometer's clock jumps back at its restart (sample 50 then reads 5.0 s).
RESET = 993.37


def main(out, reset=False):
    rng = np.random.default_rng(11)
    eeg_t = 1000.0 + np.arange(375) / 250
    eeg = (rng.standard_normal((375, 4)) * 20).astype(np.float32)
    acc_true = 997.87 + np.arange(100) / 100
    acc_t = acc_true - np.where(np.arange(100) >= 50, RESET if reset else 0.0, 0.0)
    acc = rng.standard_normal((100, 3))
    body = b"XDF:" + chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    # The amplifier's identity, as an LSL app publishes it.
    eeg_header = header("Session EEG", "EEG", 4, 250, "float32", ["Fz", "Cz", "Pz", "Oz"])
    eeg_header = eeg_header.replace(b"<channel_count>", b"<source_id>amp-0042</source_id><channel_count>")
    eeg_header = eeg_header.replace(b"<desc>", b"<desc><manufacturer>ACME Neuro</manufacturer>")
    body += chunk(2, struct.pack("<I", 1) + eeg_header)
    body += chunk(2, struct.pack("<I", 2) + header("Session accel", "Accelerometer", 3, 100, "double64", ["x", "y", "z"]))
    body += chunk(2, struct.pack("<I", 3) + header("Session markers", "Markers", 1, 0, "string", []))
    # Chunks in arrival order: by the time of their last sample.
    parts = [(eeg_t[k + 24], samples(1, eeg_t[k:k + 25], eeg[k:k + 25], "<f4")) for k in range(0, 375, 25)]
    parts += [(acc_true[k + 9], samples(2, acc_t[k:k + 10], acc[k:k + 10], "<f8")) for k in range(0, 100, 10)]
    for t, text in [(1000.5, "start"), (1001.0, "probe")]:
        m = struct.pack("<I", 3) + varlen(1) + b"\x08" + struct.pack("<d", t) + varlen(len(text)) + text.encode()
        parts.append((t, chunk(3, m)))
    # Clock offsets: 0 for the recording machine's streams; the accelerometer's machine.
    for t in (999.9, 1004.9):
        parts += [(t, chunk(4, struct.pack("<Idd", sid, t, 0.0))) for sid in (1, 3)]
    for k, t in enumerate(np.arange(999.9, 1001.6, 0.3)):
        offset = 2.5 + 1e-5 * (t - 1000.0) + rng.normal(0, 20e-6) + (3e-3 if k == 2 else 0.0)
        measured = t
        if reset and t > 1000.87:
            # After the restart: measured on the machine's new clock, the offset RESET larger.
            measured, offset = t - 2.5 - RESET, offset + RESET
        parts.append((t, chunk(4, struct.pack("<Idd", 2, measured, offset))))
    for _, c in sorted(parts, key=lambda p: p[0]):
        body += c
    for sid in (1, 2, 3):
        body += chunk(6, struct.pack("<I", sid) + b'<?xml version="1.0"?><info></info>')
    with open(out, "wb") as f:
        f.write(body)
    streams, _ = pyxdf.load_xdf(out, synchronize_clocks=False, dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    assert np.array_equal(by_name["Session EEG"]["time_series"], eeg)
    assert np.array_equal(by_name["Session accel"]["time_stamps"], acc_t)


if __name__ == "__main__":
    main(sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == "reset")
