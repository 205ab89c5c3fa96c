#!/usr/bin/env python3
"""Per-packet cost of a trivial Timeflux node, for scripts/python/stage_overhead.py.

Runs in Timeflux's own venv (``bash scripts/python/timeflux_venv.sh``). Timeflux runs a graph
as a loop calling each node's ``update()`` in turn and handing pandas DataFrames from port to
port; a graph source → identity → sink is run for N cycles, and so is source → sink; the
difference per cycle is what the identity node costs. The source hands out one prebuilt
DataFrame (so the difference is not lost in its cost); a second pair of runs has it build a
new DataFrame per cycle, as a device node does, for the cost of a whole packet. Prints one
JSON line.

    target/timeflux-venv/bin/python scripts/python/timeflux_overhead.py --packets 20000
"""

import argparse
import json
import time

import numpy as np
import pandas as pd
import timeflux
from timeflux.core.branch import Branch
from timeflux.core.node import Node


class Source(Node):
    """A new (frames × channels) DataFrame per cycle, like a device node."""

    def __init__(self, channels=8, frames=32, fresh=False):
        self.values = np.random.default_rng(0).standard_normal((frames, channels))
        self.frames = frames
        self.fresh = fresh
        self.t = 0
        self.df = self.make()

    def make(self):
        idx = pd.to_datetime(np.arange(self.t, self.t + self.frames) * 4, unit="ms")
        self.t += self.frames
        return pd.DataFrame(self.values, index=idx)

    def update(self):
        self.o.data = self.make() if self.fresh else self.df


class Identity(Node):
    """The trivial processing node: passes its input on."""

    def update(self):
        if self.i.ready():
            self.o.data = self.i.data


class Sink(Node):
    def __init__(self):
        self.rows = 0

    def update(self):
        if self.i.ready():
            self.rows += len(self.i.data)


def graph(with_identity, channels, frames, fresh):
    nodes = [
        {"id": "src", "module": "__main__", "class": "Source",
         "params": {"channels": channels, "frames": frames, "fresh": fresh}},
        {"id": "sink", "module": "__main__", "class": "Sink"},
    ]
    edges = [{"source": "src", "target": "sink"}]
    if with_identity:
        nodes.insert(1, {"id": "id", "module": "__main__", "class": "Identity"})
        edges = [{"source": "src", "target": "id"}, {"source": "id", "target": "sink"}]
    return {"id": "bench", "nodes": nodes, "edges": edges, "rate": 0}


def run(with_identity, packets, channels, frames, fresh=False):
    b = Branch(graph(with_identity, channels, frames, fresh))
    for _ in range(100):  # warm up
        b.run()
    t0 = time.perf_counter()
    for _ in range(packets):
        b.run()
    dt = time.perf_counter() - t0
    assert b.get_port("sink", "i") is not None
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=20000)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    # Interleaved, best of each: the machine's noise hits both alike.
    with_id, without = float("inf"), float("inf")
    for _ in range(a.reps):
        with_id = min(with_id, run(True, a.packets, a.channels, a.frames))
        without = min(without, run(False, a.packets, a.channels, a.frames))
    fresh = min(run(True, a.packets // 4, a.channels, a.frames, fresh=True) for _ in range(a.reps)) / (a.packets // 4)
    print(json.dumps({
        "timeflux": timeflux.__version__ if hasattr(timeflux, "__version__") else "0.17.2",
        "pandas": pd.__version__,
        "us_per_packet_with": with_id / a.packets * 1e6,
        "us_per_packet_without": without / a.packets * 1e6,
        "node_us_per_packet": (with_id - without) / a.packets * 1e6,
        "us_per_packet_fresh_source": fresh * 1e6,
    }))


if __name__ == "__main__":
    main()
