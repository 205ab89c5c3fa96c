//! [`StageShared`]: per-stage state shared between a stage's task, its ports and the
//! pipeline handle (id, clock, metrics, control wake-up, lifecycle state).

use crate::clock::Clock;
use crate::metrics::StageMetrics;
use crate::state::StageState;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// Per-stage state shared between the stage's task, its ports and the pipeline handle.
pub(crate) struct StageShared {
    pub(crate) id: Arc<str>,
    pub(crate) kind: &'static str,
    pub(crate) clock: Clock,
    pub(crate) metrics: StageMetrics,
    pub(crate) control_ready: Notify,
    pub(crate) state: AtomicU8,
    /// The stage's own figures for hosts, if it declared any at build time.
    pub(crate) readouts: std::sync::OnceLock<crate::readout::Readouts>,
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
            readouts: std::sync::OnceLock::new(),
        }
    }
    #[inline]
    pub(crate) fn add_wait(&self, since: Instant) {
        self.metrics
            .wait_ns
            .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
    /// The stage's metrics and readouts right now.
    pub(crate) fn snapshot(&self) -> crate::metrics::StageSnapshot {
        let mut s = self.metrics.snapshot(&self.id, self.kind, self.state());
        s.readouts = self.readouts.get().map(|r| r.snapshot());
        s
    }
    pub(crate) fn set_state(&self, s: StageState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }
    pub(crate) fn state(&self) -> StageState {
        StageState::from_u8(self.state.load(Ordering::Relaxed))
    }
}
