//! The BCI kernels on NumPy arrays — the code the pipeline's `Covariance`, `TangentSpace`,
//! `Mdm` and `Lda` stages run — computed as pyRiemann and scikit-learn compute them. The
//! Python side (`neuropipe/bci.py`) maps arbitrary class labels to `0..k` and gives the
//! classes scikit-learn's `fit`/`transform`/`predict` shape.

use neuropipe_dsp::decode::covariance::{empirical_into, ledoit_wolf_into, oas_into};
use neuropipe_dsp::decode::riemann::mean_riemann as riemann_mean;
use neuropipe_dsp::decode::{
    fit_logistic, CspModel, LdaModel, MdmModel, Spd, TangentSpaceModel, XdawnModel,
};
use numpy::ndarray::{Array2, Array3};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn not_fitted(what: &str) -> PyErr {
    PyRuntimeError::new_err(format!("this {what} is not fitted yet: call fit() first"))
}

/// `values` as a `(rows, cols)` array.
fn array2(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    values: Vec<f64>,
) -> PyResult<Bound<'_, PyArray2<f64>>> {
    Array2::from_shape_vec((rows, cols), values)
        .map(|a| a.into_pyarray(py))
        .map_err(value_error)
}

/// Runs `f` on each `(c, c)` matrix of `c` (which must have the fitted `channels`), each
/// giving `width` values, with the GIL released: an `(n, width)` array. An error of `f`
/// names the problem; the matrix's index is added.
fn per_matrix<'py>(
    py: Python<'py>,
    c: &PyReadonlyArray3<'py, f64>,
    channels: usize,
    width: usize,
    mut f: impl FnMut(&[f64], &mut Spd, &mut [f64]) -> Result<(), String> + Send,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (m, n, ch) = matrices(c)?;
    if ch != channels {
        return Err(PyValueError::new_err(format!(
            "fitted on {channels} channels, got {ch}"
        )));
    }
    let out = py.detach(|| -> Result<Vec<f64>, String> {
        let mut spd = Spd::new(ch);
        let mut out = vec![0.0; n * width];
        for (i, (x, o)) in m
            .chunks_exact(ch * ch)
            .zip(out.chunks_exact_mut(width))
            .enumerate()
        {
            f(x, &mut spd, o).map_err(|e| format!("matrix {i}: {e}"))?;
        }
        Ok(out)
    });
    array2(py, n, width, out.map_err(value_error)?)
}

/// `(n, c, c)` matrices as one flat, C-ordered vector (copied).
fn matrices(c: &PyReadonlyArray3<'_, f64>) -> PyResult<(Vec<f64>, usize, usize)> {
    let a = c.as_array();
    let (n, r, k) = a.dim();
    if r != k || r == 0 {
        return Err(PyValueError::new_err(format!(
            "expected (n_matrices, channels, channels), got ({n}, {r}, {k})"
        )));
    }
    Ok((a.iter().copied().collect(), n, r))
}

/// Class labels `0..k` as u32, with `k`.
fn labels(y: &PyReadonlyArray1<'_, i64>, n: usize) -> PyResult<(Vec<u32>, usize)> {
    let y = y.as_array();
    if y.len() != n {
        return Err(PyValueError::new_err(format!(
            "{} labels for {n} samples",
            y.len()
        )));
    }
    let mut out = Vec::with_capacity(n);
    for &v in y.iter() {
        out.push(
            u32::try_from(v)
                .map_err(|_| PyValueError::new_err(format!("label {v} is negative")))?,
        );
    }
    let k = out.iter().max().map_or(0, |m| *m as usize + 1);
    Ok((out, k))
}

/// Covariance of each epoch of `x` (epochs, channels, times), as pyRiemann's
/// `Covariances(estimator)`: "scm" (sample covariance), "lwf" (Ledoit–Wolf), "oas".
#[pyfunction]
#[pyo3(signature = (x, estimator = "scm"))]
pub(crate) fn covariances<'py>(
    py: Python<'py>,
    x: PyReadonlyArray3<'py, f64>,
    estimator: &str,
) -> PyResult<Bound<'py, PyArray3<f64>>> {
    let est: fn(&[f64], usize, usize, &mut [f64], &mut [f64]) = match estimator {
        "scm" => empirical_into,
        "lwf" => |x, n, p, s, o| {
            ledoit_wolf_into(x, n, p, s, o);
        },
        "oas" => |x, n, p, s, o| {
            oas_into(x, n, p, s, o);
        },
        _ => {
            return Err(PyValueError::new_err(format!(
                "estimator must be \"scm\", \"lwf\" or \"oas\", got `{estimator}`"
            )))
        }
    };
    let a = x.as_array();
    let (e, c, t) = a.dim();
    if c == 0 || t < 2 {
        return Err(PyValueError::new_err(format!(
            "expected (epochs, channels, times) with channels >= 1 and times >= 2, got ({e}, {c}, {t})"
        )));
    }
    let out = py.detach(|| {
        let mut out = Array3::<f64>::zeros((e, c, c));
        let (mut frames, mut scratch, mut cov) = (vec![0.0; t * c], vec![0.0; c], vec![0.0; c * c]);
        for (epoch, mut o) in a.outer_iter().zip(out.outer_iter_mut()) {
            for ((ch, k), v) in epoch.indexed_iter() {
                frames[k * c + ch] = *v;
            }
            est(&frames, t, c, &mut scratch, &mut cov);
            for (d, v) in o.iter_mut().zip(&cov) {
                *d = *v;
            }
        }
        out
    });
    Ok(out.into_pyarray(py))
}

