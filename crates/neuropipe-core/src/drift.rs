//! [`DriftMeter`]: the rate a device really delivers, against its nominal rate.
//!
//! An amplifier's sample clock is a crystal of its own: a "250 Hz" board may deliver
//! 250.02 frames per second of the host's clock, and over an hour that is 288 frames, enough
//! to move every late marker. Sources measure it on the times their packets carry (the
//! device's own stamps when it has them, the host's read time otherwise): frames counted
//! over at least two seconds since the stretch began, as a rate (Hz) and a drift from the
//! nominal rate (ppm, positive when the device runs fast). A pause, a lost stream or a
//! restart starts a new stretch ([`restart`](DriftMeter::restart)); lost frames still count
//! (their frame indices moved on).
//!
//! ```
//! use neuropipe_core::DriftMeter;
//!
//! let mut m = DriftMeter::new(250.0);
//! // 250.025 frames per second of the clock (100 ppm fast), one packet of 10 every 40 ms.
//! for k in 0..100u64 {
//!     m.record(k * 10, (k as f64 * 10.0 / 250.025 * 1e9) as u64);
//! }
//! let (rate, ppm) = m.reading().unwrap();
//! assert!((rate - 250.025).abs() < 1e-3 && (ppm - 100.0).abs() < 5.0);
//! ```

use crate::ReadoutColumn;

/// Shortest stretch measured (ns): shorter ones are mostly the stamps' jitter.
const MIN_SPAN_NS: f64 = 2e9;

/// Measures a stream's delivered rate on its packets' times (see the module docs).
#[derive(Clone, Debug)]
pub struct DriftMeter {
    nominal_hz: f64,
    /// First (frame, time) of the stretch measured.
    start: Option<(u64, u64)>,
    /// The last reading: (rate in Hz, drift in ppm).
    reading: Option<(f64, f64)>,
}

impl DriftMeter {
    /// The readout columns a source shows its reading in: `rate` (Hz) and `drift` (ppm).
    pub const COLUMNS: [ReadoutColumn; 2] = [
        ReadoutColumn::number(
            "rate",
            "Hz",
            "frames per second the device delivers, on its packets' times (its own stamps, else the host's read time)",
        ),
        ReadoutColumn::number(
            "drift",
            "ppm",
            "deviation of that rate from the nominal rate (positive: the device runs fast)",
        ),
    ];

    /// A meter for a stream of nominal rate `nominal_hz`.
    pub fn new(nominal_hz: f64) -> Self {
        DriftMeter {
            nominal_hz,
            start: None,
            reading: None,
        }
    }

    /// Frame `frame` (the stream's frame index) was taken at `t_ns` (any clock counting
    /// nanoseconds: the device's stamps mapped to the pipeline clock, or the host's read
    /// time). Returns the reading once the stretch is long enough.
    pub fn record(&mut self, frame: u64, t_ns: u64) -> Option<(f64, f64)> {
        match self.start {
            None => self.start = Some((frame, t_ns)),
            Some((f0, t0)) => {
                let span = t_ns.saturating_sub(t0) as f64;
                if span >= MIN_SPAN_NS && frame > f0 && self.nominal_hz > 0.0 {
                    let rate = (frame - f0) as f64 / span * 1e9;
                    self.reading = Some((rate, (rate / self.nominal_hz - 1.0) * 1e6));
                }
            }
        }
        self.reading
    }

    /// Starts a new stretch (after a pause, a gap, a reconnection); the last reading stays
    /// until the new stretch gives one.
    pub fn restart(&mut self) {
        self.start = None;
    }

    /// The last reading: (rate in Hz, drift in ppm).
    pub fn reading(&self) -> Option<(f64, f64)> {
        self.reading
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_device_reads_negative_and_a_restart_measures_anew() {
        let mut m = DriftMeter::new(1000.0);
        assert_eq!(m.record(0, 0), None);
        assert_eq!(m.record(1000, 1_000_000_000), None); // 1 s: too short
        let (rate, ppm) = m.record(2999, 3_000_000_000).unwrap();
        assert!((rate - 999.666_666).abs() < 1e-3 && (ppm + 333.33).abs() < 0.01);
        m.restart();
        // A pause: frames continue, time jumped; the old stretch is not used.
        assert_eq!(m.record(3000, 60_000_000_000), Some((rate, ppm)));
        let (rate, _) = m.record(5000, 62_000_000_000).unwrap();
        assert!((rate - 1000.0).abs() < 1e-9);
    }
}
