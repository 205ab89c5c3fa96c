//! Butterworth design: analog prototype → frequency transform (with prewarping) → bilinear
//! transform → second-order sections. Same sequence of steps as `scipy.signal.butter`, so the
//! poles, zeros, gain and section order agree to rounding.

use std::f64::consts::PI;

use super::complex::{product, Complex};
use super::zpk2sos::zpk2sos;
use super::{check_freq, check_fs, DesignError, Sos};

/// Highest supported Butterworth order (band designs have twice as many poles).
pub const MAX_ORDER: usize = 10;

/// Filter type and edge frequencies in Hz, for [`butter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Band {
    /// Passes below the cutoff.
    Lowpass(f64),
    /// Passes above the cutoff.
    Highpass(f64),
    /// Passes between `low` and `high`.
    Bandpass(f64, f64),
    /// Rejects between `low` and `high`.
    Bandstop(f64, f64),
}

/// Zeros, poles and gain of a transfer function.
pub(crate) struct Zpk {
    pub z: Vec<Complex>,
    pub p: Vec<Complex>,
    pub k: f64,
}

impl Zpk {
    /// Number of zeros at infinity (poles minus finite zeros).
    fn degree(&self) -> usize {
        self.p.len().saturating_sub(self.z.len())
    }
}

/// Designs a digital Butterworth filter as second-order sections.
///
/// Equals `scipy.signal.butter(order, Wn, btype, fs=fs, output='sos')`: same sections in the
/// same order (zeros and poles paired by SciPy's `zpk2sos` "nearest" rule), gain in the first
/// section, coefficients within ~1e-15 relative. Band-pass and band-stop designs have
/// `2 * order` poles, hence `order` sections.
///
/// One exception: when the band edges are symmetric about `fs/4` (`low + high == fs/2`), pole
/// pairs have exactly the same radius in exact arithmetic, and which of two such sections comes
/// first is decided by the last bit of rounding. The sections and the cascade's response are
/// still SciPy's, but their order may differ (SciPy's own order then depends on the CPU, through
/// NumPy's SIMD `tan` and `hypot`).
///
/// # Errors
/// `order` outside `1..=10`, `fs` not finite and positive, an edge not strictly inside
/// `(0, fs/2)`, or `low >= high`.
///
/// ```
/// use neuropipe_dsp::design::{butter, Band};
/// let sos = butter(4, Band::Bandpass(1.0, 40.0), 250.0).unwrap();
/// assert_eq!(sos.len(), 4);
/// let err = butter(2, Band::Lowpass(130.0), 250.0).unwrap_err();
/// assert_eq!(err.to_string(), "cutoff 130 Hz must be > 0 and < Nyquist (125 Hz)");
/// ```
pub fn butter(order: usize, band: Band, fs: f64) -> Result<Sos, DesignError> {
    if order == 0 || order > MAX_ORDER {
        return Err(DesignError::Order {
            order,
            max: MAX_ORDER,
        });
    }
    let nyquist = check_fs(fs)?;
    // SciPy normalises to Wn = f / (fs/2), then prewarps with its internal fs = 2:
    // warped = 2 * 2 * tan(pi * Wn / 2).
    let warp = |f: f64| 4.0 * (PI * (f / nyquist) / 2.0).tan();
    let proto = buttap(order);
    let analog = match band {
        Band::Lowpass(f) => {
            check_freq("cutoff", f, nyquist)?;
            lp2lp(proto, warp(f))
        }
        Band::Highpass(f) => {
            check_freq("cutoff", f, nyquist)?;
            lp2hp(proto, warp(f))
        }
        Band::Bandpass(lo, hi) | Band::Bandstop(lo, hi) => {
            check_freq("low", lo, nyquist)?;
            check_freq("high", hi, nyquist)?;
            if lo >= hi {
                return Err(DesignError::BandEdges { low: lo, high: hi });
            }
            let (w_lo, w_hi) = (warp(lo), warp(hi));
            let bw = w_hi - w_lo;
            let wo = (w_lo * w_hi).sqrt();
            if matches!(band, Band::Bandpass(..)) {
                lp2bp(proto, wo, bw)
            } else {
                lp2bs(proto, wo, bw)
            }
        }
    };
    let sos = zpk2sos(bilinear(analog, 2.0));
    // Extreme (sub-normal) edges can underflow; never hand out a non-finite design.
    if let Some(i) = sos.iter().flatten().position(|c| !c.is_finite()) {
        return Err(DesignError::Coefficient {
            name: "sos",
            index: i,
            value: sos[i / 6][i % 6],
            reason: "the design is numerically degenerate for these frequencies",
        });
    }
    Ok(sos)
}

