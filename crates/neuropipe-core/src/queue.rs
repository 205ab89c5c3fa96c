//! Bounded queues between stages: [`Output`] (the sending end of one or more links) and
//! [`Input`] (the receiving end of one link).
//!
//! A link is a fixed-capacity lock-free queue of packets with async wake-ups: nothing spins,
//! nothing polls on a timer, and nothing allocates after the link is built.

use crate::metrics::LinkMetrics;
use crate::packet::Packet;
use crate::payload::Payload;
use crate::shared::StageShared;
use crate::stream::StreamInfo;
use crate::StageError;
use crossbeam_queue::ArrayQueue;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// What a link does when its queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkPolicy {
    /// `send` waits until the consumer makes room (backpressure). The default.
    #[default]
    #[serde(rename = "block")]
    Block,
    /// The packet being sent is dropped (and counted); the queue keeps its older packets.
    #[serde(rename = "drop-newest")]
    DropNewest,
    /// The oldest queued packet is dropped (and counted) to make room: a live display sees
    /// the freshest data.
    #[serde(rename = "drop-oldest")]
    DropOldest,
}

impl LinkPolicy {
    /// JSON name.
    pub fn name(self) -> &'static str {
        match self {
            LinkPolicy::Block => "block",
            LinkPolicy::DropNewest => "drop-newest",
            LinkPolicy::DropOldest => "drop-oldest",
        }
    }
    /// Every policy.
    pub const ALL: [LinkPolicy; 3] = [
        LinkPolicy::Block,
        LinkPolicy::DropNewest,
        LinkPolicy::DropOldest,
    ];
}

/// How a stage uses the packets arriving on an input port. Decides what fan-out hands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Access {
    /// The stage only reads packets (sinks, displays, transforming stages that write into a
    /// new packet). Fan-out shares one buffer between all read-only consumers: no copy.
    #[serde(rename = "read-only")]
    ReadOnly,
    /// The stage modifies packets in place and forwards them. At a fan-out, such a consumer
    /// gets its own copy unless it is the only one that would see the buffer.
    #[serde(rename = "in-place")]
    InPlace,
}

pub(crate) struct LinkShared<T: Payload> {
    q: ArrayQueue<Packet<T>>,
    policy: LinkPolicy,
    data: Notify,
    space: Notify,
    tx_closed: AtomicBool,
    rx_closed: AtomicBool,
    pub(crate) metrics: Arc<LinkMetrics>,
}

impl<T: Payload> LinkShared<T> {
    pub(crate) fn new(capacity: usize, policy: LinkPolicy) -> Arc<Self> {
        Arc::new(LinkShared {
            q: ArrayQueue::new(capacity.max(1)),
            policy,
            data: Notify::new(),
            space: Notify::new(),
            tx_closed: AtomicBool::new(false),
            rx_closed: AtomicBool::new(false),
            metrics: Arc::new(LinkMetrics::default()),
        })
    }
    pub(crate) fn depth(&self) -> usize {
        self.q.len()
    }
    /// Queues `pkt`, dropping the oldest queued packet if full (never waits); wakes the
    /// receiver. Returns whether a packet was dropped. (Taps: observers lose, never the
    /// pipeline.)
    pub(crate) fn push_overwriting(&self, pkt: Packet<T>) -> bool {
        let dropped = self.q.force_push(pkt).is_some();
        self.data.notify_one();
        dropped
    }
    /// The next queued packet, if any.
    pub(crate) fn try_pop(&self) -> Option<Packet<T>> {
        self.q.pop()
    }
    /// Queues `pkt` if there is room (never waits, never drops); wakes the receiver.
    pub(crate) fn try_push(&self, pkt: Packet<T>) -> Result<(), Packet<T>> {
        self.q.push(pkt)?;
        self.data.notify_one();
        Ok(())
    }
    /// Waits until the receiver frees room (a wake-up may be spurious: check again).
    pub(crate) async fn space_ready(&self) {
        self.space.notified().await;
    }
    /// The receiver took a packet: wakes a sender waiting for room.
    pub(crate) fn space_freed(&self) {
        self.space.notify_one();
    }
    /// Returns every queued packet to its pool and wakes a sender waiting for room.
    pub(crate) fn clear_and_release(&self) {
        while self.q.pop().is_some() {}
        self.space.notify_one();
    }
    /// The sender is gone: the receiver drains what is queued, then sees the end.
    pub(crate) fn close_sender(&self) {
        self.tx_closed.store(true, Ordering::Release);
        self.data.notify_one();
    }
    /// Whether the sender is gone.
    pub(crate) fn sender_closed(&self) -> bool {
        self.tx_closed.load(Ordering::Acquire)
    }
    /// Waits until a packet is queued or the sender closes (a wake-up may be spurious:
    /// check again).
    pub(crate) async fn data_ready(&self) {
        self.data.notified().await;
    }
    fn rx_closed(&self) -> bool {
        self.rx_closed.load(Ordering::Acquire)
    }
    fn enqueued(&self) {
        let m = &self.metrics;
        m.sent.fetch_add(1, Ordering::Relaxed);
        m.high_water.fetch_max(self.q.len(), Ordering::Relaxed);
        self.data.notify_one();
    }

