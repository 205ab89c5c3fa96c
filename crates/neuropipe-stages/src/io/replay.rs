//! `FileReplay`: a source replaying an EDF, EDF+, BDF, BDF+, XDF or CSV file as `f32` packets,
//! in real time or as fast as the pipeline takes them.
//!
//! * The stream info comes from the file: labels, units (voltages converted to µV), sample
//!   rate. The replayed signals must share one rate (choose them with `signals`); EDF+
//!   annotation signals are not replayed as data.
//! * An EDF/BDF prefilter field shared by the replayed signals (`HP:1Hz LP:40Hz`) becomes the
//!   stream's first entry in [`StreamInfo::filters`](neuropipe_core::StreamInfo::filters).
//! * EDF+ annotations are replayed as [`EventKind::Marker`] events stamped with the timestamp
//!   of their sample, published right after the packet ending there (packets are cut at
//!   annotation onsets), so a recorder downstream writes each at the same sample.
//! * Real-time pacing is drift-free, from the pipeline clock (like `SimulatedEeg`): packet
//!   `k` is sent when its last frame is due. A pause shows as a timestamp gap with
//!   [`FLAG_DISCONTINUITY`]; frame indices continue.
//! * With `loop`, the file starts over at its end, frame indices still increasing (the
//!   signal jumps, time does not). Without it the stream ends at the end of the file.
//! * Gaps between the records of an EDF+D/BDF+D file are not waited for: the first packet
//!   after one carries [`FLAG_DISCONTINUITY`].
//! * CSV: a `timestamp_s` (or `time`) first column gives the rate (or give `sample_rate`);
//!   values are taken as µV. A jump in the time column (more than 1.5 sample periods, or
//!   backwards) is not replayed as contiguous: the packet ends before it, the next one carries
//!   [`FLAG_DISCONTINUITY`], and a `discontinuity` event with the gap's length is recorded.
//! * XDF (recognised by its magic): one numeric stream (`stream`, by name; default the
//!   first), with its name, type, labels, units (voltages to µV) and types; the samples of
//!   every string stream (markers) are replayed as markers on the sample nearest their time
//!   stamp (markers outside the stream's span go to its first or last sample, with a
//!   warning). A jump in the time stamps (more than 1.5 sample periods) is a discontinuity,
//!   as for CSV. Packets carry the file's own time stamps (`timestamps: file`, the default
//!   for XDF; see `io/replay_times.rs`): time zero is the file's earliest stamp, so every
//!   stream of a session replayed by its own `FileReplay` keeps its timing relative to the
//!   others (each stage is one output port of the file), and a gap in the file is a gap in
//!   time. `timestamps: replay` stamps from the replay's own clock instead (frame count /
//!   rate), as for every other format. The stamps are first put on the recorder's clock
//!   from each stream's `ClockOffset` chunks as pyxdf does on load (`clock_sync`, default
//!   on; `neuropipe_io::xdf::ClockSync`), so streams recorded from several machines line up;
//!   a source whose clock was reset during the recording (pyxdf's reset detection) has each
//!   stretch between resets synchronised with its own line.
//! * Non-finite values (`nan`, `inf`, `1e400` in a CSV) follow the non-finite policy: they are
//!   replayed as NaN in packets flagged [`FLAG_NONFINITE`](neuropipe_core::FLAG_NONFINITE)
//!   and counted in the stage's metrics.
//! * Samples at a signal's digital minimum or maximum (the ends of the physical range the
//!   file declares: a railed amplifier, or values its writer clipped) are counted as clipped in
//!   the stage's metrics and their packet is flagged
//!   [`FLAG_OUT_OF_RANGE`]; recorders annotate it.
//! * `sample_type` chooses `f32` (default) or `f64` packets; values are decoded in `f64` and
//!   rounded once.
//! * The file is read by a reader thread of its own, a few packets ahead (see
//!   `io/replay_reader.rs`), never on the runtime's worker threads.
//!
//! Relative paths are resolved against the pipeline file's directory (the one rule for paths:
//! `StageBuilder::resolve_path`).

