//! [`SlidingWindow`]: the last `len` frames of every channel, for estimators that look at a
//! window of signal ([`crate::BandPower`], [`crate::QualityMeter`]).

use crate::FloatSample;

/// The last `len` frames of `channels` interleaved channels, kept in `f64` (channel-major
/// rings). Allocates only when built.
#[derive(Debug, Clone)]
pub(crate) struct SlidingWindow {
    /// `ring[channel * len + i]`; the oldest frame at `pos`.
    ring: Vec<f64>,
    len: usize,
    pos: usize,
}

impl SlidingWindow {
    /// A window of `len` frames of `channels` channels, all zero.
    pub(crate) fn new(channels: usize, len: usize) -> Self {
        SlidingWindow {
            ring: vec![0.0; channels * len],
            len,
            pos: 0,
        }
    }

    /// Appends one frame (one value per channel), dropping the oldest.
    #[inline]
    pub(crate) fn push<T: FloatSample>(&mut self, frame: &[T]) {
        for (ch, &v) in frame.iter().enumerate() {
            self.ring[ch * self.len + self.pos] = v.to_f64();
        }
        self.pos = (self.pos + 1) % self.len;
    }

    /// Copies channel `ch`'s window, oldest frame first, into `out` (`len` values).
    pub(crate) fn copy_channel(&self, ch: usize, out: &mut [f64]) {
        let ring = &self.ring[ch * self.len..(ch + 1) * self.len];
        let (newer, older) = ring.split_at(self.pos);
        out[..older.len()].copy_from_slice(older);
        out[older.len()..self.len].copy_from_slice(newer);
    }

    /// Back to all zeros.
    pub(crate) fn reset(&mut self) {
        self.ring.fill(0.0);
        self.pos = 0;
    }
}
