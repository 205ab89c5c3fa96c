//! Linear discriminant analysis with Ledoit–Wolf shrinkage, as scikit-learn's
//! `LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`: the decoder of P300 spellers
//! and a common baseline for motor imagery.
//!
//! Fitting (off line, allocates):
//! 1. per class `k`: the mean `μ_k` and, on the class's samples standardised per feature
//!    (scikit-learn's `StandardScaler`), the Ledoit–Wolf covariance, scaled back;
//! 2. the within-class covariance `Σ = Σ_k π_k Σ_k`, with priors `π_k` the class frequencies;
//! 3. `W = lstsq(Σ, Mᵀ)ᵀ` (an SVD solve with SciPy's default cut-off), intercepts
//!    `b_k = −½ μ_k · w_k + ln π_k`; with two classes one row, `w_1 − w_0`, `b_1 − b_0`.
//!
//! Predicting (on line, [`LdaModel::decision_into`]) allocates nothing: one dot product per
//! row. Checked against scikit-learn 1.9.1 (`tests/decode.rs`): coefficients, intercepts,
//! decision values, probabilities and predictions.

use super::covariance::ledoit_wolf;
use nalgebra::DMatrix;

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// Fewer than two classes, or a class without samples.
    #[error(
        "need samples of at least two classes, each with at least one sample (class counts: {0:?})"
    )]
    Classes(Vec<usize>),
    /// Data and labels disagree in size, or a label is out of range.
    #[error("{0}")]
    Shape(String),
    /// Cross-validation needs at least `folds` samples of every class (and 2 folds or more).
    #[error("{folds}-fold cross-validation needs at least {folds} epochs of every class (class counts: {counts:?})")]
    Folds {
        /// Folds asked for.
        folds: usize,
        /// Samples per class.
        counts: Vec<usize>,
    },
    /// A value is NaN or infinite.
    #[error("the training data holds non-finite values (sample {sample}, feature {feature})")]
    NonFinite {
        /// Row of the first bad value.
        sample: usize,
        /// Column of the first bad value.
        feature: usize,
    },
    /// A covariance matrix cannot be used by a Riemannian method.
    #[error(transparent)]
    Riemann(#[from] super::riemann::RiemannError),
}

/// A fitted linear discriminant: `rows × features` coefficients and `rows` intercepts
/// (`rows` = 1 for two classes, else the number of classes), as scikit-learn's `coef_` and
/// `intercept_`.
#[derive(Debug, Clone, PartialEq)]
pub struct LdaModel {
    /// Classes (2 or more).
    pub classes: usize,
    /// Features per sample.
    pub features: usize,
    /// Coefficients, row-major (`rows × features`).
    pub coef: Vec<f64>,
    /// Intercepts (`rows`).
    pub intercept: Vec<f64>,
}

/// Checks training data `x` (`n × p`, row-major) against labels `y` in `0..classes`: shapes,
/// finite values, every class present. Returns the samples per class.
pub(crate) fn check_training(
    x: &[f64],
    p: usize,
    y: &[u32],
    classes: usize,
) -> Result<Vec<usize>, FitError> {
    let n = y.len();
    if p == 0 || x.len() != n * p {
        return Err(FitError::Shape(format!(
            "{} values are not {n} samples x {p} features",
            x.len()
        )));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(FitError::NonFinite {
            sample: i / p,
            feature: i % p,
        });
    }
    if let Some(&bad) = y.iter().find(|&&l| l as usize >= classes) {
        return Err(FitError::Shape(format!(
            "label {bad} is not below {classes} classes"
        )));
    }
    let mut counts = vec![0usize; classes];
    for &l in y {
        counts[l as usize] += 1;
    }
    if classes < 2 || counts.contains(&0) {
        return Err(FitError::Classes(counts));
    }
    Ok(counts)
}

/// scikit-learn's `StandardScaler` scale of a feature: its standard deviation, or 1 when the
/// feature is constant up to rounding.
fn scale(var: f64, mean: f64, n: usize) -> f64 {
    let eps = f64::EPSILON;
    let nf = n as f64;
    let upper = nf * eps * var + (nf * mean * eps).powi(2);
    if var <= upper {
        1.0
    } else {
        let s = var.sqrt();
        if s < 10.0 * eps {
            1.0
        } else {
            s
        }
    }
}

