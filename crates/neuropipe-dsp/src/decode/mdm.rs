//! Minimum distance to Riemannian mean, as pyRiemann's `MDM(metric="riemann")`: each class
//! is the Riemannian mean of its training covariances; an epoch goes to the class whose
//! mean is nearest in the affine-invariant distance, with probabilities
//! `softmax(−d²)` (`predict_proba`). Training-light and robust: the usual first decoder of
//! motor imagery and a strong one for ERPs on Xdawn covariances.
//!
//! Fitting allocates; [`MdmModel::distances_into`] allocates nothing (one eigenvalue
//! problem per class in a [`Spd`] workspace, against inverse square roots of the means
//! computed when the model is made).

use super::lda::FitError;
use super::riemann::{mean_riemann, RiemannError, Spd};

/// A fitted MDM: one Riemannian mean per class.
#[derive(Debug, Clone, PartialEq)]
pub struct MdmModel {
    /// Classes (2 or more).
    pub classes: usize,
    /// Matrix size (channels).
    pub channels: usize,
    /// The class means, `classes × channels × channels` (pyRiemann's `covmeans_`).
    pub means: Vec<f64>,
    /// Their inverse square roots.
    inv_sqrt: Vec<f64>,
}

impl MdmModel {
    /// Fits on the `channels × channels` matrices in `x` (one per sample) with labels `y`
    /// in `0..classes`.
    pub fn fit(
        x: &[f64],
        channels: usize,
        y: &[u32],
        classes: usize,
    ) -> Result<MdmModel, FitError> {
        let nn = channels * channels;
        super::lda::check_training(x, nn, y, classes)?;
        let mut means = Vec::with_capacity(classes * nn);
        for k in 0..classes {
            let own: Vec<f64> = x
                .chunks_exact(nn)
                .zip(y)
                .filter(|(_, &l)| l as usize == k)
                .flat_map(|(m, _)| m.iter().copied())
                .collect();
            let (mean, _) = mean_riemann(&own, channels)?;
            means.extend_from_slice(&mean);
        }
        Ok(MdmModel::from_means(means, channels, classes)?)
    }

    /// The model with these class means (`classes × channels × channels`), as stored.
    pub fn from_means(
        means: Vec<f64>,
        channels: usize,
        classes: usize,
    ) -> Result<MdmModel, RiemannError> {
        let nn = channels * channels;
        if classes < 2 || means.len() != classes * nn {
            return Err(RiemannError::Shape(format!(
                "{} values are not {classes} class means of {channels} x {channels}",
                means.len()
            )));
        }
        let mut spd = Spd::new(channels);
        let mut inv_sqrt = vec![0.0; classes * nn];
        let mut sqrt = vec![0.0; nn];
        for (index, (m, is)) in means
            .chunks_exact(nn)
            .zip(inv_sqrt.chunks_exact_mut(nn))
            .enumerate()
        {
            spd.sqrt_and_inv_sqrt(m, &mut sqrt, is)
                .map_err(|eigenvalue| RiemannError::NotPositiveDefinite { index, eigenvalue })?;
        }
        Ok(MdmModel {
            classes,
            channels,
            means,
            inv_sqrt,
        })
    }

    /// The distance of covariance `x` to each class mean into `out` (`classes` values):
    /// pyRiemann's `transform`. `Err` holds the offending eigenvalue when `x` is not
    /// positive definite.
    pub fn distances_into(&self, x: &[f64], spd: &mut Spd, out: &mut [f64]) -> Result<(), f64> {
        let nn = self.channels * self.channels;
        for (o, is) in out.iter_mut().zip(self.inv_sqrt.chunks_exact(nn)) {
            *o = spd.distance(x, is)?;
        }
        Ok(())
    }

    /// The nearest class (the first of equals).
    pub fn predict(&self, distances: &[f64]) -> usize {
        let mut best = 0;
        for (k, d) in distances.iter().enumerate() {
            if *d < distances[best] {
                best = k;
            }
        }
        best
    }

    /// Class probabilities `softmax(−d²)` into `out` (pyRiemann's `predict_proba`).
    pub fn proba_into(&self, distances: &[f64], out: &mut [f64]) {
        let max = distances
            .iter()
            .map(|d| -d * d)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for (o, d) in out.iter_mut().zip(distances) {
            *o = (-d * d - max).exp();
            sum += *o;
        }
        for o in out.iter_mut() {
            *o /= sum;
        }
    }
}
