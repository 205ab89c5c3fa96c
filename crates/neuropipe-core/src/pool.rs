//! [`MemoryPool`]: named, preallocated packet buffers, leased as [`Packet`]s.

use crate::metrics::PoolMetrics;
use crate::packet::{Packet, PacketData, PacketHeader};
use crate::payload::{Payload, PayloadKind};
use crossbeam_queue::ArrayQueue;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

pub(crate) struct Slot<T> {
    pub(crate) refs: AtomicUsize,
    pub(crate) data: UnsafeCell<PacketData<T>>,
}

pub(crate) struct PoolInner<T> {
    pub(crate) name: Arc<str>,
    slots: Box<[Slot<T>]>,
    free: ArrayQueue<u32>,
    returned: Notify,
    frames: usize,
    channels: usize,
    pub(crate) metrics: Arc<PoolMetrics>,
}

// SAFETY: slots are handed out to one unique lease at a time (index in the free queue ⇔ no
// lease), or shared read-only between leases; see `Packet`. `T: Send + Sync` by `Payload`.
unsafe impl<T: Payload> Sync for PoolInner<T> {}
// SAFETY: as above; moving the pool between threads moves owned `T`s.
unsafe impl<T: Payload> Send for PoolInner<T> {}

impl<T: Payload> PoolInner<T> {
    #[inline]
    pub(crate) fn slot(&self, idx: u32) -> &Slot<T> {
        &self.slots[idx as usize]
    }

    /// Takes a free slot, if any, without counting an exhaustion.
    fn take(this: &Arc<Self>) -> Option<Packet<T>> {
        let idx = this.free.pop()?;
        let slot = this.slot(idx);
        slot.refs.store(1, Ordering::Relaxed);
        // SAFETY: the index came out of the free queue, so no lease exists: this one is unique.
        let data = unsafe { &mut *slot.data.get() };
        data.header = PacketHeader {
            batch_size: this.frames as u32,
            channels: this.channels as u32,
            ..PacketHeader::default()
        };
        this.metrics.on_acquire();
        Some(Packet::from_slot(this.clone(), idx))
    }

    pub(crate) fn try_acquire(this: &Arc<Self>) -> Option<Packet<T>> {
        let p = Self::take(this);
        if p.is_none() {
            this.metrics.on_exhausted();
        }
        p
    }

    pub(crate) async fn acquire(this: &Arc<Self>) -> Packet<T> {
        if let Some(p) = Self::take(this) {
            return p;
        }
        this.metrics.on_wait();
        loop {
            let notified = this.returned.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(p) = Self::take(this) {
                return p;
            }
            notified.await;
        }
    }

    pub(crate) fn release(&self, idx: u32) {
        self.metrics.on_release();
        // Cannot fail: the queue has room for every slot and each index is in it at most once.
        let _ = self.free.push(idx);
        self.returned.notify_one();
    }
}

/// A named pool of `count` preallocated packets of payload `T`, each able to hold
/// `frames × channels` samples.
///
/// Cloning the handle is cheap (one atomic increment); all clones lend from the same buffers.
/// Pools are declared in the pipeline JSON (`"pools": [...]`) or created by the runtime for a
/// stage that needs one; a stage gets its pool at build time through
/// [`StageBuilder::pool`](crate::StageBuilder::pool), so a missing pool is a validation error,
/// never a panic in `run`.
pub struct MemoryPool<T: Payload> {
    inner: Arc<PoolInner<T>>,
}

impl<T: Payload> Clone for MemoryPool<T> {
    fn clone(&self) -> Self {
        MemoryPool {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Payload> MemoryPool<T> {
    /// Preallocates `count` packets of `frames × channels` samples.
    ///
    /// # Panics
    /// If `count` is 0 or exceeds `u32::MAX` (pipeline validation rejects both first).
    pub fn new(name: &str, count: usize, frames: usize, channels: usize) -> Self {
        assert!(
            count > 0 && count <= u32::MAX as usize,
            "pool count must be 1..=u32::MAX"
        );
        let slots: Box<[Slot<T>]> = (0..count)
            .map(|_| Slot {
                refs: AtomicUsize::new(0),
                data: UnsafeCell::new(PacketData {
                    header: PacketHeader::default(),
                    payload: T::allocate(frames, channels),
                }),
            })
            .collect();
        let free = ArrayQueue::new(count);
        for i in 0..count {
            let _ = free.push(i as u32);
        }
        MemoryPool {
            inner: Arc::new(PoolInner {
                name: Arc::from(name),
                slots,
                free,
                returned: Notify::new(),
                frames,
                channels,
                metrics: Arc::new(PoolMetrics::new(count)),
            }),
        }
    }

    /// Leases a free packet, or `None` right away if all are in use (counted as an exhaustion).
    /// The header is reset: zeros, except `batch_size`/`channels` = the pool's shape.
    #[inline]
    pub fn try_acquire(&self) -> Option<Packet<T>> {
        PoolInner::try_acquire(&self.inner)
    }

    /// Leases a free packet, waiting (without spinning) until one is returned.
    pub async fn acquire(&self) -> Packet<T> {
        PoolInner::acquire(&self.inner).await
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// Number of packets in the pool.
    pub fn count(&self) -> usize {
        self.inner.slots.len()
    }
    /// Frames per packet.
    pub fn frames(&self) -> usize {
        self.inner.frames
    }
    /// Channels per packet.
    pub fn channels(&self) -> usize {
        self.inner.channels
    }
    /// Payload kind.
    pub fn kind(&self) -> PayloadKind {
        T::KIND
    }
    /// Packets currently leased.
    pub fn in_use(&self) -> usize {
        self.inner.metrics.in_use()
    }
    /// Live counters of this pool.
    pub fn metrics(&self) -> &Arc<PoolMetrics> {
        &self.inner.metrics
    }
    pub(crate) fn erased(&self) -> ErasedPool {
        ErasedPool {
            any: self.inner.clone(),
            kind: T::KIND,
            frames: self.inner.frames,
            channels: self.inner.channels,
            count: self.inner.slots.len(),
            metrics: self.inner.metrics.clone(),
        }
    }
}

impl<T: Payload> std::fmt::Debug for MemoryPool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryPool")
            .field("name", &self.name())
            .field("kind", &T::KIND)
            .field("count", &self.count())
            .field("frames", &self.frames())
            .field("channels", &self.channels())
            .finish()
    }
}

/// A pool with its payload type erased, as kept by the pipeline builder.
#[derive(Clone)]
pub(crate) struct ErasedPool {
    any: Arc<dyn std::any::Any + Send + Sync>,
    pub(crate) kind: PayloadKind,
    pub(crate) frames: usize,
    pub(crate) channels: usize,
    pub(crate) count: usize,
    pub(crate) metrics: Arc<PoolMetrics>,
}

impl ErasedPool {
    pub(crate) fn typed<T: Payload>(&self) -> Option<MemoryPool<T>> {
        self.any
            .clone()
            .downcast::<PoolInner<T>>()
            .ok()
            .map(|inner| MemoryPool { inner })
    }
}
