//! `LslInlet`: a source reading a numeric stream from the Lab Streaming Layer.
//!
//! * Resolve: by `name`, `type` and/or `source_id` (at least one; all given must match), waiting
//!   up to `timeout_s`. When nothing matches, building fails with an error listing the streams
//!   that *were* visible (a one-second resolve of everything), so `neuropipe validate` shows it.
//! * Stream info: channel count, nominal rate, name and type from the stream; labels, units and
//!   types from `desc/channels/channel/{label,unit,type}` (`Ch<i>` / `uV` / the stream type when
//!   absent); the source id and `desc/manufacturer` travel with the stream (recorders write
//!   them). Any numeric channel format is pulled in double precision and delivered as
//!   `sample_type` (`f32` by default, or `f64`). Irregular-rate streams are refused.
//! * Declared shape: optional `channels` and `sample_rate` are what the pipeline expects; a
//!   resolved stream that differs is an error. `neuropipe validate` never touches the network:
//!   it checks the stages after the inlet against the declared shape (and says to declare it
//!   when it is missing); `neuropipe validate --probe` and `run` resolve the stream.
//! * Non-finite samples (NaN/Inf) follow the non-finite policy: delivered as NaN in packets
//!   flagged `FLAG_NONFINITE`, counted in the stage's metrics.
//! * Timestamps: each sample's LSL timestamp plus the inlet's `time_correction()` (refreshed
//!   every few seconds) is this machine's LSL clock; minus the LSL-to-pipeline clock offset
//!   measured at build time it becomes a pipeline timestamp. A packet's timestamp is that of
//!   its first frame; `first_frame` counts frames received since the stream was opened. The
//!   correction travels with the packet (`PacketHeader::clock_offset_ns`), so an
//!   `XdfRecorder` writes the stream's raw LSL stamps with its clock offsets, as LabRecorder.
//! * Low-latency pull: a [`BlockingWorker`] thread (liblsl inlets are not `Send`) blocks for the first
//!   sample (100 ms slices, so it can stop), then drains what is already buffered without
//!   waiting, up to `frames` frames. A packet therefore carries **between 1 and `frames`
//!   frames**: whatever had arrived, never waiting to fill up (no added latency). Buffers are
//!   preallocated and recycled between the thread and `run`. When `run` falls behind (or the
//!   stage is paused) the thread stops pulling and liblsl buffers (`buffer_s`).
//! * Stream loss: the inlet is created with liblsl's recovery on (it reconnects when an outlet
//!   with the same source id comes back, keeping data already received). When no sample has
//!   arrived for `lost_timeout_s`, `on_lost` decides: `wait` (the default, as LabRecorder) keeps
//!   the pipeline and its recordings running and waits for the stream to come back: the loss
//!   and the return are `Discontinuity` pipeline events (recorders annotate them, with the
//!   stream's name and how long it was gone) and the first packet after the return carries
//!   `FLAG_DISCONTINUITY` (its timestamps show the gap; frame indices go on); `fail` stops the
//!   pipeline with a `Fatal` error naming the stream; `end` ends the stream normally (end of
//!   stream flows downstream: for a producer that is a finite recording or a test).
//! * Markers: with `marker_name`, a string stream of that name is resolved too and every
//!   sample's first channel becomes an `EventKind::Marker` pipeline event (recorders write them
//!   as annotations), stamped with its LSL capture time (through the marker stream's own
//!   clock correction) on the pipeline clock.

use crate::ffi::{self, Format};
use neuropipe_core::blocking::{BlockingWorker, WorkerError, WorkerLink};
use neuropipe_core::prelude::*;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::{Duration, Instant};

/// Frame buffers cycling between the inlet thread and `run`.
const CHUNKS: usize = 8;
/// How long a blocking pull waits before checking for stop / markers / loss.
const POLL_S: f64 = 0.1;

