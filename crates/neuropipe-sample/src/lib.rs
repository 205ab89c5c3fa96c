//! The sample types of neuropipe, as one trait family (in the manner of `dasp_sample`).
//!
//! | trait | types | used by |
//! |---|---|---|
//! | [`Sample`] | `i32` (raw ADC counts), `f32`, `f64` (voltages) | the runtime's packet buffers, generic sinks (recorders, displays), `Gain` |
//! | [`FloatSample`] | `f32`, `f64` | the DSP kernels and every stage that filters a signal |
//!
//! The run-time side of the same family: [`SampleKind`] names a [`Sample`] type (`"i32"`,
//! `"f32"`, `"f64"` in pipeline JSON, and [`Sample::KIND`]), [`FloatKind`] names a
//! [`FloatSample`] type (`"f32"`, `"f64"`: the `sample_type` parameter of sources, and
//! [`FloatSample::FLOAT_KIND`]). A stage generic over its sample type picks the
//! monomorphisation from the kind once, when it is built (`with_sample!` / `with_float!` in
//! `neuropipe-core`).
//!
//! This crate has no dependencies (serde is optional, for the kinds' JSON names), so the pure
//! DSP crate and the runtime core share it without depending on each other.

#![warn(unreachable_pub)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod kind;
mod sample;

pub use kind::{FloatKind, SampleKind};
pub use sample::{FloatSample, Sample};