use super::replay_reader::{spawn_reader, Chunk, Read, ReadPlan, CHUNKS};
use super::replay_source::{open, ReplaySource};
use super::replay_times::FileTimes;
use neuropipe_core::blocking::BlockingWorker;
use neuropipe_core::{
    with_float, BoxedStage, BuildError, ControlMsg, DataPlaneStage, EventKind, FloatKind,
    FloatSample, Handled, MemoryPool, Output, Pacer, Packet, Payload, PayloadKind, PortSpec,
    Samples, StageBuilder, StageContext, StageError, StageParams, StageSpec, StreamInfo,
    FLAG_DISCONTINUITY, FLAG_OUT_OF_RANGE,
};

/// Parameters of `FileReplay`.
#[derive(StageParams)]
pub struct FileReplayParams {
    /// file to replay; EDF/BDF and XDF recognised by content, anything else read as CSV; relative to the pipeline file's directory
    pub path: String,
    /// pace output by the clock (false: as fast as the pipeline runs)
    #[param(default = true)]
    pub realtime: bool,
    /// start over at the end of the file (frame indices keep increasing)
    #[param(name = "loop", default = false)]
    pub looping: bool,
    /// frames per packet (packets are cut shorter at annotation onsets)
    #[param(default = 16, min = 1, max = 4096)]
    pub frames: usize,
    /// labels of the signals to replay, in this order (default: all; they must share one sample rate)
    pub signals: Option<Vec<String>>,
    /// CSV only: frames per second (default: from the timestamp column)
    #[param(min = 0.001, max = 1e6)]
    pub sample_rate: Option<f64>,
    /// XDF only: the name of the numeric stream to replay (default: the first); the string streams' samples are replayed as markers
    pub stream: Option<String>,
    /// sample type of the output packets: f32, or f64 for an end-to-end double-precision pipeline
    #[param(default = "f32")]
    pub sample_type: FloatKind,
    /// how packets are stamped: "file" (XDF only, the default there: the file's own time stamps from its earliest one, so streams replayed from one file keep their relative timing) or "replay" (the replay's own clock: frame count / rate; the default for EDF/BDF/CSV)
    pub timestamps: Option<String>,
    /// XDF only: put every stream's time stamps on the recorder's clock from the file's clock offsets (pyxdf's synchronize_clocks, its default); false replays the stamps as stored
    #[param(default = true)]
    pub clock_sync: bool,
    /// replay the file's annotations / marker streams as marker events; false on all but one of several FileReplay stages reading the same file, so each marker is sent once
    #[param(default = true)]
    pub markers: bool,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "FileReplay",
        "Replays an EDF/EDF+/BDF/BDF+, XDF or CSV file (annotations and marker streams as marker events)",
        build,
    )
    .output(
        PortSpec::any("out")
            .doc("f32 or f64 samples (sample_type) in the file's units (voltages in µV)"),
    )
    .with_stream_info()
    .params::<FileReplayParams>()
    .with_pool()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: FileReplayParams = b.parse_params()?;
    let given = p.path;
    let path = b.resolve_path(&given);
    let realtime = p.realtime;
    let looping = p.looping;
    let frames = p.frames;
    let opened = open(
        &path,
        p.signals.as_deref(),
        p.sample_rate,
        p.stream.as_deref(),
        p.clock_sync,
    )?;
    let channels = opened.channels.len();
    let markers = if p.markers { opened.markers } else { vec![] };
    let times = match (p.timestamps.as_deref(), opened.times) {
        (None | Some("file"), Some((times, origin))) => {
            Some(FileTimes::new(times, origin, opened.rate))
        }
        (Some("file"), None) => {
            return Err(BuildError::param(
                "timestamps",
                "\"file\" needs a file with time stamps per sample (XDF); EDF/BDF/CSV are replayed on the replay's clock (\"replay\")",
            ))
        }
        (None | Some("replay"), _) => None,
        (Some(other), _) => {
            return Err(BuildError::param(
                "timestamps",
                format!("{other:?} is not a choice: \"file\" or \"replay\""),
            ))
        }
    };
    let name = opened.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or_else(|| given.clone(), |s| s.to_string_lossy().into_owned())
    });
    let payload = PayloadKind::from(p.sample_type);
    let mut info = StreamInfo::new(&name, opened.rate, channels, "uV", frames, payload);
    info.channels = opened.channels;
    info.filters = opened.filters;
    info.source_id = opened.source_id;
    info.manufacturer = opened.manufacturer;
    if let Some(kind) = opened.kind {
        info.kind = kind;
    }
    let info = b.source_stream(info)?;
    with_float!(p.sample_type, S => {
        let pool = b.pool::<Samples<S>>(frames, channels)?;
        let out = b.output::<Samples<S>>("out", info)?;
        let plan = ReadPlan {
            frames,
            channels,
            cuts: markers.iter().map(|m| m.0).collect(),
            looping,
        };
        Ok(BoxedStage::new(FileReplay::<S> {
        source: Some((opened.source, plan)),
        worker: None,
        chunks: (0..CHUNKS).map(|_| Chunk::new(frames, channels)).collect(),
        file: path.display().to_string(),
        markers,
        pool,
        out,
        channels,
        realtime,
        looping,
        pending: None,
        read_pos: 0,
        sent_pos: 0,
        next_marker: 0,
        next_frame: 0,
        sequence: 0,
        pacer: Pacer::new(opened.rate),
        times,
        pass_frames: 0,
        passes: 0,
        nonfinite: 0,
    }))
    })
}

