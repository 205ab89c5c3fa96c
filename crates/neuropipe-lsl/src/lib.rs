//! # neuropipe-lsl
//!
//! Lab Streaming Layer stages for neuropipe, in their own crate so the stage library does not
//! build liblsl (a C++ CMake build, vendored by `lsl-sys`; see `.cargo/config.toml` for the
//! glibc ≥ 2.34 fix). The `neuropipe` command registers them with [`register`]:
//!
//! * [`LslOutlet`](outlet::LslOutlet) (sink): publishes an f32 stream — name, type, source id,
//!   channel labels/units/types in the standard XML metadata — pushing each packet as one chunk
//!   stamped with the packet's capture time on the LSL clock; optionally a second string
//!   outlet (`<name>-markers`) carrying the pipeline's events.
//! * [`LslInlet`](inlet::LslInlet) (source): resolves a stream by name / type / source id,
//!   takes channel count, rate and labels from its metadata, maps LSL timestamps (with the
//!   inlet's time correction) onto the pipeline clock, and pulls with low latency; optionally
//!   turns a string marker stream into `Marker` pipeline events.
//!
//! liblsl objects are not `Send`: each stage owns a dedicated thread that creates, uses and
//! drops its outlet or inlet, connected to the stage's `run` by bounded channels that carry no
//! allocation per packet.
//!
//! **Network:** liblsl's default configuration sends discovery packets to broadcast and
//! multicast addresses. Tests and examples use the loopback-only `lsl_api.cfg` of this crate
//! (selected with the `LSLAPICFG` environment variable) inside a private network namespace;
//! the stages log a warning when `LSLAPICFG` is unset.
#![warn(unreachable_pub)]
#![deny(missing_docs)]
// The liblsl bindings (`ffi`, private) are this crate's only unsafe code: every unsafe operation
// sits in its own `unsafe` block, and every such block argues its soundness in a `// SAFETY:`
// comment.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod ffi;
pub mod inlet;
pub mod outlet;

use neuropipe_core::{Clock, Registry};

/// Registers `LslOutlet` and `LslInlet`.
pub fn register(reg: &mut Registry) {
    reg.register(outlet::spec()).register(inlet::spec());
}

/// Seconds to add to a pipeline-clock time to get the LSL clock (`lsl::local_clock()`):
/// measured once, both clocks being monotonic with the same rate.
pub fn clock_offset_s(clock: &Clock) -> f64 {
    // Bracket the pipeline reading between two LSL readings to halve the error.
    let a = ffi::local_clock();
    let p = clock.now_ns() as f64 / 1e9;
    let b = ffi::local_clock();
    (a + b) / 2.0 - p
}

/// Logs a warning (once per process) when `LSLAPICFG` is unset: liblsl then uses its default
/// configuration, whose discovery reaches the whole local network.
pub fn warn_if_unconfigured(stage: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("LSLAPICFG").is_none() {
        ONCE.call_once(|| {
            tracing::warn!(
                stage,
                "LSLAPICFG is not set: liblsl uses its default configuration and its stream discovery \
                 reaches the local network (set LSLAPICFG=crates/neuropipe-lsl/lsl_api.cfg for loopback only)"
            );
        });
    }
}
