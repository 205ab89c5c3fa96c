//! Clock synchronisation of an XDF stream from its `ClockOffset` chunks, as `pyxdf` does on
//! load (`synchronize_clocks=True`, its default).
//!
//! A recorder measures, every few seconds, the offset between the stream's source clock and
//! its own (LSL's `time_correction`: own clock = source stamp + offset). The offsets of a
//! stream are fitted with a line, `offset(t) = a + b·t` ([`ClockFit`]), and every time stamp
//! `t` of the stream becomes `t + a + b·t`: streams recorded from several machines end up on
//! one clock.
//!
//! The fit is pyxdf 1.17.5's: a Huber-loss linear regression solved with ADMM (1000
//! iterations, ρ = 1) on times and offsets scaled by the winsorising threshold 10⁻⁴ s, the
//! time axis shifted to its smallest value, the normal equations solved through their
//! Cholesky factor: the same algorithm and constants, so the result agrees with pyxdf's to
//! rounding (`crates/neuropipe-cli/tests/xdf.rs` compares replayed stamps with pyxdf's).
//! One offset gives a constant correction, none leaves the stamps as they are.
//!
//! When the source's clock was reset during the recording (its machine restarted), one line
//! cannot map both sides. [`ClockSync`] does what pyxdf does by default
//! (`handle_clock_resets=True`): it cuts the offsets at the resets pyxdf detects, fits each
//! stretch with a line of its own, and gives each time stamp the line of the stretch whose
//! measurement times it lies nearest (pyxdf's rule: a stretch ends at the first stamp closer
//! to the next stretch's first measurement than to its own last).
//!
//! ```
//! use neuropipe_io::xdf::ClockSync;
//!
//! // A source 2.5 s behind, drifting 10 ppm; its machine restarts at 1030 s (its clock then
//! // reads 10 s, now 1020 s behind).
//! let mut offsets: Vec<(f64, f64)> = (0..7)
//!     .map(|k| {
//!         let t = 1000.0 + 5.0 * k as f64;
//!         (t, 2.5 + 1e-5 * (t - 1000.0))
//!     })
//!     .collect();
//! offsets.extend((0..6).map(|k| (10.0 + 5.0 * k as f64, 1020.0)));
//! let sync = ClockSync::new(&offsets);
//! assert_eq!(sync.resets(), 1);
//! let mut stamps = [1020.0, 1029.99, 10.0, 12.0];
//! sync.apply(&mut stamps);
//! let want = [1022.5002, 1032.490_299_9, 1030.0, 1032.0];
//! for (t, w) in stamps.iter().zip(want) {
//!     assert!((t - w).abs() < 1e-9, "{t} vs {w}");
//! }
//! ```

use super::resets;

/// pyxdf's winsorising threshold (s): offsets beyond it from the line weigh linearly.
const WINSOR: f64 = 1e-4;
/// ADMM iterations and augmented-Lagrangian parameter, as pyxdf.
const ITERS: usize = 1000;
const RHO: f64 = 1.0;

/// The line mapping a stream's time stamps onto the recorder's clock (one stretch of
/// offsets, without clock resets).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockFit {
    /// Offset at time 0 (s).
    pub intercept: f64,
    /// Change of the offset per second of source time.
    pub slope: f64,
}

impl ClockFit {
    /// Fits `(measurement time, offset)` pairs as one line (see the module docs).
    pub fn new(offsets: &[(f64, f64)]) -> ClockFit {
        let (intercept, slope) = match offsets {
            [] => (0.0, 0.0),
            [(_, v)] => (*v, 0.0),
            _ => huber_line(offsets),
        };
        ClockFit { intercept, slope }
    }

    /// Whether the fit changes nothing (no offsets, or all of them 0).
    pub fn is_identity(&self) -> bool {
        self.intercept == 0.0 && self.slope == 0.0
    }

    /// Time stamp `t` on the recorder's clock.
    pub fn correct(&self, t: f64) -> f64 {
        t + (self.intercept + self.slope * t)
    }
}

/// A stream's clock synchronisation: one [`ClockFit`] per stretch between clock resets, as
/// pyxdf (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct ClockSync {
    /// Each stretch's line with its first and last measurement time.
    stretches: Vec<(ClockFit, f64, f64)>,
}

impl ClockSync {
    /// Cuts `(measurement time, offset)` pairs in file order at the clock resets pyxdf
    /// detects and fits each stretch.
    pub fn new(offsets: &[(f64, f64)]) -> ClockSync {
        let stretches = resets::segments(offsets)
            .into_iter()
            .map(|(a, b)| (ClockFit::new(&offsets[a..=b]), offsets[a].0, offsets[b].0))
            .collect();
        ClockSync { stretches }
    }

    /// Clock resets found (stretches − 1).
    pub fn resets(&self) -> usize {
        self.stretches.len().saturating_sub(1)
    }

    /// Whether synchronising changes nothing (no offsets, or all of them 0).
    pub fn is_identity(&self) -> bool {
        self.stretches.iter().all(|(f, _, _)| f.is_identity())
    }