/// The `FileReplay` stage, emitting samples of type `S`.
pub struct FileReplay<S: FloatSample> {
    /// The file and how to read it, until the first `run` hands them to the reader thread.
    source: Option<(ReplaySource, ReadPlan)>,
    worker: Option<BlockingWorker<Chunk, Read>>,
    /// The chunks, until the first `run` hands them to the reader thread.
    chunks: Vec<Chunk>,
    file: String,
    /// (frame in the file, text), sorted.
    markers: Vec<(u64, String)>,
    pool: MemoryPool<Samples<S>>,
    out: Output<Samples<S>>,
    channels: usize,
    realtime: bool,
    looping: bool,
    /// A packet read but not sent yet (its deadline was interrupted by a control message).
    pending: Option<Ready<S>>,
    /// Frames of the file read in this pass.
    read_pos: u64,
    /// Frames of the file sent in this pass.
    sent_pos: u64,
    /// First marker not emitted yet.
    next_marker: usize,
    /// Frame index of the stream (never reset).
    next_frame: u64,
    sequence: u64,
    /// Real-time pacing (drift-free, re-anchored after a pause).
    pacer: Pacer,
    /// The file's own time stamps (`timestamps: file`), used instead of the pacer's.
    times: Option<FileTimes>,
    /// Frames sent in the current pass (a loop of an empty file ends the stream).
    pass_frames: u64,
    passes: u64,
    /// Non-finite samples replayed (for the first-time warning).
    nonfinite: u64,
}

/// A packet read, with what the reader noticed about its frames.
struct Ready<S: 'static>
where
    Samples<S>: Payload,
{
    pkt: Packet<Samples<S>>,
    gap_s: Option<f64>,
    railed: u64,
}

impl<S: FloatSample> FileReplay<S>
where
    Samples<S>: Payload,
{
    /// Starts the reader thread (first `run`) and gives it the chunks to fill.
    fn start(&mut self) -> Result<(), StageError> {
        let Some((source, plan)) = self.source.take() else {
            return Ok(());
        };
        let worker = spawn_reader(source, plan, &self.file)?;
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
            Ok(()) => StageError::fatal(format!("the reader of {} ended early", self.file)),
        }
    }

    /// Publishes the markers at or before the last frame sent, each stamped with the
    /// timestamp of its own sample (so recorders place it there, whatever the packets).
    fn emit_markers(&mut self, ctx: &StageContext, all: bool) {
        // Stream frame of the file's frame 0 in this pass.
        let pass_start = self.next_frame - self.read_pos;
        while let Some((frame, text)) = self.markers.get(self.next_marker) {
            if !all && *frame > self.sent_pos {
                break;
            }
            let at = match &self.times {
                Some(t) => t.stamp_ns(*frame),
                None => self.pacer.frame_time_ns(pass_start + frame),
            };
            ctx.emit_event_at(at, EventKind::Marker, text.clone());
            self.next_marker += 1;
        }
    }

    /// The next chunk as a packet (the chunk goes back to the reader).
    async fn packet(&mut self, c: Chunk) -> Result<Ready<S>, StageError> {
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
        Ok(Ready { pkt, gap_s, railed })
    }

    /// The reader's next message; `None` if a control message came first.
    async fn next_read(&mut self, ctx: &mut StageContext) -> Result<Option<Read>, StageError> {
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
}

