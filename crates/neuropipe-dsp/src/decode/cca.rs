//! Canonical correlation analysis against sinusoidal references: the training-free SSVEP
//! decoder of Lin et al. (2006), and the per-band step of filter-bank CCA (Chen et al., 2015).
//!
//! For a target flickering at `f`, the reference set is `sin(2π h f t)`, `cos(2π h f t)` for
//! harmonics `h = 1..=H`, `t = n / fs` over the epoch's frames. The score of the target is the
//! largest canonical correlation between the epoch's channels and its references:
//! `ρ = σ_max(Q_Xᵀ Q_Y)`, where `Q_X`, `Q_Y` are orthonormal bases of the mean-removed
//! channels and references (both sides centred, as CCA is), as NumPy computes it from the
//! same bases (`svd(Qx.T @ Qy)[0]`; checked in `tests/decode.rs`). A channel that is a linear combination of the others (or flat) adds nothing
//! and is left out of `Q_X` (modified Gram–Schmidt with re-orthogonalisation, columns whose
//! remaining norm is below 1e-10 of their own dropped); with no channel left the score is 0.
//!
//! The references and their basis are computed when the targets are made;
//! [`CcaTargets::correlations_into`] allocates nothing.

use super::riemann::Spd;
use std::f64::consts::TAU;

/// Why targets cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CcaError {
    /// A frequency (or one of its harmonics) the epoch cannot carry, or too few frames.
    #[error("{0}")]
    Setup(String),
}

/// The targets of an SSVEP decoder: reference bases for epochs of a fixed length.
#[derive(Debug, Clone)]
pub struct CcaTargets {
    frames: usize,
    /// Reference columns per target (2 H).
    refs: usize,
    /// Per target: orthonormal basis of its centred references, column-major
    /// (`refs × frames`).
    bases: Vec<Vec<f64>>,
}

/// Buffers for [`CcaTargets::correlations_into`], sized for `channels`.
#[derive(Debug, Clone)]
pub struct CcaWorkspace {
    channels: usize,
    /// Orthonormal basis of the epoch's channels, column-major (`channels × frames`).
    q: Vec<f64>,
    /// `Q_Xᵀ Q_Y` (`rank × refs`).
    m: Vec<f64>,
    /// `Mᵀ M` (`refs × refs`).
    g: Vec<f64>,
    spd: Spd,
}

/// Orthonormalises the `cols` columns of `a` (column-major, `len` each) in place by modified
/// Gram–Schmidt, twice per column; a column whose remaining norm falls below 1e-10 of its
/// norm is dropped. Returns how many columns are kept (packed at the front).
fn orthonormalise(a: &mut [f64], cols: usize, len: usize) -> usize {
    let mut rank = 0;
    for j in 0..cols {
        let (done, rest) = a.split_at_mut(j * len);
        let col = &mut rest[..len];
        let norm0 = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm0 == 0.0 || !norm0.is_finite() {
            continue;
        }
        for _pass in 0..2 {
            for q in done[..rank * len].chunks_exact(len) {
                let d: f64 = q.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
                for (c, qv) in col.iter_mut().zip(q) {
                    *c -= d * qv;
                }
            }
        }
        let norm = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm <= 1e-10 * norm0 {
            continue;
        }
        for c in col.iter_mut() {
            *c /= norm;
        }
        if rank != j {
            a.copy_within(j * len..(j + 1) * len, rank * len);
        }
        rank += 1;
    }
    rank
}

impl CcaTargets {
    /// Targets at `freqs` (Hz) with `harmonics` each, for epochs of `frames` frames at `fs`.
    pub fn new(
        freqs: &[f64],
        harmonics: usize,
        fs: f64,
        frames: usize,
    ) -> Result<CcaTargets, CcaError> {
        let refs = 2 * harmonics;
        if harmonics == 0 || freqs.is_empty() {
            return Err(CcaError::Setup(
                "give at least one frequency and one harmonic".into(),
            ));
        }
        if frames <= refs {
            return Err(CcaError::Setup(format!(
                "an epoch of {frames} frames is too short for {refs} reference signals ({harmonics} harmonics): it needs more frames than references"
            )));
        }
        if let Some(f) = freqs
            .iter()
            .find(|&&f| f <= 0.0 || !f.is_finite() || harmonics as f64 * f >= fs / 2.0)
        {
            return Err(CcaError::Setup(format!(
                "{f} Hz: its harmonic {harmonics} ({} Hz) is not below Nyquist ({} Hz); use fewer harmonics or a higher sample rate",
                harmonics as f64 * f,
                fs / 2.0
            )));
        }
        let mut bases = vec![];
        for &f in freqs {
            let mut y = vec![0.0; refs * frames];
            for h in 0..harmonics {
                let w = TAU * f * (h + 1) as f64 / fs;
                for n in 0..frames {
                    y[2 * h * frames + n] = (w * n as f64).sin();
                    y[(2 * h + 1) * frames + n] = (w * n as f64).cos();
                }
            }
            for col in y.chunks_exact_mut(frames) {
                let mean = col.iter().sum::<f64>() / frames as f64;
                for v in col.iter_mut() {
                    *v -= mean;
                }
            }
            let rank = orthonormalise(&mut y, refs, frames);
            if rank < refs {
                return Err(CcaError::Setup(format!(
                    "the references of {f} Hz are linearly dependent over {frames} frames (a harmonic at a multiple of the epoch's frequency resolution aliasing another?): use a longer epoch"
                )));
            }
            bases.push(y);
        }
        Ok(CcaTargets {
            frames,
            refs,
            bases,
        })
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.bases.len()
    }

