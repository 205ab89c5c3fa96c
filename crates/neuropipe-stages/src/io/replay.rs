//! `FileReplay`: a source replaying an EDF, EDF+, BDF, BDF+, XDF or CSV file as `f32` (or
//! `f64`) packets, in real time or as fast as the pipeline takes them.
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
//!   [`FLAG_DISCONTINUITY`](neuropipe_core::FLAG_DISCONTINUITY); frame indices continue.
//! * With `loop`, the file starts over at its end, frame indices still increasing (the
//!   signal jumps, time does not). Without it the stream ends at the end of the file.
//! * Gaps between the records of an EDF+D/BDF+D file are not waited for: the first packet
//!   after one carries [`FLAG_DISCONTINUITY`](neuropipe_core::FLAG_DISCONTINUITY).
//! * CSV: a `timestamp_s` (or `time`) first column gives the rate (or give `sample_rate`);
//!   values are taken as µV. A jump in the time column (more than 1.5 sample periods, or
//!   backwards) is not replayed as contiguous: the packet ends before it, the next one carries
//!   [`FLAG_DISCONTINUITY`](neuropipe_core::FLAG_DISCONTINUITY), and a `discontinuity`
//!   event with the gap's length is recorded.
//! * XDF (recognised by its magic): one numeric stream (`stream`, by name; default the
//!   first), with its name, type, labels, units (voltages to µV) and types; the samples of
//!   every string stream (markers) are replayed as markers on the sample nearest their time
//!   stamp (markers outside the stream's span go to its first or last sample, with a
//!   warning). A jump in the time stamps (more than 1.5 sample periods) is a discontinuity,
//!   as for CSV. Packets carry the file's own time stamps (`timestamps: file`, the default
//!   for XDF; see `io/replay_times.rs`): time zero is the file's earliest stamp, so every
//!   stream of a session keeps its timing relative to the others, and a gap in the file is
//!   a gap in time. `timestamps: replay` stamps from the replay's own clock instead (frame
//!   count / rate), as for every other format. The stamps are first put on the recorder's
//!   clock from each stream's `ClockOffset` chunks as pyxdf does on load (`clock_sync`,
//!   default on; `neuropipe_io::xdf::ClockSync`), so streams recorded from several machines
//!   line up; a source whose clock was reset during the recording (pyxdf's reset detection)
//!   has each stretch between resets synchronised with its own line.
//! * XDF `streams`: several numeric streams of the file replayed by one stage, each on a
//!   port of its own (`out`, then `out2` … `out8`; see `io/replay_lane.rs`), with its own
//!   rate, channels, metadata and reader thread; `frames` counts the first stream's frames,
//!   the others' packets last as long. The stage sends the packets in the order they fall
//!   due; a pause moves every stream's axis by the same time (flagged on each), a loop
//!   starts them all over together (one period after the stream ending last; a stream
//!   that ended earlier is flagged at its gap). Markers are placed on the first stream. A
//!   stream that ends before the others ends on its port at once (a `Merge` downstream then
//!   ends with it, rather than going on with its channels missing). Several `FileReplay`
//!   stages reading one file (`stream` each, `markers: false` on all but one) do the same.
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

use super::replay_lane::{Lane, Ready};
use super::replay_reader::{Read, ReadPlan};
use super::replay_source::{open, Opened};
use super::replay_times::FileTimes;
use neuropipe_core::{
    with_float, BoxedStage, BuildError, ControlMsg, DataPlaneStage, EventKind, FloatKind,
    FloatSample, Handled, Payload, PayloadKind, PortSpec, Samples, StageBuilder, StageContext,
    StageError, StageParams, StageSpec, StreamInfo, FLAG_OUT_OF_RANGE,
};

