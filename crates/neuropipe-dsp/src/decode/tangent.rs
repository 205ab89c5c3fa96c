//! The tangent space of covariance matrices, as pyRiemann's `TangentSpace(metric="riemann")`:
//! fitting takes the Riemannian mean of the training covariances as the reference; each
//! covariance then maps to the `n(n+1)/2` vector `upper(logm(R^-½ C R^-½))`, where
//! Euclidean classifiers (LDA, logistic regression) work well — the "TS + LDA" pipeline
//! that wins many motor-imagery benchmarks.
//!
//! Fitting allocates; [`TangentSpaceModel::transform_into`] allocates nothing.

use super::lda::FitError;
use super::riemann::{mean_riemann, RiemannError, Spd};

/// A fitted tangent space: its reference point.
#[derive(Debug, Clone, PartialEq)]
pub struct TangentSpaceModel {
    /// Matrix size (channels).
    pub channels: usize,
    /// The reference, `channels × channels` (pyRiemann's `reference_`).
    pub reference: Vec<f64>,
    /// Its inverse square root.
    inv_sqrt: Vec<f64>,
}

impl TangentSpaceModel {
    /// Fits the reference: the Riemannian mean of the `channels × channels` matrices in `x`.
    pub fn fit(x: &[f64], channels: usize) -> Result<TangentSpaceModel, FitError> {
        let (reference, _) = mean_riemann(x, channels)?;
        Ok(TangentSpaceModel::from_reference(reference, channels)?)
    }

    /// The tangent space at `reference`, as stored.
    pub fn from_reference(
        reference: Vec<f64>,
        channels: usize,
    ) -> Result<TangentSpaceModel, RiemannError> {
        if channels == 0 || reference.len() != channels * channels {
            return Err(RiemannError::Shape(format!(
                "{} values are not a {channels} x {channels} reference",
                reference.len()
            )));
        }
        let mut spd = Spd::new(channels);
        let (mut sqrt, mut inv_sqrt) = (vec![0.0; reference.len()], vec![0.0; reference.len()]);
        spd.sqrt_and_inv_sqrt(&reference, &mut sqrt, &mut inv_sqrt)
            .map_err(|eigenvalue| RiemannError::NotPositiveDefinite {
                index: 0,
                eigenvalue,
            })?;
        Ok(TangentSpaceModel {
            channels,
            reference,
            inv_sqrt,
        })
    }

    /// Length of a tangent vector: `n(n+1)/2`.
    pub fn features(&self) -> usize {
        self.channels * (self.channels + 1) / 2
    }

    /// The tangent vector of covariance `x` into `out` ([`Self::features`] values). `Err`
    /// holds the offending eigenvalue when `x` is not positive definite.
    pub fn transform_into(&self, x: &[f64], spd: &mut Spd, out: &mut [f64]) -> Result<(), f64> {
        spd.tangent_vector(x, &self.inv_sqrt, out)
    }
}
