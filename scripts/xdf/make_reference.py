#!/usr/bin/env python3
"""Builds a small XDF file byte by byte from the specification (not with neuropipe), as a
reference for replay, checks that pyxdf reads it, and prints the expected content as JSON.

Usage: make_reference.py OUT.xdf

Stream 7: 3 int16 channels at 10 Hz, 12 samples in three chunks; the second chunk omits the
time stamps after its first sample (readers deduce them from the rate), and the third chunk
starts 4.3 s after the last sample before it (a 4.2 s gap). Stream 0x02C0FFEE: a marker stream
with three markers. Clock
offsets, a boundary chunk and both footers, as LabRecorder writes them.
"""

import json
import struct
import sys

import numpy as np
import pyxdf


def varlen(n):
    if n < 256:
        return bytes([1, n])
    if n < 2**32:
        return bytes([4]) + struct.pack("<I", n)
    return bytes([8]) + struct.pack("<Q", n)


def chunk(tag, content):
    return varlen(len(content) + 2) + struct.pack("<H", tag) + content


def header(name, kind, n, rate, fmt, labels):
    chans = "".join(
        f"<channel><label>{l}</label><unit>microvolts</unit><type>EEG</type></channel>" for l in labels
    )
    desc = f"<desc><channels>{chans}</channels></desc>" if labels else "<desc/>"
    return (
        f'<?xml version="1.0"?><info><name>{name}</name><type>{kind}</type>'
        f"<channel_count>{n}</channel_count><nominal_srate>{rate}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format><created_at>50942.72</created_at>{desc}</info>"
    ).encode()


def main(out):
    eeg, mk = 7, 0x02C0FFEE
    body = b"XDF:" + chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    body += chunk(2, struct.pack("<I", eeg) + header("Ref EEG", "EEG", 3, 10, "int16", ["Fz", "Cz", "Pz"]))
    body += chunk(2, struct.pack("<I", mk) + header("Ref markers", "Markers", 1, 0, "string", []))
    values = np.arange(36, dtype=np.int16).reshape(12, 3) * 7 - 100
    stamps = [5.0 + k / 10 for k in range(8)] + [10.0 + k / 10 for k in range(4)]

    def samples(rows, explicit):
        c = struct.pack("<I", eeg) + varlen(len(rows))
        for k, e in zip(rows, explicit):
            c += (b"\x08" + struct.pack("<d", stamps[k])) if e else b"\x00"
            c += values[k].astype("<i2").tobytes()
        return chunk(3, c)

    body += chunk(4, struct.pack("<Idd", eeg, 5.0, -0.01))
    body += samples(range(0, 4), [True] * 4)
    body += samples(range(4, 8), [True, False, False, False])
    markers = [(5.2, "start"), (5.75, "probe"), (10.3, "end")]
    m = struct.pack("<I", mk) + varlen(len(markers))
    for t, text in markers:
        m += b"\x08" + struct.pack("<d", t) + varlen(len(text)) + text.encode()
    body += chunk(3, m)
    body += chunk(5, bytes([0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F, 0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4]))
    body += samples(range(8, 12), [True] * 4)
    body += chunk(4, struct.pack("<Idd", eeg, 11.0, -0.01))
    for sid in (eeg, mk):
        body += chunk(6, struct.pack("<I", sid) + b'<?xml version="1.0"?><info><first_timestamp>5</first_timestamp></info>')
    with open(out, "wb") as f:
        f.write(body)
    streams, _ = pyxdf.load_xdf(out, synchronize_clocks=False, dejitter_timestamps=False)
    s = next(s for s in streams if s["info"]["name"][0] == "Ref EEG")
    assert np.array_equal(s["time_series"], values), "pyxdf reads the values"
    assert np.allclose(s["time_stamps"], stamps), "pyxdf deduces the omitted time stamps"
    # Markers on the nearest sample: 5.2 -> frame 2, 5.75 -> frame 7 (5.7, nearer than 10.0;
    # a tie goes to the earlier frame), 10.3 -> frame 11.
    print(json.dumps({"values": values.tolist(), "markers": [[2, "start"], [7, "probe"], [11, "end"]], "gap_after_frame": 7}))


if __name__ == "__main__":
    main(sys.argv[1])