/// The output ports: `out`, then one per further stream of XDF `streams`.
const OUT_PORTS: [&str; 8] = [
    "out", "out2", "out3", "out4", "out5", "out6", "out7", "out8",
];

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
    /// XDF only: several numeric streams replayed together, each on a port of its own (the first on out, the next on out2 … out8), with its own rate, channels and the file's time stamps; frames counts the first stream's frames, the others' packets last as long
    pub streams: Option<Vec<String>>,
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
    let mut spec = StageSpec::new(
        "FileReplay",
        "Replays an EDF/EDF+/BDF/BDF+, XDF or CSV file (annotations and marker streams as marker events)",
        build,
    )
    .output(
        PortSpec::any("out")
            .doc("f32 or f64 samples (sample_type) in the file's units (voltages in µV)"),
    );
    for port in &OUT_PORTS[1..] {
        spec = spec.output(PortSpec::any(port).optional().doc(
            "XDF `streams`: the next stream listed, with its own rate, channels and time stamps",
        ));
    }
    spec.with_stream_info()
        .params::<FileReplayParams>()
        .with_pool()
}

/// The streams to replay from `stream` / `streams` (empty: the file's first).
fn chosen_streams(p: &FileReplayParams) -> Result<Vec<String>, BuildError> {
    match (&p.stream, &p.streams) {
        (Some(_), Some(_)) => Err(BuildError::param(
            "streams",
            "give either `stream` (one stream) or `streams` (several, a port each), not both",
        )),
        (Some(s), None) => Ok(vec![s.clone()]),
        (None, Some(v)) if v.is_empty() => Err(BuildError::param(
            "streams",
            "lists no stream: name the file's numeric streams to replay, or leave it out for the first",
        )),
        (None, Some(v)) if v.len() > OUT_PORTS.len() => Err(BuildError::param(
            "streams",
            format!(
                "lists {} streams; one FileReplay has {} ports (out, out2 … out8): replay the others with a second FileReplay (\"markers\": false)",
                v.len(),
                OUT_PORTS.len()
            ),
        )),
        (None, Some(v)) => Ok(v.clone()),
        (None, None) => Ok(vec![]),
    }
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: FileReplayParams = b.parse_params()?;
    let given = p.path.clone();
    let path = b.resolve_path(&given);
    let streams = chosen_streams(&p)?;
    let several = streams.len() > 1;
    if several && p.signals.is_some() {
        return Err(BuildError::param(
            "signals",
            "selects channels of one stream: with several `streams` each is replayed whole",
        ));
    }
    if several && p.timestamps.as_deref() == Some("replay") {
        return Err(BuildError::param(
            "timestamps",
            "several `streams` keep their timing against each other on the file's time stamps: \"replay\" would give each a clock of its own (leave it out)",
        ));
    }
    let opened = open(
        &path,
        p.signals.as_deref(),
        p.sample_rate,
        &streams,
        p.clock_sync,
    )?;
    for port in &OUT_PORTS[opened.len()..] {
        if b.is_output_linked(port) {
            return Err(BuildError::param(
                "streams",
                format!(
                    "`{port}` is linked, but this FileReplay replays {} stream{}: list the XDF file's streams in `streams` (the first goes to out, the next to out2, …)",
                    opened.len(),
                    if opened.len() == 1 { "" } else { "s" }
                ),
            ));
        }
    }
    let file = path.display().to_string();
    let markers = if p.markers {
        opened[0].markers.clone()
    } else {
        vec![]
    };
    let mut times = Vec::with_capacity(opened.len());
    for o in &opened {
        times.push(match (p.timestamps.as_deref(), &o.times) {
            (None | Some("file"), Some((t, origin))) => {
                Some(FileTimes::new(t.clone(), *origin, o.rate))
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
        });
    }
    // A loop moves every stream's axis by the file's span (the earliest first sample to
    // the latest last one, plus its period), the same for all.
    let pass_ns = {
        let spans: Vec<(f64, f64)> = times.iter().flatten().map(FileTimes::span_ns).collect();
        let first = spans.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
        let end = spans.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
        (!spans.is_empty()).then_some(end - first)
    };
    let payload = PayloadKind::from(p.sample_type);
    let rate0 = opened[0].rate;
    with_float!(p.sample_type, S => {
        let mut lanes = Vec::with_capacity(opened.len());
        for (k, (o, times)) in opened.into_iter().zip(times).enumerate() {
            // The first stream's packets have `frames` frames, the others' last as long.
            let frames = if k == 0 {
                p.frames
            } else {
                ((p.frames as f64 * o.rate / rate0).round() as usize).clamp(1, 4096)
            };
            let (info, label) = lane_stream(b, &o, k, frames, payload, &path, &given)?;
            let channels = o.channels.len();
            let pool = b.pool::<Samples<S>>(frames, channels)?;
            let out = b.output::<Samples<S>>(OUT_PORTS[k], info)?;
            let plan = ReadPlan {
                frames,
                channels,
                cuts: if k == 0 { markers.iter().map(|m| m.0).collect() } else { vec![] },
                looping: p.looping,
            };
            let label = if several { label } else { file.clone() };
            lanes.push(Lane::new(o.source, plan, label, pool, out, o.rate, times));
        }
        Ok(BoxedStage::new(FileReplay::<S> {
            lanes,
            file,
            markers,
            next_marker: 0,
            realtime: p.realtime,
            looping: p.looping,
            pass_ns,
            passes: 0,
            resumed: false,
        }))
    })
}

/// The stream lane `k` carries (the stage's `"stream"` overrides apply to the first) and its
/// name in messages (the file and the stream).
fn lane_stream(
    b: &StageBuilder<'_>,
    o: &Opened,
    k: usize,
    frames: usize,
    payload: PayloadKind,
    path: &std::path::Path,
    given: &str,
) -> Result<(StreamInfo, String), BuildError> {
    let name = o.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or_else(|| given.to_string(), |s| s.to_string_lossy().into_owned())
    });
    let mut info = StreamInfo::new(&name, o.rate, o.channels.len(), "uV", frames, payload);
    info.channels = o.channels.clone();
    info.filters = o.filters.clone();
    info.source_id = o.source_id.clone();
    info.manufacturer = o.manufacturer.clone();
    if let Some(kind) = &o.kind {
        info.kind = kind.clone();
    }
    let info = if k == 0 { b.source_stream(info)? } else { info };
    Ok((info, format!("{} stream {name:?}", path.display())))
}

