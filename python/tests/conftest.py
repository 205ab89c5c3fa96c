"""Shared fixtures: recordings with known content, written by pyedflib (pinned)."""

import numpy as np
import pyedflib
import pytest

RATE = 250
SECONDS = 10
CHANNELS = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]


def write_edf(path, data_uv, rate=RATE, labels=CHANNELS, annotations=()):
    """An EDF+ file of `data_uv` (channels, times) in µV, with (onset, duration, text)
    annotations. The physical range maps one digital step to 0.1 µV: samples are written as
    digital values (`data_uv` must be on the 0.1 µV grid), so the file holds exactly them."""
    n = len(labels)
    with pyedflib.EdfWriter(str(path), n, file_type=pyedflib.FILETYPE_EDFPLUS) as w:
        headers = []
        for label in labels:
            headers.append(
                {
                    "label": label,
                    "dimension": "uV",
                    "sample_frequency": rate,
                    "physical_max": 3276.7,
                    "physical_min": -3276.8,
                    "digital_max": 32767,
                    "digital_min": -32768,
                }
            )
        w.setSignalHeaders(headers)
        for onset, duration, text in annotations:
            w.writeAnnotation(onset, duration, text)
        w.writeSamples([np.round(row * 10).astype(np.int32) for row in data_uv], digital=True)


@pytest.fixture(scope="session")
def recording(tmp_path_factory):
    """A 10 s, 8-channel, 250 Hz EDF+ file: every sample distinct (a ramp per channel plus a
    sine, on the 0.1 µV grid), two annotations. Returns (path, data_uv)."""
    t = np.arange(RATE * SECONDS)
    data = np.empty((len(CHANNELS), t.size))
    for c in range(len(CHANNELS)):
        data[c] = np.round((t % 5000) * 0.1 + 50 * np.sin(2 * np.pi * (c + 1) * t / RATE) + c, 1)
    path = tmp_path_factory.mktemp("edf") / "ramp.edf"
    write_edf(path, data, annotations=[(1.0, -1, "target"), (2.5, 0.5, "nontarget")])
    return path, data
