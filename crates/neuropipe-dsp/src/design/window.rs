//! Window functions, computed the way `scipy.signal.windows` does (same sample grid and sums).

use std::f64::consts::PI;

use super::DesignError;

/// Largest Kaiser `beta` accepted (I0(beta) must stay representable in `f64`).
const MAX_KAISER_BETA: f64 = 700.0;

/// FIR design window, as accepted by [`super::firwin`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// `0.54 + 0.46·cos` (SciPy's `'hamming'`).
    Hamming,
    /// `0.5 + 0.5·cos` (SciPy's `'hann'`).
    Hann,
    /// `0.42 + 0.5·cos + 0.08·cos 2x` (SciPy's `'blackman'`).
    Blackman,
    /// Kaiser window with shape parameter `beta` (SciPy's `('kaiser', beta)`), `0 <= beta <= 700`.
    Kaiser(f64),
}

impl Window {
    /// Checks the window parameter.
    pub(crate) fn validate(self) -> Result<(), DesignError> {
        match self {
            Window::Kaiser(beta) if !(0.0..=MAX_KAISER_BETA).contains(&beta) => {
                Err(DesignError::KaiserBeta {
                    beta,
                    max: MAX_KAISER_BETA,
                })
            }
            _ => Ok(()),
        }
    }

    /// The symmetric window of length `m` (SciPy's `get_window(w, m, fftbins=False)`).
    /// The parameter must have been validated.
    pub(crate) fn symmetric(self, m: usize) -> Vec<f64> {
        match self {
            Window::Hamming => general_cosine(m, &[0.54, 1.0 - 0.54]),
            Window::Hann => general_cosine(m, &[0.5, 1.0 - 0.5]),
            Window::Blackman => general_cosine(m, &[0.42, 0.50, 0.08]),
            Window::Kaiser(beta) => kaiser(m, beta),
        }
    }
}

/// Periodic Hann window of length `n` (SciPy's `get_window('hann', n)`, the Welch default):
/// the first `n` points of the symmetric window of length `n + 1`.
pub(crate) fn hann_periodic(n: usize) -> Vec<f64> {
    if n <= 1 {
        return vec![1.0; n];
    }
    let mut w = general_cosine(n + 1, &[0.5, 0.5]);
    w.truncate(n);
    w
}

/// `Σ_k a[k]·cos(k·x)` on `m` points `x` evenly spaced over `[-π, π]`.
fn general_cosine(m: usize, a: &[f64]) -> Vec<f64> {
    if m <= 1 {
        return vec![1.0; m];
    }
    let x = linspace(-PI, PI, m);
    let mut w = vec![0.0; m];
    for (k, &ak) in a.iter().enumerate() {
        for (wi, &xi) in w.iter_mut().zip(&x) {
            *wi += ak * (k as f64 * xi).cos();
        }
    }
    w
}

/// `numpy.linspace(start, stop, num)` with its rounding: `i·step + start`, last point exact.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut y: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    y[num - 1] = stop;
    y
}

/// Kaiser window `I0(beta·sqrt(1 − ((n − α)/α)²)) / I0(beta)`, `α = (m − 1)/2`.
fn kaiser(m: usize, beta: f64) -> Vec<f64> {
    if m <= 1 {
        return vec![1.0; m];
    }
    let alpha = (m - 1) as f64 / 2.0;
    let denom = bessel_i0(beta);
    (0..m)
        .map(|n| {
            let r = (n as f64 - alpha) / alpha;
            bessel_i0(beta * (1.0 - r * r).sqrt()) / denom
        })
        .collect()
}

/// Modified Bessel function of the first kind, order 0, by its power series
/// `I0(x) = Σ_k ((x/2)^k / k!)²`. All terms are positive, so the sum is accurate to a few ulp;
/// it converges for every finite `x` and is used here for `|x| <= 700`.
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let q = 0.25 * x * x;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    loop {
        term *= q / (k * k);
        sum += term;
        if term <= sum * 1e-17 {
            return sum;
        }
        k += 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i0_known_values() {
        // Reference values of I0 (Abramowitz & Stegun table 9.8 / high precision).
        let cases = [
            (0.0, 1.0),
            (1.0, 1.266_065_877_752_008_4),
            (5.0, 27.239_871_823_604_44),
            (10.0, 2_815.716_628_466_254),
        ];
        for (x, want) in cases {
            let got = bessel_i0(x);
            assert!(
                ((got - want) / want).abs() < 1e-14,
                "I0({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn hann_periodic_is_shifted_cosine() {
        let w = hann_periodic(8);
        for (i, &v) in w.iter().enumerate() {
            let want = 0.5 - 0.5 * (2.0 * PI * i as f64 / 8.0).cos();
            assert!((v - want).abs() < 1e-15);
        }
    }
}
