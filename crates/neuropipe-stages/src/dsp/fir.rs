//! `Fir`: a linear-phase FIR filter (`scipy.signal.firwin` design, or explicit taps) run as
//! `lfilter(taps, [1], x)`, in place. `ControlMsg::UpdateCoefficients` replaces the taps
//! while running; design parameters are live too. Start-up and bypass behaviour: see the
//! [module docs](super).
//!
//! A symmetric FIR of `n` taps delays the signal by `(n − 1) / 2` frames; headers are not
//! changed.

use super::filter::{design_build_error, filter_spec, FilterStage, Kernel};
use neuropipe_core::prelude::*;
use neuropipe_dsp::design::{firwin, DesignError, Window, MAX_TAPS};
use neuropipe_dsp::FirFilter;

/// Window names accepted by the `window` parameter (the same list as its `choices`).
pub const WINDOWS: [&str; 4] = ["hamming", "hann", "blackman", "kaiser"];

/// The real-time budget of a `Fir` stage: multiply-adds per second of signal
/// (`taps × channels × sample rate`; the direct form costs one per tap per sample). Designs and
/// coefficients above it are refused — at build time as a parameter error, live as `BadParam`
/// (the running filter is kept) — because the stage could not keep up with the stream:
/// e.g. at most 3,125 taps at 64 channels × 1 kHz, 100,000 taps at 8 channels × 250 Hz.
/// At the budget a `Fir` used 2.9 % (64 ch × 1 kHz) to 26 % (8 ch × 250 Hz, long filters
/// leave the cache) of one core of an AMD EPYC (2026-12-04, `scripts/fir_budget.py`).
pub const MAX_MACS_PER_S: f64 = 2e8;

/// `Err` with the reason when `taps` taps on `channels` channels at `fs` Hz exceed
/// [`MAX_MACS_PER_S`].
pub fn check_cost(taps: usize, channels: usize, fs: f64) -> Result<(), String> {
    let cost = taps as f64 * channels as f64 * fs;
    if cost <= MAX_MACS_PER_S {
        return Ok(());
    }
    let most = (MAX_MACS_PER_S / (channels.max(1) as f64 * fs)).floor();
    Err(format!(
        "{taps} taps × {channels} channels × {fs} Hz = {cost:.3e} multiply-adds per second, above the real-time budget of {MAX_MACS_PER_S:.0e} (at most {most} taps for this stream): the filter could not keep up; use fewer taps, or Decimate first"
    ))
}

/// Parameters of `Fir` (after `enabled` and `steady_state`, see
/// [`FilterParams`](super::filter::FilterParams)).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct FirParams {
    /// number of taps (odd for a high-pass or band-stop); delay = (numtaps - 1) / 2 frames
    #[param(default = 101, min = 1, max = MAX_TAPS, live)]
    pub numtaps: usize,
    /// band edges (Hz), strictly increasing, each > 0 and < Nyquist
    #[param(default = [40.0], min = 0.0, max = 1e6, live)]
    pub cutoff_hz: Vec<f64>,
    /// design window
    #[param(default = "hamming", choices = ["hamming", "hann", "blackman", "kaiser"], live)]
    pub window: String,
    /// Kaiser window shape (only with window "kaiser")
    #[param(default = 5.0, min = 0.0, max = 700.0, live)]
    pub beta: f64,
    /// 0 Hz is in a passband: one cutoff = low-pass (false: high-pass), two = band-stop (false: band-pass)
    #[param(default = true, live)]
    pub pass_zero: bool,
    /// explicit coefficients instead of a firwin design (the design parameters are then ignored until one is changed live)
    #[param(min = -1e12, max = 1e12)]
    pub taps: Option<Vec<f64>>,
}

/// The current `firwin` design parameters of a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct FirDesign {
    /// Number of taps.
    pub numtaps: usize,
    /// Band edges in Hz, strictly increasing.
    pub cutoff_hz: Vec<f64>,
    /// Window name, one of [`WINDOWS`].
    pub window: String,
    /// Kaiser shape parameter (used with `window = "kaiser"`).
    pub beta: f64,
    /// Whether 0 Hz is in a passband.
    pub pass_zero: bool,
}

impl FirDesign {
    /// Designs the taps for sample rate `fs`.
    pub fn taps(&self, fs: f64) -> Result<Vec<f64>, DesignError> {
        let window = match self.window.as_str() {
            "hann" => Window::Hann,
            "blackman" => Window::Blackman,
            "kaiser" => Window::Kaiser(self.beta),
            _ => Window::Hamming,
        };
        firwin(self.numtaps, &self.cutoff_hz, window, self.pass_zero, fs)
    }

    /// Applies a live change of a design parameter.
    fn set(&mut self, update: &FirParamsUpdate) {
        match update {
            FirParamsUpdate::Numtaps(n) => self.numtaps = *n,
            FirParamsUpdate::CutoffHz(c) => self.cutoff_hz = c.clone(),
            FirParamsUpdate::Window(w) => self.window = w.clone(),
            FirParamsUpdate::Beta(b) => self.beta = *b,
            FirParamsUpdate::PassZero(p) => self.pass_zero = *p,
        }
    }

