//! [`BandPower`]: sliding-window per-channel power in named frequency bands.

use crate::design::{check_buffer, check_fs, DesignError};
use crate::welch::Welch;
use crate::window::SlidingWindow;
use crate::FloatSample;

/// A named frequency band `[lo, hi)` in Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Display name (e.g. `"alpha"`).
    pub name: String,
    /// Lower edge in Hz (inclusive).
    pub lo: f64,
    /// Upper edge in Hz (exclusive).
    pub hi: f64,
}

impl Band {
    /// A band named `name` covering `lo <= f < hi` Hz.
    pub fn new(name: impl Into<String>, lo: f64, hi: f64) -> Self {
        Band {
            name: name.into(),
            lo,
            hi,
        }
    }
}

/// The classic EEG bands: delta 1–4, theta 4–8, alpha 8–13, beta 13–30, gamma 30–45 Hz.
pub fn default_bands() -> Vec<Band> {
    vec![
        Band::new("delta", 1.0, 4.0),
        Band::new("theta", 4.0, 8.0),
        Band::new("alpha", 8.0, 13.0),
        Band::new("beta", 13.0, 30.0),
        Band::new("gamma", 30.0, 45.0),
    ]
}

/// Configuration of a [`BandPower`] estimator. All lengths are in frames (samples per channel).
#[derive(Debug, Clone, PartialEq)]
pub struct BandPowerConfig {
    /// Sample rate in Hz.
    pub fs: f64,
    /// Number of interleaved channels.
    pub channels: usize,
    /// Sliding window length: each estimate uses the last `window` frames.
    pub window: usize,
    /// An estimate is produced every `hop` frames once the window is full.
    pub hop: usize,
    /// Welch segment length inside the window.
    pub nperseg: usize,
    /// Welch segment overlap.
    pub noverlap: usize,
    /// Bands to integrate.
    pub bands: Vec<Band>,
}

impl BandPowerConfig {
    /// Defaults for EEG: 1 s Welch segments (`nperseg = round(fs)`, 50 % overlap), a 2 s window,
    /// an estimate every 0.25 s, and [`default_bands`].
    pub fn new(fs: f64, channels: usize) -> Self {
        let second = if fs.is_finite() && fs >= 1.0 {
            fs.round() as usize
        } else {
            1
        };
        BandPowerConfig {
            fs,
            channels,
            window: second.saturating_mul(2),
            hop: (second / 4).max(1),
            nperseg: second,
            noverlap: second / 2,
            bands: default_bands(),
        }
    }
}

/// One band-power estimate, handed to the callback of [`BandPower::process`].
#[derive(Debug, Clone, Copy)]
pub struct BandPowerFrame<'a> {
    /// Number of frames consumed when this estimate was made: the window covers frames
    /// `end_frame - window .. end_frame` (counted from 0 since construction or reset).
    pub end_frame: u64,
    /// Band powers, `powers[channel * bands.len() + band]`, in units² (PSD integrated over Hz).
    pub powers: &'a [f64],
    /// The bands, in the order of `powers`.
    pub bands: &'a [Band],
}

impl BandPowerFrame<'_> {
    /// Power of `band` (index into [`bands`](Self::bands)) on `channel`.
    ///
    /// # Panics
    /// If either index is out of range.
    pub fn power(&self, channel: usize, band: usize) -> f64 {
        assert!(band < self.bands.len(), "band index out of range");
        self.powers[channel * self.bands.len() + band]
    }
}

/// Streaming band power over a sliding window, per channel.
///
/// Keeps the last `window` frames of every channel. Every `hop` frames (first when the window is
/// first full, i.e. after `window` frames, then after `window + hop`, ...) it computes, for each
/// channel, the Welch PSD of the window (exactly [`crate::welch()`] with `nperseg`, `noverlap`) and
/// integrates it over each band with the rectangle rule:
///
/// `power = Σ psd[k] · df` over the bins with `lo <= f_k < hi`, `df = fs / nperseg`.
///
/// (For a sinusoid of amplitude `A` inside a band this is ≈ `A²/2`, its variance.) Estimates
/// depend only on the absolute frame count, so any split of the stream into packets gives the
/// same estimates. Nothing is allocated after construction.
#[derive(Debug, Clone)]
pub struct BandPower {
    channels: usize,
    window: usize,
    hop: usize,
    bands: Vec<Band>,
    /// First and one-past-last bin of each band.
    bins: Vec<(usize, usize)>,
    df: f64,
    welch: Welch,
    ring: SlidingWindow,
    frames: u64,
    /// Frames left until the next estimate (`window` at the start, then `hop`).
    until_estimate: usize,
    linear: Vec<f64>,
    psd: Vec<f64>,
    powers: Vec<f64>,
}

