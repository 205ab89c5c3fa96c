//! Brain-computer interface stages: cutting a continuous stream into epochs, features, and
//! decoding them.
//!
//! * [`epoch`]: `Epoch`, marker-locked windows as `mne.Epochs` cuts them (baseline,
//!   peak-to-peak rejection, every dropped epoch counted and reported).
//! * [`window`]: `Window`, sliding windows for continuous decoding.
//! * [`vectorize`]: `Vectorize`, an epoch as one feature vector (binned channel means).
//! * [`logvar`]: `LogVariance`, an epoch as each channel's log-variance (band power).
//! * [`covariance`]: `Covariance`, an epoch as its spatial covariance (as pyRiemann).
//! * [`tangent`]: `TangentSpace`, a covariance as a tangent vector at the training
//!   covariances' Riemannian mean (as pyRiemann).
//! * [`csp`]: `Csp`, a covariance through common spatial pattern filters (as pyRiemann).
//! * [`xdawn`]: `Xdawn`, epochs through xDAWN spatial filters for ERPs (as pyRiemann).
//! * [`lda`]: `Lda`, predictions from a shrinkage LDA (and `LogisticRegression`), and
//!   [`mdm`]: `Mdm`, minimum distance
//!   to Riemannian mean, both trained by `neuropipe train` ([`model`]: the model file;
//!   [`collect`]: the trainer's collector).
//! * [`cca`]: `Cca` and `Fbcca`, training-free SSVEP decoders (canonical correlation with
//!   sinusoidal references, plain and filter-bank).
//! * [`accumulate`]: `Accumulator`, a P300 speller's selection from its flashes' predictions
//!   (Bayesian accumulation per symbol until a posterior threshold).
//! * [`onnx`]: `Onnx`, an ONNX model (scikit-learn via skl2onnx, a network) run on each epoch
//!   with tract.
//!
//! `Epoch` and `Window` send an epoch stream ([`neuropipe_core::EpochLayout`]): one window
//! per packet, which stages that process a continuous signal refuse at build time.

pub mod accumulate;
mod calibrate;
pub mod cca;
pub mod collect;
pub mod covariance;
pub mod csp;
pub mod epoch;
mod frames;
pub mod lda;
pub mod logvar;
pub mod mdm;
pub mod model;
pub mod onnx;
mod predict;
mod riemann;
pub mod tangent;
mod thresholds;
pub mod vectorize;
pub mod window;
pub mod xdawn;

/// The BCI stage types (the trainer's `TrainingSet` is not one of them).
pub fn specs() -> Vec<neuropipe_core::StageSpec> {
    vec![
        epoch::spec(),
        window::spec(),
        vectorize::spec(),
        logvar::spec(),
        covariance::spec(),
        tangent::spec(),
        csp::spec(),
        xdawn::spec(),
        lda::spec(),
        lda::logistic_spec(),
        mdm::spec(),
        cca::spec(),
        cca::fbcca_spec(),
        onnx::spec(),
        accumulate::spec(),
    ]
}

use neuropipe_core::prelude::*;

/// The epoch stream arriving on input `in`: its sample type, stream and layout; for a
/// continuous stream, the located error with its fix (an `Epoch` or `Window` before).
pub(crate) fn epoch_input_stream(
    b: &mut StageBuilder<'_>,
) -> Result<(FloatKind, StreamInfo, EpochLayout), BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?.clone();
    match info.epochs.clone() {
        Some(layout) => Ok((kind, info, layout)),
        None => {
            with_float!(kind, S => b.epochs_input::<Samples<S>>("in").map(|_| ()))?;
            Err(BuildError::stage("input is not an epoch stream"))
        }
    }
}

/// A feature stream derived from epoch stream `info`: one frame per epoch of `channels`,
/// the first used frame at `tmin_s` from the event, same classes.
pub(crate) fn feature_stream(
    info: &StreamInfo,
    layout: &EpochLayout,
    tmin_s: f64,
    channels: Vec<ChannelInfo>,
) -> StreamInfo {
    let mut out = info.derived();
    out.kind = "Feature".to_string();
    out.frames_per_packet = 1;
    out.channels = channels;
    out.epochs = Some(EpochLayout {
        tmin_s,
        times: 1,
        classes: layout.classes.clone(),
    });
    out
}

/// Receives the next epoch (or feature vector) into `x` as `f64`: its header, or `None` at
/// the end of the stream. A non-finite value is `Fatal` (`Epoch` and `Window` never send
/// one; another stage might): decoding it would be meaningless.
pub(crate) async fn recv_f64<S: FloatSample>(
    input: &mut Input<Samples<S>>,
    x: &mut [f64],
) -> Result<Option<PacketHeader>, StageError>
where
    Samples<S>: Payload,
{
    let Some(v) = input.recv().await? else {
        return Ok(None);
    };
    let mut finite = true;
    for (x, s) in x.iter_mut().zip(v.samples()) {
        *x = s.to_f64();
        finite &= x.is_finite();
    }
    if !finite {
        return Err(StageError::fatal(
            "an epoch holds non-finite values: decoding it would be meaningless",
        ));
    }
    Ok(Some(v.header))
}
