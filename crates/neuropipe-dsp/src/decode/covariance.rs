//! Covariance estimators as scikit-learn computes them: the empirical (maximum-likelihood)
//! covariance, Ledoit–Wolf and OAS shrinkage.
//!
//! Data is **samples × features, row-major** (for an epoch: frames × channels, the packets'
//! own layout), `f64`. Results are `features × features`, row-major.
//!
//! | here | scikit-learn 1.9.1 |
//! |---|---|
//! | [`empirical`] | `sklearn.covariance.empirical_covariance(X)` (centred, divided by `n`) |
//! | [`ledoit_wolf`] | `sklearn.covariance.ledoit_wolf(X)` → `(covariance, shrinkage)` |
//! | [`oas`] | `sklearn.covariance.oas(X)` → `(covariance, shrinkage)` |
//!
//! pyRiemann's `Covariances(estimator="scm" | "lwf" | "oas")` are these on each epoch's
//! transpose. Checked against vectors from `scripts/bci/gen_reference.py`
//! (`tests/decode.rs`).

/// Means of each feature.
fn means(x: &[f64], n: usize, p: usize, out: &mut [f64]) {
    out.fill(0.0);
    for row in x.chunks_exact(p).take(n) {
        for (m, v) in out.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in out.iter_mut() {
        *m /= n as f64;
    }
}

/// The empirical covariance of `x` (`n` samples × `p` features, row-major), centred, divided
/// by `n`, into `out` (`p × p`). `scratch` holds `p` values.
pub fn empirical_into(x: &[f64], n: usize, p: usize, scratch: &mut [f64], out: &mut [f64]) {
    means(x, n, p, scratch);
    out.fill(0.0);
    for row in x.chunks_exact(p).take(n) {
        for i in 0..p {
            let di = row[i] - scratch[i];
            let out_row = &mut out[i * p..i * p + i + 1];
            for (j, o) in out_row.iter_mut().enumerate() {
                *o += di * (row[j] - scratch[j]);
            }
        }
    }
    for i in 0..p {
        for j in 0..=i {
            let v = out[i * p + j] / n as f64;
            out[i * p + j] = v;
            out[j * p + i] = v;
        }
    }
}

/// The empirical covariance (allocating; see [`empirical_into`]).
pub fn empirical(x: &[f64], n: usize, p: usize) -> Vec<f64> {
    let mut out = vec![0.0; p * p];
    empirical_into(x, n, p, &mut vec![0.0; p], &mut out);
    out
}

/// `(1 - s) · emp + s · (trace(emp) / p) · I`, in place.
fn shrink(emp: &mut [f64], p: usize, s: f64) {
    let mu = (0..p).map(|i| emp[i * p + i]).sum::<f64>() / p as f64;
    for v in emp.iter_mut() {
        *v *= 1.0 - s;
    }
    for i in 0..p {
        emp[i * p + i] += s * mu;
    }
}

/// Ledoit–Wolf shrunk covariance of `x` into `out` (`p × p`), returning the shrinkage, as
/// `sklearn.covariance.ledoit_wolf`; `scratch` holds `p` values. Allocates nothing.
pub fn ledoit_wolf_into(
    x: &[f64],
    n: usize,
    p: usize,
    scratch: &mut [f64],
    out: &mut [f64],
) -> f64 {
    empirical_into(x, n, p, scratch, out);
    if p == 1 {
        return 0.0;
    }
    // `scratch` still holds the means.
    // beta_ = Σ_ij Σ_s x_si² x_sj² = Σ_s (Σ_i x_si²)²; delta_ = ‖XᵀX‖²_F / n² = ‖emp‖²_F.
    let mut beta_ = 0.0;
    for row in x.chunks_exact(p).take(n) {
        let sq: f64 = row
            .iter()
            .zip(scratch.iter())
            .map(|(v, mu)| (v - mu) * (v - mu))
            .sum();
        beta_ += sq * sq;
    }
    let delta_: f64 = out.iter().map(|c| c * c).sum();
    let trace: f64 = (0..p).map(|i| out[i * p + i]).sum();
    let mu = trace / p as f64;
    let nf = n as f64;
    let beta = (beta_ / nf - delta_) / (p as f64 * nf);
    let delta = (delta_ - 2.0 * mu * trace + p as f64 * mu * mu) / p as f64;
    let beta = beta.min(delta);
    let s = if beta == 0.0 { 0.0 } else { beta / delta };
    shrink(out, p, s);
    s
}

/// Ledoit–Wolf shrunk covariance and its shrinkage (allocating; see [`ledoit_wolf_into`]).
pub fn ledoit_wolf(x: &[f64], n: usize, p: usize) -> (Vec<f64>, f64) {
    let mut out = vec![0.0; p * p];
    let s = ledoit_wolf_into(x, n, p, &mut vec![0.0; p], &mut out);
    (out, s)
}

/// Oracle Approximating Shrinkage covariance of `x` into `out` (`p × p`), returning the
/// shrinkage, as `sklearn.covariance.oas`; `scratch` holds `p` values. Allocates nothing.
pub fn oas_into(x: &[f64], n: usize, p: usize, scratch: &mut [f64], out: &mut [f64]) -> f64 {
    empirical_into(x, n, p, scratch, out);
    if p == 1 {
        return 0.0;
    }
    let alpha = out.iter().map(|c| c * c).sum::<f64>() / (p * p) as f64;
    let mu = (0..p).map(|i| out[i * p + i]).sum::<f64>() / p as f64;
    let num = alpha + mu * mu;
    let den = (n as f64 + 1.0) * (alpha - mu * mu / p as f64);
    let s = if den == 0.0 {
        1.0
    } else {
        (num / den).min(1.0)
    };
    shrink(out, p, s);
    s
}

/// Oracle Approximating Shrinkage covariance and its shrinkage (allocating; see
/// [`oas_into`]).
pub fn oas(x: &[f64], n: usize, p: usize) -> (Vec<f64>, f64) {
    let mut out = vec![0.0; p * p];
    let s = oas_into(x, n, p, &mut vec![0.0; p], &mut out);
    (out, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empirical_of_two_features() {
        // x = [1, 2], [3, 6], [5, 10]: means 3, 6; deviations ±2/0 and ±4/0.
        let c = empirical(&[1.0, 2.0, 3.0, 6.0, 5.0, 10.0], 3, 2);
        assert_eq!(c, vec![8.0 / 3.0, 16.0 / 3.0, 16.0 / 3.0, 32.0 / 3.0]);
    }

    #[test]
    fn shrinkage_of_isotropic_data_is_bounded_and_pulls_to_the_trace() {
        let x: Vec<f64> = (0..60).map(|i| ((i * 37 % 11) as f64) - 5.0).collect();
        for (c, s) in [ledoit_wolf(&x, 20, 3), oas(&x, 20, 3)] {
            assert!((0.0..=1.0).contains(&s), "{s}");
            let emp = empirical(&x, 20, 3);
            let tr = |m: &[f64]| m[0] + m[4] + m[8];
            assert!(
                (tr(&c) - tr(&emp)).abs() < 1e-12,
                "shrinkage keeps the trace"
            );
        }
    }
}
