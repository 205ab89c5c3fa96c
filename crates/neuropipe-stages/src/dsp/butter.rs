//! `Bandpass`, `Highpass`, `Lowpass`, `Bandstop`: Butterworth IIR filters
//! (`scipy.signal.butter(order, …, output='sos')` run as `sosfilt`), in place, with live
//! cutoffs and order. Start-up, bypass and redesign behaviour: see the [module docs](super).

use super::filter::{build_iir, filter_spec, IirDesign};
use neuropipe_core::prelude::*;
use neuropipe_dsp::design::{butter, Band, DesignError};
use neuropipe_dsp::Sos;

/// Which Butterworth response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ButterKind {
    /// Passes below `cutoff_hz`.
    Lowpass,
    /// Passes above `cutoff_hz`.
    Highpass,
    /// Passes between `low_hz` and `high_hz`.
    Bandpass,
    /// Rejects between `low_hz` and `high_hz`.
    Bandstop,
}

impl ButterKind {
    fn is_band(self) -> bool {
        matches!(self, ButterKind::Bandpass | ButterKind::Bandstop)
    }
}

/// The current Butterworth design parameters of a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct ButterDesign {
    /// Response type.
    pub kind: ButterKind,
    /// Filter order (band types have `2 · order` poles, `order` sections).
    pub order: usize,
    /// Cutoff in Hz (low-pass and high-pass).
    pub cutoff_hz: f64,
    /// Lower band edge in Hz (band-pass and band-stop).
    pub low_hz: f64,
    /// Upper band edge in Hz (band-pass and band-stop).
    pub high_hz: f64,
}

impl ButterDesign {
    /// The design in EDF+ prefilter notation.
    pub fn prefilter(&self) -> String {
        match self.kind {
            ButterKind::Lowpass => format!("LP:{}Hz", self.cutoff_hz),
            ButterKind::Highpass => format!("HP:{}Hz", self.cutoff_hz),
            ButterKind::Bandpass => format!("HP:{}Hz LP:{}Hz", self.low_hz, self.high_hz),
            ButterKind::Bandstop => format!("BS:{}-{}Hz", self.low_hz, self.high_hz),
        }
    }

    /// Designs the cascade for sample rate `fs`.
    pub fn design(&self, fs: f64) -> Result<Sos, DesignError> {
        let band = match self.kind {
            ButterKind::Lowpass => Band::Lowpass(self.cutoff_hz),
            ButterKind::Highpass => Band::Highpass(self.cutoff_hz),
            ButterKind::Bandpass => Band::Bandpass(self.low_hz, self.high_hz),
            ButterKind::Bandstop => Band::Bandstop(self.low_hz, self.high_hz),
        };
        butter(self.order, band, fs)
    }

    /// The parameter a design error is about; `None` for the stage as a whole.
    pub fn param_of(&self, e: &DesignError) -> Option<&'static str> {
        match e {
            DesignError::Order { .. } => Some("order"),
            DesignError::Frequency { name: "low", .. } | DesignError::BandEdges { .. } => {
                Some("low_hz")
            }
            DesignError::Frequency { name: "high", .. } => Some("high_hz"),
            DesignError::Frequency { .. } | DesignError::Coefficient { .. } => {
                Some(if self.kind.is_band() {
                    "low_hz"
                } else {
                    "cutoff_hz"
                })
            }
            _ => None,
        }
    }
}

/// Parameters of `Bandpass` (after `enabled` and `steady_state`, see
/// [`FilterParams`](super::filter::FilterParams)).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct BandpassParams {
    /// Butterworth order (band-pass/band-stop: 2 x order poles, order second-order sections)
    #[param(default = 4, min = 1, max = neuropipe_dsp::design::MAX_ORDER, live)]
    pub order: usize,
    /// lower band edge (Hz), > 0 and < high_hz
    #[param(default = 1.0, min = 0.0, max = 1e6, live)]
    pub low_hz: f64,
    /// upper band edge (Hz), < Nyquist (sample_rate / 2)
    #[param(default = 40.0, min = 0.0, max = 1e6, live)]
    pub high_hz: f64,
}

/// Parameters of `Bandstop` (after `enabled` and `steady_state`, see
/// [`FilterParams`](super::filter::FilterParams)).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct BandstopParams {
    /// Butterworth order (band-pass/band-stop: 2 x order poles, order second-order sections)
    #[param(default = 4, min = 1, max = neuropipe_dsp::design::MAX_ORDER, live)]
    pub order: usize,
    /// lower band edge (Hz), > 0 and < high_hz
    #[param(default = 48.0, min = 0.0, max = 1e6, live)]
    pub low_hz: f64,
    /// upper band edge (Hz), < Nyquist (sample_rate / 2)
    #[param(default = 52.0, min = 0.0, max = 1e6, live)]
    pub high_hz: f64,
}

