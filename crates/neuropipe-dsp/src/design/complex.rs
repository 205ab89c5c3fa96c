//! A minimal complex number for pole/zero manipulation during design (not used while filtering).

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A complex number `re + i·im` in `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Complex {
    pub re: f64,
    pub im: f64,
}

impl Complex {
    pub(super) const ZERO: Complex = Complex { re: 0.0, im: 0.0 };
    pub(super) const ONE: Complex = Complex { re: 1.0, im: 0.0 };

    pub(super) const fn new(re: f64, im: f64) -> Self {
        Complex { re, im }
    }

    pub(super) const fn real(re: f64) -> Self {
        Complex { re, im: 0.0 }
    }

    /// `e^{iθ}`.
    pub(super) fn cis(theta: f64) -> Self {
        Complex::new(theta.cos(), theta.sin())
    }

    pub(super) fn conj(self) -> Self {
        Complex::new(self.re, -self.im)
    }

    /// Modulus, computed without intermediate overflow.
    pub(super) fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }

    /// `true` when the imaginary part is exactly zero (NumPy's `isreal`).
    pub(super) fn is_real(self) -> bool {
        self.im == 0.0
    }

    pub(super) fn scale(self, k: f64) -> Self {
        Complex::new(self.re * k, self.im * k)
    }

    /// Principal square root (branch cut on the negative real axis; the sign of a zero
    /// imaginary part selects the side, as in C99 `csqrt`).
    ///
    /// With `s = sqrt((|re| + |z|) / 2)` and `d = |im| / (2s)`, the root is `(s, ±d)` for
    /// `re >= 0` and `(d, ±s)` otherwise (sign of `im`); `s` is evaluated as
    /// `2·sqrt(|re|/8 + hypot(|re|/8, |im|/8))`, which cannot overflow (NumPy's evaluation).
    pub(super) fn sqrt(self) -> Self {
        let (ax, ay) = (self.re.abs(), self.im.abs());
        if ax == 0.0 && ay == 0.0 {
            return Complex::new(0.0, self.im);
        }
        let root = |ax: f64, ay: f64| {
            let ax8 = ax / 8.0;
            2.0 * (ax8 + ax8.hypot(ay / 8.0)).sqrt()
        };
        let s = if ax < f64::MIN_POSITIVE && ay < f64::MIN_POSITIVE {
            // Sub-normal input: scale by 2^54 (exact), then the root by 2^-27.
            const UP: f64 = (1u64 << 54) as f64;
            const DOWN: f64 = 1.0 / (1u64 << 27) as f64;
            root(ax * UP, ay * UP) * DOWN
        } else {
            root(ax, ay)
        };
        let d = ay / (2.0 * s);
        if self.re >= 0.0 {
            Complex::new(s, d.copysign(self.im))
        } else {
            Complex::new(d, s.copysign(self.im))
        }
    }
}

impl Add for Complex {
    type Output = Complex;
    fn add(self, o: Complex) -> Complex {
        Complex::new(self.re + o.re, self.im + o.im)
    }
}

impl Sub for Complex {
    type Output = Complex;
    fn sub(self, o: Complex) -> Complex {
        Complex::new(self.re - o.re, self.im - o.im)
    }
}

impl Neg for Complex {
    type Output = Complex;
    fn neg(self) -> Complex {
        Complex::new(-self.re, -self.im)
    }
}

impl Mul for Complex {
    type Output = Complex;
    /// `(a + ib)(c + id)` evaluated as NumPy's SIMD loops do on FMA-capable x86-64:
    /// `re = fma(a, c, -(b·d))`, `im = fma(a, d, b·c)`, so that poles follow NumPy's rounding
    /// as closely as possible.
    fn mul(self, o: Complex) -> Complex {
        Complex::new(
            self.re.mul_add(o.re, -(self.im * o.im)),
            self.re.mul_add(o.im, self.im * o.re),
        )
    }
}

impl Div for Complex {
    type Output = Complex;
    /// Smith's algorithm: scale by the larger component of the divisor to avoid overflow.
    fn div(self, d: Complex) -> Complex {
        if d.re.abs() >= d.im.abs() {
            let ratio = d.im / d.re;
            let inv = 1.0 / (d.re + d.im * ratio);
            Complex::new(
                (self.re + self.im * ratio) * inv,
                (self.im - self.re * ratio) * inv,
            )
        } else {
            let ratio = d.re / d.im;
            let inv = 1.0 / (d.im + d.re * ratio);
            Complex::new(
                (self.re * ratio + self.im) * inv,
                (self.im * ratio - self.re) * inv,
            )
        }
    }
}

/// Product of a sequence, left to right (`numpy.prod` of an empty sequence is 1).
pub(crate) fn product(values: impl IntoIterator<Item = Complex>) -> Complex {
    values.into_iter().fold(Complex::ONE, |acc, v| acc * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqrt_branches() {
        let s = Complex::new(-4.0, 0.0).sqrt();
        assert_eq!(s, Complex::new(0.0, 2.0));
        let s = Complex::new(-4.0, -0.0).sqrt();
        assert_eq!(s, Complex::new(0.0, -2.0));
        let s = Complex::new(3.0, 4.0).sqrt();
        assert!((s.re - 2.0).abs() < 1e-15 && (s.im - 1.0).abs() < 1e-15);
        let s = Complex::new(-3.0, -4.0).sqrt();
        assert!((s.re - 1.0).abs() < 1e-15 && (s.im + 2.0).abs() < 1e-15);
    }

    #[test]
    fn division_roundtrip() {
        let a = Complex::new(1.5, -2.25);
        let b = Complex::new(-0.3, 7.0);
        let c = (a / b) * b;
        assert!((c - a).abs() < 1e-14);
        let c = (a / b.conj()) * b.conj();
        assert!((c - a).abs() < 1e-14);
    }
}
