#!/usr/bin/env python3
"""LSL latency on loopback: a neuropipe LslOutlet -> pylsl inlet, and a neuropipe relay
(pylsl -> LslInlet -> LslOutlet -> pylsl), next to pylsl -> pylsl, measured the same way in
the same run.

Stream: 8 channels float32 at 1000 Hz in chunks of 10 frames (a chunk every 10 ms).
Both senders stamp each chunk's last frame with its capture time on the LSL clock (neuropipe:
the simulated source's acquisition time of that frame; pylsl: the scheduled time of that frame,
pushed as soon as it is due), so the figure includes each sender's own scheduling and, for
neuropipe, the pipeline (SimulatedEeg -> RawToVoltage -> LslOutlet thread).
The pylsl receiver blocks for a sample, drains what is buffered, and records
local_clock() - (stamp of the newest frame + time_correction) for every pull: transport
latency of the newest data. A third row (pylsl, stamped at push) is pure transport. The relay
row keeps the pylsl sender's stamps (the inlet maps them onto the pipeline clock, the outlet
back), so it is the pylsl -> pylsl figure plus the pipeline's hop in and out.
"split" counts the pulls that found only part of a chunk: the sender's liblsl handed a chunk
to the network in pieces, and the newest frame such a pull sees is up to a chunk old.

Must run on loopback only:
  LSLAPICFG=$PWD/crates/neuropipe-lsl/lsl_api.cfg \\
    unshare -n sh -c 'ip link set lo up && exec "$@"' sh \\
    .venv/bin/python scripts/lsl/latency.py --neuropipe target/release/neuropipe
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pylsl

RATE, CHANNELS, CHUNK = 1000.0, 8, 10


def only_loopback():
    with open("/proc/self/net/dev") as f:
        ifs = [l.split(":")[0].strip() for l in f.readlines()[2:]]
    return all(i == "lo" for i in ifs), ifs


def measure(name, seconds, warmup=1.0):
    found = pylsl.resolve_byprop("name", name, 1, 20.0)
    if not found:
        raise SystemExit(f"stream {name!r} not found")
    inlet = pylsl.StreamInlet(found[0], max_buflen=10, recover=False)
    inlet.open_stream(timeout=5.0)
    tc = inlet.time_correction(timeout=5.0)
    buf = np.zeros((1000, CHANNELS), dtype=np.float32)
    lat = []
    split = 0
    t_end = time.monotonic() + warmup + seconds
    t_warm = time.monotonic() + warmup
    while time.monotonic() < t_end:
        try:
            _, ts = inlet.pull_sample(timeout=0.2)
        except Exception:
            break
        if ts is None:
            continue
        newest = ts
        try:
            _, tss = inlet.pull_chunk(timeout=0.0, max_samples=1000, dest_obj=buf)
        except Exception:
            tss = []
        if tss:
            newest = tss[-1]
        now = pylsl.local_clock()
        if time.monotonic() >= t_warm:
            lat.append(now - (newest + tc))
            split += (1 + len(tss)) % CHUNK != 0
    del inlet
    return np.array(lat) * 1e3, split


def pylsl_sender(name, seconds, stamp_at_push, ready):
    info = pylsl.StreamInfo(name, "EEG", CHANNELS, RATE, "float32", name + "-src")
    outlet = pylsl.StreamOutlet(info, chunk_size=0)
    ready.set()
    outlet.wait_for_consumers(20.0)
    chunk = np.zeros((CHUNK, CHANNELS), dtype=np.float32)
    t0 = pylsl.local_clock()
    frame = 0
    total = int(seconds * RATE)
    while frame < total:
        due = t0 + (frame + CHUNK - 1) / RATE
        d = due - pylsl.local_clock()
        if d > 0:
            time.sleep(d)
        chunk[:] = frame
        outlet.push_chunk(chunk, timestamp=pylsl.local_clock() if stamp_at_push else due)
        frame += CHUNK
    time.sleep(0.5)


def run_pylsl(seconds, stamp_at_push):
    name = "lat-pylsl-push" if stamp_at_push else "lat-pylsl"
    ready = threading.Event()
    th = threading.Thread(target=pylsl_sender, args=(name, seconds + 2.0, stamp_at_push, ready))
    th.start()
    ready.wait()
    lat = measure(name, seconds)
    th.join()
    return lat


def run_pipeline(binary, pipeline, stream, seconds):
    """Runs `pipeline` with `neuropipe run` while measuring the LSL stream `stream`."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(pipeline, f)
        path = f.name
    proc = subprocess.Popen([binary, "run", path, "--duration", str(seconds + 4), "--quiet"],
                            stderr=subprocess.DEVNULL)
    try:
        return measure(stream, seconds)
    finally:
        proc.wait(timeout=60)
        os.unlink(path)


