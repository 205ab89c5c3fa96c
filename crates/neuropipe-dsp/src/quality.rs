//! [`QualityMeter`]: per-channel signal quality over a sliding window: DC offset, standard
//! deviation, EEG-band RMS, line-noise ratio, use of the amplifier's range, optional lead-off
//! impedance, and a verdict ([`ChannelQuality::problems`]).
//!
//! # Definitions
//!
//! Over the last `window` frames of a channel (values in µV), every `hop` frames:
//!
//! * `offset`: the mean (the electrode's DC offset plus drift).
//! * `sd`: the standard deviation (population, about the mean), time domain.
//! * `rms`: the RMS in the EEG band, `√(Σ psd · df)` over 1 ≤ f < 40 Hz, from a Welch PSD of
//!   the window (Hann, 1 s segments, 50 % overlap, as `scipy.signal.welch`): drift and DC do not
//!   count.
//! * `line_ratio`: power within ±1.5 Hz of the line frequency over the power in 1–40 Hz.
//! * `range_used`: the largest distance from the middle of the channel's declared physical
//!   range as a percentage of half that range (100 % = at the ADC's limit); `None` if the
//!   range is unknown.
//! * `impedance` (lead-off mode only): OpenBCI's figure for an ADS1299 driving its 6 nA AC
//!   lead-off current (31.25 Hz): `√2 · V_rms / 6 nA − 2.2 kΩ` in kΩ, with `V_rms` the RMS in
//!   5–50 Hz without the line band; never below 0.
//!
//! Verdict flags (`problems`, 0 = good): [`FLAT`] (`sd` below `flat_sd`, not railed),
//! [`RAILED`] (`range_used` at or above `railed_percent`), [`LINE_NOISE`] (`line_ratio` above
//! `max_line_ratio`), [`NOISY`] (`rms` above `max_rms`; not judged in lead-off mode, whose
//! injected signal is in the EEG band), [`HIGH_IMPEDANCE`] (`impedance` above
//! `max_impedance`), [`MISSING`] (NaN/Inf samples in the window; the figures use the others).

use crate::design::{check_buffer, check_fs, DesignError};
use crate::welch::Welch;
use crate::window::SlidingWindow;
use crate::FloatSample;

/// Flag: the channel is flat (a shorted or dead input).
pub const FLAT: u32 = 1;
/// Flag: the channel reaches the end of its range (railed, clipped).
pub const RAILED: u32 = 2;
/// Flag: line noise dominates the EEG band.
pub const LINE_NOISE: u32 = 4;
/// Flag: too much power in the EEG band (muscle, movement, a loose lead).
pub const NOISY: u32 = 8;
/// Flag: the lead-off impedance is too high.
pub const HIGH_IMPEDANCE: u32 = 16;
/// Flag: the window holds NaN/Inf samples.
pub const MISSING: u32 = 32;
/// The flags' names, bit 0 first.
pub const PROBLEM_NAMES: [&str; 6] = [
    "flat",
    "railed",
    "line_noise",
    "noisy",
    "high_impedance",
    "missing",
];

/// The ADS1299's lead-off drive current used by [`QualityMeter`]'s impedance (A).
pub const LEADOFF_CURRENT_A: f64 = 6e-9;
/// The series resistor on each Cyton input, subtracted from the impedance (Ω).
pub const SERIES_RESISTOR_OHM: f64 = 2200.0;

/// Limits of the verdict (units as [`ChannelQuality`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// `sd` below this (µV) is flat.
    pub flat_sd: f64,
    /// `range_used` at or above this (%) is railed.
    pub railed_percent: f64,
    /// `line_ratio` above this is line noise.
    pub max_line_ratio: f64,
    /// `rms` above this (µV) is noisy.
    pub max_rms: f64,
    /// `impedance` above this (kΩ) is too high.
    pub max_impedance: f64,
}

impl Default for Thresholds {
    /// flat below 0.5 µV, railed at 90 % of the range (as the OpenBCI GUI), line noise above
    /// a ratio of 1, noisy above 100 µV RMS, impedance above 100 kΩ.
    fn default() -> Self {
        Thresholds {
            flat_sd: 0.5,
            railed_percent: 90.0,
            max_line_ratio: 1.0,
            max_rms: 100.0,
            max_impedance: 100.0,
        }
    }
}

