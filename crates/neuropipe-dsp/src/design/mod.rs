//! Filter design, all in `f64`, reproducing `scipy.signal`.
//!
//! | function | SciPy equivalent |
//! |---|---|
//! | [`butter`] | `butter(N, Wn, btype, fs=fs, output='sos')` |
//! | [`iirnotch`], [`iirpeak`] | `iirnotch(w0, Q, fs)`, `iirpeak(w0, Q, fs)` as one section |
//! | [`notch_harmonics`] | a cascade of `iirnotch` at `k * base` below Nyquist |
//! | [`firwin`] | `firwin(numtaps, cutoff, window=..., pass_zero=..., scale=True, fs=fs)` |
//! | [`sosfilt_zi`] | `sosfilt_zi(sos)` |
//!
//! Every function validates its arguments and returns a [`DesignError`] instead of panicking,
//! whatever the input (including NaN and infinities).

mod butter;
mod complex;
mod error;
mod fir;
mod notch;
mod sos_type;
mod window;
mod zi;
mod zpk2sos;

pub use butter::{butter, Band, MAX_ORDER};
pub use error::DesignError;
pub use fir::{firwin, MAX_TAPS};
pub use notch::{iirnotch, iirpeak, notch_harmonics, MAX_HARMONICS};
pub use sos_type::{Section, Sos};
pub use window::Window;
pub use zi::sosfilt_zi;

pub(crate) use window::hann_periodic;

/// Largest number of samples a filter's state or history buffer may hold (2 GiB of `f64`).
pub const MAX_BUFFER: usize = 1 << 28;

/// Checks that `rows * channels` samples is a sane buffer size and returns it.
pub(crate) fn check_buffer(
    name: &'static str,
    rows: usize,
    channels: usize,
) -> Result<usize, DesignError> {
    match rows.checked_mul(channels) {
        Some(n) if n <= MAX_BUFFER => Ok(n),
        _ => Err(DesignError::count(
            name,
            channels,
            format!(
                "such that the buffer ({rows} frames x channels) holds <= {MAX_BUFFER} samples"
            ),
        )),
    }
}

/// Checks a sample rate: finite and > 0. Returns the Nyquist frequency.
pub(crate) fn check_fs(fs: f64) -> Result<f64, DesignError> {
    if fs.is_finite() && fs > 0.0 {
        Ok(0.5 * fs)
    } else {
        Err(DesignError::SampleRate { fs })
    }
}

/// Checks one frequency: finite and strictly inside (0, Nyquist).
pub(crate) fn check_freq(name: &'static str, value: f64, nyquist: f64) -> Result<(), DesignError> {
    // Written so that NaN fails too.
    if value > 0.0 && value < nyquist {
        Ok(())
    } else {
        Err(DesignError::Frequency {
            name,
            value,
            nyquist,
        })
    }
}
