//! Small helpers shared by stages.

/// Counts per µV of an ADS1299-style ADC: µV per LSB = `vref / (2^23 − 1) / gain × 1e6`.
pub(crate) fn ads1299_uv_per_count(vref: f64, gain: f64) -> f64 {
    vref / ((1u32 << 23) - 1) as f64 / gain * 1e6
}

/// The ADS1299's 24-bit output range in counts, `[-2²³, 2²³ − 1]`: what `SimulatedEeg` and
/// `CytonSource` declare as their channels' range (a railed input reads at its ends).
pub(crate) const ADS1299_RANGE: [f64; 2] = [-8_388_608.0, 8_388_607.0];

/// The 19 electrodes of the 10-20 system, in a common order.
pub(crate) const TEN_TWENTY: [&str; 19] = [
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz",
    "P4", "P8", "O1", "O2",
];

/// SplitMix64: advances `state` and returns the next value (small, fast, deterministic: the
/// simulator's and its tasks' random streams).
#[inline]
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
