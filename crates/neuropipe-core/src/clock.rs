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
