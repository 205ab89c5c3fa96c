//! xDAWN spatial filters for event-related potentials (P300), as pyRiemann's
//! `Xdawn(nfilter, estimator="scm")`: per class, the spatial filters that best separate that
//! class's average response from the signal as a whole — a few virtual channels carrying
//! most of the ERP, for a linear decoder after them.
//!
//! Fitting, on epochs `times × channels` (frame-major, as the stages hold them) with class
//! labels: `Cx`, the sample covariance (centred, divided by the count) of every frame of
//! every epoch; per class `c`, the average epoch `P_c` and its sample covariance `C_c` over
//! time; the generalised eigenproblem `C_c w = λ Cx w` (as `scipy.linalg.eigh(C_c, Cx)`),
//! solved as the ordinary one of `Cx^-½ C_c Cx^-½` with `w = Cx^-½ u`; eigenvectors sorted
//! by eigenvalue, largest first, each scaled to unit Euclidean norm, the first `nfilter`
//! kept. The filters of all classes, class by class, are the rows of
//! [`XdawnModel::filters`] (pyRiemann's `filters_`). Their signs are arbitrary, as SciPy's;
//! a decoder fitted after them does not depend on them.
//!
//! Fitting allocates; [`XdawnModel::transform_into`] allocates nothing.

use super::lda::{check_training, FitError};
use super::riemann::{RiemannError, Spd};

/// Fitted xDAWN filters.
#[derive(Debug, Clone, PartialEq)]
pub struct XdawnModel {
    channels: usize,
    /// The filters as rows, `(classes · nfilter) × channels`, class by class.
    filters: Vec<f64>,
    /// The same in blocks of four filters, each block channel by channel (`[block][channel][4]`):
    /// what the transform reads.
    blocks: Vec<f64>,
}

/// Mean (per channel) and centred covariance of frames `x` (`frames × n`), divided by the
/// number of frames.
fn frame_covariance<'a>(frames: impl Iterator<Item = &'a [f64]> + Clone, n: usize) -> Vec<f64> {
    let mut mean = vec![0.0; n];
    let mut count = 0usize;
    for f in frames.clone() {
        for (m, v) in mean.iter_mut().zip(f) {
            *m += v;
        }
        count += 1;
    }
    let count = count.max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= count);
    let mut cov = vec![0.0; n * n];
    let mut d = vec![0.0; n];
    for f in frames {
        for ((d, v), m) in d.iter_mut().zip(f).zip(&mean) {
            *d = v - m;
        }
        for i in 0..n {
            let di = d[i];
            for (c, dj) in cov[i * n..i * n + i + 1].iter_mut().zip(&d) {
                *c += di * dj;
            }
        }
    }
    for i in 0..n {
        for j in 0..=i {
            let v = cov[i * n + j] / count;
            cov[i * n + j] = v;
            cov[j * n + i] = v;
        }
    }
    cov
}