def run_relay(binary, seconds):
    """pylsl sender (stamped at the chunk's due time) -> neuropipe LslInlet -> LslOutlet ->
    pylsl inlet."""
    src = "lat-relay-src"
    ready = threading.Event()
    th = threading.Thread(target=pylsl_sender, args=(src, seconds + 6.0, False, ready))
    th.start()
    ready.wait()
    pipeline = {
        "name": "lsl_relay_latency",
        "stages": [
            {"id": "lsl_in", "type": "LslInlet",
             "params": {"name": src, "channels": CHANNELS, "sample_rate": RATE,
                        "frames": CHUNK, "sample_type": "f32"}},
            {"id": "lsl_out", "type": "LslOutlet", "params": {"name": "lat-relay"}},
        ],
        "links": ["lsl_in.out -> lsl_out.in"],
    }
    try:
        return run_pipeline(binary, pipeline, "lat-relay", seconds)
    finally:
        th.join()


def run_neuropipe(binary, seconds):
    pipeline = {
        "name": "lsl_latency",
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg",
             "params": {"channels": CHANNELS, "sample_rate": RATE, "frames": CHUNK}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "lsl", "type": "LslOutlet", "params": {"name": "lat-neuropipe"}},
        ],
        "links": ["eeg.out -> volts.in", "volts.out -> lsl.in"],
    }
    return run_pipeline(binary, pipeline, "lat-neuropipe", seconds)


def row(label, result):
    ms, split = result
    return (f"| {label} | {len(ms)} | {split} | {np.median(ms):.3f} | "
            f"{np.percentile(ms, 99):.3f} | {np.max(ms):.3f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--neuropipe", default="target/release/neuropipe")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--json", help="also write the figures here")
    a = p.parse_args()
    ok, ifs = only_loopback()
    if not ok or "LSLAPICFG" not in os.environ:
        raise SystemExit(f"refusing to run: needs a private network namespace with only lo "
                         f"(interfaces here: {ifs}) and LSLAPICFG set; see --help")
    results = {
        "neuropipe LslOutlet -> pylsl": run_neuropipe(a.neuropipe, a.seconds),
        "pylsl -> pylsl": run_pylsl(a.seconds, stamp_at_push=False),
        "pylsl -> pylsl (stamped at push)": run_pylsl(a.seconds, stamp_at_push=True),
        "pylsl -> neuropipe LslInlet -> LslOutlet -> pylsl": run_relay(a.neuropipe, a.seconds),
    }
    print(f"8 ch float32 @ {RATE:.0f} Hz, chunks of {CHUNK}, {a.seconds:.0f} s each, loopback; "
          f"liblsl: neuropipe 1.13 (protocol {110}), pylsl {pylsl.library_version()}")
    print("| sender -> pylsl inlet | pulls | split | median ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for k, v in results.items():
        print(row(k, v))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({k: {"n": len(v), "split": s, "median_ms": float(np.median(v)),
                           "p99_ms": float(np.percentile(v, 99)), "max_ms": float(np.max(v))}
                       for k, (v, s) in results.items()}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
