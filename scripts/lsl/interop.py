#!/usr/bin/env python3
"""pylsl side of neuropipe's LSL interoperability tests (pylsl 1.18.6, bundled liblsl 1.18).

Run only on loopback: set LSLAPICFG to crates/neuropipe-lsl/lsl_api.cfg and run inside a
private network namespace (`unshare -n sh -c 'ip link set lo up && ...'`); the Rust tests in
crates/neuropipe-lsl/tests/interop.rs do both.

  interop.py recv --name NAME --out PREFIX [--timeout 20] [--idle 2]
      Resolves stream NAME, reads every sample (low-latency pattern: block for the first
      sample, then drain) until the stream has been silent for --idle seconds, and writes
      PREFIX.f32 (float32, frame-major) and PREFIX.json (metadata, frame count, timestamps).

  interop.py markers --name NAME --out FILE [--timeout 20] [--idle 3]
      Resolves string stream NAME and writes every marker it receives until the stream has
      been silent for --idle seconds, as JSON [[text, timestamp], ...].

  interop.py send --name NAME [--channels 4] [--rate 500] [--seconds 3] [--chunk 10] [--wait 20]
                  [--markers N]
      Publishes a float32 stream with channel metadata and exactly known values
      value(frame, ch) = frame * 0.5 + ch * 1000 + 0.25 (exact in float32), at real-time pace,
      after waiting up to --wait seconds for a consumer. Lingers 1 s before closing.
      With --markers N, also a string stream NAME-markers with a marker "m<frame>" on every
      N-th frame (from frame N), stamped with that frame's own timestamp and pushed just before
      the chunk holding the frame, as a stimulus program stamps its events. Prints JSON with
      the frames sent and t0, the LSL time stamp of frame 0 (frame f is stamped t0 + f/rate).

  interop.py xdf FILE --name NAME --t0 T0 --rate R
      Reads an XDF file neuropipe recorded from a `send` stream (with pyxdf, without and with
      clock synchronisation, no dejittering) and prints JSON: the stream's samples, the
      largest difference between its raw stamps and the sender's (t0 + frame/rate, the frame
      read from the values), its clock offsets, and for each marker mN in the file's marker
      stream the synchronised stamp of sender frame N minus the marker's stamp.
"""
import argparse
import json
import sys
import time

import numpy as np
import pylsl

try:
    from pylsl import LostError
except ImportError:  # pylsl >= 1.16 keeps it in pylsl.util
    from pylsl.util import LostError


def value(frame, ch):
    return frame * 0.5 + ch * 1000 + 0.25


def recv(a):
    found = pylsl.resolve_byprop("name", a.name, 1, a.timeout)
    if not found:
        print(f"stream {a.name!r} not found", file=sys.stderr)
        return 2
    inlet = pylsl.StreamInlet(found[0], max_buflen=360, recover=False)
    info = inlet.info(timeout=5.0)
    n = info.channel_count()
    labels, units, types = [], [], []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append(ch.child_value("label"))
        units.append(ch.child_value("unit"))
        types.append(ch.child_value("type"))
        ch = ch.next_sibling("channel")
    inlet.open_stream(timeout=5.0)
    correction = inlet.time_correction(timeout=5.0)
    chunks, stamps = [], []
    last = time.monotonic()
    buf = np.zeros((1024, n), dtype=np.float32)
    while True:
        try:
            # Block (briefly) for the first sample, then drain without waiting.
            sample, ts = inlet.pull_sample(timeout=0.1)
        except LostError:
            break
        if ts is None:
            if time.monotonic() - last > a.idle:
                break
            continue
        last = time.monotonic()
        chunks.append(np.asarray(sample, dtype=np.float32)[None, :])
        stamps.append(ts)
        try:
            _, tss = inlet.pull_chunk(timeout=0.0, max_samples=1024, dest_obj=buf)
        except LostError:
            break
        if tss:
            chunks.append(buf[: len(tss)].copy())
            stamps.extend(tss)
    data = np.concatenate(chunks) if chunks else np.zeros((0, n), np.float32)
    data.astype("<f4").tofile(a.out + ".f32")
    meta = {
        "name": info.name(),
        "type": info.type(),
        "channel_count": n,
        "srate": info.nominal_srate(),
        "source_id": info.source_id(),
        "manufacturer": info.desc().child_value("manufacturer"),
        "upstream_source_id": info.desc().child_value("upstream_source_id"),
        "labels": labels,
        "units": units,
        "types": types,
        "frames": int(data.shape[0]),
        "first_stamp": stamps[0] if stamps else None,
        "last_stamp": stamps[-1] if stamps else None,
        "max_stamp_step": float(np.max(np.diff(stamps))) if len(stamps) > 1 else None,
        "min_stamp_step": float(np.min(np.diff(stamps))) if len(stamps) > 1 else None,
        "time_correction": correction,
        "liblsl": pylsl.library_version(),
    }
    with open(a.out + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({k: meta[k] for k in ("name", "channel_count", "srate", "frames")}))
    return 0


