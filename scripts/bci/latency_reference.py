#!/usr/bin/env python3
"""The decoding chains of pipelines/p300_speller.json and pipelines/motor_imagery_tangent.json
hand-rolled in Python (NumPy, SciPy, pyRiemann, scikit-learn), timed the way neuropipe's sink
measures it: from the moment the packet that completes an epoch's window is available to the
moment its prediction exists.

Usage: latency_reference.py CHANNELS SECONDS [p300|mi]

mi: noise in packets of 16 frames at 250 Hz, a cue every 4.5 s from 2 s; band-pass 8-13 Hz
(Butterworth order 4, sosfilt with state), epochs 0.5..3.5 s after each cue, pyRiemann
Covariances(estimator="oas"), TangentSpace (Riemannian mean of the first half's covariances),
LDA (lsqr, auto shrinkage) fitted on the first half.

p300:
Simulated signal (noise plus a P300 after targets, a stimulus every 0.25 s, 20 % targets) in
packets of 16 frames at 250 Hz, processed as they come: band-pass 0.5-20 Hz (Butterworth
order 4, sosfilt with state), a ring buffer, epochs -0.2..0.8 s with baseline -0.2..0 s,
xDAWN (pyRiemann, 4 filters per class), 100 ms bin means over 0..0.8 s, LDA (lsqr, auto
shrinkage); xDAWN and LDA fitted on the first half.
Prints p50/p99/max of the latency in microseconds and the number of predictions.
"""

import sys
import time

import numpy as np
import scipy.signal as sig
from pyriemann.estimation import Covariances
from pyriemann.spatialfilters import Xdawn
from pyriemann.tangentspace import TangentSpace
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

FS, PACKET = 250, 16


def main(channels, seconds):
    rng = np.random.default_rng(1)
    n = int(seconds * FS)
    x = rng.standard_normal((n, channels)) * 10.0
    onsets = np.arange(FS, n - FS, FS // 4)
    targets = rng.random(len(onsets)) < 0.2
    wave = 8.0 * np.exp(-0.5 * ((np.arange(200) / FS - 0.3) / 0.06) ** 2)
    for o, t in zip(onsets, targets):
        if t:
            x[o:o + 200] += wave[:, None]
    sos = sig.butter(4, [0.5, 20], btype="bandpass", fs=FS, output="sos")
    zi = np.zeros((sos.shape[0], 2, channels))
    ring = np.zeros((n, channels))
    i0, i1 = -50, 200  # -0.2 .. 0.8 s
    pending = list(zip(onsets, targets))
    epochs, labels, lat = [], [], []
    lda = xd = None
    half = len(onsets) // 2
    for start in range(0, n, PACKET):
        packet = x[start:start + PACKET]
        t0 = time.perf_counter()  # the packet is available
        y, zi = sig.sosfilt(sos, packet, axis=0, zi=zi)
        ring[start:start + len(y)] = y
        end = start + len(y)
        while pending and pending[0][0] + i1 < end:
            o, t = pending.pop(0)
            e = ring[o + i0:o + i1 + 1]
            e = e - e[: -i0 + 1].mean(axis=0)
            if len(epochs) < half:
                epochs.append(e.T)
                labels.append(int(t))
                if len(epochs) == half:
                    X, y = np.array(epochs), np.array(labels)
                    xd = Xdawn(nfilter=4).fit(X, y)
                    F = xd.transform(X)[:, :, -i0:-i0 + 200]
                    F = F.reshape(len(F), F.shape[1], 8, 25).mean(axis=3).reshape(len(F), -1)
                    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(F, y)
                continue
            v = xd.transform(e.T[None])[0][:, -i0:-i0 + 200]
            f = v.reshape(v.shape[0], 8, 25).mean(axis=2).ravel()
            lda.predict_proba(f[None, :])
            lat.append(time.perf_counter() - t0)
    lat = np.array(lat) * 1e6
    print(f"python chain, {channels} ch: {len(lat)} predictions, latency p50 {np.percentile(lat, 50):.0f} us, "
          f"p99 {np.percentile(lat, 99):.0f} us, max {lat.max():.0f} us")


def motor_imagery(channels, seconds):
    rng = np.random.default_rng(1)
    n = int(seconds * FS)
    x = rng.standard_normal((n, channels)) * 10.0
    onsets = np.arange(2 * FS, n - 4 * FS, int(4.5 * FS))
    classes = rng.integers(0, 2, len(onsets))
    classes[:2] = [0, 1]
    sos = sig.butter(4, [8, 13], btype="bandpass", fs=FS, output="sos")
    zi = np.zeros((sos.shape[0], 2, channels))
    ring = np.zeros((n, channels))
    i0, i1 = int(0.5 * FS), int(3.5 * FS)
    pending = list(zip(onsets, classes))
    covs, labels, lat = [], [], []
    cov = Covariances(estimator="oas")
    ts = lda = None
    half = len(onsets) // 2
    for start in range(0, n, PACKET):
        packet = x[start:start + PACKET]
        t0 = time.perf_counter()  # the packet is available
        y, zi = sig.sosfilt(sos, packet, axis=0, zi=zi)
        ring[start:start + len(y)] = y
        end = start + len(y)
        while pending and pending[0][0] + i1 < end:
            o, c = pending.pop(0)
            e = ring[o + i0:o + i1 + 1].T[None]
            if len(covs) < half:
                covs.append(cov.transform(e)[0])
                labels.append(int(c))
                if len(covs) == half:
                    C, yl = np.array(covs), np.array(labels)
                    ts = TangentSpace(metric="riemann").fit(C)
                    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(ts.transform(C), yl)
                continue
            lda.predict_proba(ts.transform(cov.transform(e)))
            lat.append(time.perf_counter() - t0)
    lat = np.array(lat) * 1e6
    print(f"python chain (tangent space), {channels} ch: {len(lat)} predictions, latency p50 {np.percentile(lat, 50):.0f} us, "
          f"p99 {np.percentile(lat, 99):.0f} us, max {lat.max():.0f} us")


if __name__ == "__main__":
    task = sys.argv[3] if len(sys.argv) > 3 else "p300"
    (motor_imagery if task == "mi" else main)(int(sys.argv[1]), float(sys.argv[2]))
