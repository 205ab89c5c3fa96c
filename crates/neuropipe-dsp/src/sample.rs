//! The [`Sample`] trait: the arithmetic the streaming filters need from `f32` and `f64`.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// A real floating-point sample type (`f32` or `f64`).
///
/// This is a deliberately small, `num-traits`-like trait: just the operations the filters use,
/// plus lossless-enough conversion from the `f64` coefficients produced by [`crate::design`].
pub trait Sample:
    Copy
    + Default
    + Debug
    + PartialEq
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    /// Additive identity.
    const ZERO: Self;

    /// Converts an `f64` to this type (rounding to nearest for `f32`).
    fn from_f64(value: f64) -> Self;

    /// Converts this value to `f64` (exact for both `f32` and `f64`).
    fn to_f64(self) -> f64;

    /// The slice itself when `Self` is `f64` (so `f64` kernels can work in place without a
    /// conversion copy); `None` for `f32`.
    fn as_f64_slice_mut(values: &mut [Self]) -> Option<&mut [f64]>;

    /// Whether the value is neither NaN nor infinite.
    fn is_finite(self) -> bool;
}

impl Sample for f32 {
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value as f32
    }

    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    #[inline(always)]
    fn as_f64_slice_mut(_: &mut [Self]) -> Option<&mut [f64]> {
        None
    }

    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Sample for f64 {
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value
    }

    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }

    #[inline(always)]
    fn as_f64_slice_mut(values: &mut [Self]) -> Option<&mut [f64]> {
        Some(values)
    }

    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}
