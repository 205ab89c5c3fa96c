#!/usr/bin/env python3
"""What a trivial Python stage costs per packet in neuropipe, next to a Timeflux node doing
the same (passing its input on), measured in the same run.

neuropipe: PushSource → Identity (a registered Python class) → ContinuityCheck, against
PushSource → ContinuityCheck; N packets of (channels × frames) pushed at once, timed until
the sink has them all; the difference per packet is the Python stage's cost (two hand-offs
to and from its thread, the GIL, the NumPy arrays, the call). The stage's own readout (time
inside ``process`` only) is printed too. Timeflux: ``timeflux_overhead.py`` in its own venv
(``bash scripts/python/timeflux_venv.sh``), the same difference in its graph loop.

    .venv/bin/python scripts/python/stage_overhead.py [--timeflux-python target/timeflux-venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import neuropipe

HERE = Path(__file__).resolve().parent


class Identity:
    """Passes its input on."""

    def process(self, data, timestamps):
        return data


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run(with_stage, packets, channels, frames):
    stages = [
        {"id": "src", "type": "PushSource",
         "params": {"channels": channels, "sample_rate": 250, "frames": frames,
                    "buffer": packets * frames, "sample_type": "f64"}},
        {"id": "end", "type": "ContinuityCheck"},
    ]
    links = ["src -> end"]
    if with_stage:
        stages.insert(1, {"id": "py", "type": "Identity"})
        links = ["src -> py", "py -> end"]
    p = neuropipe.Pipeline.from_json({"stages": stages, "links": links})
    data = np.random.default_rng(0).standard_normal((channels, packets * frames))
    p.push("src", data)  # all buffered before the start: the run is the pipeline alone
    p.end_stream("src")
    t0 = time.perf_counter()
    p.start()
    report = p.wait()
    dt = time.perf_counter() - t0
    end = next(s for s in report["stages"] if s["id"] == "end")
    assert end["packets_in"] == packets, end
    readout = None
    if with_stage:
        py = next(s for s in report["stages"] if s["id"] == "py")
        readout = py["readouts"]["values"][0][0]
    return dt, readout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=20000)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeflux-python", default=str(HERE.parents[1] / "target/timeflux-venv/bin/python"))
    a = ap.parse_args()
    neuropipe.register_stage(Identity)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_name()}, neuropipe {neuropipe.__version__}; "
          f"{a.packets} packets of {a.channels} ch x {a.frames} frames")
    # Interleaved, best of each: the machine's noise hits both alike.
    best, without = (float("inf"), 0.0), float("inf")
    for _ in range(a.reps):
        best = min(best, run(True, a.packets, a.channels, a.frames))
        without = min(without, run(False, a.packets, a.channels, a.frames)[0])
    np_us = (best[0] - without) / a.packets * 1e6
    print(f"neuropipe: {best[0] / a.packets * 1e6:.1f} us/packet with the Python stage, "
          f"{without / a.packets * 1e6:.1f} without: the stage costs {np_us:.1f} us/packet "
          f"({best[1]:.1f} us of it inside process(), its readout)")
    if Path(a.timeflux_python).exists():
        out = subprocess.run(
            [a.timeflux_python, str(HERE / "timeflux_overhead.py"), "--packets", str(a.packets),
             "--channels", str(a.channels), "--frames", str(a.frames), "--reps", str(a.reps)],
            check=True, capture_output=True, text=True,
        ).stdout
        tf = json.loads(out.strip().splitlines()[-1])
        print(f"timeflux {tf['timeflux']} (pandas {tf['pandas']}), one prebuilt DataFrame per cycle: "
              f"{tf['us_per_packet_with']:.1f} us/packet with the identity node, {tf['us_per_packet_without']:.1f} "
              f"without: the node costs {tf['node_us_per_packet']:.1f} us/packet (it passes a reference, "
              f"in the graph's one thread)")
        print(f"timeflux, a new DataFrame per cycle as a device node makes: {tf['us_per_packet_fresh_source']:.1f} "
              f"us/packet through source -> identity -> sink; neuropipe's whole chain with the Python stage: "
              f"{best[0] / a.packets * 1e6:.1f} us/packet "
              f"({tf['us_per_packet_fresh_source'] / (best[0] / a.packets * 1e6):.1f}x less)")
    else:
        print(f"(no Timeflux venv at {a.timeflux_python}: bash scripts/python/timeflux_venv.sh)")


if __name__ == "__main__":
    main()