/// Parameters of `LslInlet`.
#[derive(StageParams)]
pub struct LslInletParams {
    /// stream name to resolve (at least one of name, type, source_id)
    pub name: Option<String>,
    /// stream content type to resolve, e.g. EEG
    #[param(name = "type")]
    pub kind: Option<String>,
    /// stream source id to resolve
    pub source_id: Option<String>,
    /// how long to look for the stream (and the marker stream) when the pipeline is built
    #[param(default = 5.0, min = 0.1, max = 3600.0)]
    pub timeout_s: f64,
    /// most frames per packet; a packet carries whatever had arrived, up to this
    #[param(default = 16, min = 1, max = 4096)]
    pub frames: usize,
    /// no data for lost_timeout_s: wait for the stream to come back (annotated; the recording goes on), fail (Fatal) or end (end of stream)
    #[param(default = "wait", choices = ["wait", "fail", "end"])]
    pub on_lost: String,
    /// silence after which the stream counts as lost
    #[param(default = 5.0, min = 0.1, max = 3600.0)]
    pub lost_timeout_s: f64,
    /// seconds of data liblsl buffers while the pipeline falls behind
    #[param(default = 360, min = 1, max = 3600)]
    pub buffer_s: i32,
    /// also read this string marker stream into Marker pipeline events
    pub marker_name: Option<String>,
    /// channel count the pipeline expects: checked against the stream; lets `validate` check the pipeline offline
    #[param(min = 1, max = 65_536)]
    pub channels: Option<usize>,
    /// nominal rate (Hz) the pipeline expects: checked against the stream; lets `validate` check the pipeline offline
    #[param(min = 0.001, max = 1e6)]
    pub sample_rate: Option<f64>,
    /// sample type of the output packets (values are pulled in double precision)
    #[param(default = "f32")]
    pub sample_type: FloatKind,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "LslInlet",
        "Source reading a numeric stream from the Lab Streaming Layer (f32 or f64), with optional markers",
        build,
    )
    .output(PortSpec::any("out").doc("samples as sent by the outlet (sample_type: f32 or f64)"))
    .with_stream_info()
    .params::<LslInletParams>()
    .with_pool()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnLost {
    Fail,
    End,
    Wait,
}

/// What the thread reports once it resolved the stream(s).
struct Resolved {
    name: String,
    kind: String,
    rate: f64,
    channels: Vec<ChannelInfo>,
    summary: String,
    source_id: String,
    manufacturer: String,
}

/// Settings the thread runs with.
struct InletSetup {
    stage: String,
    pred: String,
    what: String,
    marker_name: Option<String>,
    timeout_s: f64,
    frames: usize,
    buffer_s: i32,
    lost_timeout_s: f64,
    on_lost: OnLost,
    offset_s: f64,
}

/// One batch of frames, preallocated and recycled.
struct Chunk {
    data: Vec<f64>,
    stamps: Vec<f64>,
    frames: usize,
    /// The correction (ns) included in `stamps`: the inlet's `time_correction` minus the
    /// LSL-to-pipeline clock offset (see `PacketHeader::clock_offset_ns`).
    offset_ns: i64,
}

/// From the thread to `run`.
enum FromInlet {
    Chunk(Chunk),
    /// A marker and its capture time on the pipeline clock (ns).
    Marker(String, u64),
    /// No data for this many seconds (`on_lost: wait`): the stream is gone for now.
    Lost(f64),
    /// Data again after this many seconds without (`on_lost: wait`).
    Back(f64),
    /// The stream ended (`on_lost: end`). (A failure ends the thread with its error.)
    End,
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: LslInletParams = b.parse_params()?;
    let mut terms = vec![];
    let mut what = vec![];
    for (param, value) in [
        ("name", &p.name),
        ("type", &p.kind),
        ("source_id", &p.source_id),
    ] {
        if let Some(v) = value {
            if v.contains('\0') {
                return Err(BuildError::param(param, "must not contain NUL bytes"));
            }
            terms.push(format!("{param}={}", ffi::xpath_literal(v)));
            what.push(format!("{param}={v:?}"));
        }
    }
    if terms.is_empty() {
        return Err(BuildError::stage(
            "give at least one of `name`, `type`, `source_id` to find the LSL stream",
        ));
    }
    let on_lost = match p.on_lost.as_str() {
        "end" => OnLost::End,
        "wait" => OnLost::Wait,
        _ => OnLost::Fail,
    };
    let setup = InletSetup {
        stage: b.id().to_string(),
        pred: terms.join(" and "),
        what: what.join(", "),
        marker_name: p.marker_name,
        timeout_s: p.timeout_s,
        frames: p.frames,
        buffer_s: p.buffer_s,
        lost_timeout_s: p.lost_timeout_s,
        on_lost,
        offset_s: crate::clock_offset_s(&b.clock()),
    };
    let declared_channels = p.channels;
    let declared_rate = p.sample_rate;
    let sample_type = p.sample_type;
    let payload = PayloadKind::from(sample_type);
    let frames = setup.frames;
    if b.validating() {
        // Offline: no resolve. The declared shape describes the stream to the stages after it.
        let (Some(n), Some(rate)) = (declared_channels, declared_rate) else {
            return Err(BuildError::stage(
                "`neuropipe validate` does not resolve LSL streams (it never touches the network): declare `channels` and `sample_rate` (checked against the stream when it is found) so the stages after this one can be checked offline, or run `neuropipe validate --probe` to resolve the stream now",
            ));
        };
        let info = StreamInfo::new(&setup.what, rate, n, "uV", frames, payload);
        let info = b.source_stream(info)?;
        return with_float!(sample_type, S => unprobed::<S>(b, info, frames, n));
    }
    crate::warn_if_unconfigured(&setup.stage);
    let timeout_s = setup.timeout_s;

