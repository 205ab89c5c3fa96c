//! Packet payloads: what a [`MemoryPool`](crate::MemoryPool) preallocates.
//!
//! Multichannel signals use one layout everywhere: **frame-major** (interleaved): frame 0's
//! channels 0..C, then frame 1's, … The shape of a packet (frames × channels) is in its
//! [`PacketHeader`](crate::PacketHeader); the payload is a fixed-capacity buffer.

pub use neuropipe_sample::{FloatKind, FloatSample, Sample, SampleKind};

/// The payload type of a pool or port, as named in pipeline JSON (`"i32"`, `"f32"`, `"f64"`).
///
/// Every payload today is a buffer of [`Samples`], so a payload's kind is its sample kind.
pub type PayloadKind = SampleKind;

/// A type a [`MemoryPool`](crate::MemoryPool) can preallocate and lend out.
pub trait Payload: Send + Sync + Sized + 'static {
    /// The kind named in pipeline JSON; links and pools are type-checked with it.
    const KIND: PayloadKind;
    /// Allocates a payload able to hold `frames × channels` samples (called at start-up only).
    fn allocate(frames: usize, channels: usize) -> Self;
    /// Copies `src` into `self` without allocating (used for copy-on-write at fan-out).
    fn copy_from(&mut self, src: &Self);
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
            buf: vec![S::ZERO; frames * channels].into_boxed_slice(),
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
