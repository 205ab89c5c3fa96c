//! `Notch`: removes mains interference with `scipy.signal.iirnotch(freq_hz, q, fs)` — and,
//! with `harmonics`, a notch at every multiple of `freq_hz` below Nyquist — in place, live.
//! Start-up, bypass and redesign behaviour: see the [module docs](super).

use super::filter::{build_iir, filter_spec, IirDesign};
use super::{value_bool, value_f64};
use neuropipe_core::{BoxedStage, BuildError, ParamSpec, StageBuilder, StageSpec};
use neuropipe_dsp::design::{iirnotch, notch_harmonics, DesignError};
use neuropipe_dsp::Sos;
use serde_json::Value;

/// The current notch design parameters of a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct NotchDesign {
    /// Notch frequency in Hz.
    pub freq_hz: f64,
    /// Quality factor (−3 dB width = `freq_hz / q`).
    pub q: f64,
    /// Also notch every multiple of `freq_hz` below Nyquist.
    pub harmonics: bool,
}

impl IirDesign for NotchDesign {
    fn prefilter(&self) -> String {
        format!("N:{}Hz", self.freq_hz)
    }

    fn design(&self, fs: f64) -> Result<Sos, DesignError> {
        if self.harmonics {
            notch_harmonics(self.freq_hz, self.q, fs)
        } else {
            iirnotch(self.freq_hz, self.q, fs)
        }
    }

    fn set(&mut self, key: &str, value: &Value) -> Option<Result<(), String>> {
        Some(match key {
            "freq_hz" => value_f64(key, value).map(|x| self.freq_hz = x),
            "q" => value_f64(key, value).map(|x| self.q = x),
            "harmonics" => value_bool(key, value).map(|x| self.harmonics = x),
            _ => return None,
        })
    }

    fn param_of(&self, e: &DesignError) -> Option<&'static str> {
        match e {
            DesignError::Quality { .. } | DesignError::Coefficient { .. } => Some("q"),
            DesignError::Frequency { .. } | DesignError::Count { .. } => Some("freq_hz"),
            _ => None,
        }
    }
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    filter_spec(
        "Notch",
        "IIR notch at freq_hz (optionally its harmonics), in place, f32/f64; live; Pause bypasses",
        build,
    )
    .param(
        ParamSpec::float("freq_hz", 0.0, 1e6)
            .default(50.0)
            .live()
            .doc("notch frequency (Hz), > 0 and < Nyquist: 50 or 60 for mains"),
    )
    .param(
        ParamSpec::float("q", 0.01, 1e6)
            .default(30.0)
            .live()
            .doc("quality factor: -3 dB width = freq_hz / q"),
    )
    .param(
        ParamSpec::bool("harmonics")
            .default(false)
            .live()
            .doc("also remove 2x, 3x, ... freq_hz below Nyquist (one section each)"),
    )
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p = b.params();
    let design = NotchDesign {
        freq_hz: p.f64("freq_hz")?,
        q: p.f64("q")?,
        harmonics: p.bool("harmonics")?,
    };
    build_iir(b, design)
}