    // The thread resolves the stream now (build time) and reports on `meta`; it pulls once
    // the stage hands it the first free chunk (the pipeline started).
    let (meta_tx, meta_rx) = sync_channel::<Result<Resolved, String>>(1);
    let name = format!("LSL inlet `{}`", setup.stage);
    let worker = BlockingWorker::spawn(name, CHUNKS, CHUNKS + 64, move |link| {
        inlet_thread(setup, meta_tx, link)
    })
    .map_err(|e| BuildError::stage(e.to_string()))?;
    // Dropping `worker` on an error below stops the thread (it is not waited for).
    let meta = match meta_rx.recv_timeout(Duration::from_secs_f64(2.0 * timeout_s + 10.0)) {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return Err(BuildError::stage(e)),
        Err(_) => {
            return Err(BuildError::stage(
                "the LSL inlet thread did not answer while resolving the stream",
            ));
        }
    };
    tracing::info!(stage = b.id(), stream = meta.summary, "LSL stream resolved");
    let n = meta.channels.len();
    if declared_channels.is_some_and(|d| d != n) {
        return Err(BuildError::param(
            "channels",
            format!(
                "the pipeline expects {} channels but LSL stream [{}] has {n}",
                declared_channels.unwrap_or(0),
                meta.summary
            ),
        ));
    }
    if let Some(r) = declared_rate.filter(|r| (r - meta.rate).abs() > 1e-9 * r.max(1.0)) {
        return Err(BuildError::param(
            "sample_rate",
            format!(
                "the pipeline expects {r} Hz but LSL stream [{}] runs at {} Hz",
                meta.summary, meta.rate
            ),
        ));
    }
    let mut info = StreamInfo::new(&meta.name, meta.rate, n, "uV", frames, payload);
    info.kind = meta.kind;
    info.channels = meta.channels;
    info.source_id = meta.source_id;
    info.manufacturer = meta.manufacturer;
    let info = b.source_stream(info)?;
    let what = format!("[{}]", meta.summary);
    with_float!(sample_type, S => inlet_stage::<S>(b, info, frames, n, worker, what))
}

fn inlet_stage<S: FloatSample>(
    b: &mut StageBuilder<'_>,
    info: StreamInfo,
    frames: usize,
    n: usize,
    worker: BlockingWorker<Chunk, FromInlet>,
    what: String,
) -> Result<BoxedStage, BuildError>
where
    Samples<S>: Payload,
{
    let pool = b.pool::<Samples<S>>(frames, n)?;
    let drift = DriftMeter::new(info.sample_rate);
    let readouts = b.readouts(&DriftMeter::COLUMNS, vec!["stream".to_string()]);
    let out = b.output::<Samples<S>>("out", info)?;
    let chunks = (0..CHUNKS)
        .map(|_| Chunk {
            data: vec![0.0; frames * n],
            stamps: vec![0.0; frames],
            frames: 0,
            offset_ns: 0,
        })
        .collect();
    Ok(BoxedStage::new(LslInlet::<S> {
        out,
        pool,
        channels: n,
        worker,
        chunks,
        next_frame: 0,
        sequence: 0,
        ended: false,
        discontinuity: false,
        what,
        nonfinite: 0,
        drift,
        readouts,
    }))
}

/// What `neuropipe validate` builds instead of an inlet: the declared output, no thread, no
/// network. It is never run (validation drops it); if it were, it would fail.
struct Unprobed<T: Payload> {
    _out: Output<T>,
}

impl<T: Payload> DataPlaneStage for Unprobed<T> {
    async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        Err(StageError::fatal(
            "this LSL inlet was built for validation only",
        ))
    }
}

fn unprobed<S: Sample>(
    b: &mut StageBuilder<'_>,
    info: StreamInfo,
    frames: usize,
    n: usize,
) -> Result<BoxedStage, BuildError>
where
    Samples<S>: Payload,
{
    b.pool::<Samples<S>>(frames, n)?;
    let out = b.output::<Samples<S>>("out", info)?;
    Ok(BoxedStage::new(Unprobed { _out: out }))
}

