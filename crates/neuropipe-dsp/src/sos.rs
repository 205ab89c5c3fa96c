//! [`SosFilter`]: a streaming cascade of second-order sections over interleaved channels.

use std::marker::PhantomData;

use crate::design::{check_buffer, sosfilt_zi, DesignError, Sos};
use crate::FloatSample;

/// Samples per inner block: all sections run over one block before the next block is touched,
/// so a block stays in L1 cache across sections (8 KiB of `f64`; measured best at 64
/// channels, where larger blocks no longer fit L1 beside the state and the `f32` input).
const BLOCK_SAMPLES: usize = 1024;

/// Frames per block for `channels` channels: [`BLOCK_SAMPLES`] worth, at least 16 frames
/// (fewer make the per-block work dominate) and at most 128.
fn block_frames(channels: usize) -> usize {
    (BLOCK_SAMPLES / channels.max(1)).clamp(16, 128)
}

/// Streaming IIR filter: a cascade of second-order sections applied independently to every
/// channel of frame-major interleaved data, with state kept across calls.
///
/// # Precision
/// Coefficients and state are always `f64`, and every section is evaluated in `f64` in Direct
/// Form II transposed with exactly SciPy's `sosfilt` operation order, whatever the sample type.
/// The reference is therefore what users run in SciPy: `sosfilt(sos, x)` with the `f64`
/// coefficients from `butter`/`iirnotch`, which computes in `f64` even for `f32` data.
/// `f64` data agrees with it to rounding; `f32` data is widened, filtered in `f64` and rounded
/// once on output (relative RMS error ~1e-7 even for sub-Hz high-passes at kHz rates on
/// signals with large DC offsets, where `f32` coefficients or state would be useless).
///
/// Splitting a signal into packets never changes the output: processing `a` then `b` gives
/// bit-for-bit the same samples as processing `a ++ b` (as SciPy with a carried `zi`).
///
/// # Non-finite input
/// A NaN or infinite input sample never enters the state. It comes out as NaN (a missing
/// sample), that channel's state is dropped, and the channel restarts at its next finite
/// sample in the steady state for that sample (as [`init_steady_state`](Self::init_steady_state)
/// would), so a single bad sample cannot turn a channel into a flat line for the rest of a
/// session. [`take_resets`](Self::take_resets) counts such restarts, so the caller can flag
/// the discontinuity. The other channels are not affected.
///
/// State is stored per section as two contiguous arrays over channels (`z0[section][channel]`,
/// `z1[section][channel]`), so the innermost loop runs over channels and vectorises.
/// [`process`](Self::process) never allocates.
#[derive(Debug, Clone)]
pub struct SosFilter<T> {
    cascade: Cascade,
    /// `f64` working block for non-`f64` samples (`block * channels`).
    work: Vec<f64>,
    /// Frames per block.
    block: usize,
    _sample: PhantomData<fn(T) -> T>,
}

/// The `f64` cascade: coefficients, state and the non-finite bookkeeping.
#[derive(Debug, Clone)]
struct Cascade {
    channels: usize,
    /// `[b0, b1, b2, a1, a2]` per section.
    coefs: Vec<[f64; 5]>,
    /// Steady-state initial conditions per unit input (`sosfilt_zi`).
    zi: Vec<[f64; 2]>,
    /// First state variable, `[section][channel]`.
    z0: Vec<f64>,
    /// Second state variable, `[section][channel]`.
    z1: Vec<f64>,
    /// Channels waiting for a finite sample to restart from (after non-finite input).
    resync: Vec<bool>,
    /// Number of `true` entries in `resync`.
    resyncing: usize,
    /// Channel restarts since the last [`SosFilter::take_resets`].
    resets: u64,
}

