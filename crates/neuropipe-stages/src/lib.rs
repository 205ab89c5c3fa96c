//! # neuropipe-stages
//!
//! The stage library: every stage type `neuropipe` knows by name, registered in
//! [`registry`]. Each stage wraps pure code from `neuropipe-dsp` (filters) or `neuropipe-io`
//! (formats, devices) in the runtime's [`DataPlaneStage`](neuropipe_core::DataPlaneStage).
#![warn(unreachable_pub)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bci;
pub mod check;
pub mod convert;
pub mod dsp;
pub mod gain;
pub mod io;
pub mod merge;
pub mod motor_imagery;
pub mod oddball;
pub mod quality;
pub mod simulated;
pub mod ssvep;
mod util;

use neuropipe_core::Registry;

/// A registry with every built-in stage type.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(simulated::spec())
        .register(convert::spec())
        .register(gain::spec())
        .register(check::spec())
        .register(merge::spec())
        .register(quality::spec());
    // Signal processing: filters, decimation, re-referencing, channel selection, band power.
    for spec in dsp::specs() {
        r.register(spec);
    }
    // Brain-computer interfaces: epochs and sliding windows.
    for spec in bci::specs() {
        r.register(spec);
    }
    // I/O: recorders, file replay, devices, displays.
    r.register(io::edf_recorder::edf_spec())
        .register(io::edf_recorder::bdf_spec())
        .register(io::csv_recorder::spec())
        .register(io::xdf_recorder::spec())
        .register(io::replay::spec())
        .register(io::push::spec())
        .register(io::cyton::spec())
        .register(io::summary::spec());
    r
}