    /// Puts a stream's time stamps, in their order in the file, on the recorder's clock.
    pub fn apply<'a>(&self, stamps: impl IntoIterator<Item = &'a mut f64>) {
        let Some(last) = self.stretches.len().checked_sub(1) else {
            return;
        };
        let mut s = 0;
        for t in stamps {
            // pyxdf: stretch `s` ends at the first stamp not closer to its last measurement
            // than to the next stretch's first.
            while s < last
                && (*t - self.stretches[s].2).abs() >= (*t - self.stretches[s + 1].1).abs()
            {
                s += 1;
            }
            *t = self.stretches[s].0.correct(*t);
        }
    }
}

/// `(intercept, slope)` of the Huber fit of the offsets (at least two).
fn huber_line(offsets: &[(f64, f64)]) -> (f64, f64) {
    let n = offsets.len();
    // Design matrix rows [1, t/w], the time column shifted to its minimum; targets v/w.
    let shift = offsets
        .iter()
        .map(|(t, _)| t / WINSOR)
        .fold(f64::INFINITY, f64::min);
    let a1: Vec<f64> = offsets.iter().map(|(t, _)| t / WINSOR - shift).collect();
    let y: Vec<f64> = offsets.iter().map(|(_, v)| v / WINSOR).collect();
    // AᵀA = [[n, Σa], [Σa, Σa²]] and its Cholesky factor L = [[l00, 0], [l10, l11]].
    let (s1, s2) = a1
        .iter()
        .fold((0.0, 0.0), |(s1, s2), a| (s1 + a, s2 + a * a));
    let l00 = (n as f64).sqrt();
    let l10 = s1 / l00;
    let l11 = (s2 - l10 * l10).sqrt();
    if !(l11.is_finite() && l11 > 0.0) {
        // All offsets measured at one time: no slope to fit (pyxdf: a LinAlgError, then no
        // correction at all).
        return (0.0, 0.0);
    }
    let aty = [
        y.iter().sum::<f64>(),
        a1.iter().zip(&y).map(|(a, y)| a * y).sum(),
    ];
    let (mut z, mut u) = (vec![0.0; n], vec![0.0; n]);
    let mut x = [0.0, 0.0];
    for _ in 0..ITERS {
        // x = U⁻¹ L⁻¹ (Aᵀy + Aᵀ(z − u)).
        let (mut r0, mut r1) = (0.0, 0.0);
        for i in 0..n {
            let e = z[i] - u[i];
            r0 += e;
            r1 += a1[i] * e;
        }
        let b = [aty[0] + r0, aty[1] + r1];
        let f0 = b[0] / l00;
        let f1 = (b[1] - l10 * f0) / l11;
        x[1] = f1 / l11;
        x[0] = (f0 - l10 * x[1]) / l00;
        for i in 0..n {
            let d = (x[0] + a1[i] * x[1]) - y[i] + u[i];
            let d_inv = if d != 0.0 { 1.0 / d } else { 0.0 };
            let tmp = (1.0 - (1.0 + 1.0 / RHO) * d_inv.abs()).max(0.0);
            z[i] = RHO / (1.0 + RHO) * d + 1.0 / (1.0 + RHO) * tmp * d;
            u[i] = d - z[i];
        }
    }
    x[0] -= x[1] * shift;
    (x[0] * WINSOR, x[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_on_a_line_are_fitted_exactly_and_an_outlier_is_outweighed() {
        let line = |t: f64| -0.75 + 2e-5 * (t - 500.0);
        let mut offsets: Vec<(f64, f64)> = (0..40)
            .map(|k| {
                let t = 500.0 + 5.0 * k as f64;
                (t, line(t))
            })
            .collect();
        let fit = ClockFit::new(&offsets);
        for t in [500.0, 600.0, 700.0] {
            assert!((fit.correct(t) - (t + line(t))).abs() < 1e-9, "{fit:?}");
        }
        // One measurement 50 ms off (a busy network): the robust fit barely moves.
        offsets[10].1 += 0.05;
        let fit = ClockFit::new(&offsets);
        assert!(
            (fit.correct(600.0) - (600.0 + line(600.0))).abs() < 1e-5,
            "{fit:?}"
        );
    }

    #[test]
    fn one_offset_is_a_constant_and_none_is_nothing() {
        assert_eq!(ClockFit::new(&[(3.0, 0.5)]).correct(10.0), 10.5);
        assert!(ClockFit::new(&[]).is_identity());
        assert!(ClockSync::new(&[]).is_identity());
        let mut none = [1.0, 2.0];
        ClockSync::new(&[]).apply(&mut none);
        assert_eq!(none, [1.0, 2.0]);
    }

    /// Three stretches, the middle one a single offset (a constant, as pyxdf), and a stamp
    /// exactly half-way between two stretches' measurements goes to the later one.
    #[test]
    fn each_stamp_takes_the_line_of_its_stretch() {
        let mut o: Vec<(f64, f64)> = (0..5).map(|k| (100.0 + k as f64, 1.0)).collect();
        o.push((50.0, 2.0));
        o.extend((0..5).map(|k| (10.0 + k as f64, 3.0)));
        let sync = ClockSync::new(&o);
        assert_eq!(sync.resets(), 2);
        let mut t = [100.0, 104.0, 77.0, 50.0, 30.0, 12.0];
        sync.apply(&mut t);
        for (got, want) in t.iter().zip([101.0, 105.0, 79.0, 52.0, 33.0, 15.0]) {
            assert!((got - want).abs() < 1e-9, "{t:?}");
        }
    }
}
