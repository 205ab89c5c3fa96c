//! `PushSource`: a source its host feeds, e.g. a notebook (`Pipeline.push(stage, data)` in
//! the Python package) or a device SDK only available in the host's language. The host
//! writes `(channels, times)` frames into a ring buffer sized at build time; the stage cuts
//! them into packets (leased from its pool, as every source does) stamped with the pushed
//! timestamps. When the ring is full, `push` waits (`on_full: "block"`, backpressure to the
//! caller) or drops what does not fit (`"drop"`: counted; the next packet carries the lost
//! frames and a `LostSamples` event says how many). Frames pushed before a stop are sent
//! before the stage finishes (the spec's `drains_on_stop`: the runtime does not cut it off).

use neuropipe_core::prelude::*;
use neuropipe_core::{with_float, FloatKind, FLAG_DISCONTINUITY, FLAG_LOST_SAMPLES};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Parameters of `PushSource`.
#[derive(StageParams)]
pub struct PushSourceParams {
    /// number of channels of the pushed arrays (their rows)
    #[param(min = 1, max = 4096)]
    pub channels: usize,
    /// frames per second of the pushed data (Hz)
    #[param(min = 0.001, max = 1e6)]
    pub sample_rate: f64,
    /// frames per packet: pushed arrays are cut into packets of at most this many frames (a packet never spans two pushes)
    #[param(default = 32, min = 1, max = 4096)]
    pub frames: usize,
    /// unit of the pushed samples (e.g. uV)
    #[param(default = "uV")]
    pub unit: String,
    /// frames buffered between push() and the pipeline
    #[param(default = 8192, min = 1, max = 16777216)]
    pub buffer: usize,
    /// when the buffer is full: "block" (push waits: backpressure to the caller) or "drop" (frames that do not fit are dropped, counted and flagged)
    #[param(default = "block", choices = ["block", "drop"])]
    pub on_full: String,
    /// sample type of the output packets
    #[param(default = "f32")]
    pub sample_type: FloatKind,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "PushSource",
        "Source its host feeds: Pipeline.push(stage, data) in Python, with (channels, times) arrays",
        build,
    )
    .output(PortSpec::any("out").doc("f32 or f64 samples (sample_type) as pushed"))
    .with_stream_info()
    .drains_on_stop()
    .params::<PushSourceParams>()
    .with_pool()
}

/// The ring between Python and the stage: frames in f64 (converted to the packet type by
/// the stage), with each frame's index and timestamp.
struct Ring {
    samples: Vec<f64>,
    index: Vec<u64>,
    stamp_ns: Vec<u64>,
    /// The frame starts a push (a packet never spans two).
    starts: Vec<bool>,
    head: usize,
    len: usize,
    /// Index of the next frame pushed (counts dropped frames too).
    next_index: u64,
    /// Timestamp of the last frame pushed (ns), if any.
    last_stamp_ns: Option<u64>,
    /// No more pushes (`end`, or the stage finished).
    closed: bool,
    /// The stage has finished: pushes fail.
    finished: bool,
}

/// The shared end of one `PushSource`, held by the stage and by its host.
pub struct PushFeed {
    ring: Mutex<Ring>,
    /// Held for a whole push: pushes from two threads never interleave their frames.
    pushing: Mutex<()>,
    /// Python waits here for room.
    space: Condvar,
    /// The stage waits here for frames.
    data: Notify,
    channels: usize,
    rate: f64,
    capacity: usize,
    block: bool,
    dropped: AtomicU64,
    clock: Clock,
}

/// Why a push was refused.
#[derive(Debug)]
pub enum PushError<E> {
    /// The stage has finished (the pipeline stopped or failed): nothing more is taken.
    Finished,
    /// The host ended the stream ([`PushFeed::close`]).
    Closed,
    /// The host's `interrupted` check asked to give up while waiting for room (Ctrl-C).
    Interrupted(E),
    /// The given first timestamp is not after the previous push's last frame.
    OutOfOrder {
        /// The previous push's last frame (ns, pipeline clock).
        previous_ns: u64,
        /// The first timestamp given (ns).
        given_ns: u64,
    },
}

/// How long [`PushFeed::push`] waits for room before asking the host whether to go on.
pub const PUSH_WAIT_SLICE: Duration = Duration::from_millis(50);

impl PushFeed {
    /// Number of channels a push must have.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames per second of the stream.
    pub fn sample_rate(&self) -> f64 {
        self.rate
    }