    /// Pushes one packet by the link's policy. `Err(())` if the consumer is gone.
    async fn push(&self, pkt: Packet<T>, stage: &StageShared) -> Result<(), ()> {
        match self.policy {
            LinkPolicy::Block => {
                let mut pkt = pkt;
                let mut waited: Option<Instant> = None;
                loop {
                    if self.rx_closed() {
                        return Err(());
                    }
                    match self.q.push(pkt) {
                        Ok(()) => break,
                        Err(p) => pkt = p,
                    }
                    if waited.is_none() {
                        self.metrics.send_waits.fetch_add(1, Ordering::Relaxed);
                        waited = Some(Instant::now());
                    }
                    self.space.notified().await;
                }
                if let Some(t0) = waited {
                    stage.add_wait(t0);
                }
            }
            LinkPolicy::DropNewest => {
                if self.rx_closed() {
                    return Err(());
                }
                if let Err(p) = self.q.push(pkt) {
                    drop(p);
                    self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
            }
            LinkPolicy::DropOldest => {
                if self.rx_closed() {
                    return Err(());
                }
                if let Some(old) = self.q.force_push(pkt) {
                    drop(old);
                    self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.enqueued();
        Ok(())
    }
}

pub(crate) struct OutLink<T: Payload> {
    pub(crate) link: Arc<LinkShared<T>>,
    pub(crate) access: Access,
}

/// The sending end of an output port: one or more links (fan-out).
///
/// [`send`](Self::send) waits while a `block` link is full (backpressure), drops by policy on a
/// leaky link, and fails with [`StageError::QueueClosed`] only when every consumer is gone.
pub struct Output<T: Payload> {
    links: Vec<OutLink<T>>,
    stage: Arc<StageShared>,
    stream: StreamInfo,
    stamp_emitted: bool,
    tap: Option<crate::tap::TapTx<T>>,
}

impl<T: Payload> Output<T> {
    pub(crate) fn new(
        links: Vec<OutLink<T>>,
        stage: Arc<StageShared>,
        stream: StreamInfo,
        is_source: bool,
    ) -> Self {
        Output {
            links,
            stage,
            stream,
            stamp_emitted: is_source,
            tap: None,
        }
    }

    pub(crate) fn set_tap(&mut self, tap: crate::tap::TapTx<T>) {
        self.tap = Some(tap);
    }

    /// The stream this output carries (declared when the stage was built).
    pub fn stream(&self) -> &StreamInfo {
        &self.stream
    }

    /// Number of links (consumers) on this output.
    pub fn consumers(&self) -> usize {
        self.links.len()
    }

    /// Sends a packet to every consumer.
    ///
    /// With one consumer the packet is moved. With several, read-only consumers share the
    /// buffer and in-place consumers get their own copy (from the packet's pool) unless no
    /// one else would see the buffer. A source's packets get their `emitted` time stamped here.
    /// On an optional output that is not linked, the packet is simply dropped.
    pub async fn send(&mut self, mut packet: Packet<T>) -> Result<(), StageError> {
        if self.stamp_emitted {
            if let Some(d) = packet.try_mut() {
                d.header.emitted = self.stage.clock.now_ns();
            }
        }
        let frames = packet.header.batch_size as u64;
        if let Some(tap) = &self.tap {
            tap.offer(&packet).await;
        }
        if self.links.is_empty() {
            // An optional output nobody linked: the packet goes back to its pool.
            return Ok(());
        }
        let delivered = if self.links.len() == 1 {
            self.links[0].link.push(packet, &self.stage).await.is_ok()
        } else {
            self.fan_out(packet).await
        };
        if delivered {
            self.stage.metrics.on_out(frames);
            Ok(())
        } else {
            Err(StageError::QueueClosed)
        }
    }

    async fn fan_out(&mut self, packet: Packet<T>) -> bool {
        let alive = |l: &OutLink<T>| !l.link.rx_closed();
        let readers = self
            .links
            .iter()
            .filter(|l| alive(l) && l.access == Access::ReadOnly)
            .count();
        let writers = self
            .links
            .iter()
            .filter(|l| alive(l) && l.access == Access::InPlace)
            .count();
        let mut delivered = false;
        // Read-only consumers first: they share the original buffer.
        for l in self.links.iter().filter(|l| l.access == Access::ReadOnly) {
            if alive(l) {
                delivered |= l.link.push(packet.share(), &self.stage).await.is_ok();
            }
        }
        // In-place consumers: a copy each, except the last one when no reader shares the buffer.
        let mut original = Some(packet);
        let mut writers_left = writers;
        for l in self.links.iter().filter(|l| l.access == Access::InPlace) {
            if !alive(l) {
                continue;
            }
            writers_left -= 1;
            let item = if readers == 0 && writers_left == 0 {
                match original.take() {
                    Some(p) => p,
                    None => continue,
                }
            } else {
                match &original {
                    Some(p) => p.copy().await,
                    None => continue,
                }
            };
            delivered |= l.link.push(item, &self.stage).await.is_ok();
        }
        delivered
    }
}

impl<T: Payload> Drop for Output<T> {
    fn drop(&mut self) {
        if let Some(tap) = &self.tap {
            tap.close();
        }
        for l in &self.links {
            l.link.tx_closed.store(true, Ordering::Release);
            l.link.data.notify_one();
        }
    }
}

/// The receiving end of an input port (one link).
pub struct Input<T: Payload> {
    link: Arc<LinkShared<T>>,
    stage: Arc<StageShared>,
    stream: StreamInfo,
    record_latency: bool,
}

impl<T: Payload> Input<T> {
    pub(crate) fn new(
        link: Arc<LinkShared<T>>,
        stage: Arc<StageShared>,
        stream: StreamInfo,
        is_sink: bool,
    ) -> Self {
        Input {
            link,
            stage,
            stream,
            record_latency: is_sink,
        }
    }

    #[inline]
    fn try_pop(&self) -> Option<Packet<T>> {
        let p = self.link.q.pop()?;
        self.link.space.notify_one();
        self.link.metrics.received.fetch_add(1, Ordering::Relaxed);
        self.stage.metrics.on_in(p.header.batch_size as u64);
        if self.record_latency && p.header.emitted != 0 {
            let now = self.stage.clock.now_ns();
            self.stage
                .metrics
                .record_latency(now.saturating_sub(p.header.emitted));
        }
        Some(p)
    }

    /// The stream arriving on this input (as its producer declared it).
    pub fn stream(&self) -> &StreamInfo {
        &self.stream
    }

    /// Receives the next packet.
    ///
    /// * `Ok(Some(p))`: a packet.
    /// * `Ok(None)`: nothing to process now — the stage was woken by a control message;
    ///   return from `run` so the runtime can deliver it.
    /// * `Err(StageError::QueueClosed)`: the producer finished and the queue is drained.
    ///
    /// Waiting costs no CPU: the task sleeps until a packet, a control message or the close.
    pub async fn recv(&mut self) -> Result<Option<Packet<T>>, StageError> {
        loop {
            if let Some(p) = self.try_pop() {
                return Ok(Some(p));
            }
            if self.link.tx_closed.load(Ordering::Acquire) {
                return match self.try_pop() {
                    Some(p) => Ok(Some(p)),
                    None => Err(StageError::QueueClosed),
                };
            }
            let t0 = Instant::now();
            let by_control = tokio::select! {
                biased;
                _ = self.link.data.notified() => false,
                _ = self.stage.control_ready.notified() => true,
            };
            self.stage.add_wait(t0);
            if by_control {
                return Ok(None);
            }
        }
    }

    /// Takes a packet if one is queued, without waiting. `Err(QueueClosed)` at end of stream.
    pub fn try_recv(&mut self) -> Result<Option<Packet<T>>, StageError> {
        if let Some(p) = self.try_pop() {
            return Ok(Some(p));
        }
        if self.link.tx_closed.load(Ordering::Acquire) {
            return match self.try_pop() {
                Some(p) => Ok(Some(p)),
                None => Err(StageError::QueueClosed),
            };
        }
        Ok(None)
    }

    /// Waits until a packet is queued or the producer has finished, without taking anything
    /// (and without returning for control messages: wrap it in a `select!` with the stage's
    /// main `recv`, which does). For stages reading several inputs at once, e.g. a recorder
    /// writing every stream it is given as it arrives. Cancel-safe.
    pub async fn ready(&self) {
        loop {
            if self.link.depth() > 0 || self.link.sender_closed() {
                return;
            }
            // A push between the check and here leaves a permit: this returns at once.
            self.link.data_ready().await;
        }
    }

    /// Packets waiting in the queue.
    pub fn len(&self) -> usize {
        self.link.depth()
    }

    /// Whether the queue is empty right now.
    pub fn is_empty(&self) -> bool {
        self.link.depth() == 0
    }
}

impl<T: Payload> Drop for Input<T> {
    fn drop(&mut self) {
        self.link.rx_closed.store(true, Ordering::Release);
        // Return queued buffers to their pools now rather than when the producer goes away.
        while self.link.q.pop().is_some() {}
        self.link.space.notify_one();
    }
}