impl<T: FloatSample> SosFilter<T> {
    /// Builds a filter for `channels` interleaved channels with zero initial state.
    ///
    /// # Errors
    /// [`DesignError::Count`] if `channels == 0` or the state would exceed
    /// [`MAX_BUFFER`](crate::design::MAX_BUFFER) samples.
    pub fn new(sos: &Sos, channels: usize) -> Result<Self, DesignError> {
        if channels == 0 {
            return Err(DesignError::count("channels", channels, ">= 1"));
        }
        let n = check_buffer("channels", sos.len(), channels)?;
        let block = block_frames(channels);
        let work_len = check_buffer("channels", block, channels)?;
        let work = if T::as_f64_slice_mut(&mut []).is_some() {
            Vec::new()
        } else {
            vec![0.0; work_len]
        };
        Ok(SosFilter {
            cascade: Cascade {
                channels,
                coefs: coefs_of(sos),
                zi: sosfilt_zi(sos),
                z0: vec![0.0; n],
                z1: vec![0.0; n],
                resync: vec![false; channels],
                resyncing: 0,
                resets: 0,
            },
            work,
            block,
            _sample: PhantomData,
        })
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.cascade.channels
    }

    /// Number of second-order sections.
    pub fn sections(&self) -> usize {
        self.cascade.coefs.len()
    }

    /// Clears the state (as if the filter had only ever seen zeros).
    pub fn reset(&mut self) {
        let c = &mut self.cascade;
        c.z0.fill(0.0);
        c.z1.fill(0.0);
        c.resync.fill(false);
        c.resyncing = 0;
    }

    /// Channel restarts caused by non-finite input (or state) since the last call; resets the
    /// count. Non-zero means the output has a discontinuity worth flagging.
    pub fn take_resets(&mut self) -> u64 {
        std::mem::take(&mut self.cascade.resets)
    }

    /// Sets the state to the steady state for a constant input equal to `first_frame`
    /// (one value per channel), like `sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])`.
    /// Call it with the first frame before processing that frame to avoid the start-up
    /// transient of a signal with a large offset. A non-finite value leaves its channel waiting
    /// for the first finite sample, which it then starts from.
    ///
    /// # Panics
    /// If `first_frame.len() != self.channels()`.
    pub fn init_steady_state(&mut self, first_frame: &[T]) {
        let c = &mut self.cascade;
        assert_eq!(
            first_frame.len(),
            c.channels,
            "init_steady_state: expected one value per channel"
        );
        for (ch, &x0) in first_frame.iter().enumerate() {
            let x0 = x0.to_f64();
            if x0.is_finite() {
                c.init_channel(ch, x0);
                if c.resync[ch] {
                    c.resync[ch] = false;
                    c.resyncing -= 1;
                }
            } else if !c.resync[ch] {
                c.resync[ch] = true;
                c.resyncing += 1;
            }
        }
    }

    /// Replaces the coefficients (e.g. a new cutoff chosen at run time).
    ///
    /// If the new cascade has the same number of sections, the state is **kept**, so the output
    /// continues without a reset (section `i`'s state carries over to the new section `i`; for
    /// small changes of a smooth design this avoids a restart transient). If the number of
    /// sections differs, there is no meaningful mapping: the state is reset to zero (and its
    /// storage reallocated, the only case where this type allocates after construction).
    ///
    /// # Errors
    /// The state would exceed [`MAX_BUFFER`](crate::design::MAX_BUFFER) samples; the filter is
    /// then unchanged.
    pub fn set_sos(&mut self, sos: &Sos) -> Result<(), DesignError> {
        let c = &mut self.cascade;
        let n = check_buffer("channels", sos.len(), c.channels)?;
        c.coefs = coefs_of(sos);
        c.zi = sosfilt_zi(sos);
        if c.z0.len() != n {
            c.z0 = vec![0.0; n];
            c.z1 = vec![0.0; n];
        }
        Ok(())
    }

