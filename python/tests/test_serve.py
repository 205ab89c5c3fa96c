"""The dashboard and control API from a Python-run pipeline, and asyncio staying responsive."""

import asyncio
import json
import urllib.request

import neuropipe


def test_start_serve_exposes_the_api_on_loopback():
    p = neuropipe.Pipeline.default()
    p.start(serve="127.0.0.1:0")  # any free port, loopback only
    try:
        url = p.served_at
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/api/pipeline", timeout=30) as r:
            body = json.loads(r.read())
        assert [s["id"] for s in body["stages"]][:2] == ["eeg", "volts"]
    finally:
        p.stop()
    assert p.served_at is None


def test_a_non_loopback_serve_address_is_refused():
    p = neuropipe.Pipeline.default()
    try:
        p.start(serve="0.0.0.0:7878")
    except ValueError as e:
        assert "loopback" in str(e)
    else:
        p.stop()
        raise AssertionError("served off loopback")
    # Refused before anything was built or started: the pipeline still runs.
    assert p.run(duration=0.2)["stages"][0]["frames_out"] > 0


def test_an_asyncio_loop_keeps_running_while_a_pipeline_runs_in_a_thread():
    async def main():
        ticks = 0
        run = asyncio.create_task(asyncio.to_thread(neuropipe.Pipeline.default().run, 0.3))
        while not run.done():
            ticks += 1
            await asyncio.sleep(0.001)
        report = await run
        return ticks, report

    ticks, report = asyncio.run(main())
    assert ticks > 10
    assert next(s for s in report["stages"] if s["id"] == "eeg")["frames_out"] > 0
