#!/usr/bin/env python3
"""Per-epoch cost of on-line Riemannian decoding: neuropipe's kernels next to pyRiemann.

One covariance matrix at a time, as a closed loop decodes (the `Mdm` and `TangentSpace`
stages call the same kernels): MDM distances to two class means (pyRiemann:
`MDM.predict_proba`, which computes them) and the tangent-space map (pyRiemann:
`TangentSpace.transform`), at 8, 16, 32 and 64 channels. neuropipe is timed by the
`riemann_bench` example (built with `cargo run --release`); pyRiemann in this process,
median of 5 runs over 200 matrices each.

Usage (from the repository root):

    PY=$(bash scripts/venv.sh | tail -1)
    $PY scripts/bci/riemann_bench.py
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from datetime import datetime, timezone

import numpy as np
import pyriemann
from pyriemann.classification import MDM
from pyriemann.tangentspace import TangentSpace


def cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def covariances(rng, n: int, m: int) -> np.ndarray:
    x = rng.standard_normal((m, 4 * n, n)) * (1.0 + 0.2 * np.arange(n))
    return np.einsum("mti,mtj->mij", x, x) / (4 * n)


def per_matrix_us(f, mats) -> float:
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for c in mats:
            f(c[None])
        runs.append((time.perf_counter() - t0) / len(mats) * 1e6)
    return sorted(runs)[2]


def main() -> None:
    out = subprocess.run(
        ["cargo", "run", "--release", "-q", "-p", "neuropipe-dsp", "--example", "riemann_bench"],
        check=True, capture_output=True, text=True,
    ).stdout
    ours = {r["channels"]: r for r in map(json.loads, out.splitlines())}
    rng = np.random.default_rng(0)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu()}, pyriemann {pyriemann.__version__}, numpy {np.__version__}")
    print("channels | MDM: neuropipe µs, pyRiemann µs, ratio | tangent space: neuropipe µs, pyRiemann µs, ratio")
    for n, r in sorted(ours.items()):
        train = covariances(rng, n, 40)
        y = np.arange(40) % 2
        mdm = MDM(metric="riemann").fit(train, y)
        ts = TangentSpace(metric="riemann").fit(train)
        test = covariances(rng, n, 200)
        p_mdm = per_matrix_us(mdm.predict_proba, test)
        p_ts = per_matrix_us(ts.transform, test)
        print(
            f"{n:8d} | {r['mdm_us']:8.1f} {p_mdm:8.1f} {p_mdm / r['mdm_us']:6.1f}x"
            f" | {r['ts_us']:8.1f} {p_ts:8.1f} {p_ts / r['ts_us']:6.1f}x"
        )


if __name__ == "__main__":
    main()
