//! Runtime metrics: lock-free counters on the hot path, snapshots for status lines, the
//! `--stats-json` file and the control server.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// Counters of one [`MemoryPool`](crate::MemoryPool).
#[derive(Debug)]
pub struct PoolMetrics {
    count: usize,
    in_use: AtomicUsize,
    high_water: AtomicUsize,
    acquired: AtomicU64,
    exhaustions: AtomicU64,
    waits: AtomicU64,
}

impl PoolMetrics {
    pub(crate) fn new(count: usize) -> Self {
        PoolMetrics {
            count,
            in_use: AtomicUsize::new(0),
            high_water: AtomicUsize::new(0),
            acquired: AtomicU64::new(0),
            exhaustions: AtomicU64::new(0),
            waits: AtomicU64::new(0),
        }
    }
    #[inline]
    pub(crate) fn on_acquire(&self) {
        let n = self.in_use.fetch_add(1, Relaxed) + 1;
        self.high_water.fetch_max(n, Relaxed);
        self.acquired.fetch_add(1, Relaxed);
    }
    #[inline]
    pub(crate) fn on_release(&self) {
        self.in_use.fetch_sub(1, Relaxed);
    }
    #[inline]
    pub(crate) fn on_exhausted(&self) {
        self.exhaustions.fetch_add(1, Relaxed);
    }
    #[inline]
    pub(crate) fn on_wait(&self) {
        self.waits.fetch_add(1, Relaxed);
    }
    /// Packets leased right now.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Relaxed)
    }
    /// A consistent-enough copy of the counters.
    pub fn snapshot(&self, name: &str) -> PoolSnapshot {
        PoolSnapshot {
            name: name.to_string(),
            count: self.count,
            in_use: self.in_use.load(Relaxed),
            high_water: self.high_water.load(Relaxed),
            acquired: self.acquired.load(Relaxed),
            exhaustions: self.exhaustions.load(Relaxed),
            waits: self.waits.load(Relaxed),
        }
    }
}

/// Snapshot of a pool's counters.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PoolSnapshot {
    /// Pool name.
    pub name: String,
    /// Packets in the pool.
    pub count: usize,
    /// Packets leased now.
    pub in_use: usize,
    /// Most packets ever leased at once.
    pub high_water: usize,
    /// Total leases.
    pub acquired: u64,
    /// `try_acquire` calls that found the pool empty.
    pub exhaustions: u64,
    /// `acquire().await` calls that had to wait.
    pub waits: u64,
}

/// Counters of one link (a bounded queue between an output and an input).
#[derive(Debug, Default)]
pub(crate) struct LinkMetrics {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) high_water: AtomicUsize,
    pub(crate) send_waits: AtomicU64,
}

/// Snapshot of a link's counters.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LinkSnapshot {
    /// `"stage.port"` of the producer.
    pub from: String,
    /// `"stage.port"` of the consumer.
    pub to: String,
    /// Queue capacity in packets.
    pub capacity: usize,
    /// Policy name (`block`, `drop-newest`, `drop-oldest`).
    pub policy: String,
    /// Packets enqueued.
    pub sent: u64,
    /// Packets taken by the consumer.
    pub received: u64,
    /// Packets dropped by a leaky policy.
    pub dropped: u64,
    /// Packets in the queue now.
    pub depth: usize,
    /// Deepest the queue has been.
    pub high_water: usize,
    /// Sends that had to wait for room (backpressure).
    pub send_waits: u64,
}

/// Counters of one stage.
#[derive(Debug)]
pub(crate) struct StageMetrics {
    pub(crate) packets_in: AtomicU64,
    pub(crate) frames_in: AtomicU64,
    pub(crate) packets_out: AtomicU64,
    pub(crate) frames_out: AtomicU64,
    pub(crate) runs: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    pub(crate) wait_ns: AtomicU64,
    pub(crate) bad_params: AtomicU64,
    pub(crate) nonfinite: AtomicU64,
    pub(crate) clipped: AtomicU64,
    /// End-to-end latency histogram, for sinks only (a histogram is ~100 kB: a 10,000-stage
    /// pipeline must not carry one per stage).
    latency: Option<Mutex<Histogram<u64>>>,
}

impl Default for StageMetrics {
    fn default() -> Self {
        StageMetrics::new(true)
    }
}

impl StageMetrics {
    /// Counters for a stage; `sink`: it records end-to-end latency.
    pub(crate) fn new(sink: bool) -> Self {
        StageMetrics {
            packets_in: AtomicU64::new(0),
            frames_in: AtomicU64::new(0),
            packets_out: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            wait_ns: AtomicU64::new(0),
            bad_params: AtomicU64::new(0),
            nonfinite: AtomicU64::new(0),
            clipped: AtomicU64::new(0),
            // 1 µs .. 100 s, 3 significant digits; allocated once here.
            latency: sink.then(|| {
                Mutex::new(
                    Histogram::new_with_bounds(1_000, 100_000_000_000, 3)
                        .expect("static histogram bounds are valid"),
                )
            }),
        }
    }