/// Configuration of a [`QualityMeter`]; lengths in frames.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityConfig {
    /// Sample rate (Hz).
    pub fs: f64,
    /// Per channel, the declared physical range `[min, max]` (µV), if known.
    pub ranges: Vec<Option<[f64; 2]>>,
    /// Window length (frames); at least one Welch segment (`round(fs)` frames, capped here).
    pub window: usize,
    /// An estimate every `hop` frames once the window is full.
    pub hop: usize,
    /// Line frequency (Hz), 0 for none.
    pub line_hz: f64,
    /// Compute the lead-off impedance.
    pub impedance: bool,
    /// Verdict limits.
    pub thresholds: Thresholds,
}

/// The figures of one channel (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChannelQuality {
    /// Mean (µV).
    pub offset: f64,
    /// Standard deviation (µV).
    pub sd: f64,
    /// RMS in 1–40 Hz (µV).
    pub rms: f64,
    /// Line power over 1–40 Hz power; `None` without a line frequency or EEG-band power.
    pub line_ratio: Option<f64>,
    /// Percentage of half the range used; `None` if the range is unknown.
    pub range_used: Option<f64>,
    /// Lead-off impedance (kΩ); `None` unless enabled.
    pub impedance: Option<f64>,
    /// NaN/Inf samples in the window.
    pub missing: usize,
    /// Verdict flags; 0 = good.
    pub problems: u32,
}

/// Bins `[start, end)` of `lo <= f < hi`.
fn bins(freqs: &[f64], lo: f64, hi: f64) -> (usize, usize) {
    let start = freqs.iter().position(|&f| f >= lo).unwrap_or(freqs.len());
    let end = freqs.iter().position(|&f| f >= hi).unwrap_or(freqs.len());
    (start, end.max(start))
}

/// Streaming signal-quality figures per channel (see the module docs). Estimates depend only
/// on the absolute frame count, so any split into packets gives the same figures; nothing is
/// allocated after construction.
#[derive(Debug, Clone)]
pub struct QualityMeter {
    cfg: QualityConfig,
    channels: usize,
    welch: Welch,
    df: f64,
    eeg: (usize, usize),
    line: Option<(usize, usize)>,
    imp: (usize, usize),
    ring: SlidingWindow,
    until_estimate: usize,
    frames: u64,
    linear: Vec<f64>,
    psd: Vec<f64>,
    out: Vec<ChannelQuality>,
}