/// The `FileReplay` stage, emitting samples of type `S`: one lane per replayed stream.
pub struct FileReplay<S: FloatSample>
where
    Samples<S>: Payload,
{
    /// The replayed streams: `out` first, then `out2` … (XDF `streams`).
    lanes: Vec<Lane<S>>,
    file: String,
    /// (frame of the first lane's stream in the file, text), sorted.
    markers: Vec<(u64, String)>,
    /// First marker not emitted yet.
    next_marker: usize,
    realtime: bool,
    looping: bool,
    /// With the file's time stamps: how far (ns) each pass moves every lane's axis, the
    /// same for all so that they keep their timing across loops.
    pass_ns: Option<f64>,
    passes: u64,
    /// A pause ended: the lanes' file-time axes move by the time paused, together.
    resumed: bool,
}

impl<S: FloatSample> FileReplay<S>
where
    Samples<S>: Payload,
{
    /// Publishes the markers at or before the last frame the first lane sent, each stamped
    /// with the timestamp of its own sample (so recorders place it there, whatever the
    /// packets).
    fn emit_markers(&mut self, ctx: &StageContext, all: bool) {
        let lane = &self.lanes[0];
        // Stream frame of the file's frame 0 in this pass.
        let pass_start = lane.next_frame - lane.read_pos;
        while let Some((frame, text)) = self.markers.get(self.next_marker) {
            if !all && *frame > lane.sent_pos {
                break;
            }
            let at = match &lane.times {
                Some(t) => t.stamp_ns(*frame),
                None => lane.pacer.frame_time_ns(pass_start + frame),
            };
            ctx.emit_event_at(at, EventKind::Marker, text.clone());
            self.next_marker += 1;
        }
    }

    /// Reads every running lane's next packet; `false` if a control message came first.
    async fn fill(&mut self, ctx: &mut StageContext) -> Result<bool, StageError> {
        for i in 0..self.lanes.len() {
            while !self.lanes[i].ended && self.lanes[i].head.is_none() {
                match self.lanes[i].next_read(ctx).await? {
                    None => return Ok(false),
                    Some(Read::Chunk(c)) => self.lanes[i].take_chunk(c).await?,
                    Some(Read::EndOfPass) => self.end_of_pass(i, ctx),
                }
            }
        }
        Ok(true)
    }

    /// Lane `i` reached the end of the file: it ends, or (looping) starts over.
    fn end_of_pass(&mut self, i: usize, ctx: &StageContext) {
        if i == 0 {
            self.emit_markers(ctx, true); // annotations after the last sample
        }
        let lane = &mut self.lanes[i];
        if !self.looping || lane.pass_frames == 0 {
            lane.end();
            return;
        }
        // The reader has started the file over.
        lane.next_pass(self.pass_ns);
        if i == 0 {
            self.passes += 1;
            self.next_marker = 0;
        }
    }

    /// The running lane whose next packet falls due first.
    fn next_lane(&self) -> Option<usize> {
        (0..self.lanes.len())
            .filter_map(|i| Some((self.lanes[i].head_due_ns()?, i)))
            .min()
            .map(|(_, i)| i)
    }
}