impl LdaModel {
    /// Fits on `x` (`n` samples × `p` features, row-major) with labels `y` in `0..classes`.
    pub fn fit(x: &[f64], p: usize, y: &[u32], classes: usize) -> Result<LdaModel, FitError> {
        let counts = check_training(x, p, y, classes)?;
        let n = y.len();
        let mut means = vec![0.0; classes * p];
        let mut sigma = vec![0.0; p * p];
        for k in 0..classes {
            let rows: Vec<&[f64]> = x
                .chunks_exact(p)
                .zip(y)
                .filter(|(_, &l)| l as usize == k)
                .map(|(r, _)| r)
                .collect();
            let nk = rows.len();
            let mean = &mut means[k * p..(k + 1) * p];
            for r in &rows {
                for (m, v) in mean.iter_mut().zip(r.iter()) {
                    *m += v;
                }
            }
            for m in mean.iter_mut() {
                *m /= nk as f64;
            }
            let mut sd = vec![0.0; p];
            for (j, s) in sd.iter_mut().enumerate() {
                let var = rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / nk as f64;
                *s = scale(var, mean[j], nk);
            }
            let z: Vec<f64> = rows
                .iter()
                .flat_map(|r| (0..p).map(|j| (r[j] - mean[j]) / sd[j]).collect::<Vec<_>>())
                .collect();
            let (c, _) = ledoit_wolf(&z, nk, p);
            let prior = nk as f64 / n as f64;
            for i in 0..p {
                for j in 0..p {
                    sigma[i * p + j] += prior * sd[i] * c[i * p + j] * sd[j];
                }
            }
        }
        // W = lstsq(Σ, Mᵀ)ᵀ, cut-off as scipy.linalg.lstsq: eps · max(M, N) · σ_max.
        let svd = DMatrix::from_row_slice(p, p, &sigma).svd(true, true);
        let cutoff = f64::EPSILON * p as f64 * svd.singular_values.max();
        let rhs = DMatrix::from_row_slice(classes, p, &means).transpose();
        let w = svd
            .solve(&rhs, cutoff)
            .map_err(|e| FitError::Shape(format!("solving for the coefficients: {e}")))?;
        let mut coef = vec![0.0; classes * p];
        let mut intercept = vec![0.0; classes];
        for k in 0..classes {
            let mut dot = 0.0;
            for j in 0..p {
                coef[k * p + j] = w[(j, k)];
                dot += means[k * p + j] * w[(j, k)];
            }
            intercept[k] = -0.5 * dot + (counts[k] as f64 / n as f64).ln();
        }
        if classes == 2 {
            let (c0, c1) = coef.split_at(p);
            coef = c1.iter().zip(c0).map(|(a, b)| a - b).collect();
            intercept = vec![intercept[1] - intercept[0]];
        }
        Ok(LdaModel {
            classes,
            features: p,
            coef,
            intercept,
        })
    }

    /// Decision values per row (`rows()` values): scikit-learn's `decision_function`.
    pub fn decision_into(&self, x: &[f64], out: &mut [f64]) {
        for ((o, w), b) in out
            .iter_mut()
            .zip(self.coef.chunks_exact(self.features))
            .zip(&self.intercept)
        {
            *o = w.iter().zip(x).map(|(w, v)| w * v).sum::<f64>() + b;
        }
    }

    /// Rows of coefficients: 1 for two classes, else the number of classes.
    pub fn rows(&self) -> usize {
        self.intercept.len()
    }

    /// The predicted class from decision values (`rows()` of them).
    pub fn predict(&self, decision: &[f64]) -> usize {
        if self.classes == 2 {
            usize::from(decision[0] > 0.0)
        } else {
            let mut best = 0;
            for (k, d) in decision.iter().enumerate() {
                if *d > decision[best] {
                    best = k;
                }
            }
            best
        }
    }

    /// Class probabilities from decision values into `out` (`classes` values): the logistic
    /// of the decision for two classes, the softmax otherwise (scikit-learn's
    /// `predict_proba`).
    pub fn proba_into(&self, decision: &[f64], out: &mut [f64]) {
        if self.classes == 2 {
            let p1 = 1.0 / (1.0 + (-decision[0]).exp());
            out[0] = 1.0 - p1;
            out[1] = p1;
        } else {
            let max = decision.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for (o, d) in out.iter_mut().zip(decision) {
                *o = (d - max).exp();
                sum += *o;
            }
            for o in out.iter_mut() {
                *o /= sum;
            }
        }
    }
}