impl QualityMeter {
    /// Builds the meter.
    ///
    /// # Errors
    /// Invalid `fs`; no channels; `hop == 0`; a window shorter than one second's Welch
    /// segment or too large; a line frequency at or above Nyquist.
    pub fn new(cfg: QualityConfig) -> Result<Self, DesignError> {
        let nyquist = check_fs(cfg.fs)?;
        let channels = cfg.ranges.len();
        if channels == 0 {
            return Err(DesignError::count("channels", 0, ">= 1"));
        }
        if cfg.hop == 0 {
            return Err(DesignError::count("hop", 0, ">= 1"));
        }
        let nperseg = (cfg.fs.round() as usize).max(1);
        if cfg.window < nperseg {
            return Err(DesignError::count(
                "window",
                cfg.window,
                format!(">= one second ({nperseg} frames)"),
            ));
        }
        check_buffer("channels", cfg.window, channels)?;
        if !(cfg.line_hz.is_finite() && cfg.line_hz >= 0.0 && cfg.line_hz < nyquist) {
            return Err(DesignError::Frequency {
                name: "line_hz",
                value: cfg.line_hz,
                nyquist,
            });
        }
        let welch = Welch::new(cfg.fs, nperseg, nperseg / 2)?;
        let freqs = welch.freqs();
        let eeg = bins(freqs, 1.0, 40.0_f64.min(nyquist));
        let line = (cfg.line_hz > 0.0).then(|| bins(freqs, cfg.line_hz - 1.5, cfg.line_hz + 1.5));
        let imp = bins(freqs, 5.0, 50.0_f64.min(nyquist));
        Ok(QualityMeter {
            channels,
            df: welch.df(),
            eeg,
            line,
            imp,
            ring: SlidingWindow::new(channels, cfg.window),
            until_estimate: cfg.window,
            frames: 0,
            linear: vec![0.0; cfg.window],
            psd: vec![0.0; welch.bins()],
            out: vec![ChannelQuality::default(); channels],
            welch,
            cfg,
        })
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The verdict limits.
    pub fn thresholds(&self) -> Thresholds {
        self.cfg.thresholds
    }

    /// Replaces the verdict limits (from the next estimate on).
    pub fn set_thresholds(&mut self, t: Thresholds) {
        self.cfg.thresholds = t;
    }

    /// Consumes `data` (frame-major, µV) and calls `emit(end_frame, figures)` for every
    /// estimate due within it; the window covers frames `end_frame - window .. end_frame`.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of the channel count.
    pub fn process<T: FloatSample>(
        &mut self,
        data: &[T],
        mut emit: impl FnMut(u64, &[ChannelQuality]),
    ) {
        let c = self.channels;
        assert!(
            data.len().is_multiple_of(c),
            "process: data length {} is not a multiple of {c} channels",
            data.len()
        );
        for frame in data.chunks_exact(c) {
            self.ring.push(frame);
            self.frames += 1;
            self.until_estimate -= 1;
            if self.until_estimate == 0 {
                self.until_estimate = self.cfg.hop;
                for ch in 0..c {
                    self.out[ch] = self.channel(ch);
                }
                emit(self.frames, &self.out);
            }
        }
    }

    /// Band power `Σ psd · df` over `bins`, less the line band's bins if `skip_line`.
    fn power(&self, (start, end): (usize, usize), skip_line: bool) -> f64 {
        let line = self.line.filter(|_| skip_line).unwrap_or((0, 0));
        (start..end)
            .filter(|k| !(line.0..line.1).contains(k))
            .map(|k| self.psd[k])
            .sum::<f64>()
            * self.df
    }

    /// The figures of channel `ch` over the current window.
    fn channel(&mut self, ch: usize) -> ChannelQuality {
        let w = self.cfg.window;
        self.ring.copy_channel(ch, &mut self.linear);
        let (mut n, mut sum, mut lo, mut hi) = (0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        for &x in self.linear.iter().filter(|x| x.is_finite()) {
            n += 1;
            sum += x;
            lo = lo.min(x);
            hi = hi.max(x);
        }
        let missing = w - n;
        let mut q = ChannelQuality {
            missing,
            ..Default::default()
        };
        if n == 0 {
            q.problems = MISSING;
            q.offset = f64::NAN;
            q.sd = f64::NAN;
            q.rms = f64::NAN;
            return q;
        }
        let mean = sum / n as f64;
        let var = self
            .linear
            .iter()
            .filter(|x| x.is_finite())
            .map(|x| (x - mean) * (x - mean))
            .sum::<f64>()
            / n as f64;
        q.offset = mean;
        q.sd = var.sqrt();
        if missing > 0 {
            // The spectrum of the others: missing samples count as the mean.
            for x in self.linear.iter_mut().filter(|x| !x.is_finite()) {
                *x = mean;
            }
        }
        // The window is at least one segment and psd has `bins` entries: cannot fail.
        let done = self.welch.psd(&self.linear, &mut self.psd);
        debug_assert!(done.is_ok());
        let eeg = self.power(self.eeg, false);
        q.rms = eeg.sqrt();
        q.line_ratio = self
            .line
            .map(|b| self.power(b, false))
            .filter(|_| eeg > 0.0)
            .map(|p| p / eeg);
        q.range_used = self.cfg.ranges[ch].map(|[rlo, rhi]| {
            let (mid, half) = ((rlo + rhi) / 2.0, (rhi - rlo) / 2.0);
            let far = (hi - mid).abs().max((lo - mid).abs());
            if half > 0.0 {
                100.0 * far / half
            } else {
                f64::INFINITY
            }
        });
        if self.cfg.impedance {
            let v_rms = self.power(self.imp, true).sqrt() * 1e-6;
            let ohm = std::f64::consts::SQRT_2 * v_rms / LEADOFF_CURRENT_A - SERIES_RESISTOR_OHM;
            q.impedance = Some(ohm.max(0.0) / 1e3);
        }
        let t = &self.cfg.thresholds;
        let railed = q.range_used.is_some_and(|r| r >= t.railed_percent);
        let mut p = 0;
        if railed {
            p |= RAILED;
        } else if q.sd < t.flat_sd {
            p |= FLAT;
        }
        if q.line_ratio.is_some_and(|r| r > t.max_line_ratio) {
            p |= LINE_NOISE;
        }
        if !self.cfg.impedance && q.rms > t.max_rms {
            p |= NOISY;
        }
        if q.impedance.is_some_and(|z| z > t.max_impedance) {
            p |= HIGH_IMPEDANCE;
        }
        if missing > 0 {
            p |= MISSING;
        }
        q.problems = p;
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn meter(channels: usize, impedance: bool) -> QualityMeter {
        QualityMeter::new(QualityConfig {
            fs: 250.0,
            ranges: vec![Some([-1000.0, 1000.0]); channels],
            window: 500,
            hop: 125,
            line_hz: 50.0,
            impedance,
            thresholds: Thresholds::default(),
        })
        .unwrap()
    }

    /// Frame-major data from one generator per channel.
    fn signal(frames: usize, gens: &[&dyn Fn(f64) -> f64]) -> Vec<f64> {
        (0..frames)
            .flat_map(|i| gens.iter().map(move |g| g(i as f64 / 250.0)))
            .collect()
    }

    fn last(m: &mut QualityMeter, data: &[f64]) -> Vec<ChannelQuality> {
        let mut got = vec![];
        m.process(data, |_, q| got = q.to_vec());
        got
    }

    #[test]
    fn figures_match_their_definitions() {
        let sine = |t: f64| 300.0 + 20.0 * (TAU * 10.0 * t).sin();
        let flat = |_: f64| -250.0;
        let railed = |t: f64| if t > 1.0 { 1000.0 } else { 0.0 };
        let mains = |t: f64| 5.0 * (TAU * 10.0 * t).sin() + 40.0 * (TAU * 50.0 * t).sin();
        let mut m = meter(4, false);
        let q = last(&mut m, &signal(1000, &[&sine, &flat, &railed, &mains]));
        // A 20 µV sine: sd and EEG-band RMS are 20/√2, offset 300.
        assert!((q[0].offset - 300.0).abs() < 1e-9, "{:?}", q[0]);
        assert!((q[0].sd - 20.0 / 2f64.sqrt()).abs() < 1e-6, "{:?}", q[0]);
        assert!((q[0].rms - 20.0 / 2f64.sqrt()).abs() < 0.05, "{:?}", q[0]);
        assert!((q[0].range_used.unwrap() - 32.0).abs() < 0.01); // peak 320 of 1000
        assert_eq!(q[0].problems, 0);
        assert_eq!(q[1].problems, FLAT);
        assert_eq!(q[2].problems, RAILED, "{:?}", q[2]);
        // 40 µV of mains on a 5 µV signal: power ratio 64.
        let r = q[3].line_ratio.unwrap();
        assert!((r - 64.0).abs() < 1.0, "{r}");
        assert_eq!(q[3].problems, LINE_NOISE);
    }

    #[test]
    fn estimates_do_not_depend_on_packet_size() {
        let a = |t: f64| 13.0 * (TAU * 7.0 * t).sin() + (t * 91.0).sin() * 3.0;
        let data = signal(1700, &[&a, &a]);
        let mut whole = vec![];
        meter(2, false).process(&data, |f, q| whole.push((f, q.to_vec())));
        let mut split = vec![];
        let mut m = meter(2, false);
        for chunk in data.chunks(2 * 37) {
            m.process(chunk, |f, q| split.push((f, q.to_vec())));
        }
        assert_eq!(whole.len(), 1 + (1700 - 500) / 125);
        assert_eq!(whole, split);
    }

    #[test]
    fn missing_samples_are_flagged_and_ignored() {
        let mut data = signal(500, &[&|t: f64| 10.0 * (TAU * 10.0 * t).sin()]);
        data[100] = f64::NAN;
        let q = last(&mut meter(1, false), &data);
        assert_eq!(q[0].missing, 1);
        assert_eq!(q[0].problems, MISSING);
        assert!(q[0].sd.is_finite() && q[0].rms.is_finite());
    }

    #[test]
    fn impedance_follows_openbci_formula() {
        // A lead-off signal of 6 nA through 10 kΩ + 2.2 kΩ, as a sine of that peak amplitude:
        // √2 · V_rms = peak, so the figure is the electrode's 10 kΩ.
        let peak_uv = LEADOFF_CURRENT_A * (10e3 + SERIES_RESISTOR_OHM) * 1e6;
        let s = move |t: f64| peak_uv * (TAU * 31.25 * t).sin();
        let q = last(&mut meter(1, true), &signal(1000, &[&s]));
        let z = q[0].impedance.unwrap();
        assert!((z - 10.0).abs() < 0.2, "{z} kΩ");
        assert_eq!(q[0].problems, 0);
    }
}
