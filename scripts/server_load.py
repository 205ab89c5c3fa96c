#!/usr/bin/env python3
"""Does observing slow the data plane? The sink's end-to-end latency of the built-in default
pipeline (real time), idle and while N concurrent HTTP clients flood the control plane.

    python3 scripts/server_load.py --neuropipe target/release/neuropipe [--clients 50] [--seconds 60]

Three runs of `neuropipe run --serve 127.0.0.1:PORT --duration S --stats-json F`, one after the
other: idle (no client), a GET flood (every client loops `GET /api/pipeline`), and a mixed flood
(clients rotate through `/api/pipeline`, `/api/metrics`, `/metrics`, `/api/openapi.json`).
Loopback only; bounded in clients and time. Prints, per run: requests served, the sink's
latency p50/p99/max (the runtime's own histogram, from --stats-json), the link queues' high
water and send waits (a packet that waited for room), and the p99 ratio to idle.
"""
import argparse
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time

PATHS_GET = ["/api/pipeline"]
PATHS_MIXED = ["/api/pipeline", "/api/metrics", "/metrics", "/api/openapi.json"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port, deadline):
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/pipeline")
            c.getresponse().read()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def client(port, paths, stop, counts, i, nice):
    if nice:
        os.nice(nice)  # this thread only (Linux: nice is per thread)
    n = 0
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", paths[n % len(paths)])
            conn.getresponse().read()
            n += 1
        except OSError:
            conn = None
            time.sleep(0.01)
    counts[i] = n


def run(binary, seconds, clients, paths, nice):
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "stats.json")
        proc = subprocess.Popen(
            [binary, "run", "--quiet", "--serve", f"127.0.0.1:{port}",
             "--duration", str(seconds), "--stats-json", stats],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_up(port, time.time() + 30):
            proc.kill()
            sys.exit("the server did not come up")
        stop = threading.Event()
        counts = [0] * clients
        threads = [threading.Thread(target=client, args=(port, paths, stop, counts, i, nice))
                   for i in range(clients)] if paths else []
        for t in threads:
            t.start()
        proc.wait(timeout=seconds + 60)
        stop.set()
        for t in threads:
            t.join()
        snap = json.load(open(stats))
    sinks = [s for s in snap["stages"] if s.get("latency_p99_ns")]
    sink = max(sinks, key=lambda s: s["latency_count"])
    links = snap.get("links", [])
    return {
        "requests": sum(counts),
        "p50_ms": sink["latency_p50_ns"] / 1e6,
        "p99_ms": sink["latency_p99_ns"] / 1e6,
        "max_ms": sink["latency_max_ns"] / 1e6,
        "packets": sink["latency_count"],
        "high_water": max((l["high_water"] for l in links), default=0),
        "send_waits": sum(l["send_waits"] for l in links),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neuropipe", default="target/release/neuropipe")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--client-nice", type=int, default=0,
                    help="run the load generator's threads at this niceness (0: like the pipeline)")
    a = ap.parse_args()
    if not (1 <= a.clients <= 200 and 1 <= a.seconds <= 600):
        sys.exit("bounded load only: 1..200 clients, 1..600 s")
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except OSError:
        cpu = platform.processor()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu}; {os.cpu_count()} CPUs; "
          f"default pipeline, {a.seconds:g} s per run, {a.clients} clients (nice {a.client_nice})")
    print("| load | requests | sink p50 ms | sink p99 ms | max ms | packets | queue high water | send waits | p99 / idle |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    idle = None
    for name, paths in [("idle", None), ("GET flood", PATHS_GET), ("mixed flood", PATHS_MIXED)]:
        r = run(a.neuropipe, a.seconds, a.clients if paths else 0, paths, a.client_nice)
        idle = idle or r["p99_ms"]
        print(f"| {name} | {r['requests']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['max_ms']:.2f} | "
              f"{r['packets']} | {r['high_water']} | {r['send_waits']} | {r['p99_ms'] / idle:.2f} |", flush=True)


if __name__ == "__main__":
    main()
