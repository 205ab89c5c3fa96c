//! Packet payloads: what a [`MemoryPool`](crate::MemoryPool) preallocates.
//!
//! Multichannel signals use one layout everywhere: **frame-major** (interleaved): frame 0's
//! channels 0..C, then frame 1's, … The shape of a packet (frames × channels) is in its
//! [`PacketHeader`](crate::PacketHeader); the payload is a fixed-capacity buffer.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The payload type of a pool or port, as named in pipeline JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayloadKind {
    /// Raw integer counts from an ADC ([`RawEegPacket`]), JSON `"i32"`.
    #[serde(rename = "i32")]
    I32,
    /// Voltages as `f32` ([`VoltageEegPacket`]), JSON `"f32"`.
    #[serde(rename = "f32")]
    F32,
    /// Voltages as `f64` ([`VoltageEegPacket64`]), JSON `"f64"`.
    #[serde(rename = "f64")]
    F64,
}

impl PayloadKind {
    /// Every kind, in JSON spelling order.
    pub const ALL: [PayloadKind; 3] = [PayloadKind::I32, PayloadKind::F32, PayloadKind::F64];

    /// The JSON name (`"i32"`, `"f32"`, `"f64"`).
    pub fn name(self) -> &'static str {
        match self {
            PayloadKind::I32 => "i32",
            PayloadKind::F32 => "f32",
            PayloadKind::F64 => "f64",
        }
    }

    /// Parses a JSON name.
    pub fn from_name(s: &str) -> Option<Self> {
        PayloadKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Bytes per sample.
    pub fn sample_bytes(self) -> usize {
        match self {
            PayloadKind::I32 | PayloadKind::F32 => 4,
            PayloadKind::F64 => 8,
        }
    }
}

impl fmt::Display for PayloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A type a [`MemoryPool`](crate::MemoryPool) can preallocate and lend out.
pub trait Payload: Send + Sync + Sized + 'static {
    /// The kind named in pipeline JSON; links and pools are type-checked with it.
    const KIND: PayloadKind;
    /// Allocates a payload able to hold `frames × channels` samples (called at start-up only).
    fn allocate(frames: usize, channels: usize) -> Self;
    /// Copies `src` into `self` without allocating (used for copy-on-write at fan-out).
    fn copy_from(&mut self, src: &Self);
}

/// A sample type of a multichannel payload.
pub trait Sample: Copy + Default + Send + Sync + PartialEq + fmt::Debug + 'static {
    /// The payload kind of `Samples<Self>`.
    const KIND: PayloadKind;
    /// Converts to `f64` (for generic sinks such as recorders and displays).
    fn to_f64(self) -> f64;
    /// Whether the value is a number (always for integers; not NaN or infinite for floats).
    fn is_finite(self) -> bool;
    /// The "missing sample" value: NaN for floats (integers have none: the value is kept).
    fn missing(self) -> Self;
}

impl Sample for i32 {
    const KIND: PayloadKind = PayloadKind::I32;
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn is_finite(self) -> bool {
        true
    }
    #[inline]
    fn missing(self) -> Self {
        self
    }
}
impl Sample for f32 {
    const KIND: PayloadKind = PayloadKind::F32;
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    #[inline]
    fn missing(self) -> Self {
        f32::NAN
    }
}
impl Sample for f64 {
    const KIND: PayloadKind = PayloadKind::F64;
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    #[inline]
    fn missing(self) -> Self {
        f64::NAN
    }
}

/// A fixed-capacity multichannel sample buffer, frame-major.
///
/// Its capacity never changes after allocation, so filling it never allocates. The valid part
/// is `frames × channels` from the packet header: use
/// [`PacketData::samples`](crate::PacketData::samples) and
/// [`samples_mut`](crate::PacketData::samples_mut).
pub struct Samples<S> {
    buf: Box<[S]>,
    capacity_frames: usize,
}

impl<S: Sample> Samples<S> {
    /// A zeroed buffer of `frames × channels` samples.
    pub fn new(frames: usize, channels: usize) -> Self {
        Samples {
            buf: vec![S::default(); frames * channels].into_boxed_slice(),
            capacity_frames: frames,
        }
    }
    /// Total capacity in samples.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }
    /// Capacity in frames for the channel count the pool was created with.
    pub fn capacity_frames(&self) -> usize {
        self.capacity_frames
    }
    /// The whole buffer (valid or not).
    pub fn raw(&self) -> &[S] {
        &self.buf
    }
    /// The whole buffer, mutable.
    pub fn raw_mut(&mut self) -> &mut [S] {
        &mut self.buf
    }
}

impl<S: Sample> Payload for Samples<S> {
    const KIND: PayloadKind = S::KIND;
    fn allocate(frames: usize, channels: usize) -> Self {
        Samples::new(frames, channels)
    }
    fn copy_from(&mut self, src: &Self) {
        let n = self.buf.len().min(src.buf.len());
        self.buf[..n].copy_from_slice(&src.buf[..n]);
    }
}

/// Raw ADC counts (e.g. ADS1299 24-bit values sign-extended to `i32`).
pub type RawEegPacket = Samples<i32>;
/// Voltages as `f32` (µV unless the stream info says otherwise).
pub type VoltageEegPacket = Samples<f32>;
/// Voltages as `f64`, for DSP that needs the precision.
pub type VoltageEegPacket64 = Samples<f64>;