    /// Whether there are no targets (never, once made).
    pub fn is_empty(&self) -> bool {
        self.bases.is_empty()
    }

    /// Frames per epoch.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// A workspace for epochs of `channels` channels.
    pub fn workspace(&self, channels: usize) -> CcaWorkspace {
        CcaWorkspace {
            channels,
            q: vec![0.0; channels * self.frames],
            m: vec![0.0; channels * self.refs],
            g: vec![0.0; self.refs * self.refs],
            spd: Spd::new(self.refs),
        }
    }

    /// The largest canonical correlation of the epoch `x` (`frames × channels`, frame-major)
    /// with each target's references, into `out` (one per target, in 0..=1).
    pub fn correlations_into(&self, x: &[f64], ws: &mut CcaWorkspace, out: &mut [f64]) {
        let (n, c, r) = (self.frames, ws.channels, self.refs);
        for ch in 0..c {
            let col = &mut ws.q[ch * n..(ch + 1) * n];
            for (f, v) in col.iter_mut().enumerate() {
                *v = x[f * c + ch];
            }
            let mean = col.iter().sum::<f64>() / n as f64;
            for v in col.iter_mut() {
                *v -= mean;
            }
        }
        let rank = orthonormalise(&mut ws.q, c, n);
        for (o, basis) in out.iter_mut().zip(&self.bases) {
            if rank == 0 {
                *o = 0.0;
                continue;
            }
            for i in 0..rank {
                let qi = &ws.q[i * n..(i + 1) * n];
                for (j, yj) in basis.chunks_exact(n).enumerate() {
                    ws.m[i * r + j] = qi.iter().zip(yj).map(|(a, b)| a * b).sum();
                }
            }
            for a in 0..r {
                for b in 0..=a {
                    let s: f64 = (0..rank).map(|i| ws.m[i * r + a] * ws.m[i * r + b]).sum();
                    ws.g[a * r + b] = s;
                    ws.g[b * r + a] = s;
                }
            }
            let top = ws
                .spd
                .eigenvalues(&ws.g)
                .iter()
                .fold(0.0f64, |m, &v| m.max(v));
            *o = top.clamp(0.0, 1.0).sqrt();
        }
    }
}

/// Filter-bank CCA's weight of sub-band `m` (1-based): `m^-1.25 + 0.25` (Chen et al., 2015).
pub fn fbcca_weight(m: usize) -> f64 {
    (m as f64).powf(-1.25) + 0.25
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_carrying_a_target_correlates_fully() {
        let (fs, n) = (250.0, 500);
        let t = CcaTargets::new(&[8.0, 13.0], 2, fs, n).unwrap();
        // Channel 0: 13 Hz with a phase and an offset; channel 1: itself doubled (dependent);
        // channel 2: flat.
        let x: Vec<f64> = (0..n)
            .flat_map(|k| {
                let s = 3.0 + (TAU * 13.0 * k as f64 / fs + 0.7).sin();
                [s, 2.0 * s, 5.0]
            })
            .collect();
        let mut ws = t.workspace(3);
        let mut rho = [0.0; 2];
        t.correlations_into(&x, &mut ws, &mut rho);
        assert!((rho[1] - 1.0).abs() < 1e-12, "{rho:?}");
        assert!(rho[0] < 0.1, "{rho:?}");
        // All flat: no correlation at all.
        t.correlations_into(&vec![1.0; 3 * n], &mut ws, &mut rho);
        assert_eq!(rho, [0.0, 0.0]);
        assert!(CcaTargets::new(&[50.0], 3, fs, n).is_err());
        assert!(CcaTargets::new(&[8.0], 3, fs, 6).is_err());
        assert!((fbcca_weight(1) - 1.25).abs() < 1e-15);
    }
}
