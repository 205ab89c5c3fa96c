//! Welch power spectral density, as `scipy.signal.welch(x, fs, window='hann', nperseg,
//! noverlap, detrend='constant', scaling='density')` (one-sided, mean over segments).

use std::fmt;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use crate::design::{check_fs, hann_periodic, DesignError};

/// Largest Welch segment accepted.
pub const MAX_NPERSEG: usize = 1 << 24;

/// One-shot Welch PSD of `x` sampled at `fs` Hz: returns `(freqs, psd)`, each of length
/// `nperseg / 2 + 1`, with `freqs[k] = k · fs / nperseg` and `psd` in units²/Hz.
///
/// Matches `scipy.signal.welch(x, fs=fs, window='hann', nperseg=nperseg, noverlap=noverlap,
/// detrend='constant', scaling='density')`: segments start every `nperseg − noverlap` samples
/// (trailing samples that do not fill a segment are ignored), each segment has its mean removed
/// and is multiplied by a periodic Hann window, and the one-sided periodograms
/// `|FFT|² / (fs · Σ w²)` (doubled except at 0 Hz and, for even `nperseg`, Nyquist) are averaged.
///
/// Allocates its result and an FFT plan; use [`Welch`] to reuse them.
///
/// # Errors
/// As [`Welch::new`], or `x.len() < nperseg` (SciPy would shrink `nperseg` with a warning).
///
/// ```
/// let x: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.3).sin()).collect();
/// let (f, p) = neuropipe_dsp::welch(&x, 250.0, 256, 128).unwrap();
/// assert_eq!(f.len(), 129);
/// assert_eq!(p.len(), 129);
/// ```
pub fn welch(
    x: &[f64],
    fs: f64,
    nperseg: usize,
    noverlap: usize,
) -> Result<(Vec<f64>, Vec<f64>), DesignError> {
    let mut w = Welch::new(fs, nperseg, noverlap)?;
    let mut psd = vec![0.0; w.bins()];
    w.psd(x, &mut psd)?;
    Ok((w.freqs().to_vec(), psd))
}

/// A reusable Welch estimator: the FFT plan, window and work buffers are allocated once, and
/// [`psd`](Self::psd) then never allocates. Same definition as [`welch`].
#[derive(Clone)]
pub struct Welch {
    fs: f64,
    nperseg: usize,
    step: usize,
    window: Vec<f64>,
    /// `1 / (fs · Σ w²)`: turns `|FFT|²` into a density.
    scale: f64,
    freqs: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
    segment: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl fmt::Debug for Welch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Welch")
            .field("fs", &self.fs)
            .field("nperseg", &self.nperseg)
            .field("noverlap", &(self.nperseg - self.step))
            .finish_non_exhaustive()
    }
}

impl Welch {
    /// Plans a Welch estimator for segments of `nperseg` samples overlapping by `noverlap`.
    ///
    /// # Errors
    /// `fs` not finite and positive, `nperseg == 0` or `> MAX_NPERSEG`, `noverlap >= nperseg`.
    pub fn new(fs: f64, nperseg: usize, noverlap: usize) -> Result<Self, DesignError> {
        check_fs(fs)?;
        if nperseg == 0 || nperseg > MAX_NPERSEG {
            return Err(DesignError::count(
                "nperseg",
                nperseg,
                format!(">= 1 and <= {MAX_NPERSEG}"),
            ));
        }
        if noverlap >= nperseg {
            return Err(DesignError::count(
                "noverlap",
                noverlap,
                format!("< nperseg ({nperseg})"),
            ));
        }
        let window = hann_periodic(nperseg);
        let scale = 1.0 / (fs * window.iter().map(|w| w * w).sum::<f64>());
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(nperseg);
        let bins = nperseg / 2 + 1;
        // numpy.fft.rfftfreq(n, d = 1/fs): k / (n·d).
        let df = 1.0 / (nperseg as f64 * (1.0 / fs));
        Ok(Welch {
            fs,
            nperseg,
            step: nperseg - noverlap,
            window,
            scale,
            freqs: (0..bins).map(|k| k as f64 * df).collect(),
            segment: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
        })
    }

    /// Sample rate in Hz.
    pub fn fs(&self) -> f64 {
        self.fs
    }

    /// Segment length.
    pub fn nperseg(&self) -> usize {
        self.nperseg
    }

    /// Number of frequency bins, `nperseg / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.freqs.len()
    }

    /// Bin frequencies in Hz.
    pub fn freqs(&self) -> &[f64] {
        &self.freqs
    }

    /// Frequency resolution `fs / nperseg` in Hz.
    pub fn df(&self) -> f64 {
        self.fs / self.nperseg as f64
    }

    /// Number of segments averaged for a signal of `len` samples (0 if `len < nperseg`).
    pub fn segments(&self, len: usize) -> usize {
        if len < self.nperseg {
            0
        } else {
            (len - self.nperseg) / self.step + 1
        }
    }

    /// Computes the PSD of `x` into `psd` (length [`bins`](Self::bins)). Returns the number of
    /// segments averaged. Never allocates.
    ///
    /// # Errors
    /// `x.len() < nperseg` or `psd.len() != bins()`; `psd` is then untouched.
    pub fn psd(&mut self, x: &[f64], psd: &mut [f64]) -> Result<usize, DesignError> {
        let segments = self.segments(x.len());
        if segments == 0 {
            return Err(DesignError::count(
                "signal length",
                x.len(),
                format!(">= nperseg ({})", self.nperseg),
            ));
        }
        if psd.len() != self.bins() {
            return Err(DesignError::count(
                "psd length",
                psd.len(),
                format!("== nperseg / 2 + 1 ({})", self.bins()),
            ));
        }
        psd.fill(0.0);
        let n = self.nperseg;
        for s in 0..segments {
            let seg = &x[s * self.step..s * self.step + n];
            let mean = seg.iter().sum::<f64>() / n as f64;
            for ((d, &v), &w) in self.segment.iter_mut().zip(seg).zip(&self.window) {
                *d = (v - mean) * w;
            }
            // Lengths come from the plan itself, so this cannot fail.
            let done = self.fft.process_with_scratch(
                &mut self.segment,
                &mut self.spectrum,
                &mut self.scratch,
            );
            debug_assert!(done.is_ok());
            for (p, c) in psd.iter_mut().zip(&self.spectrum) {
                *p += c.norm_sqr();
            }
        }
        // One-sided: double everything but DC and (even n) Nyquist; then average.
        let last_doubled = if n & 1 == 0 { psd.len() - 1 } else { psd.len() };
        let scale = self.scale / segments as f64;
        for (k, p) in psd.iter_mut().enumerate() {
            let double = k >= 1 && k < last_doubled;
            *p *= if double { 2.0 * scale } else { scale };
        }
        Ok(segments)
    }
}
