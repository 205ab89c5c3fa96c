//! `FileReplay`: a source replaying an EDF, EDF+, BDF, BDF+ or CSV file as `f32` packets,
//! in real time or as fast as the pipeline takes them.
//!
//! * The stream info comes from the file: labels, units (voltages converted to µV), sample
//!   rate. The replayed signals must share one rate (choose them with `signals`); EDF+
//!   annotation signals are not replayed as data.
//! * EDF+ annotations are replayed as [`EventKind::Marker`] events when their sample is
//!   reached: packets are cut at annotation onsets and the marker is published right after
//!   the packet ending there, so a recorder downstream writes it at the same sample.
//! * Real-time pacing is drift-free, from the pipeline clock (like `SimulatedEeg`): packet
//!   `k` is sent when its last frame is due. A pause shows as a timestamp gap with
//!   [`FLAG_DISCONTINUITY`]; frame indices continue.
//! * With `loop`, the file starts over at its end, frame indices still increasing (the
//!   signal jumps, time does not). Without it the stream ends at the end of the file.
//! * Gaps between the records of an EDF+D/BDF+D file are not waited for: the first packet
//!   after one carries [`FLAG_DISCONTINUITY`].
//! * CSV: a `timestamp_s` (or `time`) first column gives the rate (or give `sample_rate`);
//!   values are taken as µV.
//!
//! Relative paths are resolved against the pipeline file's directory (see
//! [`resolve_input`]).

use super::paths::resolve_input;
use super::replay_source::{open, ReplaySource};
use neuropipe_core::{
    BoxedStage, BuildError, ChannelInfo, ControlMsg, DataPlaneStage, EventKind, Handled,
    MemoryPool, OutputId, Pacer, Packet, ParamSpec, PayloadKind, PortSpec, StageBuilder,
    StageContext, StageError, StageSpec, StreamInfo, VoltageEegPacket, FLAG_DISCONTINUITY,
};

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "FileReplay",
        "Replays an EDF/EDF+/BDF/BDF+ or CSV file (annotations as marker events)",
        build,
    )
    .output(PortSpec::of("out", PayloadKind::F32).doc("samples in the file's units (voltages in µV)"))
    .with_stream_info()
    .param(ParamSpec::string("path").doc(
        "file to replay; EDF/BDF recognised by content, anything else read as CSV; relative to the pipeline file's directory",
    ))
    .param(
        ParamSpec::bool("realtime")
            .default(true)
            .doc("pace output by the clock (false: as fast as the pipeline runs)"),
    )
    .param(
        ParamSpec::bool("loop")
            .default(false)
            .doc("start over at the end of the file (frame indices keep increasing)"),
    )
    .param(
        ParamSpec::int("frames", 1, 4096)
            .default(16)
            .doc("frames per packet (packets are cut shorter at annotation onsets)"),
    )
    .param(
        ParamSpec::string_list("signals")
            .optional()
            .doc("labels of the signals to replay, in this order (default: all; they must share one sample rate)"),
    )
    .param(
        ParamSpec::float("sample_rate", 0.001, 1e6)
            .optional()
            .doc("CSV only: frames per second (default: from the timestamp column)"),
    )
    .param(
        ParamSpec::string("pool")
            .optional()
            .doc("memory pool for output packets (default: a private pool)"),
    )
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p = b.params();
    let given = p.str("path")?.to_string();
    let path = resolve_input(&given);
    let realtime = p.bool("realtime")?;
    let looping = p.bool("loop")?;
    let frames = p.usize("frames")?;
    let select = p.opt_str_list("signals");
    let sample_rate = p.opt_f64("sample_rate");
    let opened = open(&path, select.as_deref(), sample_rate)?;
    let channels = opened.labels.len();
    let name = path
        .file_stem()
        .map_or_else(|| given.clone(), |s| s.to_string_lossy().into_owned());
    let mut info = StreamInfo::new(&name, opened.rate, channels, "uV", frames, PayloadKind::F32);
    info.channels = opened
        .labels
        .iter()
        .zip(&opened.units)
        .map(|(label, unit)| ChannelInfo {
            label: label.clone(),
            unit: unit.clone(),
            kind: "EEG".to_string(),
        })
        .collect();
    let info = b.source_stream(info)?;
    let pool = b.pool::<VoltageEegPacket>(frames, channels)?;
    let out = b.output::<VoltageEegPacket>("out", info)?;
    Ok(BoxedStage::new(FileReplay {
        source: opened.source,
        file: path.display().to_string(),
        markers: opened.markers,
        pool,
        out,
        frames,
        channels,
        realtime,
        looping,
        pending: None,
        read_pos: 0,
        sent_pos: 0,
        next_marker: 0,
        limit_marker: 0,
        next_frame: 0,
        sequence: 0,
        pacer: Pacer::new(opened.rate),
        pass_frames: 0,
        passes: 0,
    }))
}

