//! One replayed stream of a `FileReplay`: its reader thread, its packets, its output port
//! and its time axis. The stage replays one lane (an EDF/BDF/CSV file, or one XDF stream) or
//! several (XDF `streams`, one port each), sending the lanes' packets in the order they fall
//! due.

use super::replay_reader::{spawn_reader, Chunk, Read, ReadPlan, CHUNKS};
use super::replay_source::ReplaySource;
use super::replay_times::FileTimes;
use neuropipe_core::blocking::BlockingWorker;
use neuropipe_core::{
    Clock, FloatSample, MemoryPool, Output, Pacer, Packet, Payload, Samples, StageContext,
    StageError, FLAG_DISCONTINUITY,
};
use std::time::Instant;

/// A packet read, with what the reader noticed about its frames.
pub(crate) struct Ready<S: 'static>
where
    Samples<S>: Payload,
{
    pub(crate) pkt: Packet<Samples<S>>,
    pub(crate) gap_s: Option<f64>,
    pub(crate) railed: u64,
}

/// One replayed stream (see the module docs).
pub(crate) struct Lane<S: FloatSample>
where
    Samples<S>: Payload,
{
    /// The file and how to read it, until the first `run` hands them to the reader thread.
    source: Option<(ReplaySource, ReadPlan)>,
    worker: Option<BlockingWorker<Chunk, Read>>,
    /// The chunks, until the first `run` hands them to the reader thread.
    chunks: Vec<Chunk>,
    /// The file, and the stream when the stage replays several: for messages.
    pub(crate) label: String,
    pool: MemoryPool<Samples<S>>,
    /// Its output port, until the stream ends: dropping it ends the stream downstream
    /// (a `Merge` of a stream that ends early must not wait for it).
    out: Option<Output<Samples<S>>>,
    channels: usize,
    /// The next packet, read but not sent yet (its deadline may have been interrupted by a
    /// control message).
    pub(crate) head: Option<Ready<S>>,
    /// The stream has ended (the end of the file, not looping).
    pub(crate) ended: bool,
    /// Frames of the file read in this pass.
    pub(crate) read_pos: u64,
    /// Frames of the file sent in this pass.
    pub(crate) sent_pos: u64,
    /// Frame index of the stream (never reset).
    pub(crate) next_frame: u64,
    sequence: u64,
    /// Real-time pacing on the replay's own clock (drift-free, re-anchored after a pause).
    pub(crate) pacer: Pacer,
    /// The file's own time stamps (`timestamps: file`), used instead of the pacer's.
    pub(crate) times: Option<FileTimes>,
    /// Frames sent in the current pass (a loop of an empty file ends the stream).
    pub(crate) pass_frames: u64,
    /// Non-finite samples replayed (for the first-time warning).
    pub(crate) nonfinite: u64,
}

