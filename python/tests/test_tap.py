"""Taps: NumPy chunks from any output, every frame in order (lossless) or counted drops."""

import numpy as np
import pytest

import neuropipe
from conftest import RATE, SECONDS


def replay(path, frames=25):
    return neuropipe.Pipeline.from_json(
        {
            "stages": [
                {
                    "id": "replay",
                    "type": "FileReplay",
                    "params": {"path": str(path), "realtime": False, "frames": frames, "sample_type": "f64"},
                },
                {"id": "hp", "type": "Highpass", "params": {"cutoff_hz": 1.0, "order": 2}},
                # Every output must lead somewhere; this sink also checks continuity.
                {"id": "check", "type": "ContinuityCheck"},
            ],
            "links": ["replay -> hp", "hp -> check"],
        }
    )


def test_a_lossless_tap_delivers_every_frame_of_a_fast_replay_in_order(recording):
    path, data = recording
    p = replay(path)
    raw = p.tap("replay", lossless=True, buffer=4)
    assert raw.ch_names[:2] == ["Fp1", "Fp2"] and raw.units[0] == "uV"
    assert raw.sample_rate == RATE
    p.start()
    chunks = list(raw)
    p.wait()
    firsts = [c.first_frame for c in chunks]
    sizes = [c.data.shape[1] for c in chunks]
    assert firsts == list(np.cumsum([0] + sizes[:-1])), "consecutive, none missing"
    got = np.concatenate([c.data for c in chunks], axis=1)
    assert got.shape == data.shape == (8, RATE * SECONDS)
    # The file's samples, exactly (0.1 µV steps decoded as the reader decodes them).
    np.testing.assert_allclose(got, data, rtol=0, atol=1e-9)
    assert raw.dropped == 0
    ts = np.concatenate([c.timestamps for c in chunks])
    np.testing.assert_allclose(np.diff(ts), 1.0 / RATE, rtol=1e-9)


def test_a_slow_reader_loses_the_oldest_chunks_counted_and_never_slows_the_pipeline(recording):
    path, _ = recording
    p = replay(path, frames=10)
    tap = p.tap("hp", buffer=3)
    report = p.run()  # nobody reads while it runs
    sent = next(s for s in report["stages"] if s["id"] == "hp")["packets_out"]
    left = list(tap)
    assert len(left) == 3
    # 250 packets of 10 frames, one of them cut in two at the annotation at 2.5 s.
    assert len(left) + tap.dropped == sent == RATE * SECONDS // 10 + 1
    # What is left is the newest, in order, up to the file's last frame.
    ends = [c.first_frame + c.data.shape[1] for c in left]
    assert [c.first_frame for c in left[1:]] == ends[:-1]
    assert ends[-1] == RATE * SECONDS


def test_tap_errors_and_closing(recording):
    path, _ = recording
    p = replay(path)
    with pytest.raises(neuropipe.TapError, match="no output `nope`"):
        p.tap("nope")
    t = p.tap("hp.out", lossless=True)
    with pytest.raises(neuropipe.TapError, match="already tapped"):
        p.tap("hp")
    assert p.outputs() == ["replay.out", "hp.out"]
    p.start()
    first = t.read(timeout=30)
    assert first is not None and first.first_frame == 0
    t.close()  # the pipeline no longer waits for this reader
    p.wait()
    assert t.read(timeout=0) is None
