//! [`Resampler`]: streaming rational resampling by `up / down` with SciPy's `resample_poly`
//! filter.

use crate::design::{check_buffer, firwin, DesignError, Window};
use crate::FloatSample;

/// Kaiser `beta` of `resample_poly`'s default window `('kaiser', 5.0)`.
const KAISER_BETA: f64 = 5.0;
/// Largest `up` or `down` (after reduction): `resample_poly`'s filter has `20·max + 1` taps.
pub const MAX_FACTOR: usize = 1000;

/// Greatest common divisor.
fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Streaming rational resampling over interleaved channels: `up / down` output frames per
/// input frame, as `scipy.signal.resample_poly(x, up, down)` computes them.
///
/// The filter is `resample_poly`'s: `up`, `down` reduced by their gcd, `max = max(up, down)`,
/// `firwin(2·half_len + 1, 1/max, window=('kaiser', 5.0))` with `half_len = 10·max`,
/// multiplied by `up`, and preceded by `down − half_len mod down` zeros. `resample_poly`
/// computes `upfirdn` with it (the input upsampled by `up` with zeros, filtered, every
/// `down`-th value kept) and drops the first `lag` outputs; this resampler computes the same
/// `upfirdn` outputs causally, each as soon as its last input frame has arrived: output `m`
/// once input frame `⌊m·down/up⌋` has. Exactly:
///
/// `s[m + lag] == r[m]` for every `m` whose output this resampler has written,
///
/// with [`lag`](Self::lag) `= (half_len + pad) / down` output frames, up to the rounding of a
/// different summation order (the sums are in `f64` whatever the sample type). The first
/// `lag` outputs are the filter's start-up; `resample_poly`'s last `lag` outputs use zero
/// padding past the end of its input and arrive only once the following input does.
///
/// [`process`](Self::process) never allocates, and splitting the input into packets of any
/// sizes gives the same outputs (bit for bit) as one call. A non-finite input sample makes
/// the outputs it contributes to NaN (missing), counted by
/// [`take_resets`](Self::take_resets).
#[derive(Debug, Clone)]
pub struct Resampler<T> {
    channels: usize,
    up: usize,
    down: usize,
    /// The filter as `resample_poly` designs it (times `up`, before the padding).
    taps: Vec<f64>,
    /// The padded filter `upfirdn` uses.
    padded: Vec<f64>,
    lag: usize,
    /// The last `ring_frames` input frames (`f64`), frame `n` at slot `n mod ring_frames`.
    ring: Vec<f64>,
    ring_frames: usize,
    /// Sums of the output frame being computed.
    acc: Vec<f64>,
    /// Input frames consumed.
    in_count: u64,
    /// Output frames written.
    out_count: u64,
    resets: u64,
    _sample: std::marker::PhantomData<T>,
}

impl<T: FloatSample> Resampler<T> {
    /// Builds a resampler by `up / down` for `channels` channels, with zero initial state.
    ///
    /// # Errors
    /// `up` or `down` zero, either above [`MAX_FACTOR`] after reduction, `up == down`,
    /// `channels == 0`, or a history buffer above [`MAX_BUFFER`](crate::design::MAX_BUFFER).
    pub fn new(up: usize, down: usize, channels: usize) -> Result<Self, DesignError> {
        if up == 0 {
            return Err(DesignError::count("up", up, ">= 1"));
        }
        if down == 0 {
            return Err(DesignError::count("down", down, ">= 1"));
        }
        let g = gcd(up, down);
        let (up, down) = (up / g, down / g);
        if up > MAX_FACTOR {
            return Err(DesignError::count("up", up, "<= 1000 after reduction"));
        }
        if down > MAX_FACTOR {
            return Err(DesignError::count("down", down, "<= 1000 after reduction"));
        }
        if up == down {
            return Err(DesignError::count("up", up, "!= down (the same rate)"));
        }
        if channels == 0 {
            return Err(DesignError::count("channels", channels, ">= 1"));
        }
        let max = up.max(down);
        let half_len = 10 * max;
        let mut taps = firwin(
            2 * half_len + 1,
            &[1.0 / max as f64],
            Window::Kaiser(KAISER_BETA),
            true,
            2.0,
        )?;
        for t in &mut taps {
            *t *= up as f64;
        }
        let pre = down - half_len % down;
        let lag = (half_len + pre) / down;
        let mut padded = vec![0.0; pre];
        padded.extend_from_slice(&taps);
        let ring_frames = padded.len().div_ceil(up) + 2;
        check_buffer("channels", ring_frames, channels)?;
        Ok(Resampler {
            channels,
            up,
            down,
            taps,
            padded,
            lag,
            ring: vec![0.0; ring_frames * channels],
            ring_frames,
            acc: vec![0.0; channels],
            in_count: 0,
            out_count: 0,
            resets: 0,
            _sample: std::marker::PhantomData,
        })
    }