    /// Writes `n` frames (`sample(channel, k)`) stamped at the stream's rate from `t0_ns`
    /// (pipeline clock), and returns the frames accepted: all of them, unless the stage drops
    /// (`on_full: "drop"`) and the buffer is full. Without `t0_ns` the frames follow the
    /// previous push at the nominal rate (the first push ends now). Blocking (`on_full:
    /// "block"`): waits for room, calling `interrupted` every [`PUSH_WAIT_SLICE`]; its error
    /// aborts the push (the frames already written stay).
    pub fn push<E>(
        &self,
        n: usize,
        t0_ns: Option<u64>,
        sample: impl Fn(usize, usize) -> f64,
        mut interrupted: impl FnMut() -> Result<(), E>,
    ) -> Result<usize, PushError<E>> {
        let _one_at_a_time = self.pushing.lock().map_err(|_| PushError::Finished)?;
        let ch = self.channels;
        let mut done = 0;
        let mut first = true;
        let mut accepted = 0;
        let lock = || self.ring.lock().map_err(|_| PushError::Finished);
        let period = |k: usize| ((k as f64) / self.rate * 1e9).round() as u64;
        let t0_ns = {
            let mut r = lock()?;
            let t0 = match (t0_ns, r.last_stamp_ns) {
                (Some(t), Some(prev)) if t <= prev => {
                    return Err(PushError::OutOfOrder {
                        previous_ns: prev,
                        given_ns: t,
                    })
                }
                (Some(t), _) => t,
                (None, Some(prev)) => prev.saturating_add(period(1)),
                (None, None) => self
                    .clock
                    .now_ns()
                    .saturating_sub(period(n.saturating_sub(1))),
            };
            r.last_stamp_ns = Some(t0.saturating_add(period(n.saturating_sub(1))));
            t0
        };
        while done < n {
            let mut r = lock()?;
            if r.finished {
                return Err(PushError::Finished);
            }
            if r.closed {
                return Err(PushError::Closed);
            }
            let room = self.capacity - r.len;
            if room == 0 {
                if self.block {
                    let (g, _) = self
                        .space
                        .wait_timeout(r, PUSH_WAIT_SLICE)
                        .map_err(|_| PushError::Finished)?;
                    drop(g);
                    interrupted().map_err(PushError::Interrupted)?;
                    continue;
                }
                // Dropping: the rest of this push is lost, counted.
                let lost = (n - done) as u64;
                r.next_index += lost;
                self.dropped.fetch_add(lost, Ordering::Relaxed);
                break;
            }
            let take = room.min(n - done);
            for k in done..done + take {
                let slot = (r.head + r.len) % self.capacity;
                let idx = r.next_index;
                r.index[slot] = idx;
                r.stamp_ns[slot] = t0_ns.saturating_add(period(k));
                r.starts[slot] = first;
                first = false;
                for c in 0..ch {
                    r.samples[slot * ch + c] = sample(c, k);
                }
                r.len += 1;
                r.next_index += 1;
            }
            done += take;
            accepted += take;
            drop(r);
            self.data.notify_one();
        }
        Ok(accepted)
    }

    /// No more data: the stage sends what is buffered, then ends the stream.
    pub fn close(&self) {
        if let Ok(mut r) = self.ring.lock() {
            r.closed = true;
        }
        self.data.notify_one();
    }

    /// The stage is done (stopped, failed or ended): pushes fail, a waiting push wakes.
    fn finish(&self) {
        if let Ok(mut r) = self.ring.lock() {
            r.finished = true;
            r.closed = true;
        }
        self.space.notify_all();
    }

    /// Frames dropped because the buffer was full (`on_full: "drop"`).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The pipeline clock now, in ns.
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

struct PushSource<S: FloatSample> {
    feed: Arc<PushFeed>,
    pool: MemoryPool<Samples<S>>,
    out: Output<Samples<S>>,
    frames: usize,
    /// Index the next frame should have: a jump is a loss (dropped pushes).
    expected: u64,
    sequence: u64,
}

impl<S: FloatSample> PushSource<S> {
    /// Moves up to `frames` frames of one push from the ring into `pkt`; `None` if empty.
    fn fill(&mut self, pkt: &mut Packet<Samples<S>>) -> Result<Option<(u64, u64)>, StageError> {
        let ch = self.feed.channels;
        let mut r = self
            .feed
            .ring
            .lock()
            .map_err(|_| StageError::fatal("PushSource buffer poisoned"))?;
        if r.len == 0 {
            return Ok(None);
        }
        let cap = self.feed.capacity;
        let mut n = 1;
        while n < self.frames && n < r.len && !r.starts[(r.head + n) % cap] {
            n += 1;
        }
        pkt.set_shape(n, ch)?;
        let first = r.head;
        let first_index = r.index[first];
        let stamp = r.stamp_ns[first];
        {
            let out = pkt.samples_mut();
            for k in 0..n {
                let slot = (first + k) % cap;
                for (o, v) in out[k * ch..(k + 1) * ch]
                    .iter_mut()
                    .zip(&r.samples[slot * ch..(slot + 1) * ch])
                {
                    *o = S::from_f64(*v);
                }
            }
        }
        r.head = (r.head + n) % cap;
        r.len -= n;
        drop(r);
        self.feed.space.notify_all();
        let lost = first_index.saturating_sub(self.expected);
        let h = &mut pkt.header;
        h.sequence = self.sequence;
        h.first_frame = first_index;
        h.timestamp = stamp;
        if lost > 0 {
            h.lost_frames = lost.min(u64::from(u32::MAX)) as u32;
            h.flags |= FLAG_LOST_SAMPLES | FLAG_DISCONTINUITY;
        }
        self.sequence += 1;
        self.expected = first_index + n as u64;
        Ok(Some((lost, stamp)))
    }

