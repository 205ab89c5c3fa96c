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
//!
//! Multichannel samples are frame-major (interleaved). Timestamps are nanoseconds on the
//! pipeline's monotonic [`Clock`]. After start-up a running pipeline allocates nothing per
//! packet (see the `no_alloc` test).
#![deny(missing_docs)]

mod build;
mod clock;
mod config;
mod control;
mod driver;
mod error;
mod event;
mod metrics;
mod packet;
mod params;
mod payload;
mod pipeline;
mod pool;
mod queue;
mod registry;
mod resolve;
pub mod schema;
mod stage;
mod stream;
mod tap;

pub use build::StageBuilder;
pub use clock::{Clock, Pacer};
pub use config::{
    Endpoint, LinkConfig, PipelineConfig, PoolConfig, StageConfig, StreamOverrides,
    DEFAULT_CAPACITY,
};
pub use control::{ControlError, ControlMsg, Handled};
pub use error::{BuildError, ConfigError, ConfigErrors, StageError, MAX_SHOWN_PROBLEMS};
pub use event::{EventBus, EventKind, EventReceiver, PipelineEvent, DEFAULT_EVENT_CAPACITY};
pub use metrics::{LinkSnapshot, PipelineSnapshot, PoolMetrics, PoolSnapshot, StageSnapshot};
pub use packet::{
    Packet, PacketData, PacketHeader, FLAG_DISCONTINUITY, FLAG_LOST_SAMPLES, FLAG_NONFINITE,
    FLAG_OUT_OF_RANGE,
};
pub use params::{describe, ParamKind, ParamSpec, Params};
pub use payload::{
    Payload, PayloadKind, RawEegPacket, Sample, Samples, VoltageEegPacket, VoltageEegPacket64,
};
pub use pipeline::{validate, Outcome, Pipeline, PipelineHandle, RunReport};
pub use pool::MemoryPool;
pub use queue::{Access, Input, LinkPolicy, Output};
pub use registry::{suggestion, PortPayload, PortSpec, Registry, StageFactory, StageSpec};
pub use stage::{BoxedStage, DataPlaneStage, InputId, OutputId, StageContext, StageState};
pub use stream::{ChannelInfo, StreamInfo};
pub use tap::{SignalTap, TapPacket};
