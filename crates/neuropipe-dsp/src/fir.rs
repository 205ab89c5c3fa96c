//! [`FirFilter`]: a streaming FIR filter over interleaved channels.

use crate::design::{check_buffer, DesignError, MAX_TAPS};
use crate::history::{fir_row, fir_rows2, is_symmetric, History};
use crate::FloatSample;

/// Smallest block of frames processed per history shift.
const MIN_BLOCK_FRAMES: usize = 64;

/// Streaming FIR filter `y[n] = Σ_k taps[k] · x[n − k]` applied to every channel of
/// frame-major interleaved data, with the input history kept across calls.
///
/// Equivalent to `scipy.signal.lfilter(taps, [1.0], x, axis=0, zi=zi)` called on consecutive
/// chunks with the returned `zi` carried over. Splitting a signal into packets never changes the
/// output (bit-for-bit). [`process`](Self::process) never allocates.
///
/// A NaN or infinite input sample never enters the history: it is replaced there by the
/// channel's last finite input (a hold, so the filter sees no step), and its output is NaN (a
/// missing sample). [`take_resets`](Self::take_resets) counts such samples.
#[derive(Debug, Clone)]
pub struct FirFilter<T> {
    channels: usize,
    /// Taps oldest-input-first (reversed), cast to `T`.
    taps_rev: Vec<T>,
    /// The cast taps are symmetric (linear phase): the kernel folds them.
    symmetric: bool,
    history: History<T>,
    /// Non-finite input samples since the last [`take_resets`](Self::take_resets).
    resets: u64,
}

impl<T: FloatSample> FirFilter<T> {
    /// Builds a filter for `channels` channels with zero history.
    ///
    /// # Errors
    /// No taps, more than [`MAX_TAPS`] taps, a non-finite tap, `channels == 0`, or a history
    /// buffer above [`MAX_BUFFER`](crate::design::MAX_BUFFER) samples.
    pub fn new(taps: &[f64], channels: usize) -> Result<Self, DesignError> {
        if channels == 0 {
            return Err(DesignError::count("channels", channels, ">= 1"));
        }
        let taps_rev = cast_taps(taps)?;
        let keep = taps.len() - 1;
        let block = keep.max(MIN_BLOCK_FRAMES);
        check_buffer("channels", keep + block, channels)?;
        Ok(FirFilter {
            channels,
            history: History::new(keep, block, channels),
            symmetric: is_symmetric(&taps_rev),
            taps_rev,
            resets: 0,
        })
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Number of taps.
    pub fn num_taps(&self) -> usize {
        self.taps_rev.len()
    }

    /// Clears the history (as if the filter had only ever seen zeros).
    pub fn reset(&mut self) {
        self.history.reset();
    }

    /// Sets the history as if the input had always been `first_frame` (one value per channel):
    /// the next outputs start at the steady state `x0 · Σ taps` with no transient, like
    /// `lfilter(taps, [1.0], x, zi=lfilter_zi(taps, [1.0]) * x[0])`.
    ///
    /// # Panics
    /// If `first_frame.len() != self.channels()`.
    pub fn init_steady_state(&mut self, first_frame: &[T]) {
        assert_eq!(
            first_frame.len(),
            self.channels,
            "init_steady_state: expected one value per channel"
        );
        self.history.fill_with(first_frame);
    }

    /// Non-finite input samples since the last call (held in the history, NaN in the output);
    /// resets the count.
    pub fn take_resets(&mut self) -> u64 {
        std::mem::take(&mut self.resets)
    }

    /// Replaces the taps. The input history is kept: the most recent `new_len − 1` input frames
    /// stay in effect (frames the old history did not hold count as zero). Changing the number
    /// of taps reallocates the history buffer.
    ///
    /// # Errors
    /// As [`new`](Self::new); the filter is then unchanged.
    pub fn set_taps(&mut self, taps: &[f64]) -> Result<(), DesignError> {
        let keep = taps.len().saturating_sub(1);
        check_buffer("channels", 2 * keep.max(MIN_BLOCK_FRAMES), self.channels)?;
        self.taps_rev = cast_taps(taps)?;
        self.symmetric = is_symmetric(&self.taps_rev);
        self.history.resize_keep(taps.len() - 1);
        Ok(())
    }

    /// Filters `data` (frame-major interleaved, `len` a multiple of `channels`) in place.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of [`channels`](Self::channels).
    pub fn process(&mut self, data: &mut [T]) {
        let c = self.channels;
        assert!(
            data.chunks_exact(c).remainder().is_empty(),
            "process: data length {} is not a multiple of {} channels",
            data.len(),
            c
        );
        #[cfg(target_arch = "x86_64")]
        if crate::simd::avx512() {
            #[allow(unsafe_code)]
            // SAFETY: `process_avx512` only requires AVX-512F, which `simd::avx512()` detected
            // on this CPU at run time; it has no other precondition.
            unsafe {
                process_avx512(self, data)
            };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if crate::simd::avx2() {
            #[allow(unsafe_code)]
            // SAFETY: `process_avx2` only requires AVX2, which `simd::avx2()` detected on this
            // CPU at run time; it has no other precondition.
            unsafe {
                process_avx2(self, data)
            };
            return;
        }
        self.process_portable(data);
    }

    /// [`process`](Self::process) in the portable build.
    fn process_portable(&mut self, data: &mut [T]) {
        self.process_with::<16>(data);
    }

    /// The kernel for `V`-byte vectors (16: the portable build, 32: AVX2, 64: AVX-512): more
    /// channels per pass, the same sums.
    #[inline(always)]
    fn process_with<const V: usize>(&mut self, data: &mut [T]) {
        let c = self.channels;
        let fold = self.symmetric;
        let block = self.history.block();
        for chunk in data.chunks_mut(block * c) {
            let frames = chunk.len() / c;
            let (window, held) = self.history.load(chunk);
            let mut pairs = chunk.chunks_exact_mut(2 * c);
            for (p, two) in pairs.by_ref().enumerate() {
                let (a, b) = two.split_at_mut(c);
                fir_rows2::<T, V>(window, &self.taps_rev, fold, [2 * p, 2 * p + 1], [a, b]);
            }
            let last = pairs.into_remainder();
            if !last.is_empty() {
                fir_row::<T, V>(window, &self.taps_rev, fold, frames - 1, last);
            }
            if held > 0 {
                self.resets += held;
                for (y, &m) in chunk.iter_mut().zip(self.history.missing()) {
                    if m {
                        *y = T::from_f64(f64::NAN);
                    }
                }
            }
            self.history.advance(frames);
        }
    }
}

/// [`FirFilter::process`] compiled for AVX2 (the kernel inlined here, twice as many channels
/// per pass): the same operations in the same order for every output, so the output is
/// bit-identical to the portable build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn process_avx2<T: FloatSample>(filter: &mut FirFilter<T>, data: &mut [T]) {
    filter.process_with::<32>(data);
}

/// [`FirFilter::process`] compiled for AVX-512 (512-bit vectors, twice the channels per pass
/// of AVX2): the same operations in the same order, bit-identical to the portable build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn process_avx512<T: FloatSample>(filter: &mut FirFilter<T>, data: &mut [T]) {
    filter.process_with::<64>(data);
}

