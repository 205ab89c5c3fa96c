//! [`Packet`]: a lease on one preallocated buffer of a [`MemoryPool`](crate::MemoryPool).

use crate::payload::{Payload, Sample, Samples};
use crate::pool::PoolInner;
use crate::StageError;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Header flag: this packet does not follow the previous one in time (the source was paused,
/// or the device lost samples). Frame indices still count every frame that was emitted.
pub const FLAG_DISCONTINUITY: u32 = 1 << 0;
/// Header flag: the device reported lost samples just before this packet
/// ([`PacketHeader::lost_frames`] says how many).
pub const FLAG_LOST_SAMPLES: u32 = 1 << 1;
/// Header flag: the packet holds non-finite samples. Sources turn every NaN or infinite input
/// value into NaN (a missing sample) and set this flag; filters never carry NaN into their
/// state; recorders write a defined value and annotate the span.
pub const FLAG_NONFINITE: u32 = 1 << 2;
/// Header flag: a source found values outside the stream's declared physical range (e.g. a
/// railed amplifier); they are passed on unchanged.
pub const FLAG_OUT_OF_RANGE: u32 = 1 << 3;

/// Metadata of a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketHeader {
    /// Packet number from the source, counting from 0 (gaps show dropped packets).
    pub sequence: u64,
    /// Index of the packet's first frame since the stream started (gaps and duplicates show).
    pub first_frame: u64,
    /// Time of the first frame in nanoseconds on the pipeline's [`Clock`](crate::Clock).
    pub timestamp: u64,
    /// When the source sent the packet, in clock nanoseconds (set by the runtime; end-to-end
    /// latency is measured from here to each sink). A packet built from others' data (an
    /// epoch, a feature vector, a prediction) carries the time of the source packet that
    /// completed it, so sinks measure the closed loop.
    pub emitted: u64,
    /// Number of frames (the seed's `batch_size`).
    pub batch_size: u32,
    /// Number of channels per frame.
    pub channels: u32,
    /// Frames a device reported lost immediately before this packet.
    pub lost_frames: u32,
    /// Bit flags: [`FLAG_DISCONTINUITY`], [`FLAG_LOST_SAMPLES`], [`FLAG_NONFINITE`],
    /// [`FLAG_OUT_OF_RANGE`].
    pub flags: u32,
    /// The clock correction (ns) a source included in `timestamp` to put a device's own
    /// time stamp on the pipeline clock: `timestamp − clock_offset_ns` is the stamp on the
    /// source's clock (an LSL stream's stamp on its sender's LSL clock). Recorders that keep
    /// raw stamps with their clock offsets, as LabRecorder does (XDF), write both; 0 for
    /// sources stamping on the pipeline clock, and for packets a stage builds anew.
    pub clock_offset_ns: i64,
    /// On an epoch stream ([`StreamInfo::epochs`](crate::StreamInfo::epochs)): the index of
    /// the epoch's class in [`EpochLayout::classes`](crate::EpochLayout::classes); `None` for
    /// unlabelled data and continuous streams.
    pub label: Option<u32>,
}

impl PacketHeader {
    /// `batch_size × channels`.
    #[inline]
    pub fn len(&self) -> usize {
        self.batch_size as usize * self.channels as usize
    }
    /// Whether the packet holds no samples.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of frames.
    #[inline]
    pub fn frames(&self) -> usize {
        self.batch_size as usize
    }
}

/// What a packet holds: a header and a payload.
pub struct PacketData<T> {
    /// Packet metadata.
    pub header: PacketHeader,
    /// The preallocated payload.
    pub payload: T,
}

impl<S: Sample> PacketData<Samples<S>> {
    /// The valid samples, frame-major (`batch_size × channels`).
    #[inline]
    pub fn samples(&self) -> &[S] {
        &self.payload.raw()[..self.header.len()]
    }
    /// The valid samples, mutable.
    #[inline]
    pub fn samples_mut(&mut self) -> &mut [S] {
        let n = self.header.len();
        &mut self.payload.raw_mut()[..n]
    }
    /// Source hygiene for the non-finite policy: turns every NaN or infinite sample into NaN
    /// (the one "missing sample" value downstream stages handle), sets [`FLAG_NONFINITE`] if
    /// there was any, and returns how many there were. Costs one pass; never allocates.
    pub fn scrub_nonfinite(&mut self) -> usize {
        let data = self.samples_mut();
        if data.iter().fold(true, |ok, x| ok & x.is_finite()) {
            return 0;
        }
        let mut n = 0;
        for x in data.iter_mut().filter(|x| !x.is_finite()) {
            *x = x.missing();
            n += 1;
        }
        self.header.flags |= FLAG_NONFINITE;
        n
    }

    /// Sets the shape (frames × channels); fails if it does not fit the preallocated buffer.
    pub fn set_shape(&mut self, frames: usize, channels: usize) -> Result<(), StageError> {
        if frames * channels > self.payload.capacity() {
            return Err(StageError::fatal(format!(
                "packet of {frames} frames x {channels} channels does not fit its pool buffer of {} samples",
                self.payload.capacity()
            )));
        }
        self.header.batch_size = frames as u32;
        self.header.channels = channels as u32;
        Ok(())
    }
}

