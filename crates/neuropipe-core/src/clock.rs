//! The pipeline's monotonic clock: nanoseconds since the pipeline was built, plus the UTC
//! wall-clock time of that instant (for file headers and LSL).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock shared by every stage of one pipeline.
///
/// Timestamps in [`PacketHeader`](crate::PacketHeader) are nanoseconds on this clock. It never
/// goes backwards and is not affected by changes to the system's wall clock.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    start_utc: SystemTime,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Clock {
            origin: Instant::now(),
            start_utc: SystemTime::now(),
        }
    }

    /// Nanoseconds since the clock's origin.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// The [`Instant`] of clock time `ns` (for `tokio::time::sleep_until`).
    #[inline]
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }

    /// The clock's origin as an [`Instant`].
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// UTC wall-clock time of the clock's origin.
    pub fn start_utc(&self) -> SystemTime {
        self.start_utc
    }

    /// UTC time of the origin in nanoseconds since the Unix epoch.
    pub fn start_unix_ns(&self) -> u128 {
        self.start_utc
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Drift-free real-time pacing for sources that produce frames at a nominal rate.
///
/// The time of frame `f` is `anchor_time + (f − anchor_frame) / rate`, computed from the frame
/// index (never by accumulating sleeps), so a source paced by it does not drift however long
/// it runs. After a pause, [`reanchor`](Self::reanchor) makes the next frame start "now": the
/// pause shows as a gap in timestamps, not in frame indices.
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    rate: f64,
    anchor: Option<(u64, u64)>,
    discontinuity: bool,
}

impl Pacer {
    /// A pacer for `rate` frames per second (must be positive and finite).
    pub fn new(rate: f64) -> Self {
        Pacer {
            rate,
            anchor: None,
            discontinuity: false,
        }
    }

    /// Time of frame `frame` in clock nanoseconds (relative to frame 0 at 0 before anchoring).
    pub fn frame_time_ns(&self, frame: u64) -> u64 {
        let (t0, f0) = self.anchor.unwrap_or((0, 0));
        let dt = (frame.saturating_sub(f0) as f64 * 1e9 / self.rate).min(u64::MAX as f64);
        t0.saturating_add(dt as u64)
    }

    /// When a packet of frames `first..first + n` is complete: the time of its last frame.
    /// Anchors the pacer at `clock.now_ns()` for frame `first` if it is not anchored yet.
    pub fn due(&mut self, clock: &Clock, first: u64, n: u64) -> Instant {
        if self.anchor.is_none() {
            self.anchor = Some((clock.now_ns(), first));
        }
        clock.instant_at(self.frame_time_ns(first + n.max(1) - 1))
    }

    /// Forgets the anchor (call on `Resume`); the next packet will report a discontinuity.
    pub fn reanchor(&mut self) {
        if self.anchor.take().is_some() {
            self.discontinuity = true;
        }
    }

    /// Whether the packet about to be sent follows a pause (true once per pause).
    pub fn take_discontinuity(&mut self) -> bool {
        std::mem::take(&mut self.discontinuity)
    }
}
