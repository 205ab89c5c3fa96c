#!/usr/bin/env python3
"""CPU cost of a `Fir` stage at its real-time budget (README: the real-time rule).

    python3 scripts/fir_budget.py [--neuropipe target/release/neuropipe] [--seconds 20]

Runs `neuropipe run` on simulated signal (not paced: as fast as possible) through a FIR with
the most taps the budget allows (2e8 multiply-adds per second of signal), for two streams,
and reports the process CPU time per second of signal: the share of one core the filter chain
would use in real time. Also runs the same chains without the FIR, so the FIR's own share is
the difference.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

BUDGET = 2e8  # crates/neuropipe-stages/src/dsp/fir.rs: MAX_MACS_PER_S


def cpu_of(binary, pipeline, d):
    path = os.path.join(d, "p.json")
    with open(path, "w") as f:
        json.dump(pipeline, f)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([binary, "run", path, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"neuropipe failed:\n{r.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def chain(channels, rate, seconds, taps):
    stages = [
        {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": channels, "sample_rate": rate,
                                                         "frames": 32, "realtime": False, "duration_s": seconds}},
        {"id": "volts", "type": "RawToVoltage"},
    ]
    links = ["eeg.out -> volts.in"]
    last = "volts"
    if taps:
        stages.append({"id": "fir", "type": "Fir", "params": {"numtaps": taps, "cutoff_hz": [min(40.0, rate / 4)]}})
        links.append("volts.out -> fir.in")
        last = "fir"
    stages.append({"id": "check", "type": "ContinuityCheck"})
    links.append(f"{last}.out -> check.in")
    return {"name": "fir-budget", "stages": stages, "links": links}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neuropipe", default="target/release/neuropipe")
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except OSError:
        cpu = platform.processor()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu}; {a.seconds:g} s of signal per run")
    print("| stream | taps (budget) | CPU with FIR | without | FIR's share of one core |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        for channels, rate in [(64, 1000), (8, 250)]:
            taps = int(BUDGET // (channels * rate))
            with_fir = cpu_of(a.neuropipe, chain(channels, rate, a.seconds, taps), d)
            without = cpu_of(a.neuropipe, chain(channels, rate, a.seconds, 0), d)
            share = (with_fir - without) / a.seconds * 100
            print(f"| {channels} ch × {rate} Hz | {taps} | {with_fir:.2f} s | {without:.2f} s | {share:.1f} % |", flush=True)


if __name__ == "__main__":
    main()