    /// Filters `data` (frame-major interleaved, `len` a multiple of `channels`) in place.
    ///
    /// On x86-64 CPUs with AVX2 the same code runs compiled for AVX2 (chosen at run time):
    /// the same operations in the same order, so the output is bit-identical to the portable
    /// build (no fused multiply-add).
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of [`channels`](Self::channels).
    pub fn process(&mut self, data: &mut [T]) {
        let c = self.cascade.channels;
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

    /// [`process`](Self::process) in the portable build (also what the AVX2 variant inlines).
    #[inline(always)]
    pub(crate) fn process_portable(&mut self, data: &mut [T]) {
        let c = self.cascade.channels;
        if let Some(data) = T::as_f64_slice_mut(data) {
            for block in data.chunks_mut(self.block * c) {
                let finite = block.iter().fold(true, |ok, x| ok & x.is_finite());
                self.cascade.block(block, finite);
            }
            return;
        }
        for block in data.chunks_mut(self.block * c) {
            let work = &mut self.work[..block.len()];
            let mut finite = true;
            for (w, x) in work.iter_mut().zip(block.iter()) {
                *w = x.to_f64();
                finite &= w.is_finite();
            }
            self.cascade.block(work, finite);
            for (x, w) in block.iter_mut().zip(work.iter()) {
                *x = T::from_f64(*w);
            }
        }
    }
}

/// [`SosFilter::process`] compiled for AVX2 (the portable code inlined here).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn process_avx2<T: FloatSample>(filter: &mut SosFilter<T>, data: &mut [T]) {
    filter.process_portable(data);
}

/// [`SosFilter::process`] compiled for AVX-512 (the portable code inlined here).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn process_avx512<T: FloatSample>(filter: &mut SosFilter<T>, data: &mut [T]) {
    filter.process_portable(data);
}

impl Cascade {
    /// Steady state of channel `ch` for a constant input `x0`.
    fn init_channel(&mut self, ch: usize, x0: f64) {
        let c = self.channels;
        for (s, zi) in self.zi.iter().enumerate() {
            self.z0[s * c + ch] = zi[0] * x0;
            self.z1[s * c + ch] = zi[1] * x0;
        }
    }

    /// Filters one block in place; `finite`: every input sample is finite.
    #[inline(always)]
    fn block(&mut self, block: &mut [f64], finite: bool) {
        if finite && self.resyncing == 0 {
            self.block_fast(block);
        } else {
            self.block_checked(block);
        }
        self.scrub_state();
    }

    /// All sections over a block of finite samples, two sections at a time.
    #[inline(always)]
    fn block_fast(&mut self, block: &mut [f64]) {
        let c = self.channels;
        let paired = self.coefs.len() / 2 * 2;
        let (z0_pairs, z0_last) = self.z0.split_at_mut(paired * c);
        let (z1_pairs, z1_last) = self.z1.split_at_mut(paired * c);
        // Sections two at a time; with an odd count the last one runs alone.
        for ((coefs, z0), z1) in (self.coefs.chunks_exact(2))
            .zip(z0_pairs.chunks_exact_mut(2 * c))
            .zip(z1_pairs.chunks_exact_mut(2 * c))
        {
            section_pair(block, coefs, z0, z1);
        }
        if let Some(coef) = self.coefs.get(paired) {
            section(block, coef, z0_last, z1_last);
        }
    }

    /// Sample by sample, channel by channel: the same arithmetic in the same order as
    /// [`block_fast`](Self::block_fast) (so the output is bit-identical for finite input), with
    /// non-finite samples kept out of the state.
    #[cold]
    fn block_checked(&mut self, block: &mut [f64]) {
        let c = self.channels;
        for frame in block.chunks_exact_mut(c) {
            for (ch, x) in frame.iter_mut().enumerate() {
                if !x.is_finite() {
                    if !self.resync[ch] {
                        self.resync[ch] = true;
                        self.resyncing += 1;
                        self.resets += 1;
                    }
                    *x = f64::NAN;
                    continue;
                }
                if self.resync[ch] {
                    self.resync[ch] = false;
                    self.resyncing -= 1;
                    self.init_channel(ch, *x);
                }
                let mut y = *x;
                for (s, coef) in self.coefs.iter().enumerate() {
                    let k = s * c + ch;
                    y = step(coef, y, &mut self.z0[k], &mut self.z1[k]);
                }
                *x = y;
            }
        }
    }