impl XdawnModel {
    /// A model of `filters` (rows of `channels` values, as [`XdawnModel::filters`] gives
    /// them), or why they are no filters for that many channels.
    pub fn new(channels: usize, filters: Vec<f64>) -> Result<XdawnModel, FitError> {
        if channels == 0 || filters.is_empty() || !filters.len().is_multiple_of(channels) {
            return Err(FitError::Shape(format!(
                "{} xDAWN filter values are no rows of {channels} channels",
                filters.len()
            )));
        }
        let quads = filters.len() / channels / 4;
        let mut blocks = vec![0.0; quads * 4 * channels];
        for (o, row) in filters.chunks_exact(channels).take(4 * quads).enumerate() {
            for (c, w) in row.iter().enumerate() {
                blocks[(o / 4) * 4 * channels + c * 4 + o % 4] = *w;
            }
        }
        Ok(XdawnModel {
            channels,
            filters,
            blocks,
        })
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The filters as rows, `(classes · nfilter) × channels`, class by class (pyRiemann's
    /// `filters_`).
    pub fn filters(&self) -> &[f64] {
        &self.filters
    }

    /// Fits `nfilter` filters per class on the epochs in `x` (each `times × channels`,
    /// frame-major) with labels `y` in `0..classes`.
    pub fn fit(
        x: &[f64],
        channels: usize,
        times: usize,
        y: &[u32],
        classes: usize,
        nfilter: usize,
    ) -> Result<XdawnModel, FitError> {
        let len = channels * times;
        let counts = check_training(x, len, y, classes)?;
        if nfilter == 0 || nfilter > channels {
            return Err(FitError::Shape(format!(
                "{nfilter} xDAWN filters per class from {channels} channels: give 1 to {channels}"
            )));
        }
        let cx = frame_covariance(x.chunks_exact(channels), channels);
        let mut spd = Spd::new(channels);
        let nn = channels * channels;
        let (mut s, mut is) = (vec![0.0; nn], vec![0.0; nn]);
        spd.sqrt_and_inv_sqrt(&cx, &mut s, &mut is)
            .map_err(|eigenvalue| RiemannError::NotPositiveDefinite {
                index: 0,
                eigenvalue,
            })
            .map_err(|e| {
                FitError::Shape(format!(
                    "xDAWN: the signal's covariance over all epochs is singular ({e}): linearly dependent or flat channels"
                ))
            })?;
        let mut filters = Vec::with_capacity(classes * nfilter * channels);
        let mut a = vec![0.0; nn];
        for (class, &count) in counts.iter().enumerate() {
            let mut p = vec![0.0; len];
            for (e, _) in x
                .chunks_exact(len)
                .zip(y)
                .filter(|(_, &l)| l as usize == class)
            {
                for (a, v) in p.iter_mut().zip(e) {
                    *a += v;
                }
            }
            p.iter_mut().for_each(|v| *v /= count as f64);
            let c = frame_covariance(p.chunks_exact(channels), channels);
            spd.congruence(&is, &c, &mut a);
            let (values, vectors) = spd.eigen(&a);
            let mut order: Vec<usize> = (0..channels).collect();
            order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
            for &k in order.iter().take(nfilter) {
                let u = &vectors[k * channels..(k + 1) * channels];
                let w: Vec<f64> = (0..channels)
                    .map(|i| (0..channels).map(|j| is[i * channels + j] * u[j]).sum())
                    .collect();
                let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
                filters.extend(w.iter().map(|v| v / norm));
            }
        }
        XdawnModel::new(channels, filters)
    }

    /// Output channels (filters of all classes).
    pub fn outputs(&self) -> usize {
        self.filters.len() / self.channels.max(1)
    }

    /// Filters epoch `x` (`times × channels`) into `out` (`times × outputs`). Each output is
    /// summed over the channels in order; four outputs side by side (their weights
    /// contiguous per channel, so the four sums run as one vector without being reordered).
    pub fn transform_into(&self, x: &[f64], out: &mut [f64]) {
        let (n, k) = (self.channels, self.outputs());
        let quads = k / 4;
        for (frame, o) in x.chunks_exact(n).zip(out.chunks_exact_mut(k)) {
            for (o4, block) in o.chunks_exact_mut(4).zip(self.blocks.chunks_exact(4 * n)) {
                let mut a = [0.0f64; 4];
                for (x, w) in frame.iter().zip(block.chunks_exact(4)) {
                    for (a, w) in a.iter_mut().zip(w) {
                        *a += w * x;
                    }
                }
                o4.copy_from_slice(&a);
            }
            for (o, w) in o[4 * quads..]
                .iter_mut()
                .zip(self.filters[4 * quads * n..].chunks_exact(n))
            {
                let mut acc = 0.0;
                for (p, x) in w.iter().zip(frame) {
                    acc += p * x;
                }
                *o = acc;
            }
        }
    }
}