    fn closed(&self) -> bool {
        self.feed.ring.lock().map(|r| r.closed).unwrap_or(true)
    }

    async fn send_one(
        &mut self,
        ctx: &StageContext,
        mut pkt: Packet<Samples<S>>,
    ) -> Result<bool, StageError> {
        match self.fill(&mut pkt)? {
            None => Ok(false),
            Some((lost, stamp)) => {
                if lost > 0 {
                    ctx.emit_event_at(
                        stamp,
                        EventKind::LostSamples,
                        format!(
                            "{lost} frames dropped: the PushSource buffer was full (on_full: drop)"
                        ),
                    );
                }
                self.out.send(pkt).await?;
                Ok(true)
            }
        }
    }
}

impl<S: FloatSample> DataPlaneStage for PushSource<S> {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        // A stop: no more pushes; what was pushed before it still goes out (the runtime keeps
        // running this stage, `drains_on_stop`), then the stream ends.
        if ctx.is_stopping() {
            self.feed.finish();
        }
        let pkt = self.pool.acquire().await;
        if self.send_one(ctx, pkt).await? {
            return Ok(());
        }
        if self.closed() {
            return Err(StageError::QueueClosed);
        }
        tokio::select! {
            _ = self.feed.data.notified() => {}
            _ = ctx.control_pending() => {}
            _ = ctx.stopping() => {}
        }
        Ok(())
    }

    async fn finish(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        self.feed.finish();
        Ok(())
    }
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: PushSourceParams = b.parse_params()?;
    let host = current_host();
    if host.is_none() && !b.validating() {
        return Err(BuildError::stage(
            "PushSource takes its data from the program that runs the pipeline (Python: \
             neuropipe.Pipeline.push); the neuropipe command pushes nothing: use a device, \
             FileReplay or LslInlet source here",
        ));
    }
    let (ch, frames) = (p.channels, p.frames);
    let capacity = p.buffer.max(frames);
    if capacity.checked_mul(ch).is_none_or(|n| n > 1 << 28) {
        return Err(BuildError::param(
            "buffer",
            format!("{capacity} frames × {ch} channels is too large (at most 2^28 samples)"),
        ));
    }
    let mut info = StreamInfo::new(
        b.id(),
        p.sample_rate,
        ch,
        &p.unit,
        frames,
        PayloadKind::from(p.sample_type),
    );
    info.kind = "EEG".into();
    let info = b.source_stream(info)?;
    let feed = Arc::new(PushFeed {
        pushing: Mutex::new(()),
        ring: Mutex::new(Ring {
            samples: vec![0.0; capacity * ch],
            index: vec![0; capacity],
            stamp_ns: vec![0; capacity],
            starts: vec![false; capacity],
            head: 0,
            len: 0,
            next_index: 0,
            last_stamp_ns: None,
            closed: false,
            finished: false,
        }),
        space: Condvar::new(),
        data: Notify::new(),
        channels: ch,
        rate: p.sample_rate,
        capacity,
        block: p.on_full == "block",
        dropped: AtomicU64::new(0),
        clock: b.clock(),
    });
    if let Some(h) = host {
        if let Ok(mut feeds) = h.feeds.lock() {
            feeds.insert(b.id().to_string(), feed.clone());
        }
    }
    with_float!(p.sample_type, S => {
        let pool = b.pool::<Samples<S>>(frames, ch)?;
        let out = b.output::<Samples<S>>("out", info)?;
        Ok(BoxedStage::new(PushSource::<S> {
            feed,
            pool,
            out,
            frames,
            expected: 0,
            sequence: 0,
        }))
    })
}

/// What a host holds of the `PushSource` stages of one pipeline, by stage id.
///
/// Stage factories are plain functions: a host builds its pipeline inside [`building`],
/// which makes its `PushHost` the build context of the thread (`Pipeline::build` runs every
/// factory on the calling thread), and each `PushSource` registers its feed there.
#[derive(Default)]
pub struct PushHost {
    feeds: Mutex<HashMap<String, Arc<PushFeed>>>,
}

impl PushHost {
    /// The feed of the `PushSource` with id `stage`, once built.
    pub fn feed(&self, stage: &str) -> Option<Arc<PushFeed>> {
        self.feeds.lock().ok()?.get(stage).cloned()
    }
    /// Ids of the `PushSource` stages built, sorted.
    pub fn stages(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .feeds
            .lock()
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }
}

thread_local! {
    static BUILDING: RefCell<Option<Arc<PushHost>>> = const { RefCell::new(None) };
}

/// Runs `f` (a pipeline build) with `host` receiving the feeds of the `PushSource` stages
/// built on this thread.
pub fn building<R>(host: &Arc<PushHost>, f: impl FnOnce() -> R) -> R {
    BUILDING.with(|b| *b.borrow_mut() = Some(host.clone()));
    let r = f();
    BUILDING.with(|b| *b.borrow_mut() = None);
    r
}

fn current_host() -> Option<Arc<PushHost>> {
    BUILDING.with(|b| b.borrow().clone())
}