/// Validates taps and returns them reversed and cast.
pub(crate) fn cast_taps<T: FloatSample>(taps: &[f64]) -> Result<Vec<T>, DesignError> {
    if taps.is_empty() {
        return Err(DesignError::Empty { name: "taps" });
    }
    if taps.len() > MAX_TAPS {
        return Err(DesignError::NumTaps {
            numtaps: taps.len(),
            reason: "must be <= 1048576",
        });
    }
    if let Some(i) = taps.iter().position(|t| !t.is_finite()) {
        return Err(DesignError::Coefficient {
            name: "taps",
            index: i,
            value: taps[i],
            reason: "must be finite",
        });
    }
    // Representable in the sample type: 1e39 is a finite f64 but infinite as f32, and would
    // turn every output of the channel into Inf/NaN.
    if let Some(i) = taps.iter().position(|&t| !T::from_f64(t).is_finite()) {
        return Err(DesignError::Coefficient {
            name: "taps",
            index: i,
            value: taps[i],
            reason: "is out of range for the sample type (f32 holds at most ~3.4e38)",
        });
    }
    Ok(taps.iter().rev().map(|&t| T::from_f64(t)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::noisy;

    #[test]
    fn taps_must_be_representable_in_the_sample_type() {
        let e = FirFilter::<f32>::new(&[1.0, 1e39], 2).unwrap_err();
        assert!(e.to_string().contains("taps[1]"), "{e}");
        assert!(e.to_string().contains("out of range"), "{e}");
        assert!(FirFilter::<f64>::new(&[1.0, 1e39], 2).is_ok());
        let mut f = FirFilter::<f32>::new(&[1.0], 1).unwrap();
        assert!(f.set_taps(&[f64::MAX]).is_err());
        assert_eq!(f.num_taps(), 1);
    }

    #[test]
    fn a_nan_is_held_out_of_the_history() {
        let taps = [0.25, 0.5, 0.25];
        let mut f = FirFilter::<f64>::new(&taps, 2).unwrap();
        let mut x: Vec<f64> = (0..200).map(|i| 10.0 + (i % 7) as f64).collect();
        let clean = {
            let mut y = x.clone();
            FirFilter::<f64>::new(&taps, 2).unwrap().process(&mut y);
            y
        };
        x[50 * 2 + 1] = f64::NAN;
        x[51 * 2 + 1] = f64::INFINITY;
        f.process(&mut x);
        assert_eq!(f.take_resets(), 2);
        for fr in 0..100 {
            assert_eq!(x[fr * 2], clean[fr * 2], "channel 0 untouched");
            let y = x[fr * 2 + 1];
            assert_eq!(y.is_nan(), fr == 50 || fr == 51, "frame {fr}: {y}");
        }
        // Three taps: from frame 54 on the held values are out of the window.
        assert_eq!(x[54 * 2 + 1..], clean[54 * 2 + 1..]);
    }

    #[test]
    fn linear_phase_taps_are_folded_and_match_the_direct_sum() {
        let taps = crate::design::firwin(101, &[40.0], crate::design::Window::Hamming, true, 250.0)
            .unwrap();
        // Cast to f32 the designed taps are exactly symmetric (folded); arbitrary taps are not.
        assert!(FirFilter::<f32>::new(&taps, 1).unwrap().symmetric);
        assert!(
            !FirFilter::<f64>::new(&[0.1, 0.2, 0.3], 1)
                .unwrap()
                .symmetric
        );
        assert!(
            FirFilter::<f64>::new(&[0.25, 0.5, 0.25], 1)
                .unwrap()
                .symmetric
        );
        // The folded sum equals the direct-form sum to rounding (f64).
        let sym = [0.1, -0.2, 0.7, 0.3, 0.7, -0.2, 0.1];
        let (c, frames) = (5, 300);
        let x = noisy(frames, c);
        let mut y = x.clone();
        let mut f = FirFilter::<f64>::new(&sym, c).unwrap();
        assert!(f.symmetric);
        f.process(&mut y);
        for n in 0..frames {
            for ch in 0..c {
                let direct: f64 = (0..sym.len())
                    .filter(|&k| k <= n)
                    .map(|k| sym[k] * x[(n - k) * c + ch])
                    .sum();
                let got = y[n * c + ch];
                assert!(
                    (got - direct).abs() <= 1e-12 * direct.abs().max(1.0),
                    "{n} {ch}: {got} vs {direct}"
                );
            }
        }
    }

    /// Filters `y` with one build.
    fn run<T: FloatSample>(f: &mut FirFilter<T>, y: &mut [T], build: &str) {
        match build {
            "portable" => f.process_portable(y),
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            // SAFETY: listed by `simd::builds` only when detected on this CPU.
            "avx2" => unsafe { process_avx2(f, y) },
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            // SAFETY: listed by `simd::builds` only when detected on this CPU.
            "avx512" => unsafe { process_avx512(f, y) },
            other => unreachable!("{other}"),
        }
    }

    #[test]
    fn avx2_avx512_and_portable_builds_are_bit_identical() {
        let linear =
            crate::design::firwin(101, &[40.0], crate::design::Window::Hamming, true, 250.0)
                .unwrap();
        let skewed: Vec<f64> = (0..33).map(|k| 1.0 / (k as f64 + 1.5)).collect();
        let builds = crate::simd::builds();
        for taps in [&linear, &skewed] {
            for c in [1, 3, 7, 17, 64, 65] {
                let x = noisy(500, c);
                let mut out64 = vec![];
                let mut out32 = vec![];
                for &build in &builds {
                    let mut y = x.clone();
                    run(&mut FirFilter::<f64>::new(taps, c).unwrap(), &mut y, build);
                    out64.push(y);
                    let mut y32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                    run(
                        &mut FirFilter::<f32>::new(taps, c).unwrap(),
                        &mut y32,
                        build,
                    );
                    out32.push(y32);
                }
                for (k, build) in builds.iter().enumerate().skip(1) {
                    assert!(
                        crate::history::same_bits(&out64[0], &out64[k]),
                        "f64, {c} ch, {build}"
                    );
                    assert!(
                        crate::history::same_bits(&out32[0], &out32[k]),
                        "f32, {c} ch, {build}"
                    );
                }
            }
        }
    }
}