/// The Riemannian mean of `(n, c, c)` SPD matrices, as pyRiemann's `mean_riemann`.
#[pyfunction]
pub(crate) fn mean_riemann<'py>(
    py: Python<'py>,
    c: PyReadonlyArray3<'py, f64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (m, _, ch) = matrices(&c)?;
    let (mean, _) = py.detach(|| riemann_mean(&m, ch)).map_err(value_error)?;
    array2(py, ch, ch, mean)
}

/// Tangent space at the Riemannian mean of the training matrices (pyRiemann's
/// `TangentSpace(metric="riemann")`).
#[pyclass(module = "neuropipe._neuropipe")]
pub(crate) struct TangentSpace {
    model: Option<TangentSpaceModel>,
}

#[pymethods]
impl TangentSpace {
    #[new]
    fn new() -> Self {
        TangentSpace { model: None }
    }

    /// Fits the reference on `(n, c, c)` matrices.
    fn fit(&mut self, py: Python<'_>, c: PyReadonlyArray3<'_, f64>) -> PyResult<()> {
        let (m, _, ch) = matrices(&c)?;
        self.model = Some(
            py.detach(|| TangentSpaceModel::fit(&m, ch))
                .map_err(value_error)?,
        );
        Ok(())
    }

    /// Tangent vectors `(n, c(c+1)/2)`.
    fn transform<'py>(
        &self,
        py: Python<'py>,
        c: PyReadonlyArray3<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self
            .model
            .as_ref()
            .ok_or_else(|| not_fitted("TangentSpace"))?;
        per_matrix(py, &c, model.channels, model.features(), |x, spd, o| {
            model
                .transform_into(x, spd, o)
                .map_err(|ev| format!("not positive definite (eigenvalue {ev})"))
        })
    }

    /// The reference point (the training matrices' Riemannian mean).
    #[getter]
    fn reference<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = self
            .model
            .as_ref()
            .ok_or_else(|| not_fitted("TangentSpace"))?;
        array2(py, m.channels, m.channels, m.reference.clone())
    }
}

/// Minimum distance to the Riemannian mean of each class (pyRiemann's `MDM`); labels `0..k`.
#[pyclass(module = "neuropipe._neuropipe")]
pub(crate) struct Mdm {
    model: Option<MdmModel>,
}

#[pymethods]
impl Mdm {
    #[new]
    fn new() -> Self {
        Mdm { model: None }
    }

    /// Fits the class means on `(n, c, c)` matrices and labels `0..k`.
    fn fit(
        &mut self,
        py: Python<'_>,
        c: PyReadonlyArray3<'_, f64>,
        y: PyReadonlyArray1<'_, i64>,
    ) -> PyResult<()> {
        let (m, n, ch) = matrices(&c)?;
        let (y, k) = labels(&y, n)?;
        self.model = Some(
            py.detach(|| MdmModel::fit(&m, ch, &y, k))
                .map_err(value_error)?,
        );
        Ok(())
    }

    /// Riemannian distances to each class mean, `(n, k)` (pyRiemann's `transform`).
    fn transform<'py>(
        &self,
        py: Python<'py>,
        c: PyReadonlyArray3<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.model.as_ref().ok_or_else(|| not_fitted("Mdm"))?;
        per_matrix(py, &c, model.channels, model.classes, |x, spd, o| {
            model
                .distances_into(x, spd, o)
                .map_err(|ev| format!("not positive definite (eigenvalue {ev})"))
        })
    }

    /// Class probabilities `softmax(-d^2)` from distances `(n, k)` (pyRiemann's `predict_proba`).
    fn proba<'py>(
        &self,
        py: Python<'py>,
        d: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.model.as_ref().ok_or_else(|| not_fitted("Mdm"))?;
        let d = d.as_array();
        let mut out = Array2::<f64>::zeros(d.dim());
        for (row, mut o) in d.outer_iter().zip(out.outer_iter_mut()) {
            let r: Vec<f64> = row.to_vec();
            let mut p = vec![0.0; r.len()];
            model.proba_into(&r, &mut p);
            for (a, b) in o.iter_mut().zip(p) {
                *a = b;
            }
        }
        Ok(out.into_pyarray(py))
    }
}