/// Analog Butterworth prototype: `n` poles on the left half of the unit circle, no zeros, k = 1.
fn buttap(n: usize) -> Zpk {
    let p = (0..n)
        .map(|i| {
            // m runs over -n+1, -n+3, ..., n-1; the middle value (odd n) is exactly 0, giving an
            // exactly real pole at -1.
            let m = (2 * i) as f64 - (n as f64 - 1.0);
            -Complex::cis(PI * m / (2 * n) as f64)
        })
        .collect();
    Zpk {
        z: Vec::new(),
        p,
        k: 1.0,
    }
}

/// Lowpass → lowpass with cutoff `wo` rad/s: scale radially.
fn lp2lp(f: Zpk, wo: f64) -> Zpk {
    let degree = f.degree() as f64;
    Zpk {
        z: f.z.iter().map(|z| z.scale(wo)).collect(),
        p: f.p.iter().map(|p| p.scale(wo)).collect(),
        k: f.k * wo.powf(degree),
    }
}

/// Lowpass → highpass with cutoff `wo`: invert about the unit circle (`s → wo / s`).
fn lp2hp(f: Zpk, wo: f64) -> Zpk {
    let degree = f.degree();
    let w = Complex::real(wo);
    let mut z: Vec<Complex> = f.z.iter().map(|&z| w / z).collect();
    // Zeros at infinity move to the origin.
    z.resize(z.len() + degree, Complex::ZERO);
    let gain = product(f.z.iter().map(|&z| -z)) / product(f.p.iter().map(|&p| -p));
    Zpk {
        z,
        p: f.p.iter().map(|&p| w / p).collect(),
        k: f.k * gain.re,
    }
}

/// Splits each root `r` (already scaled) into `r ± sqrt(r² - wo²)`: all `+` roots, then all `-`.
fn split_around(roots: &[Complex], wo: f64) -> Vec<Complex> {
    let wo2 = Complex::real(wo * wo);
    let shift: Vec<Complex> = roots.iter().map(|&r| (r * r - wo2).sqrt()).collect();
    let plus = roots.iter().zip(&shift).map(|(&r, &s)| r + s);
    let minus = roots.iter().zip(&shift).map(|(&r, &s)| r - s);
    plus.chain(minus).collect()
}

/// Lowpass → bandpass centred on `wo` with bandwidth `bw` (`s → (s² + wo²) / (s·bw)`).
fn lp2bp(f: Zpk, wo: f64, bw: f64) -> Zpk {
    let degree = f.degree();
    let z_lp: Vec<Complex> = f.z.iter().map(|z| z.scale(bw).scale(0.5)).collect();
    let p_lp: Vec<Complex> = f.p.iter().map(|p| p.scale(bw).scale(0.5)).collect();
    let mut z = split_around(&z_lp, wo);
    // Half of the zeros at infinity move to the origin.
    z.resize(z.len() + degree, Complex::ZERO);
    Zpk {
        z,
        p: split_around(&p_lp, wo),
        k: f.k * bw.powf(degree as f64),
    }
}

/// Lowpass → bandstop centred on `wo` with bandwidth `bw` (`s → s·bw / (s² + wo²)`).
fn lp2bs(f: Zpk, wo: f64, bw: f64) -> Zpk {
    let degree = f.degree();
    let half = Complex::real(bw / 2.0);
    let z_hp: Vec<Complex> = f.z.iter().map(|&z| half / z).collect();
    let p_hp: Vec<Complex> = f.p.iter().map(|&p| half / p).collect();
    let mut z = split_around(&z_hp, wo);
    // Zeros at infinity move to the centre of the stop band, ±i·wo.
    z.resize(z.len() + degree, Complex::new(0.0, wo));
    z.resize(z.len() + degree, Complex::new(0.0, -wo));
    let gain = product(f.z.iter().map(|&z| -z)) / product(f.p.iter().map(|&p| -p));
    Zpk {
        z,
        p: split_around(&p_hp, wo),
        k: f.k * gain.re,
    }
}

/// Bilinear transform `s = 2·fs·(z − 1)/(z + 1)` (no prewarping here; it is done on the edges).
fn bilinear(f: Zpk, fs: f64) -> Zpk {
    let degree = f.degree();
    let fs2 = Complex::real(2.0 * fs);
    let map = |r: &Complex| (fs2 + *r) / (fs2 - *r);
    let mut z: Vec<Complex> = f.z.iter().map(map).collect();
    // Zeros at infinity land on Nyquist.
    z.resize(z.len() + degree, Complex::real(-1.0));
    let gain = product(f.z.iter().map(|&r| fs2 - r)) / product(f.p.iter().map(|&r| fs2 - r));
    Zpk {
        z,
        p: f.p.iter().map(map).collect(),
        k: f.k * gain.re,
    }
}
