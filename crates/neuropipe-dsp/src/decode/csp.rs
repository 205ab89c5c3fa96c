//! Common spatial patterns for two classes, as pyRiemann's
//! `CSP(nfilter, metric="euclid", log=True)` on covariance matrices: the spatial filters whose
//! output variance differs most between the classes — the classic front end of
//! motor-imagery decoding.
//!
//! Fitting: the class means `C₀`, `C₁` (arithmetic), the generalised eigenproblem
//! `C₁ w = λ (C₀ + C₁) w` (eigenvectors normalised so that `wᵀ (C₀ + C₁) w = 1`, as
//! `scipy.linalg.eigh(C₁, C₀ + C₁)`), solved as the ordinary one of
//! `B^-½ C₁ B^-½`; filters sorted by `|λ − ½|`, largest first (the most discriminative at
//! either end), the first `nfilter` kept. Features: `ln(w_k C w_kᵀ)` per filter — the
//! log-variance of the filtered signal. The eigenvectors' signs are arbitrary (as SciPy's);
//! the features do not depend on them.
//!
//! Fitting allocates; [`CspModel::transform_into`] allocates nothing.

use super::lda::FitError;
use super::riemann::{RiemannError, Spd};

/// Fitted CSP filters.
#[derive(Debug, Clone, PartialEq)]
pub struct CspModel {
    /// Matrix size (channels).
    pub channels: usize,
    /// The filters as rows, `nfilter × channels` (pyRiemann's `filters_`).
    pub filters: Vec<f64>,
}

impl CspModel {
    /// Fits `nfilter` filters on the `channels × channels` covariances in `x` with labels `y`
    /// in `0..2`.
    pub fn fit(
        x: &[f64],
        channels: usize,
        y: &[u32],
        nfilter: usize,
    ) -> Result<CspModel, FitError> {
        let nn = channels * channels;
        let counts = super::lda::check_training(x, nn, y, 2)?;
        if nfilter == 0 || nfilter > channels {
            return Err(FitError::Shape(format!(
                "{nfilter} CSP filters from {channels} channels: give 1 to {channels}"
            )));
        }
        let mut means = vec![vec![0.0; nn]; 2];
        for (m, &l) in x.chunks_exact(nn).zip(y) {
            let k = l as usize;
            for (a, v) in means[k].iter_mut().zip(m) {
                *a += v / counts[k] as f64;
            }
        }
        let b: Vec<f64> = means[0].iter().zip(&means[1]).map(|(a, c)| a + c).collect();
        let mut spd = Spd::new(channels);
        let (mut bs, mut bis) = (vec![0.0; nn], vec![0.0; nn]);
        spd.sqrt_and_inv_sqrt(&b, &mut bs, &mut bis)
            .map_err(|eigenvalue| RiemannError::NotPositiveDefinite {
                index: 0,
                eigenvalue,
            })?;
        let mut a = vec![0.0; nn];
        spd.congruence(&bis, &means[1], &mut a);
        let (values, vectors) = spd.eigen(&a);
        // w_k = B^-½ u_k (then wᵀ B w = uᵀ u = 1).
        let mut order: Vec<usize> = (0..channels).collect();
        order.sort_by(|&i, &j| (values[j] - 0.5).abs().total_cmp(&(values[i] - 0.5).abs()));
        let mut filters = Vec::with_capacity(nfilter * channels);
        for &k in order.iter().take(nfilter) {
            let u = &vectors[k * channels..(k + 1) * channels];
            for i in 0..channels {
                filters.push((0..channels).map(|j| bis[i * channels + j] * u[j]).sum());
            }
        }
        Ok(CspModel { channels, filters })
    }

    /// Number of filters (features).
    pub fn features(&self) -> usize {
        self.filters.len() / self.channels.max(1)
    }

    /// The log-variance of each filter's output for covariance `x`, into `out`. `Err` holds
    /// the offending variance when one is not positive (a filter cancelling the signal).
    pub fn transform_into(&self, x: &[f64], out: &mut [f64]) -> Result<(), f64> {
        let n = self.channels;
        for (o, w) in out.iter_mut().zip(self.filters.chunks_exact(n)) {
            let mut v = 0.0;
            for (a, wa) in w.iter().enumerate() {
                let row = &x[a * n..(a + 1) * n];
                v += wa * row.iter().zip(w).map(|(c, wb)| c * wb).sum::<f64>();
            }
            if !(v > 0.0 && v.is_finite()) {
                return Err(v);
            }
            *o = v.ln();
        }
        Ok(())
    }
}
