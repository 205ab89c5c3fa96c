//! What the epoching stages remember of the continuous stream they cut windows from: the last
//! frames ([`FrameRing`]) and where each recent packet lies in time ([`Spans`]), so a
//! marker's timestamp maps to the frame it was placed on, and a frame to its timestamp.
//!
//! Everything is preallocated at build time; pushing a packet never allocates.

use neuropipe_core::Sample;
use std::collections::VecDeque;

/// The last `capacity` frames of a stream, frame-major, addressed by stream frame index.
pub(crate) struct FrameRing<S> {
    buf: Vec<S>,
    channels: usize,
    capacity: usize,
    /// Stream index of the frame after the newest one held.
    end: u64,
    /// Frames held (at most `capacity`).
    len: usize,
}

impl<S: Sample> FrameRing<S> {
    pub(crate) fn new(capacity: usize, channels: usize) -> Self {
        FrameRing {
            buf: vec![S::ZERO; capacity * channels],
            channels,
            capacity,
            end: 0,
            len: 0,
        }
    }

    /// Index of the oldest frame held.
    pub(crate) fn oldest(&self) -> u64 {
        self.end - self.len as u64
    }

    /// Index of the frame after the newest one held.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Appends a packet's frames starting at stream frame `first`. Returns `false` (and
    /// forgets what it held) if `first` does not follow the newest frame: frames were lost
    /// upstream, so no window may span the gap.
    pub(crate) fn push(&mut self, first: u64, data: &[S]) -> bool {
        let contiguous = self.len == 0 || first == self.end;
        if !contiguous {
            self.len = 0;
        }
        let c = self.channels;
        let frames = data.len() / c;
        // Only the last `capacity` frames of a packet larger than the ring matter.
        let skip = frames.saturating_sub(self.capacity);
        let mut frame = first + skip as u64;
        let mut src = &data[skip * c..frames * c];
        while !src.is_empty() {
            let at = (frame % self.capacity as u64) as usize;
            let n = (self.capacity - at).min(src.len() / c);
            self.buf[at * c..(at + n) * c].copy_from_slice(&src[..n * c]);
            src = &src[n * c..];
            frame += n as u64;
        }
        self.end = first + frames as u64;
        self.len = (self.len + frames).min(self.capacity);
        contiguous
    }

    /// Copies frames `first..first + n` into `out` (`n × channels` samples). The caller
    /// checks they are held (`oldest() <= first`, `first + n <= end()`).
    pub(crate) fn copy_to(&self, first: u64, out: &mut [S]) {
        let c = self.channels;
        let mut frame = first;
        let mut dst = out;
        while !dst.is_empty() {
            let at = (frame % self.capacity as u64) as usize;
            let n = (self.capacity - at).min(dst.len() / c);
            dst[..n * c].copy_from_slice(&self.buf[at * c..(at + n) * c]);
            dst = &mut dst[n * c..];
            frame += n as u64;
        }
    }
}

/// One packet's place in time.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    first: u64,
    frames: u64,
    ts_ns: u64,
}

/// Where a timestamp falls in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placed {
    /// On this frame (the nearest one).
    Frame(u64),
    /// After the newest frame received: wait for more data.
    Later,
    /// Between two packets that do not follow each other in time (a pause, lost samples):
    /// there is no sample there.
    InGap,
    /// Before the stream's first frame.
    BeforeStream,
}

/// The last packets' frame ranges and timestamps, and the frames where the stream does not
/// continue in time (discontinuities, lost frames), to place markers sample-exactly.
pub(crate) struct Spans {
    spans: Vec<Span>,
    head: usize,
    len: usize,
    period_ns: f64,
    breaks: VecDeque<u64>,
}

/// Discontinuities remembered (windows spanning an older one have left the ring anyway).
const BREAKS: usize = 256;

impl Spans {
    /// Remembers the last `packets` packets: as many as the frame ring can hold (one-frame
    /// packets from an LSL inlet), so every marker whose data is still held is placed
    /// against its own packet; older ones are placed by extrapolating from the oldest.
    pub(crate) fn new(rate: f64, packets: usize) -> Self {
        Spans {
            spans: vec![Span::default(); packets.max(1)],
            head: 0,
            len: 0,
            period_ns: 1e9 / rate,
            breaks: VecDeque::with_capacity(BREAKS),
        }
    }

    /// Records a packet of `frames` frames from `first`, stamped `ts_ns`; `gap`: it does not
    /// follow the previous packet in time.
    pub(crate) fn push(&mut self, first: u64, frames: u64, ts_ns: u64, gap: bool) {
        if gap && self.len > 0 {
            if self.breaks.len() == BREAKS {
                self.breaks.pop_front();
            }
            self.breaks.push_back(first);
        }
        self.spans[self.head] = Span {
            first,
            frames,
            ts_ns,
        };
        let cap = self.spans.len();
        self.head = (self.head + 1) % cap;
        self.len = (self.len + 1).min(cap);
    }

    /// The `i`-th newest span (0 = newest).
    fn newest(&self, i: usize) -> &Span {
        let cap = self.spans.len();
        &self.spans[(self.head + cap - 1 - i) % cap]
    }

