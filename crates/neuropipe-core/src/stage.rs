//! [`DataPlaneStage`], the trait every stage implements, and [`StageContext`], what the
//! runtime gives it.

use crate::clock::Clock;
use crate::control::{ControlMsg, Handled};
use crate::event::{EventBus, EventKind, PipelineEvent};
use crate::metrics::StageMetrics;
use crate::payload::Payload;
use crate::queue::{Input, Output};
use crate::stream::StreamInfo;
use crate::StageError;
use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// A stage of the data plane.
///
/// The runtime calls [`run`](Self::run) repeatedly, each call processing one unit of work
/// (typically: receive one packet, process it, send it on). Between calls it delivers control
/// messages to [`control`](Self::control). When the stage ends — its input closed
/// (`Err(QueueClosed)`), the pipeline stopped, or a `Fatal` error — the runtime calls
/// [`finish`](Self::finish) once so sinks can flush.
///
/// Write `async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError>` in the
/// impl. The trait uses a native `async fn` (no `#[async_trait]` box per call, so a running
/// pipeline allocates nothing per packet); the pipeline holds stages of many types as
/// [`BoxedStage`] trait objects built from JSON.
///
/// ```
/// use neuropipe_core::*;
///
/// /// Multiplies every sample by `gain`, in place.
/// struct Gain { gain: f32, input: InputId<VoltageEegPacket>, output: OutputId<VoltageEegPacket> }
///
/// impl DataPlaneStage for Gain {
///     async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
///         let Some(mut pkt) = ctx.input(self.input).recv().await? else { return Ok(()) };
///         for s in pkt.samples_mut() {
///             *s *= self.gain;
///         }
///         ctx.output(self.output).send(pkt).await
///     }
/// }
/// ```
pub trait DataPlaneStage: Send + 'static {
    /// One unit of work. `Ok(())` to be called again, `Err(QueueClosed)` at end of stream,
    /// `Err(Fatal)` to stop the pipeline. A panic is caught and treated as `Fatal`.
    fn run(
        &mut self,
        ctx: &mut StageContext,
    ) -> impl Future<Output = Result<(), StageError>> + Send;

    /// Handles a control message. The default lets the runtime apply `Pause`/`Resume`
    /// (suspend/resume `run`) and rejects parameter updates. Return `Err(BadParam)` to reject
    /// a value (the old settings stay), `Err(Fatal)` to stop the pipeline.
    fn control(&mut self, msg: &ControlMsg, ctx: &mut StageContext) -> Result<Handled, StageError> {
        let _ = (msg, ctx);
        Ok(Handled::Default)
    }

    /// Called once when the stage ends, whatever the reason: flush and close here.
    fn finish(
        &mut self,
        ctx: &mut StageContext,
    ) -> impl Future<Output = Result<(), StageError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }
}

/// Typed handle of an input port, obtained at build time from
/// [`StageBuilder::input`](crate::StageBuilder::input).
pub struct InputId<T> {
    pub(crate) idx: usize,
    _t: PhantomData<fn() -> T>,
}
/// Typed handle of an output port, obtained at build time from
/// [`StageBuilder::output`](crate::StageBuilder::output).
pub struct OutputId<T> {
    pub(crate) idx: usize,
    _t: PhantomData<fn() -> T>,
}
impl<T> InputId<T> {
    pub(crate) fn new(idx: usize) -> Self {
        InputId {
            idx,
            _t: PhantomData,
        }
    }
}
impl<T> OutputId<T> {
    pub(crate) fn new(idx: usize) -> Self {
        OutputId {
            idx,
            _t: PhantomData,
        }
    }
}
impl<T> Clone for InputId<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for InputId<T> {}
impl<T> Clone for OutputId<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for OutputId<T> {}

/// Lifecycle state of a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StageState {
    /// Built, not started yet.
    Ready = 0,
    /// Running.
    Running = 1,
    /// Paused by the control plane.
    Paused = 2,
    /// Ended normally (end of stream or pipeline stop).
    Finished = 3,
    /// Ended with a `Fatal` error or a panic.
    Failed = 4,
}

impl StageState {
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => StageState::Running,
            2 => StageState::Paused,
            3 => StageState::Finished,
            4 => StageState::Failed,
            _ => StageState::Ready,
        }
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            StageState::Ready => "ready",
            StageState::Running => "running",
            StageState::Paused => "paused",
            StageState::Finished => "finished",
            StageState::Failed => "failed",
        }
    }
}

/// Per-stage state shared between the stage's task, its ports and the pipeline handle.
pub(crate) struct StageShared {
    pub(crate) id: Arc<str>,
    pub(crate) kind: &'static str,
    pub(crate) clock: Clock,
    pub(crate) metrics: StageMetrics,
    pub(crate) control_ready: Notify,
    pub(crate) state: AtomicU8,
}

