//! Streaming DSP kernels for neuropipe (filter design and stateful filters that match SciPy).
//!
//! This crate is pure computation: no threads, no I/O, no async runtime. It has three parts:
//!
//! * [`design`]: filter design in `f64` (`butter`, `iirnotch`, `iirpeak`, `firwin`, `sosfilt_zi`),
//!   reproducing `scipy.signal` (coefficients within ~1e-15 relative; `tests/reference.rs`
//!   checks everything against SciPy 1.17.1 reference vectors).
//! * Streaming filters that keep their state across calls and never allocate while processing:
//!   [`SosFilter`], [`FirFilter`], [`Decimator`], plus Welch spectra ([`welch()`], [`Welch`]), a
//!   sliding-window band-power estimator ([`BandPower`]) and per-channel signal-quality figures
//!   ([`QualityMeter`]).
//! * [`decode`]: covariance estimators and shrinkage LDA for brain-computer interfaces, as
//!   scikit-learn computes them.
//!
//! # Data layout
//!
//! Multichannel data is always **frame-major interleaved**: sample `ch` of frame `f` is
//! `data[f * channels + ch]`. A buffer of `n` frames therefore has `n * channels` elements.
//! Filters process in place and are generic over [`FloatSample`] (`f32` or `f64`). Coefficients are
//! always designed in `f64` and cast once to the sample type when a filter is built, exactly like
//! SciPy computes in the result type of coefficients and data.
//!
//! Two types are called `Band`: [`design::Band`] (filter type and edges for `butter`) and
//! [`bandpower::Band`] (a named frequency range), re-exported here as [`PowerBand`].
//!
//! # Example
//!
//! ```
//! use neuropipe_dsp::design::{butter, Band};
//! use neuropipe_dsp::SosFilter;
//!
//! let sos = butter(4, Band::Bandpass(1.0, 40.0), 250.0).unwrap();
//! let mut filter = SosFilter::<f32>::new(&sos, 2).unwrap();
//! let mut packet = vec![0.0f32; 32 * 2]; // 32 frames of 2 channels
//! packet[0] = 1.0;
//! filter.process(&mut packet);
//! ```
#![warn(unreachable_pub)]
#![deny(missing_docs)]
// One `unsafe` call per kernel: entering its AVX2 build after run-time detection (see `simd`).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod bandpower;
pub mod decimate;
pub mod decode;
pub mod design;
pub mod fir;
pub mod quality;
pub mod resample;
pub mod simd;
pub mod sos;
pub mod welch;

mod history;
mod window;

pub use bandpower::{default_bands, Band as PowerBand, BandPower, BandPowerConfig, BandPowerFrame};
pub use decimate::Decimator;
pub use design::{DesignError, Sos};
pub use fir::FirFilter;
pub use neuropipe_sample::{FloatSample, Sample};
pub use quality::QualityMeter;
pub use resample::Resampler;
pub use sos::SosFilter;
pub use welch::{welch, Welch};
