#!/usr/bin/env python3
"""Generate scikit-learn reference vectors for neuropipe-dsp's BCI kernels.

Run with the project venv (pinned numpy/scikit-learn, python/requirements.txt):

    PY=$(bash scripts/venv.sh | tail -1)
    $PY scripts/bci/gen_reference.py

Writes crates/neuropipe-dsp/tests/data/bci.ref in the refpack format of
scripts/dsp/gen_reference.py. Deterministic: fixed seeds.

Cases:
    cov/<k>/x                 samples x features
    cov/<k>/empirical         sklearn.covariance.empirical_covariance(x)
    cov/<k>/lw, lw_shrinkage  sklearn.covariance.ledoit_wolf(x)
    cov/<k>/oas, oas_shrinkage sklearn.covariance.oas(x)
    lda/<k>/x, y, x_test      training data (labels 0..K-1 as float), test data
    lda/<k>/coef, intercept   LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    lda/<k>/decision, predict decision_function(x_test), predict(x_test)
    logreg/<k>/x, y, x_test, setup   training data, test data, [C]
    logreg/<k>/coef, intercept       LogisticRegression(C, tol=1e-12, solver="newton-cholesky")
                                     (binary for two classes, multinomial for more)
    logreg/<k>/decision, proba, predict   decision_function, predict_proba, predict(x_test)
    riem/<k>/x, y, x_test     covariance matrices (count x n*n), labels, test matrices
    riem/<k>/mean             pyriemann mean_riemann(x)
    riem/<k>/mdm_means        MDM(metric="riemann").fit(x, y).covmeans_
    riem/<k>/mdm_dist, mdm_proba, mdm_predict   transform, predict_proba, predict(x_test)
    riem/<k>/ts_ref, ts       TangentSpace(metric="riemann").fit(x).reference_, transform(x_test)
    riem/<k>/csp_filters, csp CSP(nfilter=min(4, n), metric="euclid", log=True).fit(x, y):
                              filters_, transform(x_test)
    xdawn/<k>/x, y, x_test    epochs (count x times*channels, frame-major), labels, test epochs
    xdawn/<k>/setup           [channels, times, nfilter, classes]
    xdawn/<k>/filters         Xdawn(nfilter).fit(X, y).filters_ (X: count x channels x times)
    xdawn/<k>/transform       transform(X_test), frame-major (count x times*outputs)
    cca/<k>/x                 an epoch (frames x channels)
    cca/<k>/setup             [fs, harmonics, f1, f2, ...]
    cca/<k>/rho               per target: largest canonical correlation with its sin/cos
                              references (orthonormal bases of both centred sides, numpy SVD
                              / QR; largest singular value of Qx.T @ Qy)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn.covariance import empirical_covariance, ledoit_wolf, oas
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
import pyriemann
from pyriemann.classification import MDM
from pyriemann.spatialfilters import CSP, Xdawn
from pyriemann.tangentspace import TangentSpace
from pyriemann.geometry.mean import mean_riemann

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dsp"))
from gen_reference import Pack  # noqa: E402  (the refpack writer)


def correlated(rng, n, p, scale=1.0):
    """n samples of p correlated features with unequal variances and an offset."""
    a = rng.standard_normal((p, p)) / np.sqrt(p)
    mix = np.eye(p) + 0.7 * a
    x = rng.standard_normal((n, p)) @ mix.T
    x *= rng.uniform(0.5, 3.0, p)[None, :] * scale
    return x + rng.uniform(-5.0, 5.0, p)[None, :]


def main() -> None:
    pack = Pack()
    rng = np.random.default_rng(2026)
    # (samples, features): many samples, about as many as features, fewer than features,
    # three features; EEG-scale values (tens of µV) in the last.
    for k, (n, p, scale) in enumerate([(200, 8, 1.0), (40, 32, 1.0), (25, 40, 1.0), (500, 3, 1.0), (250, 16, 30.0)]):
        x = correlated(rng, n, p, scale)
        pack.add(f"cov/{k}/x", x)
        pack.add(f"cov/{k}/empirical", empirical_covariance(x))
        c, s = ledoit_wolf(x)
        pack.add(f"cov/{k}/lw", c)
        pack.add(f"cov/{k}/lw_shrinkage", [s])
        c, s = oas(x)
        pack.add(f"cov/{k}/oas", c)
        pack.add(f"cov/{k}/oas_shrinkage", [s])

    # LDA: two classes (a P300-like imbalance), three classes, and more features than
    # samples per class (where shrinkage matters).
    for k, (n, p, classes, priors) in enumerate([
        (300, 12, 2, [0.8, 0.2]),
        (240, 6, 3, [0.3, 0.3, 0.4]),
        (60, 80, 2, [0.5, 0.5]),
    ]):
        y = rng.choice(classes, size=n, p=priors)
        y[:classes] = np.arange(classes)  # every class present
        shift = rng.standard_normal((classes, p)) * 0.8
        x = correlated(rng, n, p) + shift[y]
        yt = rng.choice(classes, size=100, p=priors)
        xt = correlated(rng, 100, p) + shift[yt]
        lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x, y)
        pack.add(f"lda/{k}/x", x)
        pack.add(f"lda/{k}/y", y.astype(np.float64))
        pack.add(f"lda/{k}/x_test", xt)
        pack.add(f"lda/{k}/coef", lda.coef_)
        pack.add(f"lda/{k}/intercept", lda.intercept_)
        pack.add(f"lda/{k}/decision", lda.decision_function(xt))
        pack.add(f"lda/{k}/predict", lda.predict(xt).astype(np.float64))
        pack.add(f"lda/{k}/proba", lda.predict_proba(xt))
    # Logistic regression: two classes (imbalanced), three classes, more features than
    # samples, a stronger and a weaker penalty; scikit-learn's Newton solver to a tight
    # tolerance, so that its optimum is the exact one (the default lbfgs reaches the same
    # minimum to about 1e-7).
    for k, (n, p, classes, priors, c) in enumerate([
        (300, 12, 2, [0.8, 0.2], 1.0),
        (240, 6, 3, [0.3, 0.3, 0.4], 0.1),
        (60, 80, 2, [0.5, 0.5], 1.0),
        (200, 5, 4, [0.25, 0.25, 0.25, 0.25], 10.0),
    ]):
        y = rng.choice(classes, size=n, p=priors)
        y[:classes] = np.arange(classes)
        shift = rng.standard_normal((classes, p)) * 0.8
        x = correlated(rng, n, p) * 0.3 + shift[y]
        yt = rng.choice(classes, size=100, p=priors)
        xt = correlated(rng, 100, p) * 0.3 + shift[yt]
        lr = LogisticRegression(C=c, tol=1e-12, max_iter=100000, solver="newton-cholesky").fit(x, y)
        pack.add(f"logreg/{k}/x", x)
        pack.add(f"logreg/{k}/y", y.astype(np.float64))
        pack.add(f"logreg/{k}/x_test", xt)
        pack.add(f"logreg/{k}/setup", [c])
        pack.add(f"logreg/{k}/coef", lr.coef_)
        pack.add(f"logreg/{k}/intercept", lr.intercept_)
        pack.add(f"logreg/{k}/decision", lr.decision_function(xt))
        pack.add(f"logreg/{k}/proba", lr.predict_proba(xt))
        pack.add(f"logreg/{k}/predict", lr.predict(xt).astype(np.float64))
    # Riemannian: covariances of epochs whose classes differ in the power of a few sources
    # (motor imagery's ERD), well and badly conditioned, at µV² and V² scales.
    for k, (n, count, frames, spread, scale) in enumerate([
        (4, 40, 200, 1.0, 1.0),
        (8, 60, 100, 1.0, 100.0),
        (12, 30, 60, 3.0, 1e-12),
        (3, 20, 500, 0.0, 1.0),
    ]):
        mix = np.eye(n) + 0.5 * rng.standard_normal((n, n)) / np.sqrt(n)
        gains = np.exp(spread * rng.uniform(-2.0, 2.0, n))

        def epochs(m):
            y = rng.integers(0, 2, m)
            y[:2] = [0, 1]
            covs = []
            for label in y:
                g = gains.copy()
                g[label] *= 0.5  # this class's source loses power
                e = (rng.standard_normal((frames, n)) * g) @ mix.T * np.sqrt(scale)
                e -= e.mean(axis=0)
                covs.append(e.T @ e / frames)
            return np.array(covs), y

        x, y = epochs(count)
        xt, _ = epochs(25)
        pack.add(f"riem/{k}/x", x.reshape(count, n * n))
        pack.add(f"riem/{k}/y", y.astype(np.float64))
        pack.add(f"riem/{k}/x_test", xt.reshape(len(xt), n * n))
        pack.add(f"riem/{k}/mean", mean_riemann(x))
        mdm = MDM(metric="riemann").fit(x, y)
        pack.add(f"riem/{k}/mdm_means", mdm.covmeans_.reshape(2, n * n))
        pack.add(f"riem/{k}/mdm_dist", mdm.transform(xt))
        pack.add(f"riem/{k}/mdm_proba", mdm.predict_proba(xt))
        pack.add(f"riem/{k}/mdm_predict", mdm.predict(xt).astype(np.float64))
        ts = TangentSpace(metric="riemann").fit(x)
        pack.add(f"riem/{k}/ts_ref", ts.reference_)
        pack.add(f"riem/{k}/ts", ts.transform(xt))
        csp = CSP(nfilter=min(4, n), metric="euclid", log=True).fit(x, y)
        pack.add(f"riem/{k}/csp_filters", csp.filters_)
        pack.add(f"riem/{k}/csp", csp.transform(xt))
    # xDAWN: an ERP (two components with their own topographies) in correlated noise, two
    # and three classes, more channels than filters; µV and V scales.
    for k, (channels, times, count, classes, nfilter, scale) in enumerate([
        (8, 50, 80, 2, 4, 1.0),
        (6, 30, 60, 3, 2, 1e-6),
        (16, 40, 120, 2, 3, 10.0),
    ]):
        t = np.arange(times) / times
        waves = np.stack([np.exp(-0.5 * ((t - 0.3) / 0.06) ** 2), -np.exp(-0.5 * ((t - 0.15) / 0.04) ** 2)])
        topo = rng.standard_normal((classes, 2, channels))
        mix = np.eye(channels) + 0.5 * rng.standard_normal((channels, channels)) / np.sqrt(channels)

        def erp_epochs(m):
            y = rng.integers(0, classes, m)
            y[:classes] = np.arange(classes)
            noise = rng.standard_normal((m, times, channels)) @ mix.T * 2.0
            x = noise + np.einsum("kt,nkc->ntc", waves, topo[y]) * 1.5 + 0.3
            return x * scale, y

        x, y = erp_epochs(count)
        xt, _ = erp_epochs(20)
        xd = Xdawn(nfilter=nfilter).fit(x.transpose(0, 2, 1), y)
        pack.add(f"xdawn/{k}/x", x.reshape(count, times * channels))
        pack.add(f"xdawn/{k}/y", y.astype(np.float64))
        pack.add(f"xdawn/{k}/x_test", xt.reshape(len(xt), times * channels))
        pack.add(f"xdawn/{k}/setup", [channels, times, nfilter, classes])
        pack.add(f"xdawn/{k}/filters", xd.filters_)
        out = xd.transform(xt.transpose(0, 2, 1)).transpose(0, 2, 1)
        pack.add(f"xdawn/{k}/transform", out.reshape(len(xt), -1))
    # CCA (SSVEP): a target in noise at two SNRs, a rank-deficient epoch, a short one.
    def cca_rho(x, f, harmonics, fs):
        t = np.arange(x.shape[0]) / fs
        y = np.column_stack([g(2 * np.pi * f * h * t) for h in range(1, harmonics + 1) for g in (np.sin, np.cos)])
        # An orthonormal basis of the channels' span: a dependent channel adds no direction
        # (a plain QR would give it an arbitrary one).
        u, sv, _ = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
        qx = u[:, sv > sv[0] * 1e-10]
        qy, _ = np.linalg.qr(y - y.mean(axis=0))
        return np.linalg.svd(qx.T @ qy, compute_uv=False)[0]

    for k, (fs, frames, channels, harmonics, freqs, amp, dependent) in enumerate([
        (250.0, 1000, 4, 3, [8.0, 10.0, 12.0, 15.0], 1.0, False),
        (250.0, 1000, 4, 3, [8.0, 10.0, 12.0, 15.0], 0.2, False),
        (500.0, 700, 6, 2, [9.5, 13.0, 17.25], 0.5, True),
        (256.0, 64, 3, 1, [7.0, 11.0], 0.8, False),
    ]):
        t = np.arange(frames) / fs
        target = freqs[k % len(freqs)]
        x = rng.standard_normal((frames, channels)) * 2.0 + 10.0
        for ch in range(channels):
            x[:, ch] += amp * (ch + 1) * np.sin(2 * np.pi * target * t + 0.3 * ch)
        if dependent:
            x[:, -1] = 0.5 * x[:, 0] - 2.0 * x[:, 1]
        pack.add(f"cca/{k}/x", x)
        pack.add(f"cca/{k}/setup", [fs, harmonics] + freqs)
        pack.add(f"cca/{k}/rho", [cca_rho(x, f, harmonics, fs) for f in freqs])
    size = pack.write("bci.ref")
    print(
        f"bci.ref: {size} bytes (numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"pyriemann {pyriemann.__version__})"
    )


if __name__ == "__main__":
    main()
