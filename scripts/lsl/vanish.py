#!/usr/bin/env python3
"""A pylsl stream that disappears and comes back, for neuropipe's LSL survival test
(crates/neuropipe-lsl/tests/survive.rs). Loopback only: LSLAPICFG = the crate's lsl_api.cfg,
inside a private network namespace (the Rust test does both).

    vanish.py --name NAME [--channels 2] [--rate 250] [--seconds 2] [--gap 3] [--wait 20]

Publishes NAME (float32, source id NAME-src) with value(frame, ch) = frame * 0.5 + ch * 1000
+ 0.25 at real-time pace for --seconds, closes the outlet (the stream is gone), waits --gap
seconds, opens it again with the same source id and sends --seconds more, the frame count going
on; every sample is stamped with its real time. Prints {"sent_frames": N, "gap_s": G}.
"""
import argparse
import json
import time

import numpy as np
import pylsl


def value(frame, ch):
    return frame * 0.5 + ch * 1000 + 0.25


def outlet(a):
    info = pylsl.StreamInfo(a.name, "EEG", a.channels, a.rate, "float32", a.name + "-src")
    chans = info.desc().append_child("channels")
    for c in range(a.channels):
        ch = chans.append_child("channel")
        ch.append_child_value("label", f"V{c + 1}")
        ch.append_child_value("unit", "microvolts")
        ch.append_child_value("type", "EEG")
    return pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)


def send(out, a, first, count):
    t0 = pylsl.local_clock()
    frame = 0
    while frame < count:
        n = min(10, count - frame)
        due = t0 + (frame + n) / a.rate
        delay = due - pylsl.local_clock()
        if delay > 0:
            time.sleep(delay)
        chunk = np.array(
            [[value(first + f, c) for c in range(a.channels)] for f in range(frame, frame + n)],
            dtype=np.float32,
        )
        out.push_chunk(chunk, timestamp=t0 + (frame + n - 1) / a.rate)
        frame += n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--rate", type=float, default=250.0)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--gap", type=float, default=3.0)
    p.add_argument("--wait", type=float, default=20.0)
    a = p.parse_args()
    n = int(round(a.seconds * a.rate))
    out = outlet(a)
    if not out.wait_for_consumers(a.wait):
        raise SystemExit("no consumer")
    send(out, a, 0, n)
    time.sleep(0.3)  # let the last chunk go out
    del out
    time.sleep(a.gap)
    out = outlet(a)
    # The inlet reconnects by itself (liblsl's recovery): wait for it, then go on.
    if not out.wait_for_consumers(a.wait):
        raise SystemExit("the consumer did not come back")
    send(out, a, n, n)
    time.sleep(1.0)
    print(json.dumps({"sent_frames": 2 * n, "gap_s": a.gap}))


if __name__ == "__main__":
    main()