def markers(a):
    found = pylsl.resolve_byprop("name", a.name, 1, a.timeout)
    if not found:
        print(f"stream {a.name!r} not found", file=sys.stderr)
        return 2
    inlet = pylsl.StreamInlet(found[0], max_buflen=360, recover=False)
    inlet.open_stream(timeout=5.0)
    got = []
    last = time.monotonic()
    while time.monotonic() - last <= a.idle:
        try:
            sample, ts = inlet.pull_sample(timeout=0.1)
        except LostError:
            break
        if ts is not None:
            got.append([sample[0], ts])
            last = time.monotonic()
    with open(a.out, "w") as f:
        json.dump(got, f)
    print(f"{len(got)} markers")
    return 0


def send(a):
    info = pylsl.StreamInfo(a.name, "EEG", a.channels, a.rate, "float32", a.name + "-src")
    info.desc().append_child_value("manufacturer", "pylsl test amplifier")
    chans = info.desc().append_child("channels")
    for c in range(a.channels):
        ch = chans.append_child("channel")
        ch.append_child_value("label", f"Py{c + 1}")
        ch.append_child_value("unit", "microvolts")
        ch.append_child_value("type", "EEG")
    outlet = pylsl.StreamOutlet(info)
    markers = None
    if a.markers:
        minfo = pylsl.StreamInfo(a.name + "-markers", "Markers", 1, 0, "string", a.name + "-mk")
        markers = pylsl.StreamOutlet(minfo)
    if not outlet.wait_for_consumers(a.wait):
        print("no consumer", file=sys.stderr)
        return 2
    if markers is not None and not markers.wait_for_consumers(a.wait):
        print("no marker consumer", file=sys.stderr)
        return 2
    total = int(round(a.seconds * a.rate))
    t0 = pylsl.local_clock()
    frame = 0
    while frame < total:
        n = min(a.chunk, total - frame)
        due = t0 + (frame + n) / a.rate
        delay = due - pylsl.local_clock()
        if delay > 0:
            time.sleep(delay)
        chunk = np.array(
            [[value(f, c) for c in range(a.channels)] for f in range(frame, frame + n)],
            dtype=np.float32,
        )
        if markers is not None:
            for f in range(frame, frame + n):
                if f > 0 and f % a.markers == 0:
                    markers.push_sample([f"m{f}"], t0 + f / a.rate)
        outlet.push_chunk(chunk, timestamp=t0 + (frame + n - 1) / a.rate)
        frame += n
    time.sleep(1.0)
    print(json.dumps({"sent_frames": total, "t0": t0}))
    return 0


def xdf(a):
    import pyxdf

    def by_name(synced):
        streams, _ = pyxdf.load_xdf(a.file, synchronize_clocks=synced, dejitter_timestamps=False)
        return {s["info"]["name"][0]: s for s in streams}

    raw, synced = by_name(False), by_name(True)
    r = raw[a.name]
    stamps = np.asarray(r["time_stamps"])
    # The sender's frame index, from the values (float64: t0 + frames / rate in float32 would
    # round to milliseconds).
    frames = np.round((np.asarray(r["time_series"], dtype=np.float64)[:, 0] - 0.25) / 0.5)
    sent = a.t0 + frames / a.rate
    on_pipeline = np.asarray(synced[a.name]["time_stamps"])
    marker_errors = {}
    for s in synced.values():
        if s["info"]["type"][0] != "Markers":
            continue
        for ts, text in zip(s["time_stamps"], s["time_series"]):
            if text[0].startswith("m") and text[0][1:].isdigit():
                k = np.nonzero(frames == int(text[0][1:]))[0]
                if len(k):
                    marker_errors[text[0]] = float(on_pipeline[k[0]] - ts)
    print(json.dumps({
        "samples": int(len(stamps)),
        "max_raw_error": float(np.max(np.abs(stamps - sent))),
        "clock_times": [float(t) for t in r["clock_times"]],
        "clock_values": [float(v) for v in r["clock_values"]],
        "marker_errors": marker_errors,
    }))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--name", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--timeout", type=float, default=20.0)
    r.add_argument("--idle", type=float, default=2.0)
    m = sub.add_parser("markers")
    m.add_argument("--name", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--timeout", type=float, default=20.0)
    m.add_argument("--idle", type=float, default=3.0)
    s = sub.add_parser("send")
    s.add_argument("--name", required=True)
    s.add_argument("--channels", type=int, default=4)
    s.add_argument("--rate", type=float, default=500.0)
    s.add_argument("--seconds", type=float, default=3.0)
    s.add_argument("--chunk", type=int, default=10)
    s.add_argument("--wait", type=float, default=20.0)
    s.add_argument("--markers", type=int, default=0)
    x = sub.add_parser("xdf")
    x.add_argument("file")
    x.add_argument("--name", required=True)
    x.add_argument("--t0", type=float, required=True)
    x.add_argument("--rate", type=float, required=True)
    a = p.parse_args()
    return {"recv": recv, "markers": markers, "send": send, "xdf": xdf}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