/// A linear decoder on labels `0..k`: shrinkage LDA as scikit-learn's
/// `LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")` (`fit`), or L2 logistic
/// regression as its `LogisticRegression(C)` (`fit_logistic`); both predict the same way.
#[pyclass(module = "neuropipe._neuropipe")]
pub(crate) struct Lda {
    model: Option<LdaModel>,
}

#[pymethods]
impl Lda {
    #[new]
    fn new() -> Self {
        Lda { model: None }
    }

    /// Fits on features `(n, p)` and labels `0..k`.
    fn fit(
        &mut self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        y: PyReadonlyArray1<'_, i64>,
    ) -> PyResult<()> {
        let a = x.as_array();
        let (n, p) = a.dim();
        let (y, k) = labels(&y, n)?;
        let flat: Vec<f64> = a.iter().copied().collect();
        self.model = Some(
            py.detach(|| LdaModel::fit(&flat, p, &y, k))
                .map_err(value_error)?,
        );
        Ok(())
    }

    /// Fits an L2 logistic regression (inverse regularisation strength `c`) instead.
    fn fit_logistic(
        &mut self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        y: PyReadonlyArray1<'_, i64>,
        c: f64,
    ) -> PyResult<()> {
        let a = x.as_array();
        let (n, p) = a.dim();
        let (y, k) = labels(&y, n)?;
        let flat: Vec<f64> = a.iter().copied().collect();
        self.model = Some(
            py.detach(|| fit_logistic(&flat, p, &y, k, c))
                .map_err(value_error)?,
        );
        Ok(())
    }

    /// Decision values `(n, rows)` (one row for two classes), scikit-learn's `decision_function`.
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.model.as_ref().ok_or_else(|| not_fitted("Lda"))?;
        let a = x.as_array();
        let (n, p) = a.dim();
        if p != model.features {
            return Err(PyValueError::new_err(format!(
                "fitted on {} features, got {p}",
                model.features
            )));
        }
        let rows = model.rows();
        let mut out = Array2::<f64>::zeros((n, rows));
        let mut buf = vec![0.0; p];
        for (row, mut o) in a.outer_iter().zip(out.outer_iter_mut()) {
            for (b, v) in buf.iter_mut().zip(row.iter()) {
                *b = *v;
            }
            let mut d = vec![0.0; rows];
            model.decision_into(&buf, &mut d);
            for (t, v) in o.iter_mut().zip(d) {
                *t = v;
            }
        }
        Ok(out.into_pyarray(py))
    }

    /// Class probabilities `(n, k)` from decision values (scikit-learn's `predict_proba`).
    fn proba<'py>(
        &self,
        py: Python<'py>,
        d: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.model.as_ref().ok_or_else(|| not_fitted("Lda"))?;
        let d = d.as_array();
        let mut out = Array2::<f64>::zeros((d.nrows(), model.classes));
        for (row, mut o) in d.outer_iter().zip(out.outer_iter_mut()) {
            let r = row.to_vec();
            let mut p = vec![0.0; model.classes];
            model.proba_into(&r, &mut p);
            for (a, b) in o.iter_mut().zip(p) {
                *a = b;
            }
        }
        Ok(out.into_pyarray(py))
    }

    /// Predicted class indices from decision values.
    fn predict_index<'py>(
        &self,
        py: Python<'py>,
        d: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let model = self.model.as_ref().ok_or_else(|| not_fitted("Lda"))?;
        let d = d.as_array();
        let out: Vec<i64> = d
            .outer_iter()
            .map(|r| model.predict(&r.to_vec()) as i64)
            .collect();
        Ok(out.into_pyarray(py))
    }
}

/// Common spatial patterns for two classes on covariances, as pyRiemann's
/// `CSP(nfilter, metric="euclid", log=True)`; labels `0..2`.
#[pyclass(module = "neuropipe._neuropipe")]
pub(crate) struct Csp {
    model: Option<CspModel>,
}

#[pymethods]
impl Csp {
    #[new]
    fn new() -> Self {
        Csp { model: None }
    }

    /// Fits `nfilter` filters on `(n, c, c)` covariances and labels `0..2`.
    fn fit(
        &mut self,
        py: Python<'_>,
        c: PyReadonlyArray3<'_, f64>,
        y: PyReadonlyArray1<'_, i64>,
        nfilter: usize,
    ) -> PyResult<()> {
        let (m, n, ch) = matrices(&c)?;
        let (y, _) = labels(&y, n)?;
        self.model = Some(
            py.detach(|| CspModel::fit(&m, ch, &y, nfilter))
                .map_err(value_error)?,
        );
        Ok(())
    }