    /// Finite input can still overflow the state (values near `f64::MAX`): such a channel is
    /// restarted like one that saw a non-finite sample.
    #[inline(always)]
    fn scrub_state(&mut self) {
        let ok = (self.z0.iter().chain(self.z1.iter())).fold(true, |ok, z| ok & z.is_finite());
        if ok {
            return;
        }
        let c = self.channels;
        for ch in 0..c {
            let bad = (0..self.coefs.len())
                .any(|s| !(self.z0[s * c + ch].is_finite() && self.z1[s * c + ch].is_finite()));
            if bad {
                for s in 0..self.coefs.len() {
                    self.z0[s * c + ch] = 0.0;
                    self.z1[s * c + ch] = 0.0;
                }
                if !self.resync[ch] {
                    self.resync[ch] = true;
                    self.resyncing += 1;
                    self.resets += 1;
                }
            }
        }
    }
}

/// One Direct Form II transposed step with SciPy's operation order: returns the output and
/// updates the two state variables.
#[inline(always)]
fn step(coef: &[f64; 5], x: f64, s0: &mut f64, s1: &mut f64) -> f64 {
    let [b0, b1, b2, a1, a2] = *coef;
    let y = b0 * x + *s0;
    *s0 = b1 * x - a1 * y + *s1;
    *s1 = b2 * x - a2 * y;
    y
}

/// One section over a block of frames. `z0`/`z1` hold one state per channel.
#[inline(always)]
fn section(block: &mut [f64], coef: &[f64; 5], z0: &mut [f64], z1: &mut [f64]) {
    for frame in block.chunks_exact_mut(z0.len()) {
        for ((x, s0), s1) in frame.iter_mut().zip(z0.iter_mut()).zip(z1.iter_mut()) {
            *x = step(coef, *x, s0, s1);
        }
    }
}

/// Two consecutive sections over a block of frames, the intermediate signal staying in
/// registers (fewer loads and stores than two [`section`] passes; identical results).
#[inline(always)]
fn section_pair(block: &mut [f64], coefs: &[[f64; 5]], z0: &mut [f64], z1: &mut [f64]) {
    let c = z0.len() / 2;
    let (z0a, z0b) = z0.split_at_mut(c);
    let (z1a, z1b) = z1.split_at_mut(c);
    // Equal-length slices let the compiler drop the bounds checks (indexing vectorises better
    // here than a four-way zip).
    let (z0b, z1a, z1b) = (&mut z0b[..c], &mut z1a[..c], &mut z1b[..c]);
    let (ca, cb) = (&coefs[0], &coefs[1]);
    for frame in block.chunks_exact_mut(c) {
        for i in 0..c {
            let y = step(ca, frame[i], &mut z0a[i], &mut z1a[i]);
            frame[i] = step(cb, y, &mut z0b[i], &mut z1b[i]);
        }
    }
}

