"""neuropipe.dsp against SciPy (pinned), and invariance to how the signal is split."""

import numpy as np
import pytest
import scipy.signal as ss

from neuropipe import DesignError, dsp

FS = 250.0


def signal(channels=8, n=5000, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    x = rng.standard_normal((channels, n)) * 20 + 40 * np.sin(2 * np.pi * 10 * t)
    x[:, : n // 2] += 300.0  # a step: the filter state matters
    return x


def test_designs_equal_scipy():
    np.testing.assert_allclose(dsp.butter(4, [1, 40], "bandpass", FS),
                               ss.butter(4, [1, 40], "bandpass", fs=FS, output="sos"), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dsp.butter(2, [0.5], "highpass", FS),
                               ss.butter(2, 0.5, "highpass", fs=FS, output="sos"), rtol=1e-13, atol=1e-15)
    b, a = ss.iirnotch(50, 30, fs=FS)
    np.testing.assert_allclose(dsp.iirnotch(50, 30, FS)[0], np.concatenate([b, a]), rtol=1e-13)
    np.testing.assert_allclose(dsp.firwin(101, [8, 30], FS, pass_zero=False),
                               ss.firwin(101, [8, 30], pass_zero=False, fs=FS), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(dsp.firwin(51, [20], FS, window=("kaiser", 5.0)),
                               ss.firwin(51, 20, window=("kaiser", 5.0), fs=FS), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_bandpass_equals_scipy_sosfilt(dtype, tol):
    x = signal()
    sos = ss.butter(4, [1, 40], "bandpass", fs=FS, output="sos")
    ref = ss.sosfilt(sos, x, axis=-1)  # float64: the designed filter's true response
    bp = dsp.Bandpass(1, 40, order=4, fs=FS, channels=8)
    y = bp.process(x.astype(dtype))
    assert y.dtype == np.dtype(dtype) and y.shape == x.shape
    scale = np.abs(ref).max()
    assert np.abs(y - ref).max() / scale < tol


def test_splitting_the_signal_anywhere_gives_the_same_output_bit_for_bit():
    x = signal().astype(np.float32)
    whole = dsp.Bandpass(1, 40, fs=FS, channels=8).process(x)
    rng = np.random.default_rng(7)
    cuts = np.sort(rng.choice(np.arange(1, x.shape[1]), size=40, replace=False))
    f = dsp.Bandpass(1, 40, fs=FS, channels=8)
    pieces = [f.process(p) for p in np.split(x, cuts, axis=1)]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)
    # And carrying the state equals SciPy with zi carried.
    sos = ss.butter(4, [1, 40], "bandpass", fs=FS, output="sos")
    x64 = x.astype(np.float64)
    z = np.zeros((sos.shape[0], 8, 2))
    ref = []
    for p in np.split(x64, cuts, axis=1):
        y, z = ss.sosfilt(sos, p, axis=-1, zi=z)
        ref.append(y)
    ref = np.concatenate(ref, axis=1)
    assert np.abs(whole - ref).max() / np.abs(ref).max() < 2e-5


def test_fir_notch_and_one_shot_equal_scipy():
    x = signal(channels=3)
    taps = ss.firwin(101, 30, fs=FS)
    np.testing.assert_allclose(dsp.Fir(taps, channels=3).process(x), ss.lfilter(taps, 1.0, x, axis=-1),
                               rtol=1e-10, atol=1e-9)
    b, a = ss.iirnotch(50, 30, fs=FS)
    np.testing.assert_allclose(dsp.Notch(50, 30, fs=FS, channels=3).process(x), ss.lfilter(b, a, x, axis=-1),
                               rtol=1e-9, atol=1e-9)
    sos = ss.butter(3, 20, "lowpass", fs=FS, output="sos")
    np.testing.assert_allclose(dsp.filter(sos, x[0]), ss.sosfilt(sos, x[0]), rtol=1e-10, atol=1e-9)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(DesignError, match="Nyquist|125"):
        dsp.Bandpass(1, 200, fs=FS)
    f = dsp.Bandpass(1, 40, fs=FS, channels=2, dtype="float32")
    with pytest.raises(TypeError, match="float32"):
        f.process(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="3 channels"):
        f.process(np.zeros((3, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="dtype"):
        dsp.Lowpass(10, fs=FS, dtype="int16")
