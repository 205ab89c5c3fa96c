//! Signal-processing stages: thin wrappers around the SciPy-matched kernels of
//! `neuropipe-dsp`.
//!
//! | stage | module | what |
//! |---|---|---|
//! | `Bandpass`, `Highpass`, `Lowpass`, `Bandstop` | [`butter`] | Butterworth IIR (second-order sections), in place |
//! | `Notch` | [`notch`] | `iirnotch` at `freq_hz` (and optionally its harmonics), in place |
//! | `Fir` | [`fir`] | FIR from `firwin` or explicit taps, in place |
//! | `Decimate` | [`decimate`] | anti-alias FIR + integer down-sampling (`resample_poly` filter) |
//! | `Rereference` | [`rereference`] | common average or chosen-channel reference, in place |
//! | `SelectChannels` | [`select`] | a subset of channels by label, in a chosen order |
//! | `BandPower` | [`bandpower`] | Welch band power over a sliding window, as a feature stream |
//!
//! # Filters (IIR and FIR)
//!
//! The filter stages share [`filter::FilterStage`]: they take `f32` or `f64` samples (raw `i32`
//! counts are rejected when the pipeline is built: put a `RawToVoltage` first) and filter each
//! packet in place, so they cost no copy and no allocation per packet.
//!
//! * **Start-up**: with `steady_state` (the default) the filter state is initialised as if the
//!   first frame's values had always been present (`sosfilt_zi · x[0]`). An electrode's DC
//!   offset of tens of mV then passes through (or is removed by a high-pass) without the
//!   start-up ringing a zero initial state would cause. With `steady_state: false` the state
//!   starts at zero, exactly as `scipy.signal.sosfilt(sos, x)` / `lfilter(b, [1], x)`.
//! * **Bypass**: `Pause` (or `"enabled": false`) bypasses the filter: packets pass unfiltered
//!   and the stage keeps running (the runtime does not suspend it, so the pipeline never
//!   stalls behind a paused filter). `Resume` (or `"enabled": true`) filters again; the state is
//!   re-initialised to the steady state of the next packet's first frame, since the state from
//!   before the bypass no longer matches the signal.
//! * **Live redesign**: changing a cutoff, order, Q, … designs the new filter in the control
//!   path (which may allocate). A design error (e.g. a cutoff at or above Nyquist) rejects the
//!   update with the design message and the old filter keeps running. The new coefficients take
//!   effect at the next packet boundary. If the new design has as many second-order sections as
//!   the old one, the state is kept (no click); otherwise it is reset to the steady state of the
//!   next packet's first frame.
//! * **Delay**: filters are causal; headers (frame indices, timestamps) are not changed, so a
//!   filter's group delay shows as a lag of the signal relative to its timestamps.

pub mod bandpower;
pub mod butter;
pub mod decimate;
pub mod filter;
pub mod fir;
pub mod notch;
mod rate_change;
pub mod rereference;
pub mod resample;
pub mod select;

use neuropipe_core::{suggestion, BuildError, StageSpec, StreamInfo};

/// Every DSP stage type, for [`registry`](crate::registry).
pub fn specs() -> Vec<StageSpec> {
    vec![
        butter::bandpass_spec(),
        butter::highpass_spec(),
        butter::lowpass_spec(),
        butter::bandstop_spec(),
        notch::spec(),
        fir::spec(),
        decimate::spec(),
        resample::spec(),
        rereference::spec(),
        select::spec(),
        bandpower::spec(),
    ]
}

/// Index of the channel labelled `label` in `info`; the error (for parameter `param`) names
/// the closest label and lists them all.
pub(crate) fn channel_index(
    info: &StreamInfo,
    param: &str,
    label: &str,
) -> Result<usize, BuildError> {
    info.channels
        .iter()
        .position(|c| c.label == label)
        .ok_or_else(|| {
            let labels = info.labels();
            BuildError::param(
                param,
                format!(
                    "unknown channel `{label}`{} (input channels: {})",
                    suggestion(label, labels.iter().copied()),
                    labels.join(", ")
                ),
            )
        })
}

/// Indices of the channels labelled `labels`, in order; unknown labels and duplicates are
/// errors of parameter `param`.
pub(crate) fn channel_indices(
    info: &StreamInfo,
    param: &str,
    labels: &[String],
) -> Result<Vec<usize>, BuildError> {
    let mut out = Vec::with_capacity(labels.len());
    for (i, l) in labels.iter().enumerate() {
        if labels[..i].contains(l) {
            return Err(BuildError::param(
                param,
                format!("channel `{l}` is listed twice"),
            ));
        }
        out.push(channel_index(info, param, l)?);
    }
    Ok(out)
}