impl<S: FloatSample> Lane<S>
where
    Samples<S>: Payload,
{
    /// A lane reading `source` as `plan` says, sending on `out` (at build time).
    pub(crate) fn new(
        source: ReplaySource,
        plan: ReadPlan,
        label: String,
        pool: MemoryPool<Samples<S>>,
        out: Output<Samples<S>>,
        rate: f64,
        times: Option<FileTimes>,
    ) -> Self {
        let (frames, channels) = (plan.frames, plan.channels);
        Lane {
            source: Some((source, plan)),
            worker: None,
            chunks: (0..CHUNKS).map(|_| Chunk::new(frames, channels)).collect(),
            label,
            pool,
            out: Some(out),
            channels,
            head: None,
            ended: false,
            read_pos: 0,
            sent_pos: 0,
            next_frame: 0,
            sequence: 0,
            pacer: Pacer::new(rate),
            times,
            pass_frames: 0,
            nonfinite: 0,
        }
    }

    /// Starts the reader thread (first `run`) and gives it the chunks to fill.
    pub(crate) fn start(&mut self) -> Result<(), StageError> {
        let Some((source, plan)) = self.source.take() else {
            return Ok(());
        };
        let worker = spawn_reader(source, plan, &self.label)?;
        for c in self.chunks.drain(..) {
            // Never full: the job channel holds every chunk there is.
            let _ = worker.try_send(c);
        }
        self.worker = Some(worker);
        Ok(())
    }

    /// The reader's error once it has ended (or an error saying it ended).
    async fn reader_failed(&mut self) -> StageError {
        let outcome = match self.worker.as_mut() {
            Some(w) => w.finish().await,
            None => Ok(()),
        };
        match outcome {
            Err(e) => e,
            Ok(()) => StageError::fatal(format!("the reader of {} ended early", self.label)),
        }
    }

    /// The reader's next message; `None` if a control message came first.
    pub(crate) async fn next_read(
        &mut self,
        ctx: &mut StageContext,
    ) -> Result<Option<Read>, StageError> {
        let Some(w) = self.worker.as_mut() else {
            return Err(self.reader_failed().await);
        };
        let read = match w.try_recv() {
            Ok(Some(r)) => Some(r),
            Ok(None) => tokio::select! {
                biased;
                _ = ctx.control_pending() => return Ok(None),
                r = w.recv() => r,
            },
            Err(()) => None,
        };
        match read {
            Some(r) => Ok(Some(r)),
            None => Err(self.reader_failed().await),
        }
    }

    /// Makes chunk `c` the lane's next packet (the chunk goes back to the reader).
    pub(crate) async fn take_chunk(&mut self, c: Chunk) -> Result<(), StageError> {
        let mut pkt = self.pool.acquire().await;
        let n = c.frames;
        pkt.set_shape(n, self.channels)?;
        for (d, &v) in pkt.samples_mut().iter_mut().zip(&c.data) {
            *d = S::from_f64(v);
        }
        let h = &mut pkt.header;
        h.sequence = self.sequence;
        h.first_frame = self.next_frame;
        if c.discontinuity {
            h.flags |= FLAG_DISCONTINUITY;
        }
        let (gap_s, railed) = (c.gap_s, c.railed);
        if let Some(w) = &self.worker {
            let _ = w.try_send(c); // never full: see `start`
        }
        self.sequence += 1;
        self.next_frame += n as u64;
        self.read_pos += n as u64;
        self.head = Some(Ready { pkt, gap_s, railed });
        Ok(())
    }

    /// The stream has ended: its consumers see the end of stream now, whatever the other
    /// streams of the stage do.
    pub(crate) fn end(&mut self) {
        self.ended = true;
        self.out = None;
    }

    /// Sends a packet on the lane's port; `QueueClosed` once its consumers are gone (or the
    /// lane has ended).
    pub(crate) async fn send(&mut self, pkt: Packet<Samples<S>>) -> Result<(), StageError> {
        match &mut self.out {
            Some(out) => out.send(pkt).await,
            None => Err(StageError::QueueClosed),
        }
    }

    /// The file starts over: the reader has rewound.
    pub(crate) fn next_pass(&mut self, pass_ns: Option<f64>) {
        if let Some(t) = &mut self.times {
            t.next_pass(pass_ns);
        }
        self.read_pos = 0;
        self.sent_pos = 0;
        self.pass_frames = 0;
    }

    /// The head packet's frames: its place in this pass of the file and its frame count.
    fn head_span(&self) -> Option<(u64, u64)> {
        let h = self.head.as_ref()?;
        let n = h.pkt.header.frames() as u64;
        Some((self.read_pos - n, n))
    }

    /// Pipeline-clock time (ns) of the head packet's first sample.
    pub(crate) fn head_stamp_ns(&self) -> Option<u64> {
        let (pos, _) = self.head_span()?;
        let first = self.head.as_ref()?.pkt.header.first_frame;
        Some(match &self.times {
            Some(t) => t.stamp_ns(pos),
            None => self.pacer.frame_time_ns(first),
        })
    }

    /// Pipeline-clock time (ns) of the head packet's last sample: when it falls due.
    pub(crate) fn head_due_ns(&self) -> Option<u64> {
        let (pos, n) = self.head_span()?;
        let first = self.head.as_ref()?.pkt.header.first_frame;
        Some(match &self.times {
            Some(t) => t.stamp_ns(pos + n.max(1) - 1),
            None => self.pacer.frame_time_ns(first + n.max(1) - 1),
        })
    }

    /// When the head packet is due in real time.
    pub(crate) fn head_due(&mut self, clock: &Clock) -> Option<Instant> {
        let (pos, n) = self.head_span()?;
        let first = self.head.as_ref()?.pkt.header.first_frame;
        Some(match &self.times {
            Some(t) => t.due(clock, pos, n),
            None => self.pacer.due(clock, first, n),
        })
    }

    /// Takes the head packet, stamped and flagged, to send.
    pub(crate) fn take_head(&mut self) -> Option<Ready<S>> {
        let stamp = self.head_stamp_ns()?;
        let (_, n) = self.head_span()?;
        let mut ready = self.head.take()?;
        ready.pkt.header.timestamp = stamp;
        let moved = self
            .times
            .as_mut()
            .is_some_and(FileTimes::take_discontinuity);
        if self.pacer.take_discontinuity() || moved {
            ready.pkt.header.flags |= FLAG_DISCONTINUITY;
        }
        self.sent_pos += n;
        self.pass_frames += n;
        Some(ready)
    }
}
