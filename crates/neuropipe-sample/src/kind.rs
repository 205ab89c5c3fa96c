//! [`SampleKind`] and [`FloatKind`]: the sample types named at run time.

use std::fmt;

/// A [`Sample`](crate::Sample) type named at run time: `"i32"`, `"f32"` or `"f64"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SampleKind {
    /// Raw integer counts from an ADC, JSON `"i32"`.
    #[cfg_attr(feature = "serde", serde(rename = "i32"))]
    I32,
    /// Voltages as `f32`, JSON `"f32"`.
    #[cfg_attr(feature = "serde", serde(rename = "f32"))]
    F32,
    /// Voltages as `f64`, JSON `"f64"`.
    #[cfg_attr(feature = "serde", serde(rename = "f64"))]
    F64,
}

impl SampleKind {
    /// Every kind, in JSON spelling order.
    pub const ALL: [SampleKind; 3] = [SampleKind::I32, SampleKind::F32, SampleKind::F64];

    /// The JSON name (`"i32"`, `"f32"`, `"f64"`).
    pub fn name(self) -> &'static str {
        match self {
            SampleKind::I32 => "i32",
            SampleKind::F32 => "f32",
            SampleKind::F64 => "f64",
        }
    }

    /// Parses a JSON name.
    pub fn from_name(s: &str) -> Option<Self> {
        SampleKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Bytes per sample.
    pub fn sample_bytes(self) -> usize {
        match self {
            SampleKind::I32 | SampleKind::F32 => 4,
            SampleKind::F64 => 8,
        }
    }

    /// The floating-point kind, or `None` for raw `i32` counts.
    pub fn float(self) -> Option<FloatKind> {
        match self {
            SampleKind::I32 => None,
            SampleKind::F32 => Some(FloatKind::F32),
            SampleKind::F64 => Some(FloatKind::F64),
        }
    }
}

impl fmt::Display for SampleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A [`FloatSample`](crate::FloatSample) type named at run time: `"f32"` (the default) or
/// `"f64"`. Sources take it as their `sample_type` parameter; signal stages get it from their
/// input's [`SampleKind`] with [`SampleKind::float`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FloatKind {
    /// 32-bit float samples, JSON `"f32"`.
    #[default]
    #[cfg_attr(feature = "serde", serde(rename = "f32"))]
    F32,
    /// 64-bit float samples (an end-to-end double-precision pipeline), JSON `"f64"`.
    #[cfg_attr(feature = "serde", serde(rename = "f64"))]
    F64,
}

impl FloatKind {
    /// The JSON name (`"f32"`, `"f64"`).
    pub fn name(self) -> &'static str {
        SampleKind::from(self).name()
    }
}

impl From<FloatKind> for SampleKind {
    fn from(k: FloatKind) -> Self {
        match k {
            FloatKind::F32 => SampleKind::F32,
            FloatKind::F64 => SampleKind::F64,
        }
    }
}

impl fmt::Display for FloatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in SampleKind::ALL {
            assert_eq!(SampleKind::from_name(k.name()), Some(k));
            if let Some(f) = k.float() {
                assert_eq!(SampleKind::from(f), k);
                assert_eq!(f.name(), k.name());
            }
        }
        assert_eq!(SampleKind::I32.float(), None);
        assert_eq!(SampleKind::from_name("f16"), None);
    }
}
