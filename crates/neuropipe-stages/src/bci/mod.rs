//! Brain-computer interface stages: cutting a continuous stream into epochs.
//!
//! * [`epoch`]: `Epoch`, marker-locked windows as `mne.Epochs` cuts them (baseline,
//!   peak-to-peak rejection, every dropped epoch counted and reported).
//! * [`window`]: `Window`, sliding windows for continuous decoding.
//!
//! Both send an epoch stream ([`neuropipe_core::EpochLayout`]): one window per packet, which
//! stages that process a continuous signal refuse at build time.

pub mod epoch;
mod frames;
mod thresholds;
pub mod window;

/// The BCI stage types.
pub fn specs() -> Vec<neuropipe_core::StageSpec> {
    vec![epoch::spec(), window::spec()]
}