    /// `up`, reduced.
    pub fn up(&self) -> usize {
        self.up
    }

    /// `down`, reduced.
    pub fn down(&self) -> usize {
        self.down
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The filter as `resample_poly` designs it (multiplied by `up`, before its zero padding).
    pub fn taps(&self) -> &[f64] {
        &self.taps
    }

    /// Output frames between this resampler's output and `resample_poly`'s (see the type's
    /// docs): `s[m + lag] == r[m]`.
    pub fn lag(&self) -> usize {
        self.lag
    }

    /// Output frames written so far.
    pub fn output_count(&self) -> u64 {
        self.out_count
    }

    /// Input frames consumed so far.
    pub fn input_count(&self) -> u64 {
        self.in_count
    }

    /// Output frames ready after `n` input frames in all: `⌈n·up/down⌉`.
    fn ready_after(&self, n: u64) -> u64 {
        (n * self.up as u64).div_ceil(self.down as u64)
    }

    /// Number of output frames the next call to [`process`](Self::process) with
    /// `input_frames` input frames will write.
    pub fn output_frames(&self, input_frames: usize) -> usize {
        (self.ready_after(self.in_count + input_frames as u64) - self.out_count) as usize
    }

    /// The input frame output `m` is computed on (its last input): `⌊m·down/up⌋`.
    pub fn input_frame_of(&self, m: u64) -> u64 {
        m * self.down as u64 / self.up as u64
    }

    /// Fills the history as if the input had always been `first_frame` (steady state, no
    /// start-up ramp from a DC offset).
    ///
    /// # Panics
    /// If `first_frame.len() != self.channels()`.
    pub fn init_steady_state(&mut self, first_frame: &[T]) {
        assert_eq!(
            first_frame.len(),
            self.channels,
            "init_steady_state: expected one value per channel"
        );
        for slot in self.ring.chunks_exact_mut(self.channels) {
            for (s, v) in slot.iter_mut().zip(first_frame) {
                *s = v.to_f64();
            }
        }
    }

    /// Computes output `m` (its inputs are in the ring) into `out`.
    fn output(&mut self, m: u64, out: &mut [T]) {
        let (up, c, r) = (self.up as u64, self.channels, self.ring_frames as u64);
        let i = m * self.down as u64;
        let n_max = i / up;
        self.acc.iter_mut().for_each(|a| *a = 0.0);
        // Inputs n = n_max, n_max − 1, … while the tap index i − n·up is in the filter.
        let mut k = (i - n_max * up) as usize;
        let mut n = n_max as i64;
        while k < self.padded.len() {
            let w = self.padded[k];
            let slot = n.rem_euclid(r as i64) as usize;
            for (a, x) in self
                .acc
                .iter_mut()
                .zip(&self.ring[slot * c..(slot + 1) * c])
            {
                *a += w * x;
            }
            k += self.up;
            n -= 1;
        }
        for (o, a) in out.iter_mut().zip(&self.acc) {
            *o = T::from_f64(*a);
        }
    }

    /// Consumes `input` (frame-major interleaved) and writes the resampled frames to the start
    /// of `output`. Returns the number of frames written
    /// ([`output_frames`](Self::output_frames)).
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
        let mut written = 0;
        for frame in input.chunks_exact(c) {
            let slot = (self.in_count % self.ring_frames as u64) as usize;
            for (s, v) in self.ring[slot * c..(slot + 1) * c].iter_mut().zip(frame) {
                let v = v.to_f64();
                if !v.is_finite() {
                    self.resets += 1;
                }
                *s = v;
            }
            self.in_count += 1;
            let ready = self.ready_after(self.in_count);
            while self.out_count < ready {
                let m = self.out_count;
                self.output(m, &mut output[written * c..(written + 1) * c]);
                self.out_count += 1;
                written += 1;
            }
        }
        written
    }