impl StageShared {
    /// `sink`: nothing is downstream of the stage (it records end-to-end latency).
    pub(crate) fn new(id: &str, kind: &'static str, clock: Clock, sink: bool) -> Self {
        StageShared {
            id: Arc::from(id),
            kind,
            clock,
            metrics: StageMetrics::new(sink),
            control_ready: Notify::new(),
            state: AtomicU8::new(StageState::Ready as u8),
        }
    }
    #[inline]
    pub(crate) fn add_wait(&self, since: Instant) {
        self.metrics
            .wait_ns
            .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
    pub(crate) fn set_state(&self, s: StageState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }
    pub(crate) fn state(&self) -> StageState {
        StageState::from_u8(self.state.load(Ordering::Relaxed))
    }
}

/// Everything a stage needs while it runs: its ports, the pipeline clock, stream info, events.
///
/// Ports are looked up with the typed ids the stage got at build time, so a missing or
/// ill-typed port is a pipeline validation error, never a panic in `run`.
pub struct StageContext {
    pub(crate) shared: Arc<StageShared>,
    pub(crate) inputs: Vec<Box<dyn Any + Send + Sync>>,
    pub(crate) outputs: Vec<Box<dyn Any + Send + Sync>>,
    pub(crate) input_streams: Vec<StreamInfo>,
    pub(crate) output_streams: Vec<StreamInfo>,
    pub(crate) events: EventBus,
    pub(crate) control_rx:
        tokio::sync::mpsc::UnboundedReceiver<Box<crate::control::ControlRequest>>,
}

impl StageContext {
    /// The input port `id`.
    #[inline]
    pub fn input<T: Payload>(&mut self, id: InputId<T>) -> &mut Input<T> {
        self.inputs[id.idx]
            .downcast_mut::<Input<T>>()
            .expect("InputId type was checked when the stage was built")
    }
    /// The output port `id`.
    #[inline]
    pub fn output<T: Payload>(&mut self, id: OutputId<T>) -> &mut Output<T> {
        self.outputs[id.idx]
            .downcast_mut::<Output<T>>()
            .expect("OutputId type was checked when the stage was built")
    }
    /// Stream info of input `id`.
    pub fn input_stream<T>(&self, id: InputId<T>) -> &StreamInfo {
        &self.input_streams[id.idx]
    }
    /// Stream info of output `id`.
    pub fn output_stream<T>(&self, id: OutputId<T>) -> &StreamInfo {
        &self.output_streams[id.idx]
    }
    /// The stage's id in the pipeline.
    pub fn id(&self) -> &str {
        &self.shared.id
    }
    /// The pipeline's monotonic clock.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }
    /// Sleeps until `deadline` (on the tokio timer) unless a control message arrives first.
    /// Returns `true` if the deadline was reached, `false` if woken for a control message —
    /// then return `Ok(())` from `run` so the runtime can deliver it. For paced sources.
    pub async fn sleep_until(&self, deadline: Instant) -> bool {
        let t0 = Instant::now();
        let reached = tokio::select! {
            biased;
            _ = self.shared.control_ready.notified() => false,
            _ = tokio::time::sleep_until(deadline.into()) => true,
        };
        self.shared.add_wait(t0);
        reached
    }

    /// Completes when a control message arrives for this stage (for stages waiting on
    /// something other than an [`Input`], e.g. a device read in `select!`).
    pub async fn control_pending(&self) {
        self.shared.control_ready.notified().await
    }

    /// Counts non-finite samples this stage found (shown in metrics and the run summary).
    pub fn count_nonfinite(&self, samples: u64) {
        self.shared
            .metrics
            .nonfinite
            .fetch_add(samples, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts samples this stage clipped (shown in metrics and the run summary).
    pub fn count_clipped(&self, samples: u64) {
        self.shared
            .metrics
            .clipped
            .fetch_add(samples, std::sync::atomic::Ordering::Relaxed);
    }

    /// Publishes a pipeline event from this stage (e.g. lost samples, a marker), stamped now.
    pub fn emit_event(&self, kind: EventKind, text: impl Into<String>) {
        self.events.publish(PipelineEvent {
            time_ns: self.shared.clock.now_ns(),
            stage: self.shared.id.to_string(),
            kind,
            text: text.into(),
            on_sample: false,
        });
    }

    /// Publishes an event tied to a sample: `time_ns` is that sample's timestamp on the
    /// pipeline clock, in the same time base as the packets' `timestamp` (e.g. a marker with
    /// its LSL capture time, or a replayed annotation's onset). Recorders place it on the
    /// sample whose timestamp it matches, whatever the packet boundaries.
    pub fn emit_event_at(&self, time_ns: u64, kind: EventKind, text: impl Into<String>) {
        self.events.publish(PipelineEvent {
            time_ns,
            stage: self.shared.id.to_string(),
            kind,
            text: text.into(),
            on_sample: true,
        });
    }
}

/// A stage of any type, as a trait object (what a stage factory returns).
pub struct BoxedStage(pub(crate) Box<dyn crate::driver::ErasedStage>);

impl BoxedStage {
    /// Boxes a stage.
    pub fn new<S: DataPlaneStage>(stage: S) -> Self {
        BoxedStage(Box::new(stage))
    }
}
