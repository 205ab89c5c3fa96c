//! `Fir`: a linear-phase FIR filter (`scipy.signal.firwin` design, or explicit taps) run as
//! `lfilter(taps, [1], x)`, in place. `ControlMsg::UpdateCoefficients` replaces the taps
//! while running; design parameters are live too. Start-up and bypass behaviour: see the
//! [module docs](super).
//!
//! A symmetric FIR of `n` taps delays the signal by `(n − 1) / 2` frames; headers are not
//! changed.

use super::filter::{design_build_error, filter_spec, FilterStage, Kernel};
use super::{float_input, value_bool, value_f64, value_usize, with_float_type, Float};
use neuropipe_core::{BoxedStage, BuildError, ParamSpec, StageBuilder, StageError, StageSpec};
use neuropipe_dsp::design::{firwin, DesignError, Window, MAX_TAPS};
use neuropipe_dsp::FirFilter;
use serde_json::Value;

/// Window names accepted by the `window` parameter.
pub const WINDOWS: [&str; 4] = ["hamming", "hann", "blackman", "kaiser"];

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

    fn set(&mut self, key: &str, value: &Value) -> Option<Result<(), String>> {
        Some(match key {
            "numtaps" => value_usize(key, value).map(|x| self.numtaps = x),
            "cutoff_hz" => match value.as_array() {
                Some(a) => a
                    .iter()
                    .map(|x| value_f64(key, x))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|c| self.cutoff_hz = c),
                None => Err(format!("`{key}` must be an array of numbers")),
            },
            "window" => match value.as_str() {
                Some(w) if WINDOWS.contains(&w) => {
                    self.window = w.to_string();
                    Ok(())
                }
                _ => Err(format!("`{key}` must be one of {}", WINDOWS.join(", "))),
            },
            "beta" => value_f64(key, value).map(|x| self.beta = x),
            "pass_zero" => value_bool(key, value).map(|x| self.pass_zero = x),
            _ => return None,
        })
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
    /// The taps were given explicitly (not designed from the parameters).
    explicit: bool,
}

impl<S: Float> Kernel<S> for FirKernel<S> {
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

    fn update(&mut self, key: &str, value: &Value, fs: f64) -> Result<Option<bool>, StageError> {
        let mut design = self.design.clone();
        match design.set(key, value) {
            None => return Ok(None),
            Some(Err(m)) => return Err(StageError::BadParam(m)),
            Some(Ok(())) => {}
        }
        let bad = |e: DesignError| StageError::bad_param(format!("`{key}` = {value}: {e}"));
        let taps = design.taps(fs).map_err(bad)?;
        // The input history is kept (resized if the length changes): no reset needed.
        self.filter.set_taps(&taps).map_err(bad)?;
        self.design = design;
        Ok(Some(false))
    }

    /// Empty coefficients are a `Fatal` error (the stage cannot filter with nothing); other bad
    /// values (non-finite, too many) are rejected and the old taps stay.
    fn set_coefficients(&mut self, taps: &[f64]) -> Result<Option<bool>, StageError> {
        if taps.is_empty() {
            return Err(StageError::fatal(
                "UpdateCoefficients with no taps: a FIR filter needs at least one coefficient",
            ));
        }
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
    .param(
        ParamSpec::int("numtaps", 1, MAX_TAPS as i64)
            .default(101)
            .live()
            .doc("number of taps (odd for a high-pass or band-stop); delay = (numtaps - 1) / 2 frames"),
    )
    .param(
        ParamSpec::float_list("cutoff_hz", 0.0, 1e6)
            .default(vec![40.0])
            .live()
            .doc("band edges (Hz), strictly increasing, each > 0 and < Nyquist"),
    )
    .param(
        ParamSpec::choice("window", &WINDOWS)
            .default("hamming")
            .live()
            .doc("design window"),
    )
    .param(
        ParamSpec::float("beta", 0.0, 700.0)
            .default(5.0)
            .live()
            .doc("Kaiser window shape (only with window \"kaiser\")"),
    )
    .param(
        ParamSpec::bool("pass_zero")
            .default(true)
            .live()
            .doc("0 Hz is in a passband: one cutoff = low-pass (false: high-pass), two = band-stop (false: band-pass)"),
    )
    .param(
        ParamSpec::float_list("taps", -1e12, 1e12)
            .optional()
            .doc("explicit coefficients instead of a firwin design (the design parameters are then ignored until one is changed live)"),
    )
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = float_input(b)?;
    let info = b.input_stream("in")?;
    let (fs, channels) = (info.sample_rate, info.channel_count());
    let p = b.params();
    let design = FirDesign {
        numtaps: p.usize("numtaps")?,
        cutoff_hz: p.f64_list("cutoff_hz")?,
        window: p.str("window")?.to_string(),
        beta: p.f64("beta")?,
        pass_zero: p.bool("pass_zero")?,
    };
    let explicit = p.get("taps").is_some();
    let taps = match p.get("taps") {
        Some(_) => {
            let taps = p.f64_list("taps")?;
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
    with_float_type!(kind, S => {
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
                explicit,
            })?;
        Ok(BoxedStage::new(stage))
    })
}
