"""BrainFlowSource from Python: BrainFlow's synthetic board through its own library (found in
the brainflow package of the interpreter running neuropipe), as NumPy chunks."""

import numpy as np
import pytest

import neuropipe

brainflow = pytest.importorskip("brainflow")
from brainflow.board_shim import BoardShim  # noqa: E402


def test_the_synthetic_board_arrives_with_brainflows_names_every_frame_in_order():
    p = neuropipe.Pipeline.from_json(
        {
            "stages": [
                {"id": "board", "type": "BrainFlowSource", "params": {"board_id": -1, "frames": 10}},
                {"id": "check", "type": "ContinuityCheck"},
            ],
            "links": ["board.out -> check"],
        }
    )
    tap = p.tap("board.out", lossless=True)
    assert tap.ch_names == BoardShim.get_eeg_names(-1)
    assert tap.sample_rate == BoardShim.get_sampling_rate(-1)
    assert set(tap.units) == {"uV"}
    p.run(duration=1.5)
    chunks = list(tap)
    firsts = [c.first_frame for c in chunks]
    sizes = [c.data.shape[1] for c in chunks]
    assert sum(sizes) >= 250, "at least a second of data"
    assert firsts == list(np.cumsum([0] + sizes[:-1])), "consecutive, none lost"
    assert all(c.lost_frames == 0 for c in chunks)
    data = np.concatenate([c.data for c in chunks], axis=1)
    assert data.shape[0] == 16 and np.all(np.isfinite(data))
    # Packets carry BrainFlow's capture time of their first sample (the board's jitter shows
    # within a packet's nominal spacing, not between packet starts): they never go back.
    firsts_t = np.array([c.timestamps[0] for c in chunks])
    assert np.all(np.diff(firsts_t) >= 0)
    board = next(s for s in p.metrics()["stages"] if s["id"] == "board")
    assert board["readouts"]["values"][0][1] == 0  # lost


def test_a_missing_library_is_a_config_error_naming_the_path():
    p = neuropipe.Pipeline.from_json(
        {
            "stages": [
                {"id": "board", "type": "BrainFlowSource", "params": {"library": "/nonexistent/bf"}},
                {"id": "check", "type": "ContinuityCheck"},
            ],
            "links": ["board.out -> check"],
        }
    )
    with pytest.raises(neuropipe.ConfigError) as e:
        p.start()
    assert "/nonexistent/bf" in str(e.value) and "library" in str(e.value)
