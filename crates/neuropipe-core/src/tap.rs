//! Signal taps: a copy of what an output sends, for observers (the dashboard, `neuropipe
//! top`) that must never slow the pipeline down.
//!
//! Every output has a tap. While nobody listens it costs one atomic load per packet. While a
//! [`SignalTap`] is open, each packet is copied into a buffer from the tap's own small pool
//! (never the pipeline's) and queued drop-oldest: a slow or stuck observer loses tap packets,
//! the pipeline loses nothing.
//!
//! A **lossless** tap ([`PipelineHandle::tap_lossless`](crate::PipelineHandle::tap_lossless))
//! is for offline runs (a recording replayed as fast as possible into a notebook): instead of
//! dropping, the tapped output waits for the observer, so the pipeline runs at the observer's
//! pace. Closing the tap (drop) releases it at once.

use crate::packet::{Packet, PacketHeader};
use crate::payload::{Payload, PayloadKind, Sample, Samples};
use crate::pool::MemoryPool;
use crate::queue::{LinkPolicy, LinkShared};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Why [`PipelineHandle::tap`](crate::PipelineHandle::tap) opened no tap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TapError {
    /// No output has that name (nor is it a stage with a single output).
    #[error("no output `{endpoint}` (outputs: {})", outputs.join(", "))]
    UnknownOutput {
        /// The name asked for.
        endpoint: String,
        /// Every output, as `stage.port`.
        outputs: Vec<String>,
    },
    /// The output already has an open tap (one at a time).
    #[error("output `{endpoint}` is already tapped")]
    AlreadyTapped {
        /// The output, as `stage.port`.
        endpoint: String,
    },
}

/// Packets a tap queues for its observer before dropping the oldest.
const TAP_DEPTH: usize = 8;

pub(crate) struct TapState {
    pub(crate) open: AtomicBool,
    /// The open tap waits for its observer instead of dropping.
    pub(crate) lossless: AtomicBool,
    pub(crate) dropped: AtomicU64,
}

/// The sending side, held by an [`Output`](crate::Output).
pub(crate) struct TapTx<T: Payload> {
    state: Arc<TapState>,
    pool: MemoryPool<T>,
    link: Arc<LinkShared<T>>,
}