    /// Non-finite input samples since the last call (the outputs over them are NaN); resets
    /// the count.
    pub fn take_resets(&mut self) -> u64 {
        std::mem::take(&mut self.resets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(up: usize, down: usize, x: &[f64], c: usize, split: usize) -> Vec<f64> {
        let mut r = Resampler::<f64>::new(up, down, c).unwrap();
        let mut out = vec![];
        for chunk in x.chunks(split * c) {
            let mut o = vec![0.0; r.output_frames(chunk.len() / c) * c];
            let n = r.process(chunk, &mut o);
            out.extend_from_slice(&o[..n * c]);
        }
        out
    }

    #[test]
    fn packet_sizes_do_not_change_the_output() {
        let c = 3;
        let x: Vec<f64> = (0..900).map(|i| ((i * 7919) % 113) as f64 - 50.0).collect();
        for (up, down) in [(2, 1), (3, 2), (2, 5), (125, 128)] {
            let whole = run(up, down, &x, c, 300);
            for split in [1, 7, 64] {
                assert_eq!(
                    run(up, down, &x, c, split),
                    whole,
                    "{up}/{down} split {split}"
                );
            }
            assert_eq!(whole.len() / c, (300 * up).div_ceil(down));
        }
    }

    #[test]
    fn a_constant_in_steady_state_stays_constant() {
        let mut r = Resampler::<f64>::new(5, 2, 1).unwrap();
        r.init_steady_state(&[3.0]);
        let x = vec![3.0; 200];
        let mut o = vec![0.0; r.output_frames(200)];
        let n = r.process(&x, &mut o);
        assert_eq!(n, 500);
        // The polyphase branches' gains are 1 up to the window's ripple.
        assert!(o.iter().all(|v| (v - 3.0).abs() < 3e-3), "{:?}", &o[..10]);
    }

    #[test]
    fn a_nan_makes_only_the_outputs_over_it_missing() {
        let mut x = vec![1.0; 400];
        x[200] = f64::NAN;
        let mut r = Resampler::<f64>::new(2, 3, 1).unwrap();
        let mut o = vec![0.0; r.output_frames(400)];
        r.process(&x, &mut o);
        assert_eq!(r.take_resets(), 1);
        let nan: Vec<usize> = (0..o.len()).filter(|&k| o[k].is_nan()).collect();
        // Outputs whose filter span (61 upsampled taps, 31 inputs) covers input 200.
        assert!(!nan.is_empty() && nan.len() <= 22, "{nan:?}");
        assert!(nan.iter().all(|&m| (133..=155).contains(&m)), "{nan:?}");
    }

    #[test]
    fn bad_factors_are_refused() {
        assert!(Resampler::<f32>::new(0, 1, 1).is_err());
        assert!(Resampler::<f32>::new(2, 2, 1).is_err());
        assert!(Resampler::<f32>::new(1001, 1, 1).is_err());
        assert_eq!(Resampler::<f32>::new(4, 2, 1).unwrap().up(), 2);
    }
}
