//! `FileReplay`'s file-time stamps (`timestamps: file`, the default for XDF): each packet is
//! stamped with its first sample's time stamp in the file, so that every stream replayed from
//! one file keeps its timing relative to the others (an EEG stream and an accelerometer, each
//! from its own `FileReplay` of the same XDF file, line up in a `Merge` as they were
//! recorded), and jitter and gaps in the file's stamps are replayed as they are.
//!
//! * **One origin per file**: the earliest time stamp of any stream in the file (markers
//!   included) is the pipeline clock's time zero, whichever stream a stage replays, so two
//!   stages replaying one file agree to the nanosecond.
//! * **Real time**: a packet is sent when its last sample's time (on that axis) comes.
//! * **Pause**: on resume the axis moves by the time paused (the stage measures it, once for
//!   all the streams it replays), the packet is flagged as a discontinuity, as with the
//!   replay's own clock.
//! * **Loop**: the next pass starts one sample period after the last sample of the previous
//!   one (of the stream that ends last, when a stage replays several).
//! * The time stamps are the file's, after pyxdf's clock-offset correction (`clock_sync`,
//!   done when the file is opened: `io/replay_source.rs`).

use neuropipe_core::Clock;
use std::time::Instant;

/// A replayed stream's time stamps, relative to its file's origin.
pub(crate) struct FileTimes {
    /// Seconds from the file's origin, per sample of the stream (non-empty).
    times: Vec<f64>,
    /// Sample period (s).
    period: f64,
    /// Pipeline-clock time (ns) of the file's origin in this pass.
    base_ns: f64,
    /// The axis moved: the next packet sent is flagged (see `take_discontinuity`).
    discontinuity: bool,
}

impl FileTimes {
    /// Stamps `times` (seconds on the file's clock, one per sample, not empty) of a stream
    /// at `rate` Hz, in a file whose earliest time stamp is `origin`.
    pub(crate) fn new(times: Vec<f64>, origin: f64, rate: f64) -> FileTimes {
        FileTimes {
            times: times.into_iter().map(|t| t - origin).collect(),
            period: 1.0 / rate,
            base_ns: 0.0,
            discontinuity: false,
        }
    }

    /// Pipeline-clock time (ns) of sample `pos` of the stream (this pass).
    pub(crate) fn stamp_ns(&self, pos: u64) -> u64 {
        let last = self.times.len().saturating_sub(1);
        let t = self.times.get(pos as usize).copied().unwrap_or_else(|| {
            // Beyond the stamps (cannot happen: the reader reads the same stream).
            self.times.get(last).copied().unwrap_or(0.0)
                + (pos as usize - last) as f64 * self.period
        });
        (self.base_ns + t * 1e9).max(0.0).round() as u64
    }

    /// When the packet of samples `pos .. pos + n` is due (its last sample's time).
    pub(crate) fn due(&self, clock: &Clock, pos: u64, n: u64) -> Instant {
        clock.instant_at(self.stamp_ns(pos + n.max(1) - 1))
    }

    /// Moves the axis by `ns` (after a pause): the next packet sent is a discontinuity.
    pub(crate) fn shift(&mut self, ns: f64) {
        self.base_ns += ns;
        self.discontinuity = true;
    }

    /// Whether the packet about to be sent follows a pause (true once per pause; a packet
    /// whose wait was interrupted keeps it for when it is sent).
    pub(crate) fn take_discontinuity(&mut self) -> bool {
        std::mem::take(&mut self.discontinuity)
    }

    /// The stream's first sample and the end of its last one (its time plus one period), in
    /// ns from the file's origin: a pass's span.
    pub(crate) fn span_ns(&self) -> (f64, f64) {
        let first = self.times.first().copied().unwrap_or(0.0);
        let last = self.times.last().copied().unwrap_or(0.0);
        (first * 1e9, (last + self.period) * 1e9)
    }

    /// The file starts over: the axis moves by `pass_ns` (the stage's span over all its
    /// streams), or by default so that the next pass begins one period after this pass's
    /// last sample.
    /// A stream that ends before the others (or starts after them) has a gap in time
    /// between two passes: the first packet of the next pass is then a discontinuity.
    pub(crate) fn next_pass(&mut self, pass_ns: Option<f64>) {
        let (first, end) = self.span_ns();
        let by = pass_ns.unwrap_or(end - first);
        self.base_ns += by;
        if by - (end - first) > 0.5 * self.period * 1e9 {
            self.discontinuity = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_follow_the_file_from_its_origin_and_loops_continue_after_the_last_sample() {
        let mut t = FileTimes::new(vec![100.5, 100.6, 100.7, 104.0], 100.0, 10.0);
        assert_eq!(t.stamp_ns(0), 500_000_000);
        assert_eq!(t.stamp_ns(3), 4_000_000_000);
        t.next_pass(None);
        assert_eq!(t.stamp_ns(0), 4_100_000_000);
        assert_eq!(t.stamp_ns(1), 4_200_000_000);
        assert!(!t.take_discontinuity());
        // A stage replaying streams that end later moves every axis by its whole span: a
        // gap in this stream's time, flagged.
        t.next_pass(Some(5e9));
        assert_eq!(t.stamp_ns(0), 9_100_000_000);
        assert!(t.take_discontinuity());
    }

    #[test]
    fn a_pause_moves_the_axis_once_and_flags_the_packet_even_if_its_wait_is_interrupted() {
        let clock = Clock::new();
        let mut t = FileTimes::new((0..100).map(|k| k as f64 / 10.0).collect(), 0.0, 10.0);
        t.shift(2.5e9);
        assert_eq!(t.stamp_ns(0), 2_500_000_000);
        // The wait for the packet was interrupted (a control message): the retry keeps the
        // flag until the packet is sent.
        let first = t.due(&clock, 0, 5);
        assert_eq!(t.due(&clock, 0, 5), first);
        assert!(t.take_discontinuity());
        assert!(!t.take_discontinuity());
    }
}
