//! # neuropipe-stages
//!
//! The stage library: every stage type `neuropipe` knows by name, registered in
//! [`registry`]. Each stage wraps pure code from `neuropipe-dsp` (filters) or `neuropipe-io`
//! (formats, devices) in the runtime's [`DataPlaneStage`](neuropipe_core::DataPlaneStage).
#![deny(missing_docs)]

pub mod check;
pub mod convert;
pub mod gain;
pub mod simulated;
mod util;

use neuropipe_core::Registry;

/// A registry with every built-in stage type.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(simulated::spec())
        .register(convert::spec())
        .register(gain::spec())
        .register(check::spec());
    r
}
