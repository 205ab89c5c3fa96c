//! Brain-computer interface stages: cutting a continuous stream into epochs, features, and
//! decoding them.
//!
//! * [`epoch`]: `Epoch`, marker-locked windows as `mne.Epochs` cuts them (baseline,
//!   peak-to-peak rejection, every dropped epoch counted and reported).
//! * [`window`]: `Window`, sliding windows for continuous decoding.
//! * [`vectorize`]: `Vectorize`, an epoch as one feature vector (binned channel means).
//! * [`lda`]: `Lda`, predictions from a shrinkage LDA trained by `neuropipe train`
//!   ([`model`]: the model file; [`collect`]: the trainer's collector).
//!
//! `Epoch` and `Window` send an epoch stream ([`neuropipe_core::EpochLayout`]): one window
//! per packet, which stages that process a continuous signal refuse at build time.

pub mod collect;
pub mod epoch;
mod frames;
pub mod lda;
pub mod model;
mod thresholds;
pub mod vectorize;
pub mod window;

/// The BCI stage types (the trainer's `TrainingSet` is not one of them).
pub fn specs() -> Vec<neuropipe_core::StageSpec> {
    vec![
        epoch::spec(),
        window::spec(),
        vectorize::spec(),
        lda::spec(),
    ]
}
