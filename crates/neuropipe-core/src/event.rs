//! Pipeline events: state changes, control actions, errors and markers, broadcast to anyone
//! interested (recorders write them as annotations; the control server streams them).

use serde::Serialize;
use tokio::sync::broadcast;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The pipeline started.
    Started,
    /// A stage was paused.
    Paused,
    /// A stage was resumed.
    Resumed,
    /// A live parameter or coefficients changed.
    ParamChanged,
    /// A control message was rejected.
    Rejected,
    /// A device or stage reported lost samples.
    LostSamples,
    /// A marker from a source (e.g. an LSL marker stream or a replayed annotation).
    Marker,
    /// A source's data has a gap in time it could not replay as such (e.g. a jump in a CSV
    /// file's time column); the text says how long.
    Discontinuity,
    /// An `Epoch` or `Window` stage dropped a window (amplitude rejection, bad data, a marker
    /// too late for its data); the text says which and why. Counted in the stage's readouts.
    EpochDropped,
    /// A decoder's prediction for an epoch (`target (p = 0.93)`), placed on the epoch's event
    /// (its marker's sample): recorders annotate it.
    Prediction,
    /// An `Accumulator`'s selection (`B (p = 0.97 after 4 repetitions)`): the symbol a P300
    /// speller picked from its flashes' predictions, placed on the last flash used; recorders
    /// annotate it.
    Selection,
    /// A decoder's calibration in the running pipeline started, finished (the model written,
    /// its cross-validated accuracy) or failed; recorders annotate it.
    Calibration,
    /// A stage failed.
    Failed,
    /// The pipeline is stopping.
    Stopping,
}

/// One pipeline event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PipelineEvent {
    /// When, in nanoseconds on the pipeline clock.
    pub time_ns: u64,
    /// Stage concerned (empty for the pipeline as a whole).
    pub stage: String,
    /// Kind of event.
    pub kind: EventKind,
    /// Human-readable detail (e.g. `cutoff_hz = 30`).
    pub text: String,
    /// `time_ns` is the timestamp of a sample of the data (a marker's capture time, a replayed
    /// annotation's onset), so recorders place the event on the sample whose timestamp it
    /// matches. `false`: `time_ns` is when the event happened on the pipeline clock (a pause,
    /// a parameter change, a marker injected through the API), placed by when packets left
    /// their source.
    pub on_sample: bool,
}

/// Sending side of the pipeline's event bus.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<PipelineEvent>,
}

/// Receiving side: `try_recv` in a stage's `run` never blocks.
pub type EventReceiver = broadcast::Receiver<PipelineEvent>;

impl EventBus {
    /// A bus keeping the last `capacity` events for slow receivers.
    pub fn new(capacity: usize) -> Self {
        EventBus {
            tx: broadcast::channel(capacity.max(1)).0,
        }
    }
    /// Publishes an event (ignored if nobody listens).
    pub fn publish(&self, ev: PipelineEvent) {
        let _ = self.tx.send(ev);
    }
    /// A new receiver that sees events published from now on. It keeps up to the bus's
    /// capacity of unread events; beyond that the oldest are lost and the receiver is told
    /// how many (recorders annotate and report such a loss).
    pub fn subscribe(&self) -> EventReceiver {
        self.tx.subscribe()
    }
}

/// Events kept for slow receivers by [`EventBus::default`]: 60 s of a 200 markers/s flood
/// without any reader, so a recorder busy with a slow disk does not lose markers.
pub const DEFAULT_EVENT_CAPACITY: usize = 16_384;

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(DEFAULT_EVENT_CAPACITY)
    }
}