    #[inline]
    pub(crate) fn on_in(&self, frames: u64) {
        self.packets_in.fetch_add(1, Relaxed);
        self.frames_in.fetch_add(frames, Relaxed);
    }
    #[inline]
    pub(crate) fn on_out(&self, frames: u64) {
        self.packets_out.fetch_add(1, Relaxed);
        self.frames_out.fetch_add(frames, Relaxed);
    }
    /// Whether this stage is a sink (records end-to-end latency).
    pub(crate) fn is_sink(&self) -> bool {
        self.latency.is_some()
    }
    #[inline]
    pub(crate) fn record_latency(&self, ns: u64) {
        // Never wait for an observer taking a snapshot: skip this one sample instead.
        if let Some(Ok(mut h)) = self.latency.as_ref().map(Mutex::try_lock) {
            h.saturating_record(ns.max(1_000));
        }
    }
    /// Snapshot of the counters and latency percentiles.
    pub(crate) fn snapshot(
        &self,
        id: &str,
        kind: &str,
        state: crate::state::StageState,
    ) -> StageSnapshot {
        let (count, p50, p99, max) = match self.latency.as_ref().map(Mutex::lock) {
            Some(Ok(h)) if !h.is_empty() => (
                h.len(),
                Some(h.value_at_quantile(0.5)),
                Some(h.value_at_quantile(0.99)),
                Some(h.max()),
            ),
            _ => (0, None, None, None),
        };
        StageSnapshot {
            id: id.to_string(),
            kind: kind.to_string(),
            state,
            packets_in: self.packets_in.load(Relaxed),
            frames_in: self.frames_in.load(Relaxed),
            packets_out: self.packets_out.load(Relaxed),
            frames_out: self.frames_out.load(Relaxed),
            runs: self.runs.load(Relaxed),
            busy_ns: self
                .busy_ns
                .load(Relaxed)
                .saturating_sub(self.wait_ns.load(Relaxed)),
            bad_params: self.bad_params.load(Relaxed),
            nonfinite_samples: self.nonfinite.load(Relaxed),
            clipped_samples: self.clipped.load(Relaxed),
            latency_count: count,
            latency_p50_ns: p50,
            latency_p99_ns: p99,
            latency_max_ns: max,
            readouts: None,
        }
    }
}

/// Snapshot of a stage's counters.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StageSnapshot {
    /// Stage id.
    pub id: String,
    /// Stage type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Lifecycle state.
    pub state: crate::state::StageState,
    /// Packets received.
    pub packets_in: u64,
    /// Frames received.
    pub frames_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Calls of `run`.
    pub runs: u64,
    /// Time spent inside `run`, not counting waits for input, output room or pool buffers.
    pub busy_ns: u64,
    /// Rejected control messages.
    pub bad_params: u64,
    /// Non-finite (NaN/Inf) samples this stage found in its input or data source: they travel
    /// on as NaN ("missing"), flagged [`FLAG_NONFINITE`](crate::FLAG_NONFINITE).
    pub nonfinite_samples: u64,
    /// Samples outside the range a stage can represent or was declared (sources: the physical
    /// range; recorders: the file's range), clipped and annotated.
    pub clipped_samples: u64,
    /// Packets whose end-to-end latency was recorded (sinks only).
    pub latency_count: u64,
    /// Median latency from source emission to this sink, ns.
    pub latency_p50_ns: Option<u64>,
    /// 99th percentile latency, ns.
    pub latency_p99_ns: Option<u64>,
    /// Maximum latency, ns.
    pub latency_max_ns: Option<u64>,
    /// The stage's own figures (e.g. signal quality per channel, a recorder's file), if it
    /// publishes any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readouts: Option<crate::readout::ReadoutSnapshot>,
}

/// Snapshot of a whole pipeline.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PipelineSnapshot {
    /// Seconds since the pipeline started.
    pub elapsed_s: f64,
    /// Lifecycle state.
    pub state: crate::state::PipelineState,
    /// Per-stage counters.
    pub stages: Vec<StageSnapshot>,
    /// Per-link counters.
    pub links: Vec<LinkSnapshot>,
    /// Per-pool counters.
    pub pools: Vec<PoolSnapshot>,
}

impl PipelineSnapshot {
    /// Total packets dropped on leaky links.
    pub fn total_dropped(&self) -> u64 {
        self.links.iter().map(|l| l.dropped).sum()
    }
}
