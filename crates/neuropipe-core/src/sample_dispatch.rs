//! `with_sample!` and `with_float!`: pick a generic stage's sample type from a run-time kind.

/// Evaluates `$body` with the type alias `$t` bound to the [`Sample`](crate::Sample) type a
/// [`SampleKind`](crate::SampleKind) names (`i32`, `f32` or `f64`), so a stage generic over its
/// sample type is monomorphised once, when it is built:
///
/// ```
/// use neuropipe_core::prelude::*;
/// fn bytes(kind: PayloadKind) -> usize {
///     neuropipe_core::with_sample!(kind, S => std::mem::size_of::<S>())
/// }
/// assert_eq!(bytes(PayloadKind::F64), 8);
/// ```
#[macro_export]
macro_rules! with_sample {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            $crate::SampleKind::I32 => {
                type $t = i32;
                $body
            }
            $crate::SampleKind::F32 => {
                type $t = f32;
                $body
            }
            $crate::SampleKind::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}

/// Evaluates `$body` with the type alias `$t` bound to the
/// [`FloatSample`](crate::FloatSample) type a [`FloatKind`](crate::FloatKind) names (`f32` or
/// `f64`): a source's `sample_type` parameter, or a signal stage's input kind from
/// [`StageBuilder::float_input`](crate::StageBuilder::float_input).
///
/// ```
/// use neuropipe_core::prelude::*;
/// fn nan_bits(kind: FloatKind) -> f64 {
///     neuropipe_core::with_float!(kind, S => <S as FloatSample>::NAN.to_f64())
/// }
/// assert!(nan_bits(FloatKind::F32).is_nan());
/// ```
#[macro_export]
macro_rules! with_float {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            $crate::FloatKind::F32 => {
                type $t = f32;
                $body
            }
            $crate::FloatKind::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}
