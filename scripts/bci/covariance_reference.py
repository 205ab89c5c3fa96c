#!/usr/bin/env python3
"""pyRiemann's covariance estimators on a set of epochs, for neuropipe's `Covariance` stage.

Usage: covariance_reference.py OUT_DIR

Writes OUT_DIR/epochs.f64 (20 epochs x 6 channels x 125 frames, little-endian float64,
correlated channels with offsets, in µV) and OUT_DIR/cov_<estimator>.f64 (20 x 6 x 6) for
pyriemann.estimation.Covariances(estimator) with estimator scm, lwf and oas.
Deterministic (fixed seed). Versions: python/requirements.txt.
"""

import pathlib
import sys

import numpy as np
from pyriemann.estimation import Covariances


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    mix = np.eye(6) + 0.5 * rng.standard_normal((6, 6))
    x = np.einsum("ij,njt->nit", mix, rng.standard_normal((20, 6, 125))) * 15.0
    x += rng.uniform(-40, 40, (20, 6, 1))
    x.astype("<f8").tofile(out / "epochs.f64")
    for est in ("scm", "lwf", "oas"):
        Covariances(estimator=est).transform(x).astype("<f8").tofile(out / f"cov_{est}.f64")
    print("20 epochs, 3 estimators")


if __name__ == "__main__":
    main(sys.argv[1])
