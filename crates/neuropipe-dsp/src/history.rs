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

/// Frame-major test data with a large offset (what EEG amplifiers give), for the kernels' tests.
#[cfg(test)]
pub(crate) fn noisy(frames: usize, channels: usize) -> Vec<f64> {
    (0..frames * channels)
        .map(|i| ((i * 7919) % 1013) as f64 / 101.3 - 5.0 + 20_000.0)
        .collect()
}

/// Whether two outputs are bit for bit the same (the AVX2 and portable builds' tests).
#[cfg(test)]
pub(crate) fn same_bits<T: FloatSample>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(p, q)| p.to_f64().to_bits() == q.to_f64().to_bits())
}

/// Whether taps are exactly symmetric (`taps[k] == taps[n − 1 − k]` for every `k`, as a
/// linear-phase FIR's taps are once cast to the sample type): then the kernels fold them,
/// `t_k · (x_a + x_b)`, half the multiplies for the same filter.
pub(crate) fn is_symmetric<T: PartialEq>(taps: &[T]) -> bool {
    taps.iter().eq(taps.iter().rev())
}

/// FIR outputs for the frames `firsts` of a loaded window: for each `k`,
/// `outs[k][ch] = Σ_j taps_rev[j] · window[(firsts[k] + j) * channels + ch]`, where `taps_rev`
/// are the taps oldest-first and `firsts[k]` the oldest row used. Both outputs are computed in
/// one pass so that twice as many independent accumulators are in flight (the sum for each
/// output is still taken in tap order, so results do not depend on how outputs are grouped).
/// `fold`: the taps are symmetric ([`is_symmetric`]); the sum is then taken over tap pairs.
#[inline(always)]
pub(crate) fn fir_rows2<T: FloatSample, const V: usize>(
    window: &[T],
    taps_rev: &[T],
    fold: bool,
    firsts: [usize; 2],
    outs: [&mut [T]; 2],
) {
    // Accumulators for 2 outputs x LANES channels fit in the vector registers of a `V`-byte
    // build (16: SSE, 32: AVX2, 64: AVX-512). The lane count does not change any output's
    // sum, only how many channels are computed at once.
    match (lanes::<T>(V), fold) {
        (8, false) => fir_rows::<T, 8, 2, false>(window, taps_rev, firsts, outs),
        (8, true) => fir_rows::<T, 8, 2, true>(window, taps_rev, firsts, outs),
        (_, false) => fir_rows::<T, 16, 2, false>(window, taps_rev, firsts, outs),
        (_, true) => fir_rows::<T, 16, 2, true>(window, taps_rev, firsts, outs),
    }
}

/// One FIR output frame (see [`fir_rows2`]).
#[inline(always)]
pub(crate) fn fir_row<T: FloatSample, const V: usize>(
    window: &[T],
    taps_rev: &[T],
    fold: bool,
    first: usize,
    out: &mut [T],
) {
    match (lanes::<T>(V), fold) {
        (8, false) => fir_rows::<T, 8, 1, false>(window, taps_rev, [first], [out]),
        (8, true) => fir_rows::<T, 8, 1, true>(window, taps_rev, [first], [out]),
        (_, false) => fir_rows::<T, 16, 1, false>(window, taps_rev, [first], [out]),
        (_, true) => fir_rows::<T, 16, 1, true>(window, taps_rev, [first], [out]),
    }
}

/// Channels per pass for `V`-byte vectors: 16 (four SSE vectors of `f32`, two AVX2, one
/// AVX-512); `f64`: 8 in the portable build, else 16. Measured: 32 channels per pass in the
/// AVX-512 build ran 4–5 times slower than 16 (either type, on an Intel Xeon).
#[inline(always)]
const fn lanes<T>(v: usize) -> usize {
    if std::mem::size_of::<T>() > 4 && v == 16 {
        8
    } else {
        16
    }
}

/// `K` FIR outputs, `L` channels at a time with accumulators in registers, then the remaining
/// channels one by one. `FOLD` (symmetric taps): `Σ_{j < n/2} t_j · (x_j + x_{n−1−j})`, then
/// the middle tap of an odd count; otherwise `Σ_j t_j · x_j`. Either way in that order, the same
/// in every build.
#[inline(always)]
fn fir_rows<T: FloatSample, const L: usize, const K: usize, const FOLD: bool>(
    window: &[T],
    taps_rev: &[T],
    firsts: [usize; K],
    mut outs: [&mut [T]; K],
) {
    let c = outs[0].len();
    let n = taps_rev.len();
    // Taps summed one by one, and the middle one of a folded odd count.
    let (paired, single) = if FOLD {
        (n / 2, (n % 2 == 1).then_some(n / 2))
    } else {
        (0, None)
    };
    let direct = if FOLD { 0 } else { n };
    let rows: [&[T]; K] = firsts.map(|f| &window[f * c..(f + n) * c]);
    let mut ch = 0;
    while ch + L <= c {
        let mut acc = [[T::ZERO; L]; K];
        for (j, &t) in taps_rev[..direct].iter().enumerate() {
            for (acc, rows) in acc.iter_mut().zip(&rows) {
                let row = &rows[j * c + ch..j * c + ch + L];
                for (a, &x) in acc.iter_mut().zip(row) {
                    *a += t * x;
                }
            }
        }
        for (j, &t) in taps_rev[..paired].iter().enumerate() {
            let back = n - 1 - j;
            for (acc, rows) in acc.iter_mut().zip(&rows) {
                let a = &rows[j * c + ch..j * c + ch + L];
                let b = &rows[back * c + ch..back * c + ch + L];
                for ((s, &x), &y) in acc.iter_mut().zip(a).zip(b) {
                    *s += t * (x + y);
                }
            }
        }
        if let Some(m) = single {
            let t = taps_rev[m];
            for (acc, rows) in acc.iter_mut().zip(&rows) {
                for (s, &x) in acc.iter_mut().zip(&rows[m * c + ch..m * c + ch + L]) {
                    *s += t * x;
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
            for (j, &t) in taps_rev[..direct].iter().enumerate() {
                acc += t * rows[j * c + k];
            }
            for (j, &t) in taps_rev[..paired].iter().enumerate() {
                acc += t * (rows[j * c + k] + rows[(n - 1 - j) * c + k]);
            }
            if let Some(m) = single {
                acc += taps_rev[m] * rows[m * c + k];
            }
            *o = acc;
        }
    }
}
