//! [`Decimator`]: streaming integer down-sampling with SciPy's `resample_poly` anti-alias filter.

use crate::design::{check_buffer, firwin, DesignError, Window};
use crate::fir::cast_taps;
use crate::history::{fir_row, fir_rows2, is_symmetric, History};
use crate::FloatSample;

/// Kaiser `beta` of `resample_poly`'s default window `('kaiser', 5.0)`.
const KAISER_BETA: f64 = 5.0;

/// Streaming decimation by an integer factor `q` over interleaved channels.
///
/// The anti-alias filter is the one `scipy.signal.resample_poly(x, 1, q)` designs:
/// `firwin(2·half_len + 1, 1/q, window=('kaiser', 5.0))` (cutoff relative to Nyquist) with
/// `half_len = 10·q`, gain 1 (`up = 1`). Only every `q`-th filtered frame is computed.
///
/// # Alignment with `resample_poly`
///
/// `resample_poly` is non-causal: it zero-pads both ends and removes the filter delay, so its
/// output `r[m]` is the filter centred on input frame `m·q`. This decimator is causal: its
/// output `d[m]` is the filter *ending* on input frame `m·q` (counting input frames from 0 since
/// construction or [`reset`](Self::reset); the first output is computed on frame 0, then every
/// `q` frames), i.e. it lags by [`delay`](Self::delay) `= half_len = 10·q` input frames
/// `= 10` output frames. Exactly:
///
/// `d[m + 10] == r[m]` for every `m` with `(m + 10)·q < n_in`,
///
/// the leading zero padding of `resample_poly` being the decimator's initial zero state. The
/// first 10 outputs are the filter's start-up (they have no `resample_poly` counterpart), and
/// `resample_poly`'s last 10 outputs, which use zero padding past the end of the input, arrive
/// only once the following input does. For `q == 1` the decimator is the identity (as
/// `resample_poly`), with no delay.
///
/// [`process`](Self::process) never allocates, and splitting the input into packets of any sizes
/// gives the same outputs (bit-for-bit) as one call.
#[derive(Debug, Clone)]
pub struct Decimator<T> {
    channels: usize,
    factor: usize,
    taps: Vec<f64>,
    taps_rev: Vec<T>,
    /// The cast taps are symmetric: the kernel folds them.
    symmetric: bool,
    history: History<T>,
    /// Input frames seen since the last output, modulo `factor` (0: the next frame is output).
    phase: usize,
    /// Non-finite input samples since the last [`take_resets`](Self::take_resets).
    resets: u64,
}

impl<T: FloatSample> Decimator<T> {
    /// Builds a decimator by `factor` for `channels` channels, with zero initial state.
    ///
    /// # Errors
    /// `factor == 0`, `factor > 10_000`, `channels == 0`, or a history buffer above
    /// [`MAX_BUFFER`](crate::design::MAX_BUFFER) samples.
    pub fn new(factor: usize, channels: usize) -> Result<Self, DesignError> {
        if factor == 0 || factor > 10_000 {
            return Err(DesignError::count("factor", factor, ">= 1 and <= 10000"));
        }
        if channels == 0 {
            return Err(DesignError::count("channels", channels, ">= 1"));
        }
        let taps = if factor == 1 {
            vec![1.0]
        } else {
            let half_len = 10 * factor;
            firwin(
                2 * half_len + 1,
                &[1.0 / factor as f64],
                Window::Kaiser(KAISER_BETA),
                true,
                2.0,
            )?
        };
        let keep = taps.len() - 1;
        check_buffer("channels", keep + keep.max(64), channels)?;
        let taps_rev = cast_taps(&taps)?;
        Ok(Decimator {
            channels,
            factor,
            symmetric: is_symmetric(&taps_rev),
            taps_rev,
            taps,
            history: History::new(keep, keep.max(64), channels),
            phase: 0,
            resets: 0,
        })
    }

    /// The decimation factor `q`.
    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The anti-alias filter taps (`f64`, as designed).
    pub fn taps(&self) -> &[f64] {
        &self.taps
    }