    /// Offset in frames of `t_ns` from `ts_ns`, rounded to the nearest frame (ties to even,
    /// as MNE's `time_as_index`).
    fn frames_between(&self, from_ns: u64, to_ns: u64) -> i64 {
        let d = to_ns as f64 - from_ns as f64;
        (d / self.period_ns).round_ties_even() as i64
    }

    /// The frame whose timestamp is nearest `t_ns`.
    pub(crate) fn place(&self, t_ns: u64) -> Placed {
        if self.len == 0 {
            return Placed::Later;
        }
        for i in 0..self.len {
            let s = self.newest(i);
            let k = self.frames_between(s.ts_ns, t_ns);
            if k < 0 {
                continue;
            }
            if (k as u64) < s.frames {
                return Placed::Frame(s.first + k as u64);
            }
            if i == 0 {
                // Past the newest frame: wait for more data.
                return Placed::Later;
            }
            // Between this span's last frame and the next span's first, which starts later
            // than `t_ns`: a break in the stream if one was recorded there, else timestamp
            // jitter between packets (an LSL inlet, a serial device): the nearer frame.
            let next = self.newest(i - 1);
            if self.breaks.contains(&next.first) {
                return Placed::InGap;
            }
            let last = s.first + s.frames.saturating_sub(1);
            let last_ns = s.ts_ns as f64 + s.frames.saturating_sub(1) as f64 * self.period_ns;
            let t = t_ns as f64;
            return Placed::Frame(if t - last_ns <= next.ts_ns as f64 - t {
                last
            } else {
                next.first
            });
        }
        // Before every span kept: extrapolate from the oldest (exact on a contiguous stream).
        let s = self.newest(self.len - 1);
        let k = self.frames_between(t_ns, s.ts_ns);
        match s.first.checked_sub(k as u64) {
            Some(f) => Placed::Frame(f),
            None => Placed::BeforeStream,
        }
    }

    /// Timestamp of stream frame `frame`.
    pub(crate) fn time_of(&self, frame: u64) -> u64 {
        for i in 0..self.len {
            let s = self.newest(i);
            if frame >= s.first {
                return s.ts_ns + ((frame - s.first) as f64 * self.period_ns).round() as u64;
            }
        }
        let s = self.newest(self.len.saturating_sub(1));
        s.ts_ns
            .saturating_sub(((s.first - frame.min(s.first)) as f64 * self.period_ns).round() as u64)
    }

    /// Whether the stream breaks (a discontinuity or lost frames) inside frames
    /// `first..first + n`, other than at `first` itself.
    pub(crate) fn breaks_within(&self, first: u64, n: u64) -> bool {
        self.breaks.iter().any(|&b| b > first && b < first + n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_frames_across_wrap() {
        let mut r = FrameRing::<f64>::new(5, 2);
        let data: Vec<f64> = (0..14).map(f64::from).collect(); // 7 frames
        assert!(r.push(0, &data[..6]));
        assert!(r.push(3, &data[6..]));
        assert_eq!((r.oldest(), r.end()), (2, 7));
        let mut out = [0.0; 6];
        r.copy_to(4, &mut out);
        assert_eq!(out, [8.0, 9.0, 10.0, 11.0, 12.0, 13.0]);
        // A jump in frame indices forgets the past.
        assert!(!r.push(10, &[1.0, 2.0]));
        assert_eq!((r.oldest(), r.end()), (10, 11));
    }

    #[test]
    fn timestamps_map_to_the_nearest_frame_and_gaps_are_gaps() {
        // 250 Hz: 4 ms a frame; packets of 10 frames, a pause before frame 20.
        let mut s = Spans::new(250.0, 1024);
        s.push(0, 10, 0, false);
        s.push(10, 10, 40_000_000, false);
        s.push(20, 10, 1_000_000_000, true);
        assert_eq!(s.place(8_000_000), Placed::Frame(2));
        assert_eq!(s.place(9_999_999), Placed::Frame(2));
        assert_eq!(s.place(10_000_001), Placed::Frame(3));
        assert_eq!(s.place(42_000_000), Placed::Frame(10)); // a tie: to even
        assert_eq!(s.place(500_000_000), Placed::InGap);
        assert_eq!(s.place(1_036_000_000), Placed::Frame(29));
        assert_eq!(s.place(1_040_000_000), Placed::Later);
        assert_eq!(s.time_of(25), 1_020_000_000);
        assert!(s.breaks_within(15, 10));
        assert!(!s.breaks_within(20, 10));
    }

    #[test]
    fn jitter_between_packets_is_not_a_break() {
        // 1 kHz, one-frame packets stamped late and early (an LSL inlet's raw times).
        let mut s = Spans::new(1000.0, 4);
        s.push(0, 1, 0, false);
        s.push(1, 1, 1_600_000, false);
        s.push(2, 1, 2_100_000, false);
        assert_eq!(s.place(1_000_000), Placed::Frame(1)); // nearer frame 1 (1.6 ms) than 0
        assert_eq!(s.place(600_000), Placed::Frame(0));
        // A recorded break is a break.
        s.push(100, 1, 90_000_000, true);
        assert_eq!(s.place(50_000_000), Placed::InGap);
        // Before the stream, by extrapolation from the oldest packet kept.
        let mut s = Spans::new(1000.0, 2);
        s.push(5, 1, 5_000_000, false);
        assert_eq!(s.place(2_000_000), Placed::Frame(2));
        assert_eq!(s.place(1_000), Placed::Frame(0));
    }
}