/// `[b0, b1, b2, a1, a2]` per section (`a0` is 1 for every design here).
fn coefs_of(sos: &Sos) -> Vec<[f64; 5]> {
    sos.iter().map(|s| [s[0], s[1], s[2], s[4], s[5]]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{butter, Band};
    use crate::history::noisy;

    /// Filters `y` with one build (`portable`, `avx2`, `avx512`).
    fn run<T: FloatSample>(f: &mut SosFilter<T>, y: &mut [T], build: &str) {
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
        let builds = crate::simd::builds();
        let designs = [
            butter(4, Band::Bandpass(1.0, 40.0), 250.0).unwrap(),
            butter(3, Band::Highpass(0.1), 1000.0).unwrap(),
            butter(5, Band::Lowpass(30.0), 500.0).unwrap(),
            crate::design::iirnotch(50.0, 30.0, 250.0).unwrap(),
        ];
        for sos in &designs {
            for c in [1, 3, 7, 64, 65] {
                let x = noisy(777, c);
                let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                let (mut out64, mut out32) = (vec![], vec![]);
                for &build in &builds {
                    let mut y = x.clone();
                    run(&mut SosFilter::<f64>::new(sos, c).unwrap(), &mut y, build);
                    out64.push(y);
                    let mut y = x32.clone();
                    run(&mut SosFilter::<f32>::new(sos, c).unwrap(), &mut y, build);
                    out32.push(y);
                }
                for (k, build) in builds.iter().enumerate().skip(1) {
                    let same64 = crate::history::same_bits(&out64[0], &out64[k]);
                    assert!(same64, "f64, {c} ch, {build}");
                    let same32 = crate::history::same_bits(&out32[0], &out32[k]);
                    assert!(same32, "f32, {c} ch, {build}");
                }
            }
        }
    }

    #[test]
    fn checked_path_is_bit_identical_to_fast_path() {
        let sos = butter(4, Band::Bandpass(1.0, 40.0), 250.0).unwrap();
        let x = noisy(300, 5);
        let mut fast = x.clone();
        SosFilter::<f64>::new(&sos, 5).unwrap().process(&mut fast);
        let mut f = SosFilter::<f64>::new(&sos, 5).unwrap();
        let mut checked = x.clone();
        for block in checked.chunks_mut(f.block * 5) {
            f.cascade.block_checked(block);
        }
        assert_eq!(fast, checked);
    }

    #[test]
    fn a_nan_is_isolated_to_its_sample_and_channel() {
        let sos = butter(2, Band::Highpass(0.5), 250.0).unwrap();
        let c = 3;
        let x = noisy(500, c);
        let mut f = SosFilter::<f32>::new(&sos, c).unwrap();
        let mut clean32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        f.init_steady_state(&clean32[..c]);
        f.process(&mut clean32);
        assert_eq!(f.take_resets(), 0);

        let mut bad32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        bad32[100 * c + 1] = f32::NAN;
        bad32[200 * c + 1] = f32::INFINITY;
        let mut f = SosFilter::<f32>::new(&sos, c).unwrap();
        f.init_steady_state(&bad32[..c]);
        f.process(&mut bad32);
        assert_eq!(f.take_resets(), 2);
        assert_eq!(f.take_resets(), 0);
        // Other channels untouched, bit for bit.
        for fr in 0..500 {
            for ch in [0, 2] {
                assert_eq!(bad32[fr * c + ch], clean32[fr * c + ch]);
            }
        }
        // The bad samples are NaN, everything else on channel 1 is finite.
        for fr in 0..500 {
            let v = bad32[fr * c + 1];
            assert_eq!(v.is_nan(), fr == 100 || fr == 200, "frame {fr}: {v}");
        }
        // Restarted in steady state: no ringing from the 20 mV offset after the gap.
        let after = bad32[201 * c + 1].abs();
        assert!(after < 10.0, "output right after the restart: {after}");
    }

    #[test]
    fn state_overflow_restarts_the_channel() {
        let sos = butter(2, Band::Highpass(10.0), 250.0).unwrap();
        let mut f = SosFilter::<f64>::new(&sos, 1).unwrap();
        let mut big: Vec<f64> = (0..8)
            .map(|i| if i % 2 == 0 { f64::MAX } else { -f64::MAX })
            .collect();
        f.process(&mut big);
        assert!(f.take_resets() >= 1);
        let mut x = vec![1.0; 60];
        f.process(&mut x);
        // Restarted in the steady state of the first finite sample: a high-pass gives 0.
        assert!(x.iter().all(|v| v.abs() < 1e-9), "{x:?}");
    }
}
