"""Pipeline life cycle, validation errors, control, events and failures from Python."""

import json
import os
import signal
import threading

import pytest

import neuropipe


def default_fast(seconds=2.0):
    """The default pipeline's shape, simulated as fast as it runs for `seconds` of signal."""
    cfg = neuropipe.Pipeline.default().to_dict()
    for s in cfg["stages"]:
        if s["type"] == "SimulatedEeg":
            s["params"].update({"realtime": False, "duration_s": seconds})
    return cfg


def test_default_pipeline_runs_for_a_duration_and_reports_metrics():
    p = neuropipe.Pipeline.default()
    assert p.state == "configured"
    report = p.run(duration=0.3)
    assert p.state == "finished"
    stages = {s["id"]: s for s in report["stages"]}
    assert set(stages) == {"eeg", "volts", "bandpass", "notch", "check", "quality"}
    assert stages["eeg"]["frames_out"] > 0
    # Every frame the source sent reached the end of the chain (drained on stop).
    assert stages["check"]["frames_in"] == stages["eeg"]["frames_out"]
    # The same report again from wait(); a pipeline runs once.
    assert p.wait()["stages"] == report["stages"]
    with pytest.raises(neuropipe.NeuropipeError, match="already started"):
        p.start()


def test_a_finite_pipeline_runs_to_its_end_and_the_context_manager_stops_and_drains():
    p = neuropipe.Pipeline.from_json(default_fast(2.0))
    report = p.run()
    eeg = next(s for s in report["stages"] if s["id"] == "eeg")
    assert eeg["frames_out"] == 500
    with neuropipe.Pipeline.default() as q:
        assert q.state == "running"
    assert q.state == "finished"


def test_from_json_takes_a_file_text_or_dict(tmp_path):
    cfg = default_fast(0.2)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(cfg))
    for source in (str(path), path, json.dumps(cfg), cfg):
        p = neuropipe.Pipeline.from_json(source)
        p.validate()
        assert [s["id"] for s in p.stages()][0] == "eeg"


def test_validation_errors_are_exceptions_with_every_problem_and_its_json_path(tmp_path):
    cfg = {
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 0}},
            {"id": "bp", "type": "Bandpas"},
        ],
        "links": ["eeg -> bp"],
    }
    with pytest.raises(neuropipe.ConfigError) as e:
        neuropipe.Pipeline.from_json(cfg).validate()
    paths = [p for p, _ in e.value.problems]
    assert "$.stages[0].params.channels" in paths
    assert "$.stages[1].type" in paths
    assert 'did you mean "Bandpass"' in str(e.value)
    # A file that is not JSON: line and column, named by the file.
    bad = tmp_path / "bad.json"
    bad.write_text('{"stages": [,]}')
    with pytest.raises(neuropipe.ConfigError, match="bad.json") as e:
        neuropipe.Pipeline.from_json(bad)
    assert "line 1" in e.value.problems[0][0]
    with pytest.raises(neuropipe.ConfigError, match="cannot read"):
        neuropipe.Pipeline.from_json(tmp_path / "missing.json")


def test_control_replies_and_rejections_are_typed():
    with neuropipe.Pipeline.default() as p:
        assert p.set("bandpass", "high_hz", 30.0) == 30.0
        assert p.describe()["stages"][2]["params"]["high_hz"] == 30.0
        with pytest.raises(neuropipe.ControlError, match="Nyquist"):
            p.set("bandpass", "high_hz", 300.0)
        with pytest.raises(neuropipe.ControlError, match="unknown stage `bandpas`"):
            p.set("bandpas", "high_hz", 30.0)
        assert p.pause("eeg") == "paused"
        assert p.resume("eeg") == "running"
        ev = p.mark("eyes closed")
        assert ev["text"] == "eyes closed"
        with pytest.raises(ValueError, match="marker refused"):
            p.mark("")
    texts = [e["text"] for e in p.events()]
    assert "eyes closed" in texts
    assert p.events_lost == 0
    with pytest.raises(neuropipe.ControlError, match="not running"):
        neuropipe.Pipeline.default().set("bandpass", "high_hz", 30.0)


def test_a_stage_failure_raises_pipeline_failed_naming_the_stage(tmp_path):
    cfg = default_fast(5.0)
    # /dev/full accepts the open and fails every write (ENOSPC): a Fatal error at run time.
    cfg["stages"].append(
        {"id": "rec", "type": "CsvRecorder", "params": {"path": "/dev/full", "overwrite": True}}
    )
    cfg["links"].append("notch -> rec")
    p = neuropipe.Pipeline.from_json(cfg)
    with pytest.raises(neuropipe.PipelineFailed) as e:
        p.run()
    assert e.value.stage == "rec"
    assert "rec" in str(e.value)
    assert p.state == "finished"


def test_the_gil_is_released_while_the_pipeline_runs():
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    t = threading.Thread(target=count)
    t.start()
    try:
        neuropipe.Pipeline.default().run(duration=0.3)
    finally:
        stop.set()
        t.join()
    assert len(ticks) > 10, "a Python thread ran while run() waited"


def test_ctrl_c_stops_the_pipeline_cleanly_and_raises_keyboard_interrupt():
    p = neuropipe.Pipeline.default()
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        p.run()  # no duration: only Ctrl-C ends it
    timer.join()
    assert p.state == "finished"
    report = p.wait()
    stages = {s["id"]: s for s in report["stages"]}
    assert stages["check"]["frames_in"] == stages["eeg"]["frames_out"] > 0


def test_stage_types_and_schema_match_the_cli():
    names = {s["type"] for s in neuropipe.stage_types()}
    assert {"Bandpass", "FileReplay", "LslInlet", "XdfRecorder"} <= names
    assert "$schema" in neuropipe.schema() or "properties" in neuropipe.schema()
