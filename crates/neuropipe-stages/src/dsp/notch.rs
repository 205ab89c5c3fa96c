//! `Notch`: removes mains interference with `scipy.signal.iirnotch(freq_hz, q, fs)` — and,
//! with `harmonics`, a notch at every multiple of `freq_hz` below Nyquist — in place, live.
//! Start-up, bypass and redesign behaviour: see the [module docs](super).

use super::filter::{build_iir, filter_spec, IirDesign};
use neuropipe_core::prelude::*;
use neuropipe_dsp::design::{iirnotch, notch_harmonics, DesignError};
use neuropipe_dsp::Sos;

/// Parameters of `Notch` (after `enabled` and `steady_state`, see
/// [`FilterParams`](super::filter::FilterParams)): the current notch design of a stage.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct NotchParams {
    /// notch frequency (Hz), > 0 and < Nyquist: 50 or 60 for mains
    #[param(default = 50.0, min = 0.0, max = 1e6, live)]
    pub freq_hz: f64,
    /// quality factor: -3 dB width = freq_hz / q
    #[param(default = 30.0, min = 0.01, max = 1e6, live)]
    pub q: f64,
    /// also remove 2x, 3x, ... freq_hz below Nyquist (one section each)
    #[param(default = false, live)]
    pub harmonics: bool,
}

impl IirDesign for NotchParams {
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
    .params::<NotchParams>()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let design: NotchParams = b.parse_params()?;
    build_iir(b, design)
}
