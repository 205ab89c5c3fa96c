"""BCI kernels on NumPy arrays, computed as pyRiemann and scikit-learn compute them — the
same code the pipeline's ``Covariance``, ``TangentSpace``, ``Mdm``, ``Csp``, ``Xdawn``,
``Lda``, ``LogisticRegression`` and ``Cca`` stages run; :func:`epochs` cuts marker-locked
windows as ``mne.Epochs`` does.

Shapes as pyRiemann's: epochs ``(n_epochs, channels, times)``, covariance matrices
``(n, channels, channels)``, features ``(n, n_features)``. Classes may be any labels (as
scikit-learn's ``classes_``)::

    from neuropipe import bci
    C = bci.covariances(epochs, "oas")
    clf = bci.MDM().fit(C[:80], y[:80])
    proba = clf.predict_proba(C[80:])
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import _neuropipe
from ._neuropipe import covariances, mean_riemann

__all__ = [
    "CCA",
    "CSP",
    "LDA",
    "LogisticRegression",
    "MDM",
    "TangentSpace",
    "Xdawn",
    "covariances",
    "epochs",
    "mean_riemann",
]


def _matrices(c) -> np.ndarray:
    return np.ascontiguousarray(c, dtype=np.float64)


class _Classes:
    """Maps any labels to 0..k-1 (and back), as scikit-learn's ``classes_``."""

    classes_: np.ndarray

    def _index(self, y) -> np.ndarray:
        self.classes_, idx = np.unique(np.asarray(y), return_inverse=True)
        return idx.astype(np.int64)


class TangentSpace:
    """pyRiemann's ``TangentSpace(metric="riemann")``: the tangent space at the Riemannian
    mean of the training matrices; ``transform`` gives ``(n, c(c+1)/2)`` vectors."""

    def __init__(self) -> None:
        self._ts = _neuropipe.TangentSpace()

    def fit(self, C, y=None) -> "TangentSpace":
        self._ts.fit(_matrices(C))
        return self

    def transform(self, C) -> np.ndarray:
        return self._ts.transform(_matrices(C))

    def fit_transform(self, C, y=None) -> np.ndarray:
        return self.fit(C).transform(C)

    @property
    def reference_(self) -> np.ndarray:
        return self._ts.reference


class MDM(_Classes):
    """pyRiemann's ``MDM()``: minimum distance to each class's Riemannian mean."""

    def __init__(self) -> None:
        self._mdm = _neuropipe.Mdm()

    def fit(self, C, y) -> "MDM":
        self._mdm.fit(_matrices(C), self._index(y))
        return self

    def transform(self, C) -> np.ndarray:
        """Distances to the class means, ``(n, k)``."""
        return self._mdm.transform(_matrices(C))

    def predict_proba(self, C) -> np.ndarray:
        return self._mdm.proba(self.transform(C))

    def predict(self, C) -> np.ndarray:
        return self.classes_[np.argmin(self.transform(C), axis=1)]