impl<T: Payload> TapTx<T> {
    #[inline]
    pub(crate) async fn offer(&self, pkt: &Packet<T>) {
        if !self.state.open.load(Ordering::Relaxed) {
            return;
        }
        if self.state.lossless.load(Ordering::Acquire) {
            return self.offer_lossless(pkt).await;
        }
        let Some(mut copy) = self.pool.try_acquire() else {
            self.state.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if let Some(d) = copy.try_mut() {
            d.header = pkt.header;
            d.payload.copy_from(&pkt.payload);
        }
        if self.link.push_overwriting(copy) {
            self.state.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
    /// Copies `pkt` and queues it, waiting for a buffer and for room while the tap stays open.
    async fn offer_lossless(&self, pkt: &Packet<T>) {
        // The pool holds two buffers more than the queue: one is free unless the observer is
        // converting one; closing the tap returns the queued ones.
        let mut copy = self.pool.acquire().await;
        if let Some(d) = copy.try_mut() {
            d.header = pkt.header;
            d.payload.copy_from(&pkt.payload);
        }
        loop {
            if !self.state.open.load(Ordering::Acquire) {
                return;
            }
            match self.link.try_push(copy) {
                Ok(()) => return,
                Err(c) => copy = c,
            }
            self.link.space_ready().await;
        }
    }
    pub(crate) fn close(&self) {
        self.link.close_sender();
    }
}

/// What the pipeline keeps to open a tap later, with the payload type erased.
pub(crate) struct TapPoint {
    pub(crate) endpoint: String,
    pub(crate) state: Arc<TapState>,
    rx: TapRxAny,
}

#[derive(Clone)]
enum TapRxAny {
    I32(Arc<LinkShared<Samples<i32>>>),
    F32(Arc<LinkShared<Samples<f32>>>),
    F64(Arc<LinkShared<Samples<f64>>>),
}

/// Creates a tap for an output of `T` with packets of `frames × channels`.
pub(crate) fn new_tap<T: Payload>(
    endpoint: String,
    frames: usize,
    channels: usize,
) -> (TapTx<T>, Option<TapPoint>) {
    let state = Arc::new(TapState {
        open: AtomicBool::new(false),
        lossless: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
    });
    let link = LinkShared::<T>::new(TAP_DEPTH, LinkPolicy::DropOldest);
    let pool = MemoryPool::<T>::new(&format!("tap:{endpoint}"), TAP_DEPTH + 2, frames, channels);
    let any: Arc<dyn std::any::Any + Send + Sync> = link.clone();
    let rx = match T::KIND {
        PayloadKind::I32 => any.downcast().ok().map(TapRxAny::I32),
        PayloadKind::F32 => any.downcast().ok().map(TapRxAny::F32),
        PayloadKind::F64 => any.downcast().ok().map(TapRxAny::F64),
    };
    let point = rx.map(|rx| TapPoint {
        endpoint,
        state: state.clone(),
        rx,
    });
    (TapTx { state, pool, link }, point)
}

impl TapPoint {
    pub(crate) fn open(&self, lossless: bool) -> Option<SignalTap> {
        if self.state.open.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.state.lossless.store(lossless, Ordering::Release);
        Some(SignalTap {
            endpoint: self.endpoint.clone(),
            state: self.state.clone(),
            rx: self.rx.clone(),
        })
    }
}

/// One packet seen through a tap, converted to `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct TapPacket {
    /// The packet's header.
    pub header: PacketHeader,
    /// Samples, frame-major (`batch_size × channels`).
    pub samples: Vec<f64>,
}

/// An open tap on one output (see [`PipelineHandle::tap`](crate::PipelineHandle::tap)).
/// Closing it (drop) stops the copying.
pub struct SignalTap {
    endpoint: String,
    state: Arc<TapState>,
    rx: TapRxAny,
}

impl SignalTap {
    /// `"stage.port"` of the tapped output.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    /// Whether the tapped output waits for this observer instead of dropping.
    pub fn is_lossless(&self) -> bool {
        self.state.lossless.load(Ordering::Relaxed)
    }
    /// Tap packets dropped so far because the observer was slow (the pipeline lost nothing).
    pub fn dropped(&self) -> u64 {
        self.state.dropped.load(Ordering::Relaxed)
    }
    /// The next packet, waiting for one; `None` once the output has closed.
    pub async fn next(&mut self) -> Option<TapPacket> {
        match &self.rx {
            TapRxAny::I32(l) => next_from(l).await,
            TapRxAny::F32(l) => next_from(l).await,
            TapRxAny::F64(l) => next_from(l).await,
        }
    }
}

async fn next_from<S: Sample>(l: &LinkShared<Samples<S>>) -> Option<TapPacket> {
    loop {
        if let Some(p) = l.try_pop() {
            // A lossless tap's sender may be waiting for room.
            l.space_freed();
            // The tap's buffers are sized from the stream info; never trust a header past them.
            let n = p.header.len().min(p.payload.capacity());
            return Some(TapPacket {
                header: p.header,
                samples: p.payload.raw()[..n].iter().map(|s| s.to_f64()).collect(),
            });
        }
        if l.sender_closed() {
            return None;
        }
        l.data_ready().await;
    }
}

impl Drop for SignalTap {
    fn drop(&mut self) {
        self.state.open.store(false, Ordering::Release);
        self.state.lossless.store(false, Ordering::Release);
        // Return queued copies to the tap pool, and release a lossless sender waiting for room.
        match &self.rx {
            TapRxAny::I32(l) => l.clear_and_release(),
            TapRxAny::F32(l) => l.clear_and_release(),
            TapRxAny::F64(l) => l.clear_and_release(),
        }
    }
}
