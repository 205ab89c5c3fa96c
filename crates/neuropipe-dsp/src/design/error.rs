//! [`DesignError`]: every way a design or filter construction can be rejected.

/// Why a filter could not be designed or built.
///
/// The `Display` text names the parameter, the bad value and the valid range, e.g.
/// `cutoff 130 Hz must be > 0 and < Nyquist (125 Hz)`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DesignError {
    /// The sample rate is not finite or not positive.
    #[error("sample rate fs {fs} Hz must be finite and > 0")]
    SampleRate {
        /// The rejected sample rate.
        fs: f64,
    },
    /// The Butterworth order is outside `1..=10`.
    #[error("order {order} must be >= 1 and <= {max}")]
    Order {
        /// The rejected order.
        order: usize,
        /// The largest supported order.
        max: usize,
    },
    /// A frequency (cutoff, band edge, notch centre) is not strictly between 0 and Nyquist.
    #[error("{name} {value} Hz must be > 0 and < Nyquist ({nyquist} Hz)")]
    Frequency {
        /// Which parameter (`cutoff`, `low`, `high`, `w0`, ...).
        name: &'static str,
        /// The rejected value in Hz.
        value: f64,
        /// Half the sample rate, in Hz.
        nyquist: f64,
    },
    /// Band edges are not strictly increasing (`low` must be < `high`).
    #[error("band edges must satisfy low < high, got low {low} Hz and high {high} Hz")]
    BandEdges {
        /// The lower edge in Hz.
        low: f64,
        /// The upper edge in Hz.
        high: f64,
    },
    /// A band-power band is outside `0 <= lo < hi <= Nyquist`.
    #[error("band {name} [{lo}, {hi}) Hz must satisfy 0 <= lo < hi <= Nyquist ({nyquist} Hz)")]
    PowerBand {
        /// The band's name.
        name: String,
        /// Its lower edge in Hz.
        lo: f64,
        /// Its upper edge in Hz.
        hi: f64,
        /// Half the sample rate, in Hz.
        nyquist: f64,
    },
    /// FIR cutoffs are not strictly increasing.
    #[error(
        "cutoffs must be strictly increasing, got cutoff[{index}] = {value} Hz after {previous} Hz"
    )]
    CutoffsNotIncreasing {
        /// Index of the first offending cutoff.
        index: usize,
        /// The cutoff before it.
        previous: f64,
        /// The offending cutoff.
        value: f64,
    },
    /// No FIR cutoff was given.
    #[error("cutoffs must contain at least 1 frequency, got 0")]
    NoCutoffs,
    /// The quality factor is not finite or not positive.
    #[error("quality factor Q {q} must be finite and > 0")]
    Quality {
        /// The rejected quality factor.
        q: f64,
    },
    /// The number of FIR taps is unusable.
    #[error("numtaps {numtaps} is invalid: {reason}")]
    NumTaps {
        /// The rejected tap count.
        numtaps: usize,
        /// The rule it breaks (e.g. `must be >= 1`).
        reason: &'static str,
    },
    /// The Kaiser window parameter is out of range.
    #[error("kaiser beta {beta} must be finite and in [0, {max}]")]
    KaiserBeta {
        /// The rejected beta.
        beta: f64,
        /// The largest supported beta.
        max: f64,
    },
    /// A coefficient is unusable (not finite, or a zero leading denominator coefficient).
    #[error("coefficient {name}[{index}] = {value} is invalid: {reason}")]
    Coefficient {
        /// Which coefficient array (`sos`, `taps`).
        name: &'static str,
        /// Flat index of the coefficient.
        index: usize,
        /// The rejected value.
        value: f64,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A required list (sections, taps, bands) is empty.
    #[error("{name} must not be empty")]
    Empty {
        /// Which list.
        name: &'static str,
    },
    /// A count or length parameter is out of range.
    #[error("{name} {value} must be {range}")]
    Count {
        /// Which parameter (`channels`, `factor`, `nperseg`, `noverlap`, `hop`, `window`, ...).
        name: &'static str,
        /// The rejected value.
        value: usize,
        /// The valid range, in words (e.g. `>= 1`, `< nperseg (256)`).
        range: String,
    },
}

impl DesignError {
    /// Shorthand for a [`DesignError::Count`].
    pub(crate) fn count(name: &'static str, value: usize, range: impl Into<String>) -> Self {
        DesignError::Count {
            name,
            value,
            range: range.into(),
        }
    }
}