/// Parameters of `Highpass` (after `enabled` and `steady_state`, see
/// [`FilterParams`](super::filter::FilterParams)).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct HighpassParams {
    /// Butterworth order (band-pass/band-stop: 2 x order poles, order second-order sections)
    #[param(default = 4, min = 1, max = neuropipe_dsp::design::MAX_ORDER, live)]
    pub order: usize,
    /// cutoff (-3 dB) frequency (Hz), > 0 and < Nyquist (sample_rate / 2)
    #[param(default = 1.0, min = 0.0, max = 1e6, live)]
    pub cutoff_hz: f64,
}

/// Parameters of `Lowpass` (after `enabled` and `steady_state`, see
/// [`FilterParams`](super::filter::FilterParams)).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct LowpassParams {
    /// Butterworth order (band-pass/band-stop: 2 x order poles, order second-order sections)
    #[param(default = 4, min = 1, max = neuropipe_dsp::design::MAX_ORDER, live)]
    pub order: usize,
    /// cutoff (-3 dB) frequency (Hz), > 0 and < Nyquist (sample_rate / 2)
    #[param(default = 40.0, min = 0.0, max = 1e6, live)]
    pub cutoff_hz: f64,
}

impl BandpassParams {
    /// The Butterworth design these parameters describe.
    pub fn butter(&self) -> ButterDesign {
        band_design(ButterKind::Bandpass, self.order, self.low_hz, self.high_hz)
    }
}

impl BandstopParams {
    /// The Butterworth design these parameters describe.
    pub fn butter(&self) -> ButterDesign {
        band_design(ButterKind::Bandstop, self.order, self.low_hz, self.high_hz)
    }
}

impl HighpassParams {
    /// The Butterworth design these parameters describe.
    pub fn butter(&self) -> ButterDesign {
        cutoff_design(ButterKind::Highpass, self.order, self.cutoff_hz)
    }
}

impl LowpassParams {
    /// The Butterworth design these parameters describe.
    pub fn butter(&self) -> ButterDesign {
        cutoff_design(ButterKind::Lowpass, self.order, self.cutoff_hz)
    }
}

fn band_design(kind: ButterKind, order: usize, low_hz: f64, high_hz: f64) -> ButterDesign {
    ButterDesign {
        kind,
        order,
        cutoff_hz: 0.0,
        low_hz,
        high_hz,
    }
}

fn cutoff_design(kind: ButterKind, order: usize, cutoff_hz: f64) -> ButterDesign {
    ButterDesign {
        kind,
        order,
        cutoff_hz,
        low_hz: 0.0,
        high_hz: 0.0,
    }
}

/// Implements [`IirDesign`] for Butterworth parameter structs through their
/// [`ButterDesign`] (each has a `butter()` method).
macro_rules! butter_iir_design {
    ($($params:ty),*) => {$(
        impl IirDesign for $params {
            fn design(&self, fs: f64) -> Result<Sos, DesignError> {
                self.butter().design(fs)
            }

            fn param_of(&self, e: &DesignError) -> Option<&'static str> {
                self.butter().param_of(e)
            }

            fn prefilter(&self) -> String {
                self.butter().prefilter()
            }
        }
    )*};
}

butter_iir_design!(
    BandpassParams,
    BandstopParams,
    HighpassParams,
    LowpassParams
);

/// `Bandpass` stage type specification.
pub fn bandpass_spec() -> StageSpec {
    filter_spec(
        "Bandpass",
        "Butterworth band-pass (SOS), in place, f32/f64; live cutoffs/order; Pause bypasses",
        build::<BandpassParams>,
    )
    .params::<BandpassParams>()
}

/// `Bandstop` stage type specification.
pub fn bandstop_spec() -> StageSpec {
    filter_spec(
        "Bandstop",
        "Butterworth band-stop (SOS), in place, f32/f64; live cutoffs/order; Pause bypasses",
        build::<BandstopParams>,
    )
    .params::<BandstopParams>()
}

/// `Highpass` stage type specification.
pub fn highpass_spec() -> StageSpec {
    filter_spec(
        "Highpass",
        "Butterworth high-pass (SOS), in place, f32/f64; live cutoff/order; Pause bypasses",
        build::<HighpassParams>,
    )
    .params::<HighpassParams>()
}

/// `Lowpass` stage type specification.
pub fn lowpass_spec() -> StageSpec {
    filter_spec(
        "Lowpass",
        "Butterworth low-pass (SOS), in place, f32/f64; live cutoff/order; Pause bypasses",
        build::<LowpassParams>,
    )
    .params::<LowpassParams>()
}

fn build<P: IirDesign>(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let design: P = b.parse_params()?;
    build_iir(b, design)
}
