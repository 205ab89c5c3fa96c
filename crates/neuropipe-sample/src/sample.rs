//! [`Sample`] (every sample type) and [`FloatSample`] (the ones a filter computes with).

use crate::{FloatKind, SampleKind};
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// A sample type a packet can carry: `i32` (raw ADC counts), `f32` or `f64` (voltages).
///
/// Conversions go through `f64`, which holds every `i32` and `f32` exactly.
pub trait Sample: Copy + Default + Debug + PartialEq + PartialOrd + Send + Sync + 'static {
    /// The run-time name of this type.
    const KIND: SampleKind;

    /// Zero (the value a fresh buffer is filled with).
    const ZERO: Self;

    /// Converts to `f64` (exact for all three types).
    fn to_f64(self) -> f64;

    /// Converts from `f64`: rounding to nearest for `f32` and `i32`; `i32` saturates at its
    /// range and maps NaN to 0.
    fn from_f64(value: f64) -> Self;

    /// Whether the value is a number: always for integers, not NaN or infinite for floats.
    fn is_finite(self) -> bool;

    /// The value that marks this sample missing: NaN for floats. Integers have none, so an
    /// integer sample is kept as it is (and its flag in the packet header says it is missing).
    fn missing(self) -> Self;
}

/// A floating-point [`Sample`] (`f32`, `f64`): the arithmetic the streaming filters need.
///
/// Deliberately small, `num-traits`-like: just the operations the kernels use.
pub trait FloatSample:
    Sample
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    /// The run-time name of this type.
    const FLOAT_KIND: FloatKind;

    /// Not a number: the "missing sample" value.
    const NAN: Self;

    /// The slice itself when `Self` is `f64` (so `f64` kernels can work in place without a
    /// conversion copy); `None` for `f32`.
    fn as_f64_slice_mut(values: &mut [Self]) -> Option<&mut [f64]>;
}

impl Sample for i32 {
    const KIND: SampleKind = SampleKind::I32;
    const ZERO: Self = 0;

    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        // `as` saturates at i32's range and maps NaN to 0.
        value.round() as i32
    }

    #[inline(always)]
    fn is_finite(self) -> bool {
        true
    }

    #[inline(always)]
    fn missing(self) -> Self {
        self
    }
}

impl Sample for f32 {
    const KIND: SampleKind = SampleKind::F32;
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value as f32
    }

    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }

    #[inline(always)]
    fn missing(self) -> Self {
        f32::NAN
    }
}

impl Sample for f64 {
    const KIND: SampleKind = SampleKind::F64;
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value
    }

    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }

    #[inline(always)]
    fn missing(self) -> Self {
        f64::NAN
    }
}

impl FloatSample for f32 {
    const FLOAT_KIND: FloatKind = FloatKind::F32;
    const NAN: Self = f32::NAN;

    #[inline(always)]
    fn as_f64_slice_mut(_: &mut [Self]) -> Option<&mut [f64]> {
        None
    }
}

impl FloatSample for f64 {
    const FLOAT_KIND: FloatKind = FloatKind::F64;
    const NAN: Self = f64::NAN;

    #[inline(always)]
    fn as_f64_slice_mut(values: &mut [Self]) -> Option<&mut [f64]> {
        Some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i32_from_f64_rounds_and_saturates() {
        assert_eq!(i32::from_f64(2.5), 3);
        assert_eq!(i32::from_f64(-2.5), -3);
        assert_eq!(i32::from_f64(1e12), i32::MAX);
        assert_eq!(i32::from_f64(-1e12), i32::MIN);
        assert_eq!(i32::from_f64(f64::NAN), 0);
    }

    #[test]
    fn kinds_match_types() {
        assert_eq!(<i32 as Sample>::KIND, SampleKind::I32);
        assert_eq!(<f32 as Sample>::KIND.float(), Some(f32::FLOAT_KIND));
        assert_eq!(<f64 as Sample>::KIND.float(), Some(f64::FLOAT_KIND));
    }

    #[test]
    fn missing_is_nan_for_floats_only() {
        assert!(1.0f32.missing().is_nan());
        assert!(1.0f64.missing().is_nan());
        assert_eq!(7i32.missing(), 7);
        assert!(!f32::NAN.is_finite() && !f64::INFINITY.is_finite() && i32::MIN.is_finite());
    }

    #[test]
    fn f64_slices_are_borrowed_without_copy() {
        let mut a = [1.0f64, 2.0];
        assert_eq!(f64::as_f64_slice_mut(&mut a).map(|s| s.len()), Some(2));
        let mut b = [1.0f32];
        assert!(f32::as_f64_slice_mut(&mut b).is_none());
    }
}
