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


def test_read_xdf_equals_pyxdf_on_a_recording_made_from_python(recording, tmp_path):
    import pyxdf

    path, data = recording
    out = tmp_path / "session.xdf"
    p = neuropipe.Pipeline.from_json(
        {
            "stages": [
                {"id": "replay", "type": "FileReplay", "params": {"path": str(path), "realtime": False}},
                {"id": "rec", "type": "XdfRecorder", "params": {"path": str(out)}},
            ],
            "links": ["replay -> rec"],
        }
    )
    p.run()
    streams = neuropipe.read_xdf(out)
    eeg = next(s for s in streams if s.data is not None)
    marks = next(s for s in streams if s.markers is not None)
    assert eeg.ch_names == CHANNELS and eeg.units[0] == "microvolts" and eeg.footer
    assert eeg.nominal_srate == RATE and eeg.channel_format == "float32"
    np.testing.assert_allclose(eeg.data, data, rtol=0, atol=1e-4)  # float32 in the file
    assert eeg.timestamps.shape == (data.shape[1],)
    texts = [t for _, t in marks.markers]
    assert "target" in texts and "nontarget" in texts

    ref, _ = pyxdf.load_xdf(str(out), synchronize_clocks=False, dejitter_timestamps=False)
    ref_eeg = next(s for s in ref if s["info"]["name"][0] == eeg.name)
    np.testing.assert_array_equal(eeg.data, np.asarray(ref_eeg["time_series"], dtype=np.float64).T)
    np.testing.assert_array_equal(eeg.timestamps, ref_eeg["time_stamps"])
    ref_marks = next(s for s in ref if s["info"]["name"][0] == marks.name)
    assert [m[0] for m in ref_marks["time_series"]] == texts
    np.testing.assert_array_equal([t for t, _ in marks.markers], ref_marks["time_stamps"])


def test_a_damaged_xdf_is_refused_with_the_byte_offset(tmp_path):
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(b"XDF:" + bytes([1, 4, 1, 0, 0, 0]) + b"<?xml")
    with pytest.raises(neuropipe.FileError, match="bad.xdf: byte"):
        neuropipe.read_xdf(bad)
