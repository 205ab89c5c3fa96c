//! [`SosFilter`]: a streaming cascade of second-order sections over interleaved channels.

use crate::design::{check_buffer, sosfilt_zi, DesignError, Sos};
use crate::Sample;

/// Frames per inner block: all sections run over one block before the next block is touched,
/// so a block (`BLOCK_FRAMES * channels` samples) stays in L1 cache across sections.
const BLOCK_FRAMES: usize = 64;

/// Streaming IIR filter: a cascade of second-order sections applied independently to every
/// channel of frame-major interleaved data, with state kept across calls.
///
/// Each section is evaluated in Direct Form II transposed with exactly SciPy's `sosfilt`
/// operation order, so `f64` output agrees with `scipy.signal.sosfilt` to rounding, and `f32`
/// output with `sosfilt` on `f32` data and `f32` coefficients.
///
/// Splitting a signal into packets never changes the output: processing `a` then `b` gives
/// bit-for-bit the same samples as processing `a ++ b` (as SciPy with a carried `zi`).
///
/// State is stored per section as two contiguous arrays over channels (`z0[section][channel]`,
/// `z1[section][channel]`), so the innermost loop runs over channels and vectorises.
/// [`process`](Self::process) never allocates.
#[derive(Debug, Clone)]
pub struct SosFilter<T> {
    channels: usize,
    /// `[b0, b1, b2, a1, a2]` per section, cast to `T`.
    coefs: Vec<[T; 5]>,
    /// Steady-state initial conditions per unit input (`sosfilt_zi`), in `f64`.
    zi: Vec<[f64; 2]>,
    /// First state variable, `[section][channel]`.
    z0: Vec<T>,
    /// Second state variable, `[section][channel]`.
    z1: Vec<T>,
}

impl<T: Sample> SosFilter<T> {
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
        Ok(SosFilter {
            channels,
            coefs: cast_coefs(sos),
            zi: sosfilt_zi(sos),
            z0: vec![T::ZERO; n],
            z1: vec![T::ZERO; n],
        })
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Number of second-order sections.
    pub fn sections(&self) -> usize {
        self.coefs.len()
    }

    /// Clears the state (as if the filter had only ever seen zeros).
    pub fn reset(&mut self) {
        self.z0.fill(T::ZERO);
        self.z1.fill(T::ZERO);
    }

    /// Sets the state to the steady state for a constant input equal to `first_frame`
    /// (one value per channel), like `sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])`.
    /// Call it with the first frame before processing that frame to avoid the start-up
    /// transient of a signal with a large offset.
    ///
    /// # Panics
    /// If `first_frame.len() != self.channels()`.
    pub fn init_steady_state(&mut self, first_frame: &[T]) {
        assert_eq!(
            first_frame.len(),
            self.channels,
            "init_steady_state: expected one value per channel"
        );
        let c = self.channels;
        for (s, zi) in self.zi.iter().enumerate() {
            for (ch, &x0) in first_frame.iter().enumerate() {
                let x0 = x0.to_f64();
                self.z0[s * c + ch] = T::from_f64(zi[0] * x0);
                self.z1[s * c + ch] = T::from_f64(zi[1] * x0);
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
        let n = check_buffer("channels", sos.len(), self.channels)?;
        self.coefs = cast_coefs(sos);
        self.zi = sosfilt_zi(sos);
        if self.z0.len() != n {
            self.z0 = vec![T::ZERO; n];
            self.z1 = vec![T::ZERO; n];
        }
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
        let paired = self.coefs.len() / 2 * 2;
        for block in data.chunks_mut(BLOCK_FRAMES * c) {
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
    }
}

/// One Direct Form II transposed step with SciPy's operation order: returns the output and
/// updates the two state variables.
#[inline(always)]
fn step<T: Sample>(coef: &[T; 5], x: T, s0: &mut T, s1: &mut T) -> T {
    let [b0, b1, b2, a1, a2] = *coef;
    let y = b0 * x + *s0;
    *s0 = b1 * x - a1 * y + *s1;
    *s1 = b2 * x - a2 * y;
    y
}

/// One section over a block of frames. `z0`/`z1` hold one state per channel.
#[inline(always)]
fn section<T: Sample>(block: &mut [T], coef: &[T; 5], z0: &mut [T], z1: &mut [T]) {
    for frame in block.chunks_exact_mut(z0.len()) {
        for ((x, s0), s1) in frame.iter_mut().zip(z0.iter_mut()).zip(z1.iter_mut()) {
            *x = step(coef, *x, s0, s1);
        }
    }
}

/// Two consecutive sections over a block of frames, the intermediate signal staying in
/// registers (fewer loads and stores than two [`section`] passes; identical results).
#[inline(always)]
fn section_pair<T: Sample>(block: &mut [T], coefs: &[[T; 5]], z0: &mut [T], z1: &mut [T]) {
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

fn cast_coefs<T: Sample>(sos: &Sos) -> Vec<[T; 5]> {
    sos.iter()
        .map(|s| [s[0], s[1], s[2], s[4], s[5]].map(T::from_f64))
        .collect()
}
