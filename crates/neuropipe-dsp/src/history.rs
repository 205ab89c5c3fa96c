//! Input history for direct-form FIR filtering of interleaved channels (shared by
//! [`crate::FirFilter`] and [`crate::Decimator`]).
//!
//! The buffer holds `keep` frames of history followed by room for one block of `block` new
//! frames. A block of input is copied in after the history; the FIR output for new frame `f` then
//! reads the contiguous rows `f ..= f + keep`. Afterwards the last `keep` rows are moved to the
//! front. Rows are frames, so every row is `channels` contiguous samples: the inner loops run
//! over channels and vectorise.

use crate::FloatSample;

#[derive(Debug, Clone)]
pub(crate) struct History<T> {
    buf: Vec<T>,
    channels: usize,
    keep: usize,
    block: usize,
    /// Last finite input per channel: what a non-finite input is held at.
    last: Vec<T>,
    /// Which samples of the last loaded block were non-finite (held), frame-major.
    missing: Vec<bool>,
}

impl<T: FloatSample> History<T> {
    /// History of `keep` frames, accepting blocks of up to `block` frames.
    pub(crate) fn new(keep: usize, block: usize, channels: usize) -> Self {
        History {
            buf: vec![T::ZERO; (keep + block) * channels],
            channels,
            keep,
            block,
            last: vec![T::ZERO; channels],
            missing: vec![false; block * channels],
        }
    }

    /// Maximum frames per [`load`](Self::load).
    pub(crate) fn block(&self) -> usize {
        self.block
    }

    /// Forgets all input (history of zeros).
    pub(crate) fn reset(&mut self) {
        self.buf.fill(T::ZERO);
    }

    /// History as if `frame` had been the input forever.
    pub(crate) fn fill_with(&mut self, frame: &[T]) {
        let c = self.channels;
        for (l, &x) in self.last.iter_mut().zip(frame) {
            *l = if x.is_finite() { x } else { T::ZERO };
        }
        for row in self.buf[..self.keep * c].chunks_exact_mut(c) {
            row.copy_from_slice(&self.last);
        }
    }

    /// Rebuilds the buffer for a new history length, keeping the most recent input frames
    /// (older missing ones are zero).
    pub(crate) fn resize_keep(&mut self, keep: usize) {
        if keep == self.keep {
            return;
        }
        let c = self.channels;
        let block = self.block.max(keep);
        let mut buf = vec![T::ZERO; (keep + block) * c];
        let n = keep.min(self.keep);
        buf[(keep - n) * c..keep * c]
            .copy_from_slice(&self.buf[(self.keep - n) * c..self.keep * c]);
        self.buf = buf;
        self.keep = keep;
        self.block = block;
        self.missing = vec![false; block * c];
    }

    /// Appends one block of input frames (at most [`block`](Self::block)) after the history and
    /// returns history + block (`(keep + frames) * channels` samples).
    ///
    /// A non-finite input sample never enters the history: it is stored as its channel's last
    /// finite input (a hold, so the filter sees no step), counted in the returned number, and
    /// marked for [`missing`](Self::missing) so the caller can output NaN where it was.
    pub(crate) fn load(&mut self, frames: &[T]) -> (&[T], u64) {
        let c = self.channels;
        let start = self.keep * c;
        let dst = &mut self.buf[start..start + frames.len()];
        dst.copy_from_slice(frames);
        let mut held = 0;
        if dst.iter().fold(true, |ok, x| ok & x.is_finite()) {
            if let Some(frame) = dst.rchunks_exact(c).next() {
                self.last.copy_from_slice(frame);
            }
            self.missing[..frames.len()].fill(false);
        } else {
            for (frame, missing) in dst
                .chunks_exact_mut(c)
                .zip(self.missing.chunks_exact_mut(c))
            {
                for ((x, m), last) in frame.iter_mut().zip(missing).zip(&mut self.last) {
                    *m = !x.is_finite();
                    if *m {
                        *x = *last;
                        held += 1;
                    } else {
                        *last = *x;
                    }
                }
            }
        }
        (&self.buf[..start + frames.len()], held)
    }

    /// Which samples of the last loaded block were non-finite (frame-major, as loaded).
    pub(crate) fn missing(&self) -> &[bool] {
        &self.missing
    }

    /// After a block of `frames` frames has been used, keeps its last `keep` frames as history.
    pub(crate) fn advance(&mut self, frames: usize) {
        let c = self.channels;
        self.buf
            .copy_within(frames * c..(frames + self.keep) * c, 0);
    }
}

/// FIR outputs for the frames `firsts` of a loaded window: for each `k`,
/// `outs[k][ch] = Σ_j taps_rev[j] · window[(firsts[k] + j) * channels + ch]`, where `taps_rev`
/// are the taps oldest-first and `firsts[k]` the oldest row used. Both outputs are computed in
/// one pass so that twice as many independent accumulators are in flight (the sum for each
/// output is still taken in tap order, so results do not depend on how outputs are grouped).
#[inline]
pub(crate) fn fir_rows2<T: FloatSample>(
    window: &[T],
    taps_rev: &[T],
    firsts: [usize; 2],
    outs: [&mut [T]; 2],
) {
    // Accumulators for 2 outputs x LANES channels must fit in 16 SSE registers.
    if std::mem::size_of::<T>() <= 4 {
        fir_rows::<T, 16, 2>(window, taps_rev, firsts, outs);
    } else {
        fir_rows::<T, 8, 2>(window, taps_rev, firsts, outs);
    }
}

/// One FIR output frame (see [`fir_rows2`]).
#[inline]
pub(crate) fn fir_row<T: FloatSample>(window: &[T], taps_rev: &[T], first: usize, out: &mut [T]) {
    if std::mem::size_of::<T>() <= 4 {
        fir_rows::<T, 16, 1>(window, taps_rev, [first], [out]);
    } else {
        fir_rows::<T, 8, 1>(window, taps_rev, [first], [out]);
    }
}

/// `K` FIR outputs, `L` channels at a time with accumulators in registers, then the remaining
/// channels one by one.
#[inline(always)]
fn fir_rows<T: FloatSample, const L: usize, const K: usize>(
    window: &[T],
    taps_rev: &[T],
    firsts: [usize; K],
    mut outs: [&mut [T]; K],
) {
    let c = outs[0].len();
    let n = taps_rev.len();
    let rows: [&[T]; K] = firsts.map(|f| &window[f * c..(f + n) * c]);
    let mut ch = 0;
    while ch + L <= c {
        let mut acc = [[T::ZERO; L]; K];
        for (j, &t) in taps_rev.iter().enumerate() {
            for (acc, rows) in acc.iter_mut().zip(&rows) {
                let row = &rows[j * c + ch..j * c + ch + L];
                for (a, &x) in acc.iter_mut().zip(row) {
                    *a += t * x;
                }
            }
        }
        for (out, acc) in outs.iter_mut().zip(&acc) {
            out[ch..ch + L].copy_from_slice(acc);
        }
        ch += L;
    }
    for (out, rows) in outs.iter_mut().zip(&rows) {
        for (k, o) in out.iter_mut().enumerate().skip(ch) {
            let mut acc = T::ZERO;
            for (j, &t) in taps_rev.iter().enumerate() {
                acc += t * rows[j * c + k];
            }
            *o = acc;
        }
    }
}