/// The `FileReplay` stage.
pub struct FileReplay {
    source: ReplaySource,
    file: String,
    /// (frame in the file, text), sorted.
    markers: Vec<(u64, String)>,
    pool: MemoryPool<VoltageEegPacket>,
    out: OutputId<VoltageEegPacket>,
    frames: usize,
    channels: usize,
    realtime: bool,
    looping: bool,
    /// A packet read but not sent yet (its deadline was interrupted by a control message).
    pending: Option<Packet<VoltageEegPacket>>,
    /// Frames of the file read in this pass.
    read_pos: u64,
    /// Frames of the file sent in this pass.
    sent_pos: u64,
    /// First marker not emitted yet.
    next_marker: usize,
    /// First marker beyond `read_pos` (where the next packet must end at the latest).
    limit_marker: usize,
    /// Frame index of the stream (never reset).
    next_frame: u64,
    sequence: u64,
    /// Real-time pacing (drift-free, re-anchored after a pause).
    pacer: Pacer,
    /// Frames sent in the current pass (a loop of an empty file ends the stream).
    pass_frames: u64,
    passes: u64,
}

impl FileReplay {
    /// Publishes the markers at or before the last frame sent.
    fn emit_markers(&mut self, ctx: &StageContext, all: bool) {
        while let Some((frame, text)) = self.markers.get(self.next_marker) {
            if !all && *frame > self.sent_pos {
                break;
            }
            ctx.emit_event(EventKind::Marker, text.clone());
            self.next_marker += 1;
        }
    }

    /// Reads the next packet; `None` at the end of the file.
    async fn read_packet(&mut self) -> Result<Option<Packet<VoltageEegPacket>>, StageError> {
        while self
            .markers
            .get(self.limit_marker)
            .is_some_and(|m| m.0 <= self.read_pos)
        {
            self.limit_marker += 1;
        }
        let want = match self.markers.get(self.limit_marker) {
            Some((frame, _)) => self.frames.min((frame - self.read_pos) as usize),
            None => self.frames,
        };
        let mut pkt = self.pool.acquire().await;
        pkt.set_shape(want, self.channels)?;
        let n = self
            .source
            .read(pkt.samples_mut(), want)
            .map_err(StageError::fatal)?;
        if n == 0 {
            return Ok(None);
        }
        pkt.set_shape(n, self.channels)?;
        let h = &mut pkt.header;
        h.sequence = self.sequence;
        h.first_frame = self.next_frame;
        if self.source.take_discontinuity() {
            h.flags |= FLAG_DISCONTINUITY;
        }
        self.sequence += 1;
        self.next_frame += n as u64;
        self.read_pos += n as u64;
        Ok(Some(pkt))
    }
}

impl DataPlaneStage for FileReplay {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        self.emit_markers(ctx, false);
        let mut pkt = match self.pending.take() {
            Some(p) => p,
            None => match self.read_packet().await? {
                Some(p) => p,
                None => {
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
                    self.source.rewind().map_err(StageError::fatal)?;
                    self.passes += 1;
                    self.read_pos = 0;
                    self.sent_pos = 0;
                    self.next_marker = 0;
                    self.limit_marker = 0;
                    self.pass_frames = 0;
                    return Ok(());
                }
            },
        };
        let first = pkt.header.first_frame;
        let n = pkt.header.frames() as u64;
        if self.realtime {
            let due = self.pacer.due(ctx.clock(), first, n);
            if !ctx.sleep_until(due).await {
                self.pending = Some(pkt);
                return Ok(()); // a control message is waiting
            }
        }
        pkt.header.timestamp = self.pacer.frame_time_ns(first);
        if self.pacer.take_discontinuity() {
            pkt.header.flags |= FLAG_DISCONTINUITY;
        }
        ctx.output(self.out).send(pkt).await?;
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
        }
        Ok(Handled::Default)
    }
}