impl<S: FloatSample> DataPlaneStage for FileReplay<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        for lane in &mut self.lanes {
            lane.start()?;
        }
        self.emit_markers(ctx, false);
        if !self.fill(ctx).await? {
            return Ok(()); // a control message is waiting
        }
        if std::mem::take(&mut self.resumed) {
            // After a pause every file-time axis moves by the same time: from the earliest
            // packet waiting to now.
            let now = ctx.clock().now_ns() as f64;
            let earliest = self.lanes.iter().filter_map(Lane::head_stamp_ns).min();
            let late = earliest.map_or(0.0, |e| (now - e as f64).max(0.0));
            for t in self.lanes.iter_mut().filter_map(|l| l.times.as_mut()) {
                t.shift(late);
            }
        }
        let Some(i) = self.next_lane() else {
            let frames: u64 = self.lanes.iter().map(|l| l.next_frame).sum();
            tracing::info!(
                stage = ctx.id(),
                file = %self.file,
                passes = self.passes + 1,
                frames,
                "end of file"
            );
            return Err(StageError::QueueClosed);
        };
        if self.realtime {
            if let Some(due) = self.lanes[i].head_due(ctx.clock()) {
                if !ctx.sleep_until(due).await {
                    return Ok(()); // a control message is waiting
                }
            }
        }
        let lane = &mut self.lanes[i];
        let Some(Ready {
            mut pkt,
            gap_s,
            railed,
        }) = lane.take_head()
        else {
            return Ok(());
        };
        if let Some(gap_s) = gap_s {
            ctx.emit_event_at(
                pkt.header.timestamp,
                EventKind::Discontinuity,
                format!("discontinuity: {gap_s:.3} s gap in {}", lane.label),
            );
        }
        if railed > 0 {
            // At the file's digital limits: the amplifier railed or the writer clipped.
            pkt.header.flags |= FLAG_OUT_OF_RANGE;
            ctx.count_clipped(railed);
        }
        let bad = pkt.scrub_nonfinite() as u64;
        if bad > 0 {
            if lane.nonfinite == 0 {
                tracing::warn!(
                    stage = ctx.id(),
                    file = %lane.label,
                    "non-finite values (NaN/Inf) in the file from frame {}: replayed as NaN, flagged, annotated by recorders",
                    pkt.header.first_frame
                );
            }
            lane.nonfinite += bad;
            ctx.count_nonfinite(bad);
        }
        if i == 0 {
            lane.send(pkt).await?;
        } else if lane.send(pkt).await.is_err() {
            // A further stream's consumers are gone: the others go on.
            lane.end();
        }
        if i == 0 {
            self.emit_markers(ctx, false);
        }
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
            for lane in &mut self.lanes {
                lane.pacer.reanchor();
            }
            self.resumed = self.realtime;
        }
        Ok(Handled::Default)
    }
}
