//! # neuropipe-core
//!
//! The runtime of neuropipe, a real-time EEG / biosignal pipeline: no DSP and no device or
//! file I/O here, only what moves data between stages safely and fast.
//!
//! * [`DataPlaneStage`] — a stage; the runtime calls its `run` repeatedly.
//! * [`Packet`] — header + payload leased from a preallocated [`MemoryPool`]; it goes back to
//!   its pool on `Drop`, on every path.
//! * [`Input`] / [`Output`] — bounded queues with backpressure (or leaky policies) and fan-out.
//! * [`ControlMsg`] — pause, resume, parameter and coefficient updates reaching one stage
//!   while it runs, each with a reply.
//! * [`PipelineConfig`] / [`Pipeline`] — pipelines described in JSON, validated completely
//!   before anything starts, then run; [`PipelineHandle`] controls and observes them.
//! * [`Registry`] — stage types by name, with documented ports and parameters.
//! * [`blocking`] — a dedicated thread for a stage's blocking work (files, devices, foreign
//!   libraries), so no stage blocks the runtime's worker threads.
//!
//! # Two audiences
//!
//! * **Stage authors** `use neuropipe_core::prelude::*`: [`DataPlaneStage`], the owned
//!   [`Input`]/[`Output`] ports, packets and pools, `#[derive(StageParams)]`, the builder, and
//!   the errors a stage returns. [`testing::Harness`] runs one stage with no pipeline around it.
//! * **Pipeline hosts** (the CLI, the server, the Python package) use [`host`]: configs,
//!   [`Pipeline`], [`PipelineHandle`], snapshots, descriptions, events and taps.
//!
//! Everything is also re-exported at the root.
//!
//! Multichannel samples are frame-major (interleaved). Timestamps are nanoseconds on the
//! pipeline's monotonic [`Clock`]. After start-up a running pipeline allocates nothing per
//! packet (see the `no_alloc` test).
#![warn(unreachable_pub)]
#![deny(missing_docs)]
// `unsafe` lives only in the packet lease (`packet.rs`, `pool.rs`) and in registering a
// stage's timer with tokio (`stage_timer.rs`), each block argued.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

// `#[derive(StageParams)]` names `::neuropipe_core`; this lets the derive work in here too.
extern crate self as neuropipe_core;

pub mod blocking;
mod build;
mod clock;
mod config;
mod control;
mod description;
mod drift;
mod driver;
mod error;
mod event;
mod metrics;
#[allow(unsafe_code)]
mod packet;
mod params;
mod payload;
mod pipeline;
#[allow(unsafe_code)]
mod pool;
mod precise_sleep;
mod queue;
mod readout;
mod registry;
mod resolve;
mod runtime;
mod sample_dispatch;
pub mod schema;
mod shared;
mod stage;
mod stage_params;
#[allow(unsafe_code)]
mod stage_timer;
mod state;
mod stream;
mod tap;
pub mod testing;
mod text;

/// What a stage author needs: `use neuropipe_core::prelude::*;`.
pub mod prelude {
    pub use crate::build::StageBuilder;
    pub use crate::clock::{Clock, Pacer};
    pub use crate::control::{ControlMsg, Handled};
    pub use crate::drift::DriftMeter;
    pub use crate::error::{BuildError, StageError};
    pub use crate::event::{EventKind, EventReceiver, PipelineEvent};
    pub use crate::packet::{
        Packet, PacketData, PacketHeader, FLAG_DISCONTINUITY, FLAG_LOST_SAMPLES, FLAG_NONFINITE,
        FLAG_OUT_OF_RANGE,
    };
    pub use crate::params::{ParamKind, ParamSpec, Params};
    pub use crate::payload::{
        FloatKind, FloatSample, Payload, PayloadKind, RawEegPacket, Sample, SampleKind, Samples,
        VoltageEegPacket, VoltageEegPacket64,
    };
    pub use crate::pool::MemoryPool;
    pub use crate::queue::{Access, Input, Output};
    pub use crate::readout::{ReadoutColumn, Readouts};
    pub use crate::registry::{PortPayload, PortSpec, Registry, StageFactory, StageSpec};
    pub use crate::stage::{BoxedStage, DataPlaneStage, StageContext};
    pub use crate::stage_params::{ParamValue, PerChannel, StageParams};
    pub use crate::state::StageState;
    pub use crate::stream::{ChannelInfo, EpochLayout, StreamInfo};
    pub use crate::{with_float, with_sample};
    pub use neuropipe_macros::StageParams;
}

/// What a pipeline host needs: building, running, controlling and observing pipelines.
pub mod host {
    pub use crate::config::{
        Endpoint, LinkConfig, PipelineConfig, PoolConfig, StageConfig, StreamOverrides,
        DEFAULT_CAPACITY,
    };
    pub use crate::control::{ControlError, ControlMsg};
    pub use crate::description::{Failure, PipelineDescription, StageDescription};
    pub use crate::error::{ConfigError, ConfigErrors, MAX_SHOWN_PROBLEMS};
    pub use crate::event::{
        EventBus, EventKind, EventReceiver, PipelineEvent, DEFAULT_EVENT_CAPACITY,
    };
    pub use crate::metrics::{
        LinkSnapshot, PipelineSnapshot, PoolMetrics, PoolSnapshot, StageSnapshot,
    };
    pub use crate::pipeline::{
        validate, MarkError, Outcome, Pipeline, PipelineHandle, RunReport, MAX_MARKER_TEXT,
    };
    pub use crate::queue::LinkPolicy;
    pub use crate::readout::{ReadoutColumn, ReadoutSnapshot};
    pub use crate::registry::Registry;
    pub use crate::runtime::build_runtime;
    pub use crate::state::PipelineState;
    pub use crate::state::StageState;
    pub use crate::stream::{ChannelInfo, EpochLayout, StreamInfo};
    pub use crate::tap::{SignalTap, TapError, TapPacket};
}

#[doc(no_inline)]
pub use host::*;
#[doc(no_inline)]
pub use prelude::*;
/// `" (did you mean \"x\"?)"` for the candidate closest to a misspelt name: for stage
/// authors' own error messages (unknown channel labels, choices, …).
pub use text::suggestion;

#[doc(hidden)]
/// Used by `#[derive(StageParams)]`; not part of the API.
pub mod __private {
    pub use crate::text::describe;
    pub use serde_json;
}
