//! [`DataPlaneStage`], the trait every stage implements, and [`StageContext`], what the
//! runtime gives it.

use crate::clock::Clock;
use crate::control::{ControlMsg, Handled};
use crate::event::{EventBus, EventKind, PipelineEvent};
use crate::shared::StageShared;
use crate::StageError;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

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
/// A stage owns its ports: the [`StageBuilder`](crate::StageBuilder) hands it typed
/// [`Input`](crate::Input)s and [`Output`](crate::Output)s that it keeps as fields.
///
/// ```
/// use neuropipe_core::prelude::*;
///
/// /// Multiplies every sample by `gain`, in place.
/// struct Gain { gain: f32, input: Input<VoltageEegPacket>, output: Output<VoltageEegPacket> }
///
/// impl DataPlaneStage for Gain {
///     async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
///         let Some(mut pkt) = self.input.recv().await? else { return Ok(()) };
///         for s in pkt.samples_mut() {
///             *s *= self.gain;
///         }
///         self.output.send(pkt).await
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

/// What the runtime gives a stage while it runs besides its own ports: its id, the pipeline
/// clock, wake-ups for control messages, counters, and the event bus.
pub struct StageContext {
    pub(crate) shared: Arc<StageShared>,
    pub(crate) events: EventBus,
    pub(crate) control_rx:
        tokio::sync::mpsc::UnboundedReceiver<Box<crate::control::ControlRequest>>,
    /// The pipeline's stop (set by the driver when the stage starts running).
    pub(crate) stop: tokio_util::sync::CancellationToken,
    /// The stage's own timer for [`sleep_until`](Self::sleep_until).
    pub(crate) timer: crate::stage_timer::StageTimer,
}

impl StageContext {
    /// The stage's id in the pipeline.
    pub fn id(&self) -> &str {
        &self.shared.id
    }
    /// The pipeline's monotonic clock.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }
    /// Sleeps until `deadline` (to a fraction of a millisecond: the stage's own timer, woken on
    /// the worker that runs it, not tokio's millisecond timer) unless a control message
    /// arrives first.
    /// Returns `true` if the deadline was reached, `false` if woken for a control message —
    /// then return `Ok(())` from `run` so the runtime can deliver it. For paced sources.
    pub async fn sleep_until(&self, deadline: Instant) -> bool {
        let t0 = Instant::now();
        let reached = tokio::select! {
            biased;
            _ = self.shared.control_ready.notified() => false,
            _ = self.timer.sleep_until(deadline) => true,
        };
        self.shared.add_wait(t0);
        reached
    }

    /// Whether the pipeline is stopping (a stop was requested or a stage failed). Sources are
    /// cut off at a stop; a source whose spec says
    /// [`drains_on_stop`](crate::StageSpec::drains_on_stop) keeps being run and learns of the
    /// stop here: it sends what it already holds, then ends with `QueueClosed`.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Completes when the pipeline is stopping (see [`is_stopping`](Self::is_stopping)).
    pub async fn stopping(&self) {
        self.stop.cancelled().await
    }

    /// Awaits `fut`, counting the time as waiting rather than busy in the stage's metrics
    /// (as [`Input::recv`](crate::Input::recv) and [`sleep_until`](Self::sleep_until) do):
    /// for sources that wait on a device thread, e.g. a
    /// [`BlockingWorker`](crate::blocking::BlockingWorker)'s `recv`.
    pub async fn waiting<F: std::future::Future>(&self, fut: F) -> F::Output {
        let t0 = Instant::now();
        let out = fut.await;
        self.shared.add_wait(t0);
        out
    }

    /// Completes when a control message arrives for this stage (for stages waiting on
    /// something other than an [`Input`](crate::Input), e.g. a device read in `select!`).
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
