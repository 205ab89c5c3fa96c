//! Windowed-sinc FIR design, as `scipy.signal.firwin(..., scale=True)`.

use std::f64::consts::PI;

use super::{check_freq, check_fs, DesignError, Window};

/// Largest `numtaps` accepted by [`firwin`] (and by the FIR filters).
pub const MAX_TAPS: usize = 1 << 20;

/// Designs a linear-phase FIR filter by the window method.
///
/// Equals `scipy.signal.firwin(numtaps, cutoffs, window=window, pass_zero=pass_zero,
/// scale=True, fs=fs)`. `cutoffs` (Hz, strictly increasing, inside `(0, fs/2)`) are the band
/// edges; `pass_zero` says whether the band starting at 0 Hz is a passband. One cutoff with
/// `pass_zero = true` is a lowpass, with `false` a highpass; two cutoffs give a bandstop
/// (`true`) or bandpass (`false`), and so on.
///
/// The ideal response is a sum of sinc terms, one per band edge, multiplied by the window; the
/// taps are then scaled to unit gain at the centre of the first passband (0 Hz if it starts at 0,
/// Nyquist if it ends there).
///
/// # Errors
/// `numtaps == 0` or `> MAX_TAPS`; an even `numtaps` when the passband includes Nyquist (highpass, bandstop, ...:
/// an even-length symmetric filter has a zero there); no cutoffs; a cutoff not strictly inside
/// `(0, fs/2)`; cutoffs not strictly increasing; a Kaiser `beta` outside `[0, 700]`.
///
/// ```
/// use neuropipe_dsp::design::{firwin, Window};
/// let taps = firwin(101, &[40.0], Window::Hamming, true, 250.0).unwrap();
/// assert!((taps.iter().sum::<f64>() - 1.0).abs() < 1e-12);
/// assert!(firwin(100, &[40.0], Window::Hamming, false, 250.0).is_err());
/// ```
pub fn firwin(
    numtaps: usize,
    cutoffs: &[f64],
    window: Window,
    pass_zero: bool,
    fs: f64,
) -> Result<Vec<f64>, DesignError> {
    if numtaps == 0 {
        return Err(DesignError::NumTaps {
            numtaps,
            reason: "must be >= 1",
        });
    }
    if numtaps > MAX_TAPS {
        return Err(DesignError::NumTaps {
            numtaps,
            reason: "must be <= 1048576",
        });
    }
    let nyquist = check_fs(fs)?;
    if cutoffs.is_empty() {
        return Err(DesignError::NoCutoffs);
    }
    for &c in cutoffs {
        check_freq("cutoff", c, nyquist)?;
    }
    for (i, pair) in cutoffs.windows(2).enumerate() {
        if pair[1] <= pair[0] {
            return Err(DesignError::CutoffsNotIncreasing {
                index: i + 1,
                previous: pair[0],
                value: pair[1],
            });
        }
    }
    window.validate()?;
    let even = |n: usize| n & 1 == 0;
    let pass_nyquist = even(cutoffs.len()) == pass_zero;
    if pass_nyquist && even(numtaps) {
        return Err(DesignError::NumTaps {
            numtaps,
            reason: "must be odd when the passband includes Nyquist (highpass, bandstop)",
        });
    }

    // Band edges normalised to Nyquist = 1, padded with 0 and/or 1 so that consecutive pairs
    // are passbands.
    let mut edges = Vec::with_capacity(cutoffs.len() + 2);
    if pass_zero {
        edges.push(0.0);
    }
    edges.extend(cutoffs.iter().map(|&c| c / nyquist));
    if pass_nyquist {
        edges.push(1.0);
    }

    let alpha = 0.5 * (numtaps - 1) as f64;
    let m: Vec<f64> = (0..numtaps).map(|i| i as f64 - alpha).collect();
    let mut h = vec![0.0; numtaps];
    for band in edges.chunks_exact(2) {
        let (left, right) = (band[0], band[1]);
        for (hi, &mi) in h.iter_mut().zip(&m) {
            *hi += right * sinc(right * mi);
        }
        for (hi, &mi) in h.iter_mut().zip(&m) {
            *hi -= left * sinc(left * mi);
        }
    }
    for (hi, wi) in h.iter_mut().zip(window.symmetric(numtaps)) {
        *hi *= wi;
    }

    // Unit gain at the centre of the first passband.
    let (left, right) = (edges[0], edges[1]);
    let scale_frequency = if left == 0.0 {
        0.0
    } else if right == 1.0 {
        1.0
    } else {
        0.5 * (left + right)
    };
    let s: f64 = h
        .iter()
        .zip(&m)
        .map(|(&hi, &mi)| hi * (PI * mi * scale_frequency).cos())
        .sum();
    for hi in &mut h {
        *hi /= s;
    }
    if let Some(i) = h.iter().position(|v| !v.is_finite()) {
        return Err(DesignError::Coefficient {
            name: "taps",
            index: i,
            value: h[i],
            reason: "the design is degenerate (zero gain in the first passband)",
        });
    }
    Ok(h)
}

/// Normalised sinc, `sin(πx)/(πx)`, 1 at 0.
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let y = PI * x;
        y.sin() / y
    }
}