    /// Group delay of the anti-alias filter in input frames (`10·q`; 0 for `q == 1`).
    pub fn delay(&self) -> usize {
        (self.taps.len() - 1) / 2
    }

    /// Number of output frames the next call to [`process`](Self::process) with `input_frames`
    /// input frames will write.
    pub fn output_frames(&self, input_frames: usize) -> usize {
        // Output frames are the input frames at offsets (q - phase) % q, + q, + 2q, ...
        let first = (self.factor - self.phase) % self.factor;
        if input_frames <= first {
            0
        } else {
            (input_frames - first).div_ceil(self.factor)
        }
    }

    /// Clears the state: zero history, and the next input frame is frame 0 (an output frame).
    pub fn reset(&mut self) {
        self.history.reset();
        self.phase = 0;
    }

    /// Sets the history as if the input had always been `first_frame` (steady state, no
    /// start-up transient). The output phase is unchanged.
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

    /// Consumes `input` (frame-major interleaved) and writes the decimated frames to the start of
    /// `output`. Returns the number of frames written (see [`output_frames`](Self::output_frames);
    /// at most `ceil(input_frames / q)`).
    ///
    /// # Panics
    /// If `input.len()` is not a multiple of `channels`, or `output` is shorter than
    /// `output_frames(input_frames) * channels`.
    pub fn process(&mut self, input: &[T], output: &mut [T]) -> usize {
        let c = self.channels;
        assert!(
            input.chunks_exact(c).remainder().is_empty(),
            "process: input length {} is not a multiple of {} channels",
            input.len(),
            c
        );
        let needed = self.output_frames(input.len() / c);
        assert!(
            output.len() >= needed * c,
            "process: output holds {} samples, {} needed",
            output.len(),
            needed * c
        );
        #[cfg(target_arch = "x86_64")]
        if crate::simd::avx512() {
            #[allow(unsafe_code)]
            // SAFETY: `process_avx512` only requires AVX-512F, which `simd::avx512()` detected
            // on this CPU at run time; it has no other precondition.
            return unsafe { process_avx512(self, input, output) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::simd::avx2() {
            #[allow(unsafe_code)]
            // SAFETY: `process_avx2` only requires AVX2, which `simd::avx2()` detected on this
            // CPU at run time; it has no other precondition.
            return unsafe { process_avx2(self, input, output) };
        }
        self.process_with::<16>(input, output)
    }

    /// The kernel for `V`-byte vectors (16: the portable build, 32: AVX2, 64: AVX-512): more
    /// channels per pass, the same sums.
    #[inline(always)]
    fn process_with<const V: usize>(&mut self, input: &[T], output: &mut [T]) -> usize {
        let c = self.channels;
        let q = self.factor;
        let mut written = 0;
        for chunk in input.chunks(self.history.block() * c) {
            let frames = chunk.len() / c;
            let (window, held) = self.history.load(chunk);
            let first_out = written;
            let mut f = (q - self.phase) % q;
            while f + q < frames {
                let two = &mut output[written * c..(written + 2) * c];
                let (a, b) = two.split_at_mut(c);
                fir_rows2::<T, V>(window, &self.taps_rev, self.symmetric, [f, f + q], [a, b]);
                written += 2;
                f += 2 * q;
            }
            if f < frames {
                let out = &mut output[written * c..(written + 1) * c];
                fir_row::<T, V>(window, &self.taps_rev, self.symmetric, f, out);
                written += 1;
            }
            if held > 0 {
                // An output computed over a held (missing) input frame of its channel is
                // itself missing: NaN, like the input.
                self.resets += held;
                let missing = self.history.missing();
                let mut f = (q - self.phase) % q;
                for out in output[first_out * c..written * c].chunks_exact_mut(c) {
                    let span = f.saturating_sub(q - 1)..=f;
                    for (ch, y) in out.iter_mut().enumerate() {
                        if span.clone().any(|g| missing[g * c + ch]) {
                            *y = T::from_f64(f64::NAN);
                        }
                    }
                    f += q;
                }
            }
            self.phase = (self.phase + frames) % q;
            self.history.advance(frames);
        }
        written
    }

    /// Non-finite input samples since the last call (held in the history; the outputs over
    /// them are NaN); resets the count.
    pub fn take_resets(&mut self) -> u64 {
        std::mem::take(&mut self.resets)
    }
}

/// [`Decimator::process`] compiled for AVX2 (the kernel inlined here): the same operations in
/// the same order for every output, so the output is bit-identical to the portable build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn process_avx2<T: FloatSample>(d: &mut Decimator<T>, input: &[T], output: &mut [T]) -> usize {
    d.process_with::<32>(input, output)
}

/// [`Decimator::process`] compiled for AVX-512: the same operations in the same order,
/// bit-identical to the portable build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn process_avx512<T: FloatSample>(d: &mut Decimator<T>, input: &[T], output: &mut [T]) -> usize {
    d.process_with::<64>(input, output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_leaves_the_history_after_the_filter_length() {
        let mut d = Decimator::<f64>::new(4, 2).unwrap();
        let x: Vec<f64> = (0..2000).map(|i| ((i / 2) % 13) as f64).collect();
        let mut clean_out = vec![0.0; 1000];
        let n = Decimator::<f64>::new(4, 2)
            .unwrap()
            .process(&x, &mut clean_out);
        let mut bad = x.clone();
        bad[400 * 2 + 1] = f64::NAN;
        let mut out = vec![0.0; 1000];
        assert_eq!(d.process(&bad, &mut out), n);
        assert_eq!(d.take_resets(), 1);
        let ch1: Vec<f64> = out[..n * 2].iter().skip(1).step_by(2).copied().collect();
        let nan: Vec<usize> = (0..ch1.len()).filter(|&k| ch1[k].is_nan()).collect();
        assert_eq!(nan, [100], "only the output over the missing frame");
        // Channel 0 untouched; channel 1 back to the clean output once the 81 taps have passed.
        for k in 0..n {
            assert_eq!(out[k * 2], clean_out[k * 2]);
        }
        for k in 125..n {
            assert_eq!(out[k * 2 + 1], clean_out[k * 2 + 1], "output {k}");
        }
    }

    /// Decimates `x` with one build (`portable`, `avx2`, `avx512`).
    fn run<T: FloatSample>(d: &mut Decimator<T>, x: &[T], y: &mut [T], build: &str) -> usize {
        match build {
            "portable" => d.process_with::<16>(x, y),
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            // SAFETY: listed by `simd::builds` only when detected on this CPU.
            "avx2" => unsafe { process_avx2(d, x, y) },
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            // SAFETY: listed by `simd::builds` only when detected on this CPU.
            "avx512" => unsafe { process_avx512(d, x, y) },
            other => unreachable!("{other}"),
        }
    }

    #[test]
    fn avx2_avx512_and_portable_builds_are_bit_identical() {
        let builds = crate::simd::builds();
        for (q, c) in [(2, 1), (2, 3), (3, 7), (4, 17), (5, 64), (3, 65)] {
            let x = crate::history::noisy(900, c);
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let (mut out64, mut out32) = (vec![], vec![]);
            for &build in &builds {
                let mut y = vec![0.0; 900 * c];
                let n = run(&mut Decimator::<f64>::new(q, c).unwrap(), &x, &mut y, build);
                out64.push((n, y));
                let mut y = vec![0.0f32; 900 * c];
                let n = run(
                    &mut Decimator::<f32>::new(q, c).unwrap(),
                    &x32,
                    &mut y,
                    build,
                );
                out32.push((n, y));
            }
            for (k, build) in builds.iter().enumerate().skip(1) {
                assert_eq!(out64[0].0, out64[k].0, "{build}");
                let same64 = crate::history::same_bits(&out64[0].1, &out64[k].1);
                assert!(same64, "f64 q {q} c {c}, {build}");
                let same32 = crate::history::same_bits(&out32[0].1, &out32[k].1);
                assert!(same32, "f32 q {q} c {c}, {build}");
            }
        }
    }
}
