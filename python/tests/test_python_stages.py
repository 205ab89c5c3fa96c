"""Python classes as stages: parameters, live changes, markers, failures with tracebacks."""

import numpy as np
import pytest

import neuropipe

MARKERS = []


class Scale:
    """Multiplies the signal by a factor."""

    def __init__(self, factor=2.0, offset=0):
        self.factor = factor
        self.offset = offset

    def process(self, data, timestamps):
        assert data.shape[1] == timestamps.shape[0]
        return data * self.factor + self.offset

    def on_marker(self, text, timestamp):
        MARKERS.append(text)


class Broken:
    def __init__(self, after=3):
        self.after = after
        self.seen = 0

    def process(self, data, timestamps):
        self.seen += 1
        if self.seen > self.after:
            return data / 0 if False else 1 / (self.after - self.after)  # ZeroDivisionError
        return None


class Slow:
    def __init__(self, ms=20.0):
        self.ms = ms

    def process(self, data, timestamps):
        import time
        time.sleep(self.ms / 1e3)


def chain(stage_type, params=None, link="block", capacity=None, fail_on_gap=True):
    link_cfg = {"from": "src.out", "to": "py.in", "policy": link}
    if capacity:
        link_cfg["capacity"] = capacity
    return neuropipe.Pipeline.from_json(
        {
            "stages": [
                {"id": "src", "type": "PushSource",
                 "params": {"channels": 2, "sample_rate": 100, "frames": 10, "buffer": 4096, "sample_type": "f64"}},
                {"id": "py", "type": stage_type, "params": params or {}},
                {"id": "end", "type": "ContinuityCheck", "params": {"fail_on_gap": fail_on_gap}},
            ],
            "links": [link_cfg, "py -> end"],
        }
    )


def test_a_registered_class_is_a_stage_type_with_typed_live_parameters():
    assert neuropipe.register_stage(Scale) == "Scale"
    spec = next(s for s in neuropipe.stage_types() if s["type"] == "Scale")
    assert spec["summary"] == "Multiplies the signal by a factor."
    assert {p["name"] for p in spec["params"]} == {"factor", "offset"}
    with pytest.raises(neuropipe.ConfigError, match=r"\$\.stages\[1\]\.params\.factor"):
        chain("Scale", {"factor": "big"}).validate()

    p = chain("Scale", {"factor": 3.0})
    tap = p.tap("py", lossless=True)
    p.start()
    p.push("src", np.ones((2, 50)))
    first = [next(tap) for _ in range(5)]
    assert all(np.all(c.data == 3.0) for c in first)
    assert p.set("py", "factor", 10.0) == 10.0
    p.mark("go")
    p.push("src", np.ones((2, 50)))
    p.end_stream("src")
    rest = list(tap)
    report = p.wait()
    assert all(np.all(c.data == 10.0) for c in rest)
    assert "go" in MARKERS
    py = next(s for s in report["stages"] if s["id"] == "py")
    readout = py["readouts"]
    assert readout["rows"] == ["python"]
    assert readout["values"][0][2] == 10  # packets processed
    assert readout["values"][0][0] > 0  # mean µs per packet


def test_an_exception_in_process_stops_the_pipeline_with_the_traceback():
    neuropipe.register_stage(Broken)
    p = chain("Broken")
    p.start()
    p.push("src", np.ones((2, 100)))
    with pytest.raises(neuropipe.PipelineFailed) as e:
        p.wait()
    assert e.value.stage == "py"
    assert "ZeroDivisionError" in str(e.value)
    assert "in process" in str(e.value)  # the Python traceback, with the frame


def test_a_slow_python_stage_drops_by_its_link_policy_while_the_source_runs_on():
    neuropipe.register_stage(Slow)
    # Drops make gaps downstream: counted, not fatal, here.
    p = chain("Slow", {"ms": 20.0}, link="drop-newest", capacity=2, fail_on_gap=False)
    p.start()
    p.push("src", np.zeros((2, 1000)))  # 100 packets at once, 20 ms each downstream
    p.end_stream("src")
    report = p.wait()
    link = next(l for l in report["links"] if l["to"].startswith("py"))
    end = next(s for s in report["stages"] if s["id"] == "end")
    assert link["dropped"] > 0
    assert end["packets_in"] + link["dropped"] == 100


def test_registration_errors():
    class NoProcess:
        pass

    class Required:
        def __init__(self, gain):
            self.gain = gain

        def process(self, data, timestamps):
            return data

    with pytest.raises(ValueError, match="no process"):
        neuropipe.register_stage(NoProcess)
    with pytest.raises(ValueError, match="`gain` needs a default"):
        neuropipe.register_stage(Required)
    with pytest.raises(ValueError, match="built-in"):
        neuropipe.register_stage(Scale, name="Bandpass")
