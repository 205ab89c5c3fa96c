//! # neuropipe-brainflow
//!
//! BrainFlow boards as a neuropipe source. BrainFlow drives about 60 EEG/EXG devices
//! (OpenBCI Cyton, Ganglion and Daisy, Muse, Neurosity, g.tec Unicorn, BrainBit, Enophone,
//! …) behind one C API, `libBoardController`, which its Python wheel ships for Linux, macOS
//! and Windows. This crate loads that library at run time (nothing of BrainFlow is needed to
//! build neuropipe) and registers one stage, [`BrainFlowSource`](source::BrainFlowSource)
//! (see [`source`] for what it delivers):
//!
//! ```json
//! {"id": "board", "type": "BrainFlowSource", "params": {"board_id": -1}}
//! ```
//!
//! * [`locate`]: where the library is found (`library` parameter, `BRAINFLOW_LIB`, the
//!   installed `brainflow` Python package).
//! * [`board`]: the safe layer: board descriptions, `BrainFlowInputParams`, sessions.
//! * `ffi` (private): the C functions, each call's soundness argued where it is made.
//! * `reader` (private): the thread that owns the session and polls BrainFlow's buffer.
#![warn(unreachable_pub)]
#![deny(missing_docs)]
// The C API (`ffi`, private) is this crate's only unsafe code: every unsafe operation sits in
// its own `unsafe` block, and every such block argues its soundness in a `// SAFETY:` comment.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod board;
mod ffi;
pub mod locate;
mod reader;
pub mod source;

use neuropipe_core::Registry;

/// Registers `BrainFlowSource`.
pub fn register(reg: &mut Registry) {
    reg.register(source::spec());
}