/// A lease on one buffer of a [`MemoryPool`](crate::MemoryPool): header and payload.
///
/// Dereferences to [`PacketData`], so `pkt.header` and `pkt.payload` read like fields. Dropping
/// the packet — after sending it, on an error path, during unwinding from a panic, or at
/// shutdown — returns the buffer to its pool. Leasing and returning never allocate.
///
/// A packet sent to several consumers (fan-out) is **shared** between the read-only ones: each
/// gets a `Packet` pointing at the same buffer, which goes back to the pool when the last one is
/// dropped. Mutable access ([`DerefMut`], [`try_mut`](Self::try_mut)) needs a unique packet;
/// [`make_mut`](Self::make_mut) copies a shared packet into a fresh buffer first.
/// Packets arriving on an input port declared [`Access::InPlace`](crate::Access::InPlace) are
/// always unique, so in-place stages can simply write through `DerefMut`.
pub struct Packet<T: Payload> {
    pool: Arc<PoolInner<T>>,
    idx: u32,
}

// SAFETY: a `Packet<T>` gives `&PacketData<T>` to any thread that holds it (shared packets are
// read from several threads at once: needs `T: Sync`) and `&mut PacketData<T>` only when it is
// the unique lease (needs `T: Send`). The slot's reference count is atomic.
unsafe impl<T: Payload> Send for Packet<T> {}
// SAFETY: `&Packet<T>` only gives `&PacketData<T>`; `T: Sync` by the `Payload` bound.
unsafe impl<T: Payload> Sync for Packet<T> {}

impl<T: Payload> Packet<T> {
    pub(crate) fn from_slot(pool: Arc<PoolInner<T>>, idx: u32) -> Self {
        Packet { pool, idx }
    }

    /// Whether other consumers hold the same buffer (fan-out to read-only ports).
    #[inline]
    pub fn is_shared(&self) -> bool {
        self.pool.slot(self.idx).refs.load(Ordering::Acquire) != 1
    }

    /// Mutable access if this packet is the only lease on its buffer.
    #[inline]
    pub fn try_mut(&mut self) -> Option<&mut PacketData<T>> {
        if self.is_shared() {
            None
        } else {
            // SAFETY: refs == 1 and we hold `&mut self`: no other handle to this slot exists,
            // and no new one can be created without `&self`.
            Some(unsafe { &mut *self.pool.slot(self.idx).data.get() })
        }
    }

    /// Mutable access; a shared packet is first copied into a new buffer from the same pool
    /// (waiting for one if the pool is exhausted), so other consumers never see the change.
    pub async fn make_mut(&mut self) -> &mut PacketData<T> {
        if self.is_shared() {
            let mut fresh = PoolInner::acquire(&self.pool).await;
            {
                let dst = fresh.try_mut().expect("freshly acquired packet is unique");
                let src: &PacketData<T> = self;
                dst.header = src.header;
                dst.payload.copy_from(&src.payload);
            }
            *self = fresh;
        }
        self.try_mut()
            .expect("packet is unique after copy-on-write")
    }

    /// A second lease on the same buffer (fan-out to a read-only consumer).
    pub(crate) fn share(&self) -> Packet<T> {
        self.pool
            .slot(self.idx)
            .refs
            .fetch_add(1, Ordering::Relaxed);
        Packet {
            pool: self.pool.clone(),
            idx: self.idx,
        }
    }

    /// A unique copy in a new buffer from the same pool, waiting for one.
    pub(crate) async fn copy(&self) -> Packet<T> {
        let mut fresh = PoolInner::acquire(&self.pool).await;
        if let Some(dst) = fresh.try_mut() {
            dst.header = self.header;
            dst.payload.copy_from(&self.payload);
        }
        fresh
    }

    /// Name of the pool this packet was leased from.
    pub fn pool_name(&self) -> &str {
        &self.pool.name
    }
}

impl<T: Payload> Deref for Packet<T> {
    type Target = PacketData<T>;
    #[inline]
    fn deref(&self) -> &PacketData<T> {
        // SAFETY: while this lease exists the slot is not in the free list (refs >= 1), and it
        // is only mutated through a unique lease (`try_mut`/`deref_mut` check refs == 1).
        unsafe { &*self.pool.slot(self.idx).data.get() }
    }
}

impl<T: Payload> DerefMut for Packet<T> {
    /// Mutable access to a unique packet.
    ///
    /// # Panics
    /// If the packet is shared — only possible when a stage declared an input
    /// [`Access::ReadOnly`](crate::Access::ReadOnly) and then mutates what it received. Use
    /// [`make_mut`](Packet::make_mut) there. The runtime turns the panic into a `Fatal` error
    /// naming the stage.
    #[inline]
    fn deref_mut(&mut self) -> &mut PacketData<T> {
        if self.is_shared() {
            panic!(
                "mutable access to a shared packet from pool `{}`: declare the input port Access::InPlace or use Packet::make_mut",
                self.pool.name
            );
        }
        // SAFETY: refs == 1 (checked above) and we hold `&mut self`: this is the only lease.
        unsafe { &mut *self.pool.slot(self.idx).data.get() }
    }
}

impl<T: Payload> Drop for Packet<T> {
    fn drop(&mut self) {
        let slot = self.pool.slot(self.idx);
        if slot.refs.fetch_sub(1, Ordering::Release) == 1 {
            std::sync::atomic::fence(Ordering::Acquire);
            self.pool.release(self.idx);
        }
    }
}

impl<T: Payload> std::fmt::Debug for Packet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("pool", &self.pool.name)
            .field("slot", &self.idx)
            .field("header", &self.header)
            .finish()
    }
}