class LDA(_Classes):
    """scikit-learn's ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")``."""

    def __init__(self) -> None:
        self._lda = _neuropipe.Lda()

    def fit(self, X, y) -> "LDA":
        self._lda.fit(np.ascontiguousarray(X, dtype=np.float64), self._index(y))
        return self

    def _decision(self, X) -> np.ndarray:
        return self._lda.decision_function(np.ascontiguousarray(X, dtype=np.float64))

    def decision_function(self, X) -> np.ndarray:
        d = self._decision(X)
        return d[:, 0] if d.shape[1] == 1 else d

    def predict_proba(self, X) -> np.ndarray:
        return self._lda.proba(self._decision(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self._lda.predict_index(self._decision(X))]


class LogisticRegression(LDA):
    """scikit-learn's ``LogisticRegression(C=C)`` (L2, lbfgs/newton results: the optimum of
    the same objective; intercepts unpenalised, multinomial for more than two classes)."""

    def __init__(self, C: float = 1.0) -> None:
        super().__init__()
        self.C = float(C)

    def fit(self, X, y) -> "LogisticRegression":
        self._lda.fit_logistic(np.ascontiguousarray(X, dtype=np.float64), self._index(y), self.C)
        return self


class CSP(_Classes):
    """pyRiemann's ``CSP(nfilter, metric="euclid", log=True)`` on covariances, two classes:
    ``transform`` gives the log-variance of each filter's output."""

    def __init__(self, nfilter: int = 4) -> None:
        self.nfilter = int(nfilter)
        self._csp = _neuropipe.Csp()

    def fit(self, C, y) -> "CSP":
        idx = self._index(y)
        if len(self.classes_) != 2:
            raise ValueError(f"CSP needs two classes, got {len(self.classes_)}")
        self._csp.fit(_matrices(C), idx, self.nfilter)
        return self

    def transform(self, C) -> np.ndarray:
        return self._csp.transform(_matrices(C))

    @property
    def filters_(self) -> np.ndarray:
        return self._csp.filters


class Xdawn(_Classes):
    """pyRiemann's ``Xdawn(nfilter)`` on epochs ``(n, channels, times)``: ``nfilter`` filters
    per class; ``transform`` gives ``(n, nfilter * classes, times)``."""

    def __init__(self, nfilter: int = 4) -> None:
        self.nfilter = int(nfilter)
        self._xd = _neuropipe.Xdawn()

    def fit(self, X, y) -> "Xdawn":
        self._xd.fit(np.ascontiguousarray(X, dtype=np.float64), self._index(y), self.nfilter)
        return self

    def transform(self, X) -> np.ndarray:
        return self._xd.transform(np.ascontiguousarray(X, dtype=np.float64))

    @property
    def filters_(self) -> np.ndarray:
        return self._xd.filters


class CCA:
    """Training-free SSVEP decoding (Lin et al., 2006), as the ``Cca`` stage: each epoch's
    largest canonical correlation with sin/cos references at each target frequency and its
    ``harmonics``; ``predict`` gives the target frequency with the largest."""

    def __init__(self, freqs, fs: float, harmonics: int = 3) -> None:
        self.freqs = np.asarray(freqs, dtype=np.float64)
        self.fs = float(fs)
        self.harmonics = int(harmonics)

    def fit(self, X=None, y=None) -> "CCA":
        return self

    def transform(self, X) -> np.ndarray:
        """Correlations ``(n, targets)`` of epochs ``(n, channels, times)``."""
        return _neuropipe.cca_correlations(
            np.ascontiguousarray(X, dtype=np.float64), self.freqs.tolist(), self.harmonics, self.fs
        )

    def predict(self, X) -> np.ndarray:
        return self.freqs[np.argmax(self.transform(X), axis=1)]


def epochs(data, sfreq: float, onsets, tmin: float, tmax: float, baseline=(None, 0.0)) -> np.ndarray:
    """Marker-locked epochs ``(n, channels, times)`` of ``data`` (channels, samples), as
    ``mne.Epochs(raw, events, tmin=tmin, tmax=tmax, baseline=baseline)`` cuts them: event
    samples ``onsets`` (ints, in samples), window samples ``round(tmin*sfreq) ..
    round(tmax*sfreq)`` inclusive, and each channel's mean over the baseline interval (None:
    from the start / to the end; ``baseline=None``: none) subtracted. Windows that do not fit
    in ``data`` raise ``ValueError`` (MNE drops them; here nothing is dropped silently)."""
    data = np.asarray(data, dtype=np.float64)
    onsets = np.asarray(onsets, dtype=np.int64)
    start, stop = int(round(tmin * sfreq)), int(round(tmax * sfreq))
    if stop < start:
        raise ValueError(f"tmax ({tmax}) is before tmin ({tmin})")
    bad = [int(o) for o in onsets if o + start < 0 or o + stop >= data.shape[1]]
    if bad:
        raise ValueError(f"events at samples {bad} have windows outside the data (0..{data.shape[1] - 1})")
    idx = onsets[:, None] + np.arange(start, stop + 1)[None, :]
    out = data[:, idx].transpose(1, 0, 2).copy()
    if baseline is not None:
        times = np.arange(start, stop + 1) / sfreq
        lo = times[0] if baseline[0] is None else baseline[0]
        hi = times[-1] if baseline[1] is None else baseline[1]
        mask = (times >= lo) & (times <= hi)
        if not mask.any():
            raise ValueError(f"no sample in the baseline interval {baseline}")
        out -= out[:, :, mask].mean(axis=2, keepdims=True)
    return out
