"""read_edf against MNE (pinned) on the same file."""

import mne
import numpy as np
import pytest

import neuropipe
from conftest import CHANNELS, RATE


def test_read_edf_equals_mne(recording):
    path, data = recording
    rec = neuropipe.read_edf(path)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    assert rec.ch_names == raw.ch_names == CHANNELS
    assert rec.units == ["uV"] * 8
    assert rec.sfreq == [RATE] * 8 and raw.info["sfreq"] == RATE
    # MNE converts µV to V; neuropipe keeps the file's unit.
    np.testing.assert_allclose(rec.data * 1e-6, raw.get_data(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(rec.data, data, rtol=0, atol=1e-9)
    assert [(round(o, 6), t) for o, _, t in rec.annotations] == [
        (round(o, 6), d) for o, d in zip(raw.annotations.onset, raw.annotations.description)
    ]
    assert rec.annotations[1][1] == pytest.approx(0.5)
    assert rec.variant == "continuous" and rec.format == "EDF"
    assert rec.times[-1] == pytest.approx((data.shape[1] - 1) / RATE)


def test_a_truncated_file_is_refused_with_the_byte_offset(recording, tmp_path):
    path, _ = recording
    bad = tmp_path / "cut.edf"
    bytes_ = path.read_bytes()
    bad.write_bytes(bytes_[:300])
    with pytest.raises(neuropipe.FileError, match="cut.edf") as e:
        neuropipe.read_edf(bad)
    assert "byte" in str(e.value)
