//! L2-regularised logistic regression, as scikit-learn's
//! `LogisticRegression(C=…, penalty="l2")` fits it: the minimum of
//! `½‖W‖² + C · Σᵢ −log p(yᵢ | xᵢ)` over the coefficients `W` (the intercepts are not
//! penalised), binary (one row, the logistic of `w·x + b` is the probability of class 1) for
//! two classes, multinomial (one row per class, the softmax) for more — scikit-learn's
//! defaults since 1.5.
//!
//! The objective is convex (strictly, up to a common shift of the multinomial intercepts,
//! fixed as scikit-learn does: they sum to zero); Newton's method with a backtracking line search finds
//! its minimum to machine precision in a few iterations (scikit-learn's lbfgs stops at its
//! tolerance, so the reference vectors are made with a tight one). The fitted model has the
//! layout of a [`LdaModel`] — `rows × features` coefficients and `rows` intercepts — and its
//! decision values, prediction and probabilities (logistic or softmax) are those of
//! scikit-learn's `decision_function`, `predict` and `predict_proba`.

use super::lda::{check_training, FitError, LdaModel};
use nalgebra::{DMatrix, DVector};

/// Newton iterations at most.
const MAX_ITER: usize = 100;

/// `log(1 + e^z)` without overflow.
fn log1pexp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// The objective, its gradient and Hessian at `theta` (per row: `p` coefficients then the
/// intercept).
struct Problem<'a> {
    x: &'a [f64],
    y: &'a [u32],
    p: usize,
    rows: usize,
    c: f64,
}

impl Problem<'_> {
    /// Per sample: the rows' decision values into `z`.
    fn decisions(&self, theta: &[f64], row: &[f64], z: &mut [f64]) {
        let q = self.p + 1;
        for (k, zk) in z.iter_mut().enumerate() {
            let w = &theta[k * q..(k + 1) * q];
            *zk = w[..self.p].iter().zip(row).map(|(a, b)| a * b).sum::<f64>() + w[self.p];
        }
    }

    fn objective(&self, theta: &[f64]) -> f64 {
        let q = self.p + 1;
        let mut penalty = 0.0;
        for k in 0..self.rows {
            penalty += theta[k * q..k * q + self.p]
                .iter()
                .map(|v| v * v)
                .sum::<f64>();
        }
        let mut z = vec![0.0; self.rows];
        let mut loss = 0.0;
        for (row, &label) in self.x.chunks_exact(self.p).zip(self.y) {
            self.decisions(theta, row, &mut z);
            loss += if self.rows == 1 {
                // −log σ(z) for class 1, −log(1 − σ(z)) for class 0.
                if label == 1 {
                    log1pexp(-z[0])
                } else {
                    log1pexp(z[0])
                }
            } else {
                let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                lse - z[label as usize]
            };
        }
        0.5 * penalty + self.c * loss
    }

    /// Gradient and Hessian.
    fn derivatives(&self, theta: &[f64]) -> (DVector<f64>, DMatrix<f64>) {
        let (p, q, r) = (self.p, self.p + 1, self.rows);
        let d = r * q;
        let mut g = DVector::zeros(d);
        let mut h = DMatrix::zeros(d, d);
        for k in 0..r {
            for j in 0..p {
                g[k * q + j] = theta[k * q + j];
                h[(k * q + j, k * q + j)] = 1.0;
            }
        }
        let mut z = vec![0.0; r];
        let mut prob = vec![0.0; r];
        let mut xt = vec![0.0; q];
        for (row, &label) in self.x.chunks_exact(p).zip(self.y) {
            self.decisions(theta, row, &mut z);
            xt[..p].copy_from_slice(row);
            xt[p] = 1.0;
            if r == 1 {
                prob[0] = 1.0 / (1.0 + (-z[0]).exp());
            } else {
                let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
                for (pk, zk) in prob.iter_mut().zip(&z) {
                    *pk = (zk - m).exp() / s;
                }
            }
            for k in 0..r {
                let target = if r == 1 {
                    f64::from(u8::from(label == 1))
                } else {
                    f64::from(u8::from(label as usize == k))
                };
                let resid = self.c * (prob[k] - target);
                for (a, v) in xt.iter().enumerate() {
                    g[k * q + a] += resid * v;
                }
                for l in 0..r {
                    let wkl = if r == 1 {
                        prob[0] * (1.0 - prob[0])
                    } else {
                        prob[k] * (f64::from(u8::from(k == l)) - prob[l])
                    } * self.c;
                    if wkl == 0.0 {
                        continue;
                    }
                    for (a, va) in xt.iter().enumerate() {
                        let s = wkl * va;
                        for (b, vb) in xt.iter().enumerate() {
                            h[(k * q + a, l * q + b)] += s * vb;
                        }
                    }
                }
            }
        }
        (g, h)
    }
}

/// Fits on `x` (`n × p`, row-major) with labels `y` in `0..classes` and inverse
/// regularisation strength `c` (scikit-learn's `C`, > 0).
pub fn fit_logistic(
    x: &[f64],
    p: usize,
    y: &[u32],
    classes: usize,
    c: f64,
) -> Result<LdaModel, FitError> {
    check_training(x, p, y, classes)?;
    if !(c.is_finite() && c > 0.0) {
        return Err(FitError::Shape(format!("C = {c}: it must be positive")));
    }
    let rows = if classes == 2 { 1 } else { classes };
    let problem = Problem { x, y, p, rows, c };
    let q = p + 1;
    let mut theta = vec![0.0; rows * q];
    let mut f = problem.objective(&theta);
    for _ in 0..MAX_ITER {
        let (g, h) = problem.derivatives(&theta);
        // The multinomial objective is flat along "add the same vector to every row" only
        // in the intercepts; a tiny ridge keeps the system definite without moving the
        // minimum the gradient defines.
        let mut h = h;
        for i in 0..rows * q {
            h[(i, i)] += 1e-12;
        }
        let step = match h.clone().cholesky() {
            Some(ch) => ch.solve(&g),
            None => h
                .svd(true, true)
                .solve(&g, 1e-14)
                .map_err(|e| FitError::Shape(format!("logistic regression: {e}")))?,
        };
        // Backtracking: halve until the objective decreases.
        let mut t = 1.0;
        let mut next = theta.clone();
        let mut improved = false;
        for _ in 0..50 {
            for ((n, th), s) in next.iter_mut().zip(&theta).zip(step.iter()) {
                *n = th - t * s;
            }
            let fn_ = problem.objective(&next);
            if fn_ <= f {
                f = fn_;
                improved = true;
                break;
            }
            t *= 0.5;
        }
        let moved = step.iter().map(|s| (t * s).abs()).fold(0.0, f64::max);
        if improved {
            theta = next;
        }
        let scale = theta.iter().map(|v| v.abs()).fold(1.0, f64::max);
        if !improved || moved <= 1e-13 * scale {
            break;
        }
    }
    let mut coef = Vec::with_capacity(rows * p);
    let mut intercept = Vec::with_capacity(rows);
    for k in 0..rows {
        coef.extend_from_slice(&theta[k * q..k * q + p]);
        intercept.push(theta[k * q + p]);
    }
    if rows > 1 {
        // Multinomial intercepts are defined up to a common shift (the probabilities do not
        // change); scikit-learn's sum to zero.
        let mean = intercept.iter().sum::<f64>() / rows as f64;
        intercept.iter_mut().for_each(|b| *b -= mean);
    }
    Ok(LdaModel {
        classes,
        features: p,
        coef,
        intercept,
    })
}
