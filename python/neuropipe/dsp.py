"""Streaming filters on NumPy arrays, designed as :mod:`scipy.signal` designs them.

Each filter keeps its state between :meth:`process` calls, so a signal filtered in pieces of
any size equals the same signal filtered at once, and equals SciPy with the state carried
(``sosfilt(sos, x, zi=z)`` / ``lfilter(taps, 1, x, zi=z)``). Arrays are ``(channels, times)``
(a 1-D array is one channel). The sample type (float32 or float64) is fixed by ``dtype`` or by
the first array processed; state and coefficients are float64 either way.

::

    from neuropipe import dsp
    bp = dsp.Bandpass(1.0, 40.0, order=4, fs=250.0, channels=8)
    for block in blocks:              # (8, n) arrays, any n
        out = bp.process(block)
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from . import _neuropipe
from ._neuropipe import butter, firwin, iirnotch

__all__ = [
    "Bandpass",
    "Bandstop",
    "Fir",
    "Highpass",
    "Lowpass",
    "Notch",
    "Sos",
    "butter",
    "filter",
    "firwin",
    "iirnotch",
]

_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


class _Streaming:
    """A filter over ``channels`` channels that keeps its state across :meth:`process`."""

    def __init__(self, channels: int, dtype: Optional[str]) -> None:
        if dtype is not None and dtype not in ("float32", "float64"):
            raise ValueError(f'dtype must be "float32", "float64" or None, got {dtype!r}')
        self.channels = int(channels)
        self.dtype = dtype
        self._filter = None
        if dtype is not None:
            self._filter = self._build(dtype)

    def _build(self, dtype: str):
        raise NotImplementedError

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filters ``x`` (channels, times) or (times,) and returns the result (same shape and
        dtype); the state carries over to the next call."""
        x = np.asarray(x)
        one_d = x.ndim == 1
        if one_d:
            x = x[np.newaxis, :]
        if self._filter is None:
            dtype = _DTYPES.get(x.dtype, "float64")
            self.dtype = dtype
            self._filter = self._build(dtype)
        want = np.float32 if self.dtype == "float32" else np.float64
        if want is np.float64 and x.dtype.kind in "biu":
            x = x.astype(np.float64)  # integers (e.g. raw ADC counts): exact in float64
        if x.dtype != want:
            raise TypeError(
                f"this filter runs in {self.dtype} (fixed by its first input or dtype=): "
                f"got {x.dtype}; convert with x.astype(np.{self.dtype}) or build another filter"
            )
        y = self._filter.process(x)
        return y[0] if one_d else y

    def reset(self) -> None:
        """Zero state, as a new filter."""
        if self._filter is not None:
            self._filter.reset()


class Sos(_Streaming):
    """Any IIR filter in second-order sections (``sos`` of shape (n, 6), as SciPy's)."""

    def __init__(self, sos: np.ndarray, channels: int = 1, dtype: Optional[str] = None) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        super().__init__(channels, dtype)

    def _build(self, dtype: str):
        return _neuropipe.Filter.sos(self.sos, self.channels, dtype)


class Bandpass(Sos):
    """Butterworth band-pass: ``scipy.signal.butter(order, [low, high], "bandpass", fs=fs,
    output="sos")`` run as a streaming filter."""

    def __init__(self, low: float, high: float, order: int = 4, fs: float = 250.0,
                 channels: int = 1, dtype: Optional[str] = None) -> None:
        super().__init__(butter(order, [low, high], "bandpass", fs), channels, dtype)


class Bandstop(Sos):
    """Butterworth band-stop (``btype="bandstop"``)."""

    def __init__(self, low: float, high: float, order: int = 4, fs: float = 250.0,
                 channels: int = 1, dtype: Optional[str] = None) -> None:
        super().__init__(butter(order, [low, high], "bandstop", fs), channels, dtype)


class Lowpass(Sos):
    """Butterworth low-pass (``btype="lowpass"``)."""

    def __init__(self, cutoff: float, order: int = 4, fs: float = 250.0,
                 channels: int = 1, dtype: Optional[str] = None) -> None:
        super().__init__(butter(order, [cutoff], "lowpass", fs), channels, dtype)


class Highpass(Sos):
    """Butterworth high-pass (``btype="highpass"``)."""

    def __init__(self, cutoff: float, order: int = 4, fs: float = 250.0,
                 channels: int = 1, dtype: Optional[str] = None) -> None:
        super().__init__(butter(order, [cutoff], "highpass", fs), channels, dtype)


class Notch(Sos):
    """Notch: ``scipy.signal.iirnotch(freq, q, fs)`` as one second-order section."""

    def __init__(self, freq: float, q: float = 30.0, fs: float = 250.0,
                 channels: int = 1, dtype: Optional[str] = None) -> None:
        super().__init__(iirnotch(freq, q, fs), channels, dtype)


class Fir(_Streaming):
    """FIR filter with ``taps`` (e.g. from :func:`firwin`): ``lfilter(taps, 1.0, x)`` streamed."""

    def __init__(self, taps: Sequence[float], channels: int = 1, dtype: Optional[str] = None) -> None:
        self.taps = np.asarray(taps, dtype=np.float64)
        super().__init__(channels, dtype)

    def _build(self, dtype: str):
        return _neuropipe.Filter.fir(self.taps.tolist(), self.channels, dtype)


def filter(sos_or_taps: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One-shot filtering from zero state: ``sos`` (n, 6) as ``scipy.signal.sosfilt`` or FIR
    taps (1-D) as ``scipy.signal.lfilter(taps, 1.0, x)``, along the last axis of ``x``
    ((channels, times) or (times,))."""
    coefs = np.asarray(sos_or_taps, dtype=np.float64)
    x = np.asarray(x)
    channels = 1 if x.ndim == 1 else x.shape[0]
    f: _Streaming = Sos(coefs, channels) if coefs.ndim == 2 else Fir(coefs, channels)
    return f.process(x)