fn not_found(what: &str, timeout_s: f64) -> String {
    let all = ffi::resolve_all(1.0);
    let list = if all.is_empty() {
        "no LSL streams are visible at all (is the outlet running, and on the same LSLAPICFG network scope?)".to_string()
    } else {
        format!(
            "streams found: {}",
            all.iter()
                .map(|i| format!("[{}]", i.summary()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!("no LSL stream with {what} found within {timeout_s} s; {list}")
}

fn resolve_one(pred: &str, what: &str, timeout_s: f64) -> Result<ffi::Info, String> {
    let mut found = ffi::resolve_bypred(pred, timeout_s)?;
    if found.is_empty() {
        return Err(not_found(what, timeout_s));
    }
    if found.len() > 1 {
        tracing::warn!(
            "{} LSL streams match {what}; using the first: {}",
            found.len(),
            found[0].summary()
        );
    }
    Ok(found.swap_remove(0))
}

/// The thread's body: resolve (reported on `meta_tx`), wait for the first free chunk (the
/// pipeline started), then pull until stopped.
fn inlet_thread(
    s: InletSetup,
    meta_tx: SyncSender<Result<Resolved, String>>,
    mut link: WorkerLink<Chunk, FromInlet>,
) -> Result<(), WorkerError> {
    // --- resolve (at build time) ---
    let setup = || -> Result<(ffi::Inlet, Option<ffi::Inlet>, Resolved), String> {
        let info = resolve_one(&s.pred, &s.what, s.timeout_s)?;
        match info.format() {
            Format::String | Format::Undefined => {
                return Err(format!(
                    "LSL stream [{}] carries strings, not samples (use `marker_name` for marker streams)",
                    info.summary()
                ))
            }
            _ => {}
        }
        if info.rate() <= 0.0 {
            return Err(format!(
                "LSL stream [{}] has an irregular rate; LslInlet reads regular-rate streams",
                info.summary()
            ));
        }
        let inlet = ffi::Inlet::new(&info, s.buffer_s, true)?;
        let full = inlet.full_info(s.timeout_s.max(2.0))?;
        let meta = ffi::read_channels(&full);
        let n = full.channel_count();
        let kind = full.kind();
        let channels = (0..n)
            .map(|i| {
                let m = meta.get(i).cloned().unwrap_or_default();
                ChannelInfo {
                    label: if m.label.is_empty() {
                        format!("Ch{}", i + 1)
                    } else {
                        m.label
                    },
                    unit: if m.unit.is_empty() {
                        "uV".into()
                    } else {
                        m.unit
                    },
                    kind: if m.kind.is_empty() {
                        kind.clone()
                    } else {
                        m.kind
                    },
                    range: None,
                }
            })
            .collect();
        let markers = match &s.marker_name {
            Some(m) => {
                let pred = format!("name={}", ffi::xpath_literal(m));
                let minfo = resolve_one(&pred, &format!("name={m:?} (markers)"), s.timeout_s)?;
                if minfo.format() != Format::String {
                    return Err(format!(
                        "marker stream [{}] is not a string stream",
                        minfo.summary()
                    ));
                }
                Some(ffi::Inlet::new(&minfo, s.buffer_s, true)?)
            }
            None => None,
        };
        let resolved = Resolved {
            name: full.name(),
            kind,
            rate: full.rate(),
            channels,
            summary: full.summary(),
            source_id: full.source_id(),
            manufacturer: full.desc_value("manufacturer"),
        };
        Ok((inlet, markers, resolved))
    };
    let (inlet, markers, n, summary) = match setup() {
        Ok((i, m, r)) => {
            let (n, summary) = (r.channels.len(), r.summary.clone());
            let _ = meta_tx.send(Ok(r));
            (i, m, n, summary)
        }
        Err(e) => {
            // The build reports it.
            let _ = meta_tx.send(Err(e));
            return Ok(());
        }
    };
    // --- wait for the pipeline to start (or for the stage to be dropped after validation) ---
    let Some(first) = link.recv() else {
        return Ok(());
    };
    pull_loop(&s, &inlet, markers.as_ref(), n, &summary, &mut link, first)?;
    Ok(())
}

fn pull_loop(
    s: &InletSetup,
    inlet: &ffi::Inlet,
    markers: Option<&ffi::Inlet>,
    n: usize,
    summary: &str,
    link: &mut WorkerLink<Chunk, FromInlet>,
    first: Chunk,
) -> Result<(), String> {
    inlet.open(s.timeout_s.max(2.0))?;
    if let Some(m) = markers {
        m.open(s.timeout_s.max(2.0))?;
    }
    let mut correction = inlet.time_correction(s.timeout_s.max(2.0)).unwrap_or(0.0);
    // The marker stream may come from another host: its own clock correction.
    let marker_correction = markers
        .map(|m| m.time_correction(s.timeout_s.max(2.0)).unwrap_or(0.0))
        .unwrap_or(0.0);
    let mut corrected_at = Instant::now();
    let mut last_data = Instant::now();
    // Offset from a remote LSL stamp to pipeline seconds.
    let to_pipeline = |ts: f64, corr: f64| ((ts + corr - s.offset_s) * 1e9).max(0.0) as u64;
    let mut chunk: Option<Chunk> = Some(first);
    // `on_lost: wait`: the stream is gone (reported once), until data come again.
    let mut gone = false;
    loop {
        if link.stopping() {
            return Ok(());
        }
        if corrected_at.elapsed() > Duration::from_secs(5) {
            // Instantaneous after the first estimate (liblsl refreshes it in the background).
            if let Ok(c) = inlet.time_correction(0.0) {
                correction = c;
            }
            corrected_at = Instant::now();
        }
        if let Some(m) = markers {
            while let Some((text, ts)) = m.pull_string(0.0)? {
                if !link.send(FromInlet::Marker(text, to_pipeline(ts, marker_correction))) {
                    return Ok(());
                }
            }
        }
        // A free buffer: when `run` is behind, stop pulling (liblsl buffers meanwhile).
        let mut c = match chunk.take() {
            Some(c) => c,
            None => match link.recv_timeout(Duration::from_secs_f64(POLL_S)) {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(()) => return Ok(()),
            },
        };
        // Block for the first sample, then drain what is there without waiting.
        let Some(ts0) = inlet.pull_sample_f64(&mut c.data[..n], POLL_S)? else {
            chunk = Some(c);
            let silent = last_data.elapsed().as_secs_f64();
            if silent >= s.lost_timeout_s {
                match s.on_lost {
                    OnLost::Wait if !gone => {
                        gone = true;
                        if !link.send(FromInlet::Lost(silent)) {
                            return Ok(());
                        }
                    }
                    OnLost::Wait => {}
                    OnLost::End => {
                        tracing::info!(
                            stage = s.stage,
                            "no data from LSL stream for {silent:.1} s: end of stream"
                        );
                        link.send(FromInlet::End);
                        return Ok(());
                    }
                    OnLost::Fail => {
                        return Err(format!(
                            "LSL stream [{summary}] lost: no data for {:.1} s",
                            silent
                        ))
                    }
                }
            }
            continue;
        };
        if std::mem::take(&mut gone) {
            let away = last_data.elapsed().as_secs_f64();
            if !link.send(FromInlet::Back(away)) {
                return Ok(());
            }
        }
        last_data = Instant::now();
        c.stamps[0] = ts0;
        let more = inlet.drain_f64(&mut c.data[n..], &mut c.stamps[1..])?;
        c.frames = 1 + more;
        for t in &mut c.stamps[..c.frames] {
            *t = to_pipeline(*t, correction) as f64;
        }
        c.offset_ns = ((correction - s.offset_s) * 1e9).round() as i64;
        if !link.send(FromInlet::Chunk(c)) {
            return Ok(());
        }
    }
}

/// The `LslInlet` stage, emitting samples of type `S`.
pub struct LslInlet<S: Sample> {
    out: Output<Samples<S>>,
    pool: MemoryPool<Samples<S>>,
    channels: usize,
    /// The inlet thread: free chunks go to it, filled chunks and markers come back.
    worker: BlockingWorker<Chunk, FromInlet>,
    /// The chunks, until the first `run` hands them to the thread (which then starts).
    chunks: Vec<Chunk>,
    next_frame: u64,
    sequence: u64,
    ended: bool,
    /// The stream came back after a loss: the next packet is flagged.
    discontinuity: bool,
    /// The stream's name and what identifies it, for messages.
    what: String,
    /// Non-finite samples received (for the first-time warning).
    nonfinite: u64,
    /// The source's rate on its own stamps (readouts `rate`, `drift`).
    drift: DriftMeter,
    readouts: Readouts,
}

impl<S: FloatSample> LslInlet<S>
where
    Samples<S>: Payload,
{
    /// The thread's error once it has ended (or an error saying it ended).
    async fn thread_failed(&mut self) -> StageError {
        match self.worker.finish().await {
            Err(e) => e,
            Ok(()) => StageError::fatal("the LSL inlet thread ended unexpectedly"),
        }
    }

    /// A filled chunk as a packet (the chunk goes back to the thread).
    async fn packet(
        &mut self,
        c: Chunk,
        ctx: &mut StageContext,
    ) -> Result<Packet<Samples<S>>, StageError> {
        let mut pkt = self.pool.acquire().await;
        let frames = c.frames;
        pkt.set_shape(frames, self.channels)?;
        for (d, &v) in pkt.samples_mut().iter_mut().zip(&c.data) {
            *d = S::from_f64(v);
        }
        let ts = c.stamps[0] as u64;
        let offset_ns = c.offset_ns;
        // Never full: the job channel holds every chunk there is.
        let _ = self.worker.try_send(c);
        let h = &mut pkt.header;
        h.sequence = self.sequence;
        h.first_frame = self.next_frame;
        h.timestamp = ts;
        h.clock_offset_ns = offset_ns;
        if std::mem::take(&mut self.discontinuity) {
            h.flags |= FLAG_DISCONTINUITY;
            self.drift.restart();
        }
        // The source's rate on its own stamps (mapped to the pipeline clock).
        if let Some((rate, ppm)) = self.drift.record(self.next_frame, ts) {
            self.readouts.set(0, 0, rate);
            self.readouts.set(0, 1, ppm);
        }
        self.sequence += 1;
        self.next_frame += frames as u64;
        let bad = pkt.scrub_nonfinite() as u64;
        if bad > 0 {
            if self.nonfinite == 0 {
                tracing::warn!(
                    stage = ctx.id(),
                    "non-finite samples (NaN/Inf) in the LSL stream: delivered as NaN, flagged, annotated by recorders"
                );
            }
            self.nonfinite += bad;
            ctx.count_nonfinite(bad);
        }
        Ok(pkt)
    }
}

impl<S: FloatSample> DataPlaneStage for LslInlet<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        if self.ended {
            return Err(StageError::QueueClosed);
        }
        // The first free chunks start the thread pulling.
        for c in self.chunks.drain(..) {
            let _ = self.worker.try_send(c);
        }
        loop {
            let msg = match self.worker.try_recv() {
                Ok(Some(m)) => m,
                Ok(None) => {
                    // Waiting for the inlet thread counts as waiting, not busy, in the metrics.
                    let worker = &mut self.worker;
                    let woke = ctx
                        .waiting(async {
                            tokio::select! {
                                biased;
                                _ = ctx.control_pending() => None,
                                m = worker.recv() => Some(m),
                            }
                        })
                        .await;
                    match woke {
                        None => return Ok(()),
                        Some(Some(m)) => m,
                        Some(None) => return Err(self.thread_failed().await),
                    }
                }
                Err(()) => return Err(self.thread_failed().await),
            };
            match msg {
                FromInlet::Chunk(c) => {
                    let pkt = self.packet(c, ctx).await?;
                    return self.out.send(pkt).await;
                }
                FromInlet::Marker(text, time_ns) => {
                    // Stamped with the marker's LSL capture time mapped to the pipeline clock.
                    ctx.emit_event_at(time_ns, EventKind::Marker, text);
                }
                FromInlet::Lost(silent) => {
                    let text = format!(
                        "LSL stream {} lost: no data for {silent:.1} s; waiting for it to come back (the pipeline and its recordings go on)",
                        self.what
                    );
                    tracing::warn!(stage = ctx.id(), "{text}");
                    ctx.emit_event(EventKind::Discontinuity, text);
                }
                FromInlet::Back(away) => {
                    let text = format!(
                        "LSL stream {} back after {away:.1} s without data",
                        self.what
                    );
                    tracing::info!(stage = ctx.id(), "{text}");
                    ctx.emit_event(EventKind::Discontinuity, text);
                    self.discontinuity = true;
                }
                FromInlet::End => {
                    self.ended = true;
                    return Err(StageError::QueueClosed);
                }
            }
        }
    }

    async fn finish(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        self.worker.stop();
        if let Err(e) = self.worker.finish().await {
            // Already reported by `run`, or a failure racing the stop: the data ended anyway.
            tracing::debug!(stage = ctx.id(), "LSL inlet thread after stop: {e}");
        }
        Ok(())
    }
}
