//! Second-order notch and peak (resonator) filters, as `scipy.signal.iirnotch` / `iirpeak`.

use std::f64::consts::PI;

use super::{check_freq, check_fs, DesignError, Section, Sos};

/// Most notches [`notch_harmonics`] will cascade.
pub const MAX_HARMONICS: usize = 1000;

/// Designs a notch at `w0` Hz with quality factor `q` (−3 dB width `w0 / q`) as one section.
///
/// Equals `scipy.signal.iirnotch(w0, Q, fs)` (`b` and `a` in one row).
///
/// # Errors
/// `fs` not finite and positive, `q` not finite and positive, `w0` not inside `(0, fs/2)`.
///
/// ```
/// use neuropipe_dsp::design::iirnotch;
/// let sos = iirnotch(50.0, 30.0, 250.0).unwrap();
/// assert_eq!(sos.len(), 1);
/// ```
pub fn iirnotch(w0: f64, q: f64, fs: f64) -> Result<Sos, DesignError> {
    notch_or_peak(w0, q, fs, true).map(|s| Sos::from_designed(vec![s]))
}

/// Designs a peak (band-pass resonator) at `w0` Hz with quality factor `q` as one section.
///
/// Equals `scipy.signal.iirpeak(w0, Q, fs)`.
///
/// # Errors
/// As [`iirnotch`].
pub fn iirpeak(w0: f64, q: f64, fs: f64) -> Result<Sos, DesignError> {
    notch_or_peak(w0, q, fs, false).map(|s| Sos::from_designed(vec![s]))
}

/// A cascade of [`iirnotch`] sections at `base_hz`, `2·base_hz`, `3·base_hz`, ... for every
/// harmonic strictly below Nyquist, all with the same `q` (mains interference and its harmonics).
///
/// # Errors
/// As [`iirnotch`] for `base_hz`, or more than [`MAX_HARMONICS`] harmonics below Nyquist.
///
/// ```
/// use neuropipe_dsp::design::notch_harmonics;
/// // 50, 100 Hz at fs = 250 Hz (150 Hz is above Nyquist).
/// assert_eq!(notch_harmonics(50.0, 30.0, 250.0).unwrap().len(), 2);
/// ```
pub fn notch_harmonics(base_hz: f64, q: f64, fs: f64) -> Result<Sos, DesignError> {
    let nyquist = check_fs(fs)?;
    check_freq("base_hz", base_hz, nyquist)?;
    let count = (nyquist / base_hz).ceil() - 1.0;
    if count > MAX_HARMONICS as f64 {
        return Err(DesignError::count(
            "harmonics below Nyquist",
            count as usize,
            format!("<= {MAX_HARMONICS} (base_hz {base_hz} Hz is too low)"),
        ));
    }
    let mut sections = Vec::new();
    let mut k = 1.0;
    while k * base_hz < nyquist {
        sections.push(notch_or_peak(k * base_hz, q, fs, true)?);
        k += 1.0;
    }
    Ok(Sos::from_designed(sections))
}

/// The shared design (Orfanidis, "Introduction to Signal Processing", eqs. 11.3.4–11.3.21, with
/// the −3 dB bandwidth convention): `beta = tan(bw / 2)`, `gain = 1 / (1 + beta)`.
fn notch_or_peak(w0: f64, q: f64, fs: f64, notch: bool) -> Result<Section, DesignError> {
    let nyquist = check_fs(fs)?;
    if !(q.is_finite() && q > 0.0) {
        return Err(DesignError::Quality { q });
    }
    check_freq("w0", w0, nyquist)?;
    // Same operation order as SciPy.
    let w0n = 2.0 * w0 / fs;
    let bw = w0n / q * PI;
    let w = w0n * PI;
    let beta = (bw / 2.0).tan();
    let gain = 1.0 / (1.0 + beta);
    let cos = w.cos();
    let (b0, b1, b2) = if notch {
        (gain, gain * (-2.0 * cos), gain)
    } else {
        (1.0 - gain, 0.0, -(1.0 - gain))
    };
    let section = [b0, b1, b2, 1.0, -2.0 * gain * cos, 2.0 * gain - 1.0];
    if let Some(i) = section.iter().position(|c| !c.is_finite()) {
        return Err(DesignError::Coefficient {
            name: "sos",
            index: i,
            value: section[i],
            reason: "the design is degenerate for this Q (bandwidth too wide)",
        });
    }
    Ok(section)
}
