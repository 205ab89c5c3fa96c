//! `Bandpass`, `Highpass`, `Lowpass`, `Bandstop`: Butterworth IIR filters
//! (`scipy.signal.butter(order, …, output='sos')` run as `sosfilt`), in place, with live
//! cutoffs and order. Start-up, bypass and redesign behaviour: see the [module docs](super).

use super::filter::{build_iir, filter_spec, IirDesign};
use super::{value_f64, value_usize};
use neuropipe_core::{BoxedStage, BuildError, ParamSpec, StageBuilder, StageSpec};
use neuropipe_dsp::design::{butter, Band, DesignError};
use neuropipe_dsp::Sos;
use serde_json::Value;

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

impl IirDesign for ButterDesign {
    fn prefilter(&self) -> String {
        match self.kind {
            ButterKind::Lowpass => format!("LP:{}Hz", self.cutoff_hz),
            ButterKind::Highpass => format!("HP:{}Hz", self.cutoff_hz),
            ButterKind::Bandpass => format!("HP:{}Hz LP:{}Hz", self.low_hz, self.high_hz),
            ButterKind::Bandstop => format!("BS:{}-{}Hz", self.low_hz, self.high_hz),
        }
    }

    fn design(&self, fs: f64) -> Result<Sos, DesignError> {
        let band = match self.kind {
            ButterKind::Lowpass => Band::Lowpass(self.cutoff_hz),
            ButterKind::Highpass => Band::Highpass(self.cutoff_hz),
            ButterKind::Bandpass => Band::Bandpass(self.low_hz, self.high_hz),
            ButterKind::Bandstop => Band::Bandstop(self.low_hz, self.high_hz),
        };
        butter(self.order, band, fs)
    }

    fn set(&mut self, key: &str, value: &Value) -> Option<Result<(), String>> {
        let band = self.kind.is_band();
        Some(match key {
            "order" => value_usize(key, value).map(|x| self.order = x),
            "cutoff_hz" if !band => value_f64(key, value).map(|x| self.cutoff_hz = x),
            "low_hz" if band => value_f64(key, value).map(|x| self.low_hz = x),
            "high_hz" if band => value_f64(key, value).map(|x| self.high_hz = x),
            _ => return None,
        })
    }

    fn param_of(&self, e: &DesignError) -> Option<&'static str> {
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

fn order_param() -> ParamSpec {
    ParamSpec::int("order", 1, neuropipe_dsp::design::MAX_ORDER as i64)
        .default(4)
        .live()
        .doc(
            "Butterworth order (band-pass/band-stop: 2 x order poles, order second-order sections)",
        )
}

fn band_spec(
    type_name: &'static str,
    summary: &'static str,
    factory: neuropipe_core::StageFactory,
    low: f64,
    high: f64,
) -> StageSpec {
    filter_spec(type_name, summary, factory)
        .param(order_param())
        .param(
            ParamSpec::float("low_hz", 0.0, 1e6)
                .default(low)
                .live()
                .doc("lower band edge (Hz), > 0 and < high_hz"),
        )
        .param(
            ParamSpec::float("high_hz", 0.0, 1e6)
                .default(high)
                .live()
                .doc("upper band edge (Hz), < Nyquist (sample_rate / 2)"),
        )
}

fn cutoff_spec(
    type_name: &'static str,
    summary: &'static str,
    factory: neuropipe_core::StageFactory,
    cutoff: f64,
) -> StageSpec {
    filter_spec(type_name, summary, factory)
        .param(order_param())
        .param(
            ParamSpec::float("cutoff_hz", 0.0, 1e6)
                .default(cutoff)
                .live()
                .doc("cutoff (-3 dB) frequency (Hz), > 0 and < Nyquist (sample_rate / 2)"),
        )
}

/// `Bandpass` stage type specification.
pub fn bandpass_spec() -> StageSpec {
    band_spec(
        "Bandpass",
        "Butterworth band-pass (SOS), in place, f32/f64; live cutoffs/order; Pause bypasses",
        |b| build(b, ButterKind::Bandpass),
        1.0,
        40.0,
    )
}

/// `Bandstop` stage type specification.
pub fn bandstop_spec() -> StageSpec {
    band_spec(
        "Bandstop",
        "Butterworth band-stop (SOS), in place, f32/f64; live cutoffs/order; Pause bypasses",
        |b| build(b, ButterKind::Bandstop),
        48.0,
        52.0,
    )
}

/// `Highpass` stage type specification.
pub fn highpass_spec() -> StageSpec {
    cutoff_spec(
        "Highpass",
        "Butterworth high-pass (SOS), in place, f32/f64; live cutoff/order; Pause bypasses",
        |b| build(b, ButterKind::Highpass),
        1.0,
    )
}

/// `Lowpass` stage type specification.
pub fn lowpass_spec() -> StageSpec {
    cutoff_spec(
        "Lowpass",
        "Butterworth low-pass (SOS), in place, f32/f64; live cutoff/order; Pause bypasses",
        |b| build(b, ButterKind::Lowpass),
        40.0,
    )
}

fn build(b: &mut StageBuilder<'_>, kind: ButterKind) -> Result<BoxedStage, BuildError> {
    let p = b.params();
    let design = if kind.is_band() {
        ButterDesign {
            kind,
            order: p.usize("order")?,
            cutoff_hz: 0.0,
            low_hz: p.f64("low_hz")?,
            high_hz: p.f64("high_hz")?,
        }
    } else {
        ButterDesign {
            kind,
            order: p.usize("order")?,
            cutoff_hz: p.f64("cutoff_hz")?,
            low_hz: 0.0,
            high_hz: 0.0,
        }
    };
    build_iir(b, design)
}
