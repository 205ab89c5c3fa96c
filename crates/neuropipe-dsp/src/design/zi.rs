//! Steady-state initial conditions for a section cascade (`scipy.signal.sosfilt_zi`).

use super::Sos;

/// Initial Direct Form II transposed state, per section, for the step response's steady state.
///
/// Equals `scipy.signal.sosfilt_zi(sos)`: filtering a constant signal `c` starting from
/// `c * zi` produces the constant output `c * H(1)` from the first sample, with no transient.
/// Use it (scaled by the first sample) to start a filter on a signal with a large offset.
///
/// Each section's state solves `zi = A·zi + B` for the 2×2 companion system of that section,
/// scaled by the DC gain of the sections before it. For sections with poles close to `z = 1`
/// (low cutoffs) this system is ill-conditioned: the closed-form solution here uses
/// compensated (error-free) sums and products, so it stays within a few ulp of the exact
/// answer, while SciPy's LAPACK solve can be off by up to ~1e-9 relative. A section with a pole
/// exactly at `z = 1` has no steady state (SciPy raises); its state is set to zero here.
///
/// ```
/// use neuropipe_dsp::design::{butter, sosfilt_zi, Band};
/// let sos = butter(2, Band::Lowpass(10.0), 250.0).unwrap();
/// assert_eq!(sosfilt_zi(&sos).len(), 1);
/// ```
pub fn sosfilt_zi(sos: &Sos) -> Vec<[f64; 2]> {
    let mut scale = 1.0;
    sos.iter()
        .map(|s| {
            let [b0, b1, b2, a0, a1, a2] = *s;
            // lfilter_zi for one section (a0 == 1): (I - A^T) zi = B with
            // I - A^T = [[1 + a1, -1], [a2, 1]], B = [b1 - a1 b0, b2 - a2 b0], so
            // zi0 = (B0 + B1) / (1 + a1 + a2) and zi1 = B1 - a2 zi0.
            let det = Sum::of(&[a0, a1, a2]);
            let zi = if det == 0.0 {
                [0.0, 0.0]
            } else {
                let mut num = Sum::new(&[b1, b2]);
                num.add_product(-a1, b0);
                num.add_product(-a2, b0);
                let z0 = num.value() / det;
                let mut z1 = Sum::new(&[b2]);
                z1.add_product(-a2, b0);
                z1.add_product(-a2, z0);
                [scale * z0, scale * z1.value()]
            };
            scale *= Sum::of(&[b0, b1, b2]) / det;
            zi
        })
        .collect()
}

/// Compensated (Neumaier) summation with exact products: accurate to about one rounding of the
/// final result even when the terms cancel.
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn new(terms: &[f64]) -> Sum {
        let mut s = Sum {
            sum: 0.0,
            compensation: 0.0,
        };
        for &t in terms {
            s.add(t);
        }
        s
    }

    fn of(terms: &[f64]) -> f64 {
        Sum::new(terms).value()
    }

    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    /// Adds `a·b` exactly: the product's rounding error is recovered with a fused multiply-add.
    fn add_product(&mut self, a: f64, b: f64) {
        let p = a * b;
        self.add(p);
        self.add(a.mul_add(b, -p));
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}