    fn param_of(e: &DesignError) -> Option<&'static str> {
        match e {
            DesignError::NumTaps { .. } => Some("numtaps"),
            DesignError::NoCutoffs
            | DesignError::Frequency { .. }
            | DesignError::CutoffsNotIncreasing { .. } => Some("cutoff_hz"),
            DesignError::KaiserBeta { .. } => Some("beta"),
            _ => None,
        }
    }
}

/// The [`Kernel`] of `Fir`: a [`FirFilter`] and the design it came from.
pub struct FirKernel<S> {
    design: FirDesign,
    filter: FirFilter<S>,
    /// Sample rate of the stream (for the cost check of new coefficients).
    fs: f64,
    /// The taps were given explicitly (not designed from the parameters).
    explicit: bool,
}

impl<S: FloatSample> Kernel<S> for FirKernel<S> {
    type Params = FirParams;

    #[inline]
    fn process(&mut self, data: &mut [S]) {
        self.filter.process(data);
    }

    fn take_resets(&mut self) -> u64 {
        self.filter.take_resets()
    }

    fn prefilter(&self) -> String {
        let d = &self.design;
        if self.explicit {
            return format!("FIR:{}taps", self.filter.num_taps());
        }
        match (d.pass_zero, d.cutoff_hz.as_slice()) {
            (true, [c]) => format!("LP:{c}Hz"),
            (false, [c]) => format!("HP:{c}Hz"),
            (false, [lo, hi]) => format!("HP:{lo}Hz LP:{hi}Hz"),
            (true, [lo, hi]) => format!("BS:{lo}-{hi}Hz"),
            _ => format!("FIR:{}taps", self.filter.num_taps()),
        }
    }

    fn init_steady_state(&mut self, first_frame: &[S]) {
        self.filter.init_steady_state(first_frame);
    }

    fn admit(&self, update: &FirParamsUpdate, fs: f64) -> Result<(), String> {
        match update {
            FirParamsUpdate::Numtaps(n) => check_cost(*n, self.filter.channels(), fs),
            _ => Ok(()),
        }
    }

    fn update(&mut self, update: &FirParamsUpdate, fs: f64) -> Result<bool, DesignError> {
        let mut design = self.design.clone();
        design.set(update);
        let taps = design.taps(fs)?;
        // The input history is kept (resized if the length changes): no reset needed.
        self.filter.set_taps(&taps)?;
        self.design = design;
        Ok(false)
    }

    /// Empty coefficients are a `Fatal` error (the stage cannot filter with nothing); other bad
    /// values (non-finite, too many) are rejected and the old taps stay.
    fn set_coefficients(&mut self, taps: &[f64]) -> Result<Option<bool>, StageError> {
        if taps.is_empty() {
            return Err(StageError::fatal(
                "UpdateCoefficients with no taps: a FIR filter needs at least one coefficient",
            ));
        }
        check_cost(taps.len(), self.filter.channels(), self.fs)
            .map_err(|e| StageError::bad_param(format!("coefficients rejected: {e}")))?;
        self.filter
            .set_taps(taps)
            .map_err(|e| StageError::bad_param(format!("coefficients rejected: {e}")))?;
        Ok(Some(false))
    }
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    filter_spec(
        "Fir",
        "FIR filter (firwin design or explicit taps), in place, f32/f64; UpdateCoefficients replaces taps live",
        build,
    )
    .params::<FirParams>()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?;
    let (fs, channels) = (info.sample_rate, info.channel_count());
    let p: FirParams = b.parse_params()?;
    let explicit = p.taps.is_some();
    let design = FirDesign {
        numtaps: p.numtaps,
        cutoff_hz: p.cutoff_hz,
        window: p.window,
        beta: p.beta,
        pass_zero: p.pass_zero,
    };
    let cost_param = if explicit { "taps" } else { "numtaps" };
    let taps = match p.taps {
        Some(taps) => {
            if taps.is_empty() {
                return Err(BuildError::param(
                    "taps",
                    "must hold at least one coefficient",
                ));
            }
            taps
        }
        None => design
            .taps(fs)
            .map_err(|e| design_build_error(FirDesign::param_of(&e), &e))?,
    };
    check_cost(taps.len(), channels, fs).map_err(|e| BuildError::param(cost_param, e))?;
    with_float!(kind, S => {
        let filter = FirFilter::<S>::new(&taps, channels).map_err(|e| {
            if explicit {
                BuildError::param("taps", e.to_string())
            } else {
                BuildError::stage(e.to_string())
            }
        })?;
        let stage = FilterStage::build(b, FirKernel {
                design,
                filter,
                fs,
                explicit,
            })?;
        Ok(BoxedStage::new(stage))
    })
}