    /// Log-variance of each filter's output, `(n, nfilter)`.
    fn transform<'py>(
        &self,
        py: Python<'py>,
        c: PyReadonlyArray3<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.model.as_ref().ok_or_else(|| not_fitted("CSP"))?;
        per_matrix(py, &c, model.channels, model.features(), |x, _, o| {
            model
                .transform_into(x, o)
                .map_err(|v| format!("a filter's output has variance {v}, no logarithm"))
        })
    }

    /// The filters as rows, `(nfilter, channels)` (pyRiemann's `filters_`).
    #[getter]
    fn filters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = self.model.as_ref().ok_or_else(|| not_fitted("CSP"))?;
        array2(py, m.features(), m.channels, m.filters.clone())
    }
}

/// xDAWN spatial filters for evoked responses, as pyRiemann's `Xdawn(nfilter)`; labels `0..k`.
#[pyclass(module = "neuropipe._neuropipe")]
pub(crate) struct Xdawn {
    model: Option<XdawnModel>,
}

/// `(n, c, t)` epochs as frame-major `(t, c)` blocks, concatenated.
fn epochs_frame_major(x: &PyReadonlyArray3<'_, f64>) -> (Vec<f64>, usize, usize, usize) {
    let a = x.as_array();
    let (n, c, t) = a.dim();
    let mut out = vec![0.0; n * c * t];
    for (e, epoch) in a.outer_iter().enumerate() {
        for ((ch, k), v) in epoch.indexed_iter() {
            out[e * c * t + k * c + ch] = *v;
        }
    }
    (out, n, c, t)
}

#[pymethods]
impl Xdawn {
    #[new]
    fn new() -> Self {
        Xdawn { model: None }
    }

    /// Fits `nfilter` filters per class on `(n, channels, times)` epochs and labels `0..k`.
    fn fit(
        &mut self,
        py: Python<'_>,
        x: PyReadonlyArray3<'_, f64>,
        y: PyReadonlyArray1<'_, i64>,
        nfilter: usize,
    ) -> PyResult<()> {
        let (frames, n, c, t) = epochs_frame_major(&x);
        let (y, k) = labels(&y, n)?;
        self.model = Some(
            py.detach(|| XdawnModel::fit(&frames, c, t, &y, k, nfilter))
                .map_err(value_error)?,
        );
        Ok(())
    }

    /// The filtered epochs, `(n, outputs, times)`.
    fn transform<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray3<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray3<f64>>> {
        let model = self.model.as_ref().ok_or_else(|| not_fitted("Xdawn"))?;
        let (frames, n, c, t) = epochs_frame_major(&x);
        if c != model.channels() {
            return Err(PyValueError::new_err(format!(
                "fitted on {} channels, got {c}",
                model.channels()
            )));
        }
        let k = model.outputs();
        let mut out = Array3::<f64>::zeros((n, k, t));
        let mut buf = vec![0.0; t * k];
        for (e, mut o) in out.outer_iter_mut().enumerate() {
            model.transform_into(&frames[e * c * t..(e + 1) * c * t], &mut buf);
            for ((j, s), v) in o.indexed_iter_mut() {
                *v = buf[s * k + j];
            }
        }
        Ok(out.into_pyarray(py))
    }

    /// The filters as rows, `(outputs, channels)` (pyRiemann's `filters_`).
    #[getter]
    fn filters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = self.model.as_ref().ok_or_else(|| not_fitted("Xdawn"))?;
        array2(py, m.outputs(), m.channels(), m.filters().to_vec())
    }
}

/// The largest canonical correlation of each epoch `(n, channels, times)` with the
/// sin/cos references of each target frequency (`harmonics` each, sample rate `fs`), as the
/// `Cca` stage computes it: `(n, targets)`.
#[pyfunction]
pub(crate) fn cca_correlations<'py>(
    py: Python<'py>,
    x: PyReadonlyArray3<'py, f64>,
    freqs: Vec<f64>,
    harmonics: usize,
    fs: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (frames, n, c, t) = epochs_frame_major(&x);
    let targets =
        neuropipe_dsp::decode::CcaTargets::new(&freqs, harmonics, fs, t).map_err(value_error)?;
    let k = targets.len();
    let out = py.detach(|| {
        let mut ws = targets.workspace(c);
        let mut out = vec![0.0; n * k];
        for (e, o) in out.chunks_exact_mut(k).enumerate() {
            targets.correlations_into(&frames[e * c * t..(e + 1) * c * t], &mut ws, o);
        }
        out
    });
    array2(py, n, k, out)
}
