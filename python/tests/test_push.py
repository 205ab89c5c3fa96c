"""PushSource: NumPy arrays pushed into a running pipeline, with backpressure or counted drops."""

import time

import numpy as np
import pytest

import neuropipe


def frames_in(report, stage):
    return next(s for s in report["stages"] if s["id"] == stage)["frames_in"]


def pipeline(on_full="block", buffer=64, frames=8):
    return neuropipe.Pipeline.from_json(
        {
            "stages": [
                {"id": "src", "type": "PushSource",
                 "params": {"channels": 3, "sample_rate": 100, "frames": frames, "buffer": buffer,
                            "on_full": on_full, "sample_type": "f64"}},
                {"id": "end", "type": "ContinuityCheck"},
            ],
            "links": ["src -> end"],
        }
    )


def test_pushed_frames_arrive_exactly_with_their_timestamps():
    p = pipeline()
    tap = p.tap("src", lossless=True)
    p.start()
    x = np.arange(3 * 250, dtype=np.float64).reshape(3, 250)
    t0 = p.now()
    assert p.push("src", x[:, :100], timestamp=t0) == 100
    assert p.push("src", x[:, 100:]) == 150  # default stamps: right after the first push
    with pytest.raises(ValueError, match="not after the previous push"):
        p.push("src", x[:, :1], timestamp=t0)
    p.end_stream("src")
    chunks = list(tap)
    report = p.wait()
    got = np.concatenate([c.data for c in chunks], axis=1)
    np.testing.assert_array_equal(got, x)
    assert max(c.data.shape[1] for c in chunks) == 8
    # A packet never spans two pushes; the second continues the first at the nominal rate.
    stamps = np.concatenate([c.timestamps for c in chunks])
    np.testing.assert_allclose(stamps, t0 + np.arange(250) / 100, atol=1e-6)
    assert [c.first_frame for c in chunks] == sorted(c.first_frame for c in chunks)
    end = next(s for s in report["stages"] if s["id"] == "end")
    assert end["frames_in"] == 250


def test_a_full_buffer_makes_push_wait_until_the_pipeline_takes_the_frames():
    p = pipeline(buffer=16)
    p.start()
    p.pause("src")  # the source stops taking frames: the buffer (16 frames) fills up
    import threading

    done = threading.Event()

    def push():
        p.push("src", np.zeros((3, 100)))
        done.set()

    t = threading.Thread(target=push)
    t.start()
    assert not done.wait(0.3), "push returned with 100 frames in a 16-frame buffer"
    p.resume("src")
    t.join()
    assert done.is_set()
    p.end_stream("src")
    report = p.wait()
    assert next(s for s in report["stages"] if s["id"] == "end")["frames_in"] == 100


def test_a_dropping_source_counts_and_flags_what_did_not_fit():
    p = pipeline(on_full="drop", buffer=16)
    p.start()
    p.pause("src")
    accepted = p.push("src", np.zeros((3, 100)))
    assert accepted == 16
    assert p.push_dropped("src") == 84
    p.resume("src")
    # Wait (a condition, not a time) for the 16 buffered frames to leave, so 10 more fit.
    deadline = time.monotonic() + 60
    while frames_in(p.metrics(), "end") < 16:
        assert time.monotonic() < deadline, "the buffered frames never arrived"
        time.sleep(0.005)
    assert p.push("src", np.ones((3, 10))) == 10
    p.end_stream("src")
    report = p.wait()
    end = next(s for s in report["stages"] if s["id"] == "end")
    assert end["frames_in"] == 26
    lost = [e for e in p.events() if e["kind"] == "lost_samples"]
    assert lost and "84 frames dropped" in lost[0]["text"]


def test_push_errors_name_the_problem():
    p = pipeline()
    with pytest.raises(ValueError, match="3 channels"):
        p.push("src", np.zeros((2, 10)))
    with pytest.raises(neuropipe.ControlError, match="no PushSource `nope`.*src"):
        p.push("nope", np.zeros((3, 10)))
    p.start()
    p.end_stream("src")
    with pytest.raises(neuropipe.NeuropipeError, match="ended|finished"):
        p.push("src", np.zeros((3, 10)))
    p.wait()


def test_pushes_from_two_threads_never_interleave():
    import threading

    p = pipeline(buffer=32)
    p.start()

    def pusher(value):
        for _ in range(40):
            p.push("src", np.full((3, 25), value))

    threads = [threading.Thread(target=pusher, args=(v,)) for v in (1.0, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p.end_stream("src")
    # ContinuityCheck (fail_on_gap) would fail the run on any gap or time going back.
    report = p.wait()
    assert frames_in(report, "end") == 2 * 40 * 25