impl BandPower {
    /// Builds the estimator.
    ///
    /// # Errors
    /// Invalid `fs`, `nperseg`, `noverlap` (as [`Welch::new`]); `channels == 0`; `hop == 0`;
    /// `window < nperseg`; `window * channels > MAX_BUFFER`; no bands; a band not satisfying
    /// `0 <= lo < hi <= fs / 2`.
    pub fn new(config: BandPowerConfig) -> Result<Self, DesignError> {
        let BandPowerConfig {
            fs,
            channels,
            window,
            hop,
            nperseg,
            noverlap,
            bands,
        } = config;
        let nyquist = check_fs(fs)?;
        let welch = Welch::new(fs, nperseg, noverlap)?;
        if channels == 0 {
            return Err(DesignError::count("channels", channels, ">= 1"));
        }
        if hop == 0 {
            return Err(DesignError::count("hop", hop, ">= 1"));
        }
        if window < nperseg {
            return Err(DesignError::count(
                "window",
                window,
                format!(">= nperseg ({nperseg})"),
            ));
        }
        check_buffer("channels", window, channels)?;
        if bands.is_empty() {
            return Err(DesignError::Empty { name: "bands" });
        }
        for b in &bands {
            // Written so that NaN edges fail.
            if !(b.lo >= 0.0 && b.lo < b.hi && b.hi <= nyquist) {
                return Err(DesignError::PowerBand {
                    name: b.name.clone(),
                    lo: b.lo,
                    hi: b.hi,
                    nyquist,
                });
            }
        }
        let freqs = welch.freqs();
        let bin_range = |b: &Band| {
            let start = freqs.iter().position(|&f| f >= b.lo).unwrap_or(freqs.len());
            let end = freqs.iter().position(|&f| f >= b.hi).unwrap_or(freqs.len());
            (start, end.max(start))
        };
        let bins = bands.iter().map(bin_range).collect();
        Ok(BandPower {
            channels,
            window,
            hop,
            bins,
            df: welch.df(),
            ring: SlidingWindow::new(channels, window),
            frames: 0,
            until_estimate: window,
            linear: vec![0.0; window],
            psd: vec![0.0; welch.bins()],
            powers: vec![0.0; channels * bands.len()],
            bands,
            welch,
        })
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The bands, in output order.
    pub fn bands(&self) -> &[Band] {
        &self.bands
    }

    /// Frames consumed since construction or [`reset`](Self::reset).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Forgets all input.
    pub fn reset(&mut self) {
        self.ring.reset();
        self.frames = 0;
        self.until_estimate = self.window;
    }

    /// Consumes `data` (frame-major interleaved) and calls `emit` for every estimate due within
    /// it, in order.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of `channels`.
    pub fn process<T: FloatSample>(
        &mut self,
        data: &[T],
        mut emit: impl FnMut(BandPowerFrame<'_>),
    ) {
        let c = self.channels;
        assert!(
            data.chunks_exact(c).remainder().is_empty(),
            "process: data length {} is not a multiple of {} channels",
            data.len(),
            c
        );
        for frame in data.chunks_exact(c) {
            self.ring.push(frame);
            self.frames += 1;
            self.until_estimate -= 1;
            if self.until_estimate == 0 {
                self.until_estimate = self.hop;
                self.estimate();
                emit(BandPowerFrame {
                    end_frame: self.frames,
                    powers: &self.powers,
                    bands: &self.bands,
                });
            }
        }
    }

    /// Computes the band powers of the current window into `self.powers`.
    fn estimate(&mut self) {
        let nb = self.bands.len();
        for ch in 0..self.channels {
            self.ring.copy_channel(ch, &mut self.linear);
            // The window is >= nperseg and psd has `bins` entries: this cannot fail.
            let done = self.welch.psd(&self.linear, &mut self.psd);
            debug_assert!(done.is_ok());
            for (out, &(start, end)) in self.powers[ch * nb..(ch + 1) * nb]
                .iter_mut()
                .zip(&self.bins)
            {
                *out = self.psd[start..end].iter().sum::<f64>() * self.df;
            }
        }
    }
}
