"""neuropipe.bci against pyRiemann 0.12 and scikit-learn 1.9.1 (pinned) on the same epochs."""

import numpy as np
import pytest
from pyriemann.classification import MDM as RefMDM
from pyriemann.estimation import Covariances
from pyriemann.tangentspace import TangentSpace as RefTS
from pyriemann.geometry.mean import mean_riemann
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from neuropipe import bci


def epochs(n=60, channels=6, times=200, seed=3):
    """Two classes differing in the variance of a channel pair (as motor imagery does)."""
    rng = np.random.default_rng(seed)
    y = np.array(["left", "right"])[rng.integers(0, 2, n)]
    x = rng.standard_normal((n, channels, times)) * 10
    x[y == "left", 1] *= 2.0
    x[y == "right", 4] *= 2.0
    mix = rng.standard_normal((channels, channels)) * 0.3 + np.eye(channels)
    return np.einsum("ij,njt->nit", mix, x), y


@pytest.mark.parametrize("estimator", ["scm", "lwf", "oas"])
def test_covariances_equal_pyriemann(estimator):
    x, _ = epochs()
    ours = bci.covariances(x, estimator)
    ref = Covariances(estimator).fit_transform(x)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def test_mean_tangent_space_mdm_and_lda_equal_the_references():
    x, y = epochs()
    C = bci.covariances(x, "oas")
    train, test = slice(0, 40), slice(40, None)
    np.testing.assert_allclose(bci.mean_riemann(C), mean_riemann(C), rtol=1e-10)

    ts = bci.TangentSpace().fit(C[train])
    ref_ts = RefTS(metric="riemann").fit(C[train])
    np.testing.assert_allclose(ts.reference_, ref_ts.reference_, rtol=1e-10)
    np.testing.assert_allclose(ts.transform(C[test]), ref_ts.transform(C[test]), rtol=1e-9, atol=1e-10)

    mdm = bci.MDM().fit(C[train], y[train])
    ref_mdm = RefMDM().fit(C[train], y[train])
    np.testing.assert_allclose(mdm.transform(C[test]), ref_mdm.transform(C[test]), rtol=1e-9)
    np.testing.assert_allclose(mdm.predict_proba(C[test]), ref_mdm.predict_proba(C[test]), rtol=1e-9, atol=1e-12)
    assert list(mdm.predict(C[test])) == list(ref_mdm.predict(C[test]))
    assert list(mdm.classes_) == ["left", "right"]

    f_train, f_test = ts.transform(C[train]), ts.transform(C[test])
    lda = bci.LDA().fit(f_train, y[train])
    ref_lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(f_train, y[train])
    np.testing.assert_allclose(lda.decision_function(f_test), ref_lda.decision_function(f_test), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(lda.predict_proba(f_test), ref_lda.predict_proba(f_test), rtol=1e-8, atol=1e-12)
    assert list(lda.predict(f_test)) == list(ref_lda.predict(f_test))
    # The classes are separable: both decode well above chance.
    assert (lda.predict(f_test) == y[test]).mean() > 0.8


def test_errors_are_clear():
    with pytest.raises(ValueError, match="estimator"):
        bci.covariances(np.zeros((2, 3, 10)), "nope")
    with pytest.raises(RuntimeError, match="not fitted"):
        bci.MDM().transform(np.stack([np.eye(3)] * 2))
    with pytest.raises(ValueError, match="channels, channels"):
        bci.TangentSpace().fit(np.zeros((2, 3, 4)))


def test_csp_xdawn_and_logistic_regression_equal_the_references():
    from pyriemann.spatialfilters import CSP as RefCSP
    from pyriemann.spatialfilters import Xdawn as RefXdawn
    from sklearn.linear_model import LogisticRegression as RefLR

    x, y = epochs(n=80)
    C = bci.covariances(x, "scm")
    csp = bci.CSP(nfilter=4).fit(C[:60], y[:60])
    ref = RefCSP(nfilter=4, metric="euclid", log=True).fit(C[:60], y[:60])
    np.testing.assert_allclose(csp.transform(C[60:]), ref.transform(C[60:]), rtol=1e-8, atol=1e-10)

    # Evoked responses: class "target" adds a waveform on some channels.
    rng = np.random.default_rng(5)
    ev = rng.standard_normal((80, 6, 50))
    target = rng.integers(0, 2, 80) == 1
    ev[target, 2:5] += np.sin(np.linspace(0, np.pi, 50)) * 2
    labels = np.where(target, "target", "nontarget")
    xd = bci.Xdawn(nfilter=2).fit(ev, labels)
    ref_xd = RefXdawn(nfilter=2).fit(ev, labels)
    # Filters are defined up to sign: compare the outputs' magnitudes per filter.
    ours, theirs = xd.transform(ev), ref_xd.transform(ev)
    assert ours.shape == theirs.shape == (80, 4, 50)
    signs = np.sign(np.sum(xd.filters_ * ref_xd.filters_, axis=1))
    np.testing.assert_allclose(ours * signs[None, :, None], theirs, rtol=1e-8, atol=1e-10)

    f = bci.TangentSpace().fit(C).transform(C)
    for k in (2, 3):
        yy = np.arange(80) % k
        lr = bci.LogisticRegression(C=0.5).fit(f, yy)
        ref_lr = RefLR(C=0.5, tol=1e-12, max_iter=100000, solver="newton-cholesky").fit(f, yy)
        np.testing.assert_allclose(lr.predict_proba(f), ref_lr.predict_proba(f), rtol=1e-6, atol=1e-9)
        assert list(lr.predict(f)) == list(ref_lr.predict(f))


def test_cca_equals_numpy_canonical_correlation_and_finds_the_flicker():
    fs, freqs, h = 250.0, [7.5, 12.0, 15.0], 2
    rng = np.random.default_rng(8)
    t = np.arange(500) / fs
    x = rng.standard_normal((6, 4, 500))
    truth = np.array([0, 1, 2, 0, 1, 2])
    for e, k in enumerate(truth):
        x[e, 1:3] += 0.8 * np.sin(2 * np.pi * freqs[k] * t)
    cca = bci.CCA(freqs, fs, harmonics=h)
    ours = cca.transform(x)

    def ref(epoch, f):
        refs = np.concatenate([[np.sin(2 * np.pi * k * f * t), np.cos(2 * np.pi * k * f * t)] for k in range(1, h + 1)])
        qx, _ = np.linalg.qr((epoch - epoch.mean(axis=1, keepdims=True)).T)
        qy, _ = np.linalg.qr((refs - refs.mean(axis=1, keepdims=True)).T)
        return np.linalg.svd(qx.T @ qy, compute_uv=False)[0]

    expected = np.array([[ref(e, f) for f in freqs] for e in x])
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    np.testing.assert_array_equal(cca.predict(x), np.asarray(freqs)[truth])


def test_epochs_equal_mne_epochs():
    import mne

    sfreq = 250.0
    rng = np.random.default_rng(2)
    data = rng.standard_normal((3, 5000)) * 1e-5 + 2e-5
    onsets = np.array([300, 1234, 2500, 4000])
    ours = bci.epochs(data, sfreq, onsets, -0.2, 0.8, baseline=(None, 0.0))
    raw = mne.io.RawArray(data, mne.create_info(3, sfreq, "eeg"), verbose="error")
    events = np.column_stack([onsets, np.zeros(4, int), np.ones(4, int)])
    ref = mne.Epochs(raw, events, tmin=-0.2, tmax=0.8, baseline=(None, 0.0), preload=True, verbose="error").get_data()
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-20)
    with pytest.raises(ValueError, match="outside the data"):
        bci.epochs(data, sfreq, [10], -0.2, 0.8)