impl<S: FloatSample> DataPlaneStage for FileReplay<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        self.start()?;
        self.emit_markers(ctx, false);
        let ready = match self.pending.take() {
            Some(p) => p,
            None => match self.next_read(ctx).await? {
                None => return Ok(()), // a control message is waiting
                Some(Read::Chunk(c)) => self.packet(c).await?,
                Some(Read::EndOfPass) => {
                    self.emit_markers(ctx, true); // annotations after the last sample
                    if !self.looping || self.pass_frames == 0 {
                        tracing::info!(
                            stage = ctx.id(),
                            file = %self.file,
                            passes = self.passes + 1,
                            frames = self.next_frame,
                            "end of file"
                        );
                        return Err(StageError::QueueClosed);
                    }
                    // The reader has started the file over.
                    if let Some(t) = &mut self.times {
                        t.next_pass();
                    }
                    self.passes += 1;
                    self.read_pos = 0;
                    self.sent_pos = 0;
                    self.next_marker = 0;
                    self.pass_frames = 0;
                    return Ok(());
                }
            },
        };
        let first = ready.pkt.header.first_frame;
        let n = ready.pkt.header.frames() as u64;
        // The packet's place in this pass of the file.
        let pos = self.read_pos - n;
        if self.realtime {
            let due = match &mut self.times {
                Some(t) => t.due(ctx.clock(), pos, n),
                None => self.pacer.due(ctx.clock(), first, n),
            };
            if !ctx.sleep_until(due).await {
                self.pending = Some(ready);
                return Ok(()); // a control message is waiting
            }
        }
        let Ready {
            mut pkt,
            gap_s,
            railed,
        } = ready;
        pkt.header.timestamp = match &self.times {
            Some(t) => t.stamp_ns(pos),
            None => self.pacer.frame_time_ns(first),
        };
        let moved = self
            .times
            .as_mut()
            .is_some_and(FileTimes::take_discontinuity);
        if self.pacer.take_discontinuity() || moved {
            pkt.header.flags |= FLAG_DISCONTINUITY;
        }
        if let Some(gap_s) = gap_s {
            ctx.emit_event_at(
                pkt.header.timestamp,
                EventKind::Discontinuity,
                format!("discontinuity: {gap_s:.3} s gap in {}", self.file),
            );
        }
        if railed > 0 {
            // At the file's digital limits: the amplifier railed or the writer clipped.
            pkt.header.flags |= FLAG_OUT_OF_RANGE;
            ctx.count_clipped(railed);
        }
        let bad = pkt.scrub_nonfinite() as u64;
        if bad > 0 {
            if self.nonfinite == 0 {
                tracing::warn!(
                    stage = ctx.id(),
                    file = %self.file,
                    "non-finite values (NaN/Inf) in the file from frame {first}: replayed as NaN, flagged, annotated by recorders"
                );
            }
            self.nonfinite += bad;
            ctx.count_nonfinite(bad);
        }
        self.out.send(pkt).await?;
        self.sent_pos += n;
        self.pass_frames += n;
        self.emit_markers(ctx, false);
        Ok(())
    }

    fn control(
        &mut self,
        msg: &ControlMsg,
        _ctx: &mut StageContext,
    ) -> Result<Handled, StageError> {
        if let ControlMsg::Resume = msg {
            // Continue with the next frame index, re-anchored in time: the pause shows as a
            // gap in timestamps, not in sample indices.
            self.pacer.reanchor();
            if let (Some(t), true) = (&mut self.times, self.realtime) {
                t.resume();
            }
        }
        Ok(Handled::Default)
    }
}
