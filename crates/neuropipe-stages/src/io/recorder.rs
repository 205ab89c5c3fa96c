//! The stage loop shared by every recorder: `EdfRecorder`, `BdfRecorder`, `CsvRecorder` and
//! `XdfRecorder`.
//!
//! * The output path is checked when the pipeline is built ([`OutputFile::probe`]): an
//!   unwritable path is a validation error on `params.path`. The file itself is created when
//!   the pipeline starts (the first call of `run`), so `neuropipe validate` leaves no file
//!   behind and never truncates an existing one.
//! * Samples of any payload (`i32`, `f32`, `f64`) are converted into a buffer allocated at
//!   build time; the format writers allocate nothing per packet either.
//! * Packets flagged [`FLAG_LOST_SAMPLES`] are annotated `lost N samples`, packets flagged
//!   [`FLAG_DISCONTINUITY`] (e.g. the first one after a pause) `discontinuity` with the gap
//!   in their timestamps; pipeline events (pause, resume, parameter changes, markers,
//!   failures, stop) are annotated where they happened (see [`Timeline`]).
//! * The file is written by a writer thread of its own (see `io/writer.rs`), never on the
//!   runtime's worker threads: the stage converts each packet into a recycled buffer and
//!   queues it; a slow disk backs the recorder's input up like any bounded queue.
//! * `finish` writes what is left (an EDF file's last partial record) and closes the file;
//!   a write error is `Fatal`, naming the file, with the I/O error as its source.
//! * **Recording on demand**: the live parameter `recording` stops (`false`: the file is
//!   completed and closed once the data captured before the request are in it — up to the
//!   first packet that both left its source and starts half a frame or more after the moment
//!   of the request (a marker set just before it lies on its nearest frame, which may be the
//!   one after), or after a short grace period if none comes — so a marker set just before a
//!   stop is on a recorded sample; packets are then passed over, and counted as received) and starts
//!   again (`true`: a new file) without restarting the pipeline. Each new file's name comes
//!   from the `path` template again (`{n}`, `{time}`); a path without template fields gets
//!   `_{n}` before its extension from the second file on, so no recording replaces another.
//!   `recording: false` in the pipeline file builds the recorder idle (the first file is
//!   made when recording is switched on). The stage's readouts show the file being written,
//!   its duration and size, and how many files were written.

use super::paths::{expand_template, OutputFile};
pub use super::record_error::RecordError;
use super::recorder_lanes::{lane_note, ready_any, Lane, LanePacket};
use super::timeline::{annotation_text, Timeline};
use super::writer::SizeReport;
use super::writer::{spawn_writer, Done, Job, Writer, JOBS};
use neuropipe_core::blocking::Recycler;
use neuropipe_core::{
    with_sample, BoxedStage, BuildError, ControlMsg, DataPlaneStage, Handled, Input, PacketHeader,
    Payload, ReadoutColumn, Readouts, Sample, Samples, StageBuilder, StageContext, StageError,
    StageParams, StageSpec, StreamInfo, FLAG_DISCONTINUITY, FLAG_LOST_SAMPLES, FLAG_OUT_OF_RANGE,
};
use serde_json::{json, Value};

/// Longest annotation text written (bytes); longer texts are cut at a character boundary.
pub const MAX_ANNOTATION_TEXT: usize = 200;

/// A file format a [`Recorder`] writes.
pub trait RecordFile: Send + 'static {
    /// Whether the file's time axis counts the frames written (EDF: contiguous records); if
    /// not, it follows packet timestamps (CSV: pauses show as jumps in the time column).
    const CONTIGUOUS: bool;
    /// Creates the file and writes its header (called once, when the pipeline starts).
    fn create(&mut self) -> Result<(), RecordError>;
    /// The pipeline-clock timestamp (ns) of the recording's first frame, before any write or
    /// annotation (formats with absolute timestamps, XDF, place everything from it).
    fn origin(&mut self, _first_frame_ns: u64) {}
    /// From the next samples on, the main stream (`lane` `None`) or further stream `lane`
    /// carries time stamps that include a source's clock correction of `offset_ns`
    /// ([`PacketHeader::clock_offset_ns`]). Formats keeping raw stamps with clock offsets,
    /// as LabRecorder (XDF), write the stamps minus the offset and the offset; the others
    /// write the corrected stamps (the default: nothing to do).
    fn clock_offset(&mut self, _lane: Option<usize>, _offset_ns: i64) -> Result<(), RecordError> {
        Ok(())
    }
    /// Appends frame-major values; `t0_ns` is the time of the first frame relative to the
    /// first frame of the recording, from packet timestamps.
    fn write(&mut self, data: &[f64], channels: usize, t0_ns: u64) -> Result<(), RecordError>;
    /// Adds an annotation `onset_s` seconds into the recording, lasting `duration_s` if given.
    fn annotate(
        &mut self,
        onset_s: f64,
        duration_s: Option<f64>,
        text: &str,
    ) -> Result<(), RecordError>;
    /// Appends frame-major values to further stream `lane` (input `in2` is lane 0), its first
    /// frame at `t_ns` on the pipeline clock. Only formats holding several streams (XDF)
    /// declare further inputs; the others never get this call.
    fn write_lane(
        &mut self,
        lane: usize,
        _data: &[f64],
        _channels: usize,
        _t_ns: u64,
    ) -> Result<(), RecordError> {
        Err(RecordError::Other(
            format!("this format holds one stream (further stream {lane})").into(),
        ))
    }
    /// A mark about further stream `lane` at `t_ns` on the pipeline clock (lost samples, a
    /// discontinuity).
    fn annotate_lane(&mut self, lane: usize, _t_ns: u64, _text: &str) -> Result<(), RecordError> {
        Err(RecordError::Other(
            format!("this format holds one stream (further stream {lane})").into(),
        ))
    }
    /// Samples clipped to the file's range so far (formats with a range; others 0).
    fn clipped(&self) -> u64 {
        0
    }
    /// Per-channel factors applied before writing (unit normalisation, e.g. mV → µV); empty
    /// for none.
    fn scale(&self) -> &[f64] {
        &[]
    }
    /// A short description of the file's range, for the clipping annotation (e.g.
    /// `-3276.8..3276.7 uV`).
    fn range(&self) -> String {
        String::new()
    }
    /// Completes and closes the file; returns a summary for the log.
    fn finish(&mut self) -> Result<String, RecordError>;
}

/// The parameters every recorder has, first in its spec: `path` (with template fields) and
/// `overwrite`.
#[derive(StageParams)]
pub struct RecorderParams {
    /// file to write, relative to the working directory; may hold {date} and {time} (UTC) and {n} (the first number giving a new name), e.g. "rec_{date}_{time}_{n}.bdf"
    pub path: String,
    /// replace an existing file; false (the default) refuses to start rather than overwrite a recording
    #[param(default = false)]
    pub overwrite: bool,
    /// write to a file now; false stops (the file is completed and closed), true starts a new file (named from the path template); false in the pipeline file starts idle
    #[param(default = true, live)]
    pub recording: bool,
}

/// A recorder's readouts (one row, `file`): whether a file is open, its duration and size,
/// and the files written; the status line is the current (or last) file's path.
const COLUMNS: [ReadoutColumn; 4] = [
    ReadoutColumn::number("recording", "", "1 while a file is being written"),
    ReadoutColumn::number(
        "duration",
        "s",
        "signal written to the current (or last) file",
    ),
    ReadoutColumn::number("size", "bytes", "size of the current (or last) file"),
    ReadoutColumn::number("files", "", "files written by this stage"),
];
const COL_RECORDING: usize = 0;
const COL_DURATION: usize = 1;
const COL_SIZE: usize = 2;
const COL_FILES: usize = 3;

/// Makes the format's file for a path (called at build time, and at each new recording).
type MakeFile<F> = Box<dyn FnMut(&StreamInfo, &str) -> Result<F, BuildError> + Send>;

/// The name of the next recording: the template expanded; from the second file on, a name
/// without `{n}` or `{time}` gets `_{n}` before its extension.
pub(crate) fn next_name(template: &str, files: u64) -> String {
    if files == 0 || template.contains("{n}") || template.contains("{time}") {
        return expand_template(template);
    }
    let p = std::path::Path::new(template);
    let with_n = match (p.file_stem(), p.extension()) {
        (Some(stem), Some(ext)) => p.with_file_name(format!(
            "{}_{{n}}.{}",
            stem.to_string_lossy(),
            ext.to_string_lossy()
        )),
        _ => std::path::PathBuf::from(format!("{template}_{{n}}")),
    };
    expand_template(&with_n.to_string_lossy())
}

/// Adds the parameters of a recorder to `spec`: the common [`RecorderParams`] (`path`,
/// `overwrite`), then the format's own `P`.
pub fn recorder_spec<P: StageParams>(spec: StageSpec) -> StageSpec {
    spec.params::<RecorderParams>().params::<P>()
}

/// Builds a recorder: checks the input stream, lets `make` validate the format's settings
/// (the factory parses the format's parameters and moves them into `make`), then probes the
/// output path (in that order, so a bad setting creates no file).
pub fn build_recorder<F: RecordFile>(
    b: &mut StageBuilder<'_>,
    make: impl FnMut(&StreamInfo, &str) -> Result<F, BuildError> + Send + 'static,
) -> Result<BoxedStage, BuildError> {
    build_with_lanes(b, vec![], make)
}

/// [`build_recorder`] for a format holding several streams: `lanes` are the further inputs
/// (`in2` …, opened with `recorder_lanes::open_lanes`), written with
/// [`RecordFile::write_lane`].
pub(crate) fn build_with_lanes<F: RecordFile>(
    b: &mut StageBuilder<'_>,
    lanes: Vec<Lane>,
    make: impl FnMut(&StreamInfo, &str) -> Result<F, BuildError> + Send + 'static,
) -> Result<BoxedStage, BuildError> {
    let mut make: MakeFile<F> = Box::new(make);
    let RecorderParams {
        path,
        overwrite,
        recording,
    } = b.parse_params()?;
    // Relative to the pipeline file (the one rule for paths), then the template filled in.
    let template = b.resolve_path(&path).to_string_lossy().into_owned();
    let path = expand_template(&template);
    let info = b.input_stream("in")?.clone();
    let rate = info.sample_rate;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(BuildError::stage(format!(
            "the input stream has no sample rate ({rate} Hz); a recorder needs one"
        )));
    }
    let channels = info.channel_count();
    if channels == 0 {
        return Err(BuildError::stage("the input stream has no channels"));
    }
    let file = make(&info, &path)?;
    let scale = file.scale().to_vec();
    let out = OutputFile::probe(&path, overwrite).map_err(|e| BuildError::param("path", e))?;
    // Idle: the path was checked; the file is made when recording starts (the probe's file
    // goes away with it).
    let (writer, out) = if recording {
        (Writer::Unstarted(file), Some(out))
    } else {
        (Writer::Ended, None)
    };
    let readouts = b.readouts(&COLUMNS, vec!["file".to_string()]);
    readouts.set(0, COL_RECORDING, 0.0);
    readouts.set(0, COL_FILES, 0.0);
    if recording {
        readouts.set_status(&path);
    }
    let timeline = Timeline::new(b.events(), rate);
    let buf_frames = info.frames_per_packet.clamp(1, 4096);
    let kind = b.input_kind("in")?;
    // Every queued job holds one, the thread one more, and the stage fills one while it
    // waits for room: never short.
    let buf_len = lanes
        .iter()
        .map(Lane::buffer_len)
        .fold(buf_frames * channels, usize::max);
    let buffers = Recycler::new(JOBS + 2, || vec![0.0; buf_len]);
    with_sample!(kind, S => {
        let input = b.input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Recorder::<S, F> {
            input,
            lanes,
            main_closed: false,
            writer,
            out,
            timeline,
            rate,
            channels,
            buf_frames,
            scale,
            buffers,
            notes: Vec::with_capacity(NOTES),
            failed: false,
            frames: 0,
            ts0: None,
            sent_offset: None,
            prev: None,
            make,
            info,
            template,
            overwrite,
            recording,
            path: if recording { path } else { String::new() },
            closing: false,
            stop_at: None,
            next: None,
            files: 0,
            readouts,
        }))
    })
}

/// A recorder stage writing format `F` from packets of samples `S`.
pub struct Recorder<S: 'static, F>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    /// Further streams (`in2` …) of a format holding several.
    lanes: Vec<Lane>,
    /// The main input ended while further streams go on (they are recorded to their end).
    main_closed: bool,
    writer: Writer<F>,
    /// The file checked at build time or when recording was switched on.
    out: Option<OutputFile>,
    timeline: Timeline,
    rate: f64,
    channels: usize,
    /// Frames per job buffer.
    buf_frames: usize,
    /// Per-channel factors applied before writing (the format's unit normalisation).
    scale: Vec<f64>,
    buffers: Recycler<Vec<f64>>,
    /// Annotations of the current packet, sent after it is examined (kept allocated).
    notes: Vec<Job>,
    failed: bool,
    /// Frames written.
    frames: u64,
    /// Timestamp of the first packet (the recording's time zero).
    ts0: Option<u64>,
    /// The clock offset last told the writer for this recording (see
    /// [`RecordFile::clock_offset`]).
    sent_offset: Option<i64>,
    /// Timestamp and frames of the previous packet.
    prev: Option<(u64, usize)>,
    /// Makes the file of the next recording.
    make: MakeFile<F>,
    /// The input stream (for `make`).
    info: StreamInfo,
    /// The path template, resolved.
    template: String,
    overwrite: bool,
    /// The live parameter: write packets to a file.
    recording: bool,
    /// The current (or last) file.
    path: String,
    /// Recording was switched off: close the file at the next `run`.
    closing: bool,
    /// Recording was switched off at this clock time: close the file before the first packet
    /// captured after it, or at the deadline.
    stop_at: Option<(u64, tokio::time::Instant)>,
    /// Recording was switched on: the next file, checked, its name; installed at the next
    /// `run` (after closing the last one).
    next: Option<(F, OutputFile, String)>,
    /// Files written so far.
    files: u64,
    readouts: Readouts,
}

/// Annotations per packet kept allocated (more are rare: a burst of pipeline events).
const NOTES: usize = 16;

/// `text` made safe for an annotation: EDF+ reserves bytes 0x00, 0x14 and 0x15; long texts
/// are cut to [`MAX_ANNOTATION_TEXT`] bytes.
pub fn clean_text(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| match c {
            '\0' | '\u{14}' | '\u{15}' => ' ',
            c => c,
        })
        .collect();
    if s.len() > MAX_ANNOTATION_TEXT {
        let mut end = MAX_ANNOTATION_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// An annotation job: `text` cleaned, at `onset_s`, lasting `duration_s` if given.
fn note(onset_s: f64, duration_s: Option<f64>, text: &str) -> Job {
    Job::Note {
        onset_s,
        duration_s,
        text: clean_text(text),
    }
}

impl<S: Sample, F: RecordFile> Recorder<S, F>
where
    Samples<S>: Payload,
{
    /// Starts the writer thread, which creates the file; waits for the outcome.
    async fn open(&mut self, id: &str) -> Result<(), StageError> {
        let Writer::Unstarted(_) = self.writer else {
            return Ok(());
        };
        let Writer::Unstarted(file) = std::mem::replace(&mut self.writer, Writer::Ended) else {
            return Ok(());
        };
        let size = SizeReport {
            path: self.path.clone().into(),
            readouts: self.readouts.clone(),
            column: COL_SIZE,
        };
        let mut w = spawn_writer(file, id, self.channels, self.buffers.clone(), size)?;
        match w.worker.recv().await {
            Some(Done::Created) => {
                if let Some(out) = &mut self.out {
                    out.mark_used();
                }
                self.files += 1;
                self.readouts.set(0, COL_RECORDING, 1.0);
                self.readouts.set(0, COL_DURATION, 0.0);
                self.readouts.set(0, COL_FILES, self.files as f64);
                self.writer = Writer::Running(w);
                Ok(())
            }
            _ => {
                self.failed = true;
                Err(w.end().await)
            }
        }
    }

    /// Queues `job`; if the writer has failed, its error.
    async fn send(&mut self, job: Job) -> Result<(), StageError> {
        let Writer::Running(w) = &mut self.writer else {
            return Err(StageError::fatal("the recording is closed"));
        };
        if let Err(e) = w.worker.send(job).await {
            self.failed = true;
            self.writer = Writer::Ended;
            return Err(e);
        }
        Ok(())
    }

    /// Sends the annotations gathered in `notes`.
    async fn send_notes(&mut self) -> Result<(), StageError> {
        let mut notes = std::mem::take(&mut self.notes);
        let mut result = Ok(());
        for job in notes.drain(..) {
            if result.is_ok() {
                result = self.send(job).await;
            }
        }
        self.notes = notes; // keeps its capacity
        result
    }

    /// Annotations for what the packet's header reports: events lost before it, lost
    /// samples, out-of-range samples, a discontinuity (gathered in `notes`).
    fn packet_notes(&mut self, h: &PacketHeader, start_s: f64) {
        let n = h.frames();
        let lagged = self.timeline.take_lagged();
        if lagged > 0 {
            let text = format!("BAD_events_lost: {lagged} pipeline events (markers) were lost before this point (event bus overflow)");
            self.notes.push(note(start_s, None, &text));
        }

        if h.flags & FLAG_LOST_SAMPLES != 0 && h.lost_frames > 0 {
            let text = format!("lost {} samples", h.lost_frames);
            self.notes.push(note(start_s, None, &text));
        }
        if h.flags & FLAG_OUT_OF_RANGE != 0 {
            let text =
                "BAD_out_of_range: the source reported samples at or beyond its physical range";
            self.notes
                .push(note(start_s, Some(n as f64 / self.rate), text));
        }
        if h.flags & FLAG_DISCONTINUITY != 0 {
            let gap_s = self.prev.map_or(0.0, |(ts, frames)| {
                (h.timestamp as f64 - (ts as f64 + frames as f64 * 1e9 / self.rate)) / 1e9
            });
            let text = if gap_s >= 0.001 {
                format!("discontinuity: {gap_s:.3} s gap")
            } else {
                "discontinuity".to_string()
            };
            self.notes.push(note(start_s, None, &text));
        }
    }

    /// Converts `samples` (frame-major) into recycled buffers and queues them for the writer;
    /// returns the non-finite samples' first and last frame and their count.
    async fn send_samples(
        &mut self,
        samples: &[S],
        rel_ns: u64,
        start_s: f64,
    ) -> Result<(usize, usize, u64), StageError> {
        let ch = self.channels;
        let buf_frames = self.buf_frames;
        // Non-finite samples: first and last frame holding one, and how many.
        let mut bad = (usize::MAX, 0usize, 0u64);
        for (k, chunk) in samples.chunks(buf_frames * ch).enumerate() {
            let mut buf = self
                .buffers
                .take()
                .ok_or_else(|| StageError::fatal("recorder: no free buffer (bug)"))?;
            let dst = &mut buf[..chunk.len()];
            let mut finite = true;
            for (d, s) in dst.iter_mut().zip(chunk) {
                *d = s.to_f64();
                finite &= d.is_finite();
            }
            if !self.scale.is_empty() {
                for frame in dst.chunks_exact_mut(ch) {
                    for (d, f) in frame.iter_mut().zip(&self.scale) {
                        *d *= f;
                    }
                }
            }
            if !finite {
                for (i, _) in dst.iter().enumerate().filter(|(_, d)| !d.is_finite()) {
                    let frame = k * buf_frames + i / ch;
                    bad = (bad.0.min(frame), bad.1.max(frame), bad.2 + 1);
                }
            }
            let first = k * buf_frames;
            let offset_ns = (first as f64 * 1e9 / self.rate).round() as u64;
            let job = Job::Samples {
                len: chunk.len(),
                buf,
                t0_ns: rel_ns + offset_ns,
                start_s: start_s + first as f64 / self.rate,
                span_s: (chunk.len() / ch) as f64 / self.rate,
            };
            self.send(job).await?;
        }
        Ok(bad)
    }

    /// With further streams: waits (counted as waiting) for the main input, any further
    /// input, a control message or the stop deadline; writes what the further inputs have;
    /// then takes the main input's packet if one is queued. `None`: the stop deadline passed.
    #[allow(clippy::type_complexity)]
    async fn next_with_lanes(
        &mut self,
        ctx: &StageContext,
    ) -> Result<Option<Option<neuropipe_core::Packet<Samples<S>>>>, StageError> {
        let deadline = self.stop_at.map(|(_, d)| d);
        let (input, lanes, main_open) = (&self.input, &self.lanes, !self.main_closed);
        ctx.waiting(async {
            tokio::select! {
                biased;
                _ = ctx.control_pending() => {},
                _ = input.ready(), if main_open => {},
                _ = ready_any(lanes) => {},
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => {},
            }
        })
        .await;
        let writing = self.recording || self.stop_at.is_some();
        self.write_lanes(ctx, writing).await?;
        let got = match self.main_closed {
            true => None,
            false => match self.input.try_recv() {
                Err(StageError::QueueClosed) => {
                    self.main_closed = true;
                    tracing::info!(
                        stage = ctx.id(),
                        "input `in` ended: the further streams are recorded to their end"
                    );
                    None
                }
                r => r?,
            },
        };
        if self.main_closed && self.lanes.iter().all(Lane::is_closed) {
            return Err(StageError::QueueClosed);
        }
        match got {
            Some(p) => Ok(Some(Some(p))),
            None if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) => Ok(None),
            None => Ok(Some(None)),
        }
    }

    /// Takes what the further inputs have queued and, if `writing` (and the file is open),
    /// writes it; otherwise passes it over. Returns whether anything was taken.
    async fn write_lanes(&mut self, ctx: &StageContext, writing: bool) -> Result<bool, StageError> {
        let writing = writing && matches!(self.writer, Writer::Running(_));
        let mut any = false;
        for i in 0..self.lanes.len() {
            let mut taken = 0;
            while let Some(pkt) = self.lanes[i].take(&mut taken, ctx.id()) {
                any = true;
                if writing {
                    self.write_lane(ctx, i, pkt).await?;
                }
            }
        }
        Ok(any)
    }

    /// Writes one packet of further stream `i`, with marks for what it reports.
    async fn write_lane(
        &mut self,
        ctx: &StageContext,
        i: usize,
        pkt: LanePacket,
    ) -> Result<(), StageError> {
        let h = *pkt.header();
        let lane = &mut self.lanes[i];
        let ch = lane.channels();
        if h.channels as usize != ch {
            return Err(StageError::fatal(format!(
                "packet {} on `{}` has {} channels but its stream has {ch}",
                h.sequence, lane.port, h.channels
            )));
        }
        let rate = lane.info.sample_rate;
        let offset = (lane.sent_offset != Some(h.clock_offset_ns)).then_some(h.clock_offset_ns);
        lane.sent_offset = Some(h.clock_offset_ns);
        lane.packet_notes(i, &h, &mut self.notes);
        self.send_notes().await?;
        if let Some(offset_ns) = offset {
            self.send(Job::ClockOffset {
                lane: Some(i),
                offset_ns,
            })
            .await?;
        }
        let (mut from, mut bad) = (0, 0);
        while from < h.frames() {
            let mut buf = self
                .buffers
                .take()
                .ok_or_else(|| StageError::fatal("recorder: no free buffer (bug)"))?;
            let (k, b) = pkt.copy_to(from, ch, &mut buf);
            if k == 0 {
                self.buffers.give(buf);
                break;
            }
            bad += b;
            let t_ns = h.timestamp + (from as f64 * 1e9 / rate).round() as u64;
            self.send(Job::Lane {
                lane: i,
                buf,
                len: k * ch,
                channels: ch,
                t_ns,
            })
            .await?;
            from += k;
        }
        if bad > 0 {
            ctx.count_nonfinite(bad);
            let text = format!(
                "{}: BAD_nonfinite: {bad} NaN/Inf samples",
                self.lanes[i].info.name
            );
            self.send(lane_note(i, h.timestamp, &text)).await?;
        }
        Ok(())
    }

    /// Reports samples the writer clipped since the last call.
    fn count_clipped(&mut self, ctx: &mut StageContext) {
        if let Writer::Running(w) = &mut self.writer {
            let n = w.take_clipped();
            if n > 0 {
                ctx.count_clipped(n);
            }
        }
    }
}

impl<S: Sample, F: RecordFile> DataPlaneStage for Recorder<S, F>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        if std::mem::take(&mut self.closing) {
            self.close(ctx).await?;
        }
        if let Some((file, out, path)) = self.next.take() {
            self.install(file, out, path);
        }
        if self.recording {
            self.open(ctx.id()).await?;
        }
        self.count_clipped(ctx);
        let got = match self.stop_at {
            _ if !self.lanes.is_empty() => self.next_with_lanes(ctx).await?,
            None => Some(self.input.recv().await?),
            Some((_, deadline)) => tokio::select! {
                biased;
                r = self.input.recv() => Some(r?),
                _ = tokio::time::sleep_until(deadline) => None,
            },
        };
        let Some(got) = got else {
            // No packet captured after the stop came in time: close now.
            self.stop_at = None;
            return self.close(ctx).await;
        };
        let Some(pkt) = got else {
            return Ok(());
        };
        if let Some((t, _)) = self.stop_at {
            let h = &pkt.header;
            let emitted = if h.emitted != 0 {
                h.emitted
            } else {
                ctx.clock().now_ns()
            };
            // A marker set just before the stop lies on its nearest frame, up to half a
            // frame after the stop: a packet starting before that may hold it.
            let half_frame_ns = (0.5e9 / self.rate) as u64;
            if emitted >= t && h.timestamp >= t + half_frame_ns {
                // Captured after the stop: the file is complete without it.
                self.stop_at = None;
                self.close(ctx).await?;
            }
        }
        if !self.recording && self.stop_at.is_none() {
            // Not recording: the packet is passed over, and so are the events meanwhile.
            self.timeline.discard();
            return Ok(());
        }
        let h = pkt.header;
        let ch = self.channels;
        if h.channels as usize != ch {
            return Err(StageError::fatal(format!(
                "packet {} has {} channels but the recording has {ch}",
                h.sequence, h.channels
            )));
        }
        let ts0 = match self.ts0 {
            Some(t) => t,
            None => {
                self.ts0 = Some(h.timestamp);
                self.send(Job::Origin(h.timestamp)).await?;
                h.timestamp
            }
        };
        if self.sent_offset != Some(h.clock_offset_ns) {
            self.sent_offset = Some(h.clock_offset_ns);
            let offset_ns = h.clock_offset_ns;
            self.send(Job::ClockOffset {
                lane: None,
                offset_ns,
            })
            .await?;
        }
        let rel_ns = h.timestamp.saturating_sub(ts0);
        let n = h.frames();
        let start_s = if F::CONTIGUOUS {
            self.frames as f64 / self.rate
        } else {
            rel_ns as f64 / 1e9
        };
        let emitted = if h.emitted != 0 {
            h.emitted
        } else {
            ctx.clock().now_ns()
        };
        self.timeline.packet(
            emitted,
            h.timestamp,
            n as u64,
            start_s,
            start_s + n as f64 / self.rate,
        );
        // Events whose data or departure has arrived, then what the packet itself reports.
        let notes = &mut self.notes;
        self.timeline
            .place(|t, ev| notes.push(note(t, None, &annotation_text(ev))));
        self.packet_notes(&h, start_s);
        self.send_notes().await?;
        let bad = self.send_samples(pkt.samples(), rel_ns, start_s).await?;
        if bad.2 > 0 {
            // Written as the file's defined value for a missing sample (EDF/BDF: the digital
            // value of physical zero; CSV: NaN) and marked as a bad span.
            let onset = start_s + bad.0 as f64 / self.rate;
            let duration = (bad.1 + 1 - bad.0) as f64 / self.rate;
            let text = format!("BAD_nonfinite: {} NaN/Inf samples", bad.2);
            self.send(note(onset, Some(duration), &text)).await?;
            ctx.count_nonfinite(bad.2);
        }
        self.frames += n as u64;
        self.prev = Some((h.timestamp, n));
        self.readouts
            .set(0, COL_DURATION, self.frames as f64 / self.rate);
        Ok(())
    }

    fn control(&mut self, msg: &ControlMsg, ctx: &mut StageContext) -> Result<Handled, StageError> {
        let Some(RecorderParamsUpdate::Recording(on)) = msg.update::<RecorderParams>()? else {
            return Ok(Handled::Default);
        };
        let pending = self.next.as_ref().map(|n| n.2.clone());
        let now = self.recording;
        if on && !now {
            if self.stop_at.take().is_some() {
                self.closing = true; // the last file is closed before the next opens
            }
            let path = next_name(&self.template, self.files);
            let out = OutputFile::probe(&path, self.overwrite).map_err(StageError::bad_param)?;
            let file =
                (self.make)(&self.info, &path).map_err(|e| StageError::bad_param(e.to_string()))?;
            self.next = Some((file, out, path.clone()));
            self.recording = true;
            tracing::info!("recording to {path}");
            return Ok(reply(true, &path));
        }
        if !on && now {
            self.recording = false;
            if self.next.take().is_none() {
                // Keep writing what was captured before now (see the module docs); at most
                // two packets' time, at least 200 ms.
                let packet_s = self.buf_frames as f64 / self.rate;
                let grace = std::time::Duration::from_secs_f64((2.0 * packet_s).max(0.2));
                self.stop_at = Some((ctx.clock().now_ns(), tokio::time::Instant::now() + grace));
            }
            return Ok(reply(false, &pending.unwrap_or_else(|| self.path.clone())));
        }
        Ok(reply(now, &pending.unwrap_or_else(|| self.path.clone())))
    }

    async fn finish(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        if let Some((file, out, path)) = self.next.take() {
            // Switched on but never ran since: the last file first, then a valid, empty one.
            if std::mem::take(&mut self.closing) {
                self.close(ctx).await?;
            }
            self.install(file, out, path);
        }
        if self.recording || self.closing || self.stop_at.take().is_some() {
            self.close(ctx).await?;
        }
        Ok(())
    }
}

/// The reply to `recording`: the state and the file.
fn reply(recording: bool, file: &str) -> Handled {
    Handled::AppliedWith(
        json!({"recording": recording, "file": file}),
        vec![("recording", Value::Bool(recording))],
    )
}

impl<S: Sample, F: RecordFile> Recorder<S, F>
where
    Samples<S>: Payload,
{
    /// Makes `file` the next recording (created at the next `open`).
    fn install(&mut self, file: F, out: OutputFile, path: String) {
        self.writer = Writer::Unstarted(file);
        self.out = Some(out);
        self.readouts.set_status(&path);
        self.path = path;
        self.frames = 0;
        self.ts0 = None;
        self.sent_offset = None;
        for lane in &mut self.lanes {
            lane.sent_offset = None;
        }
        self.prev = None;
        self.timeline.restart();
    }

    /// Completes and closes the current file (creating it first if recording was switched on
    /// but no packet came: a valid, empty file).
    async fn close(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        if self.failed || matches!(self.writer, Writer::Ended) {
            return Ok(()); // failures are already reported; the writer kept what it could
        }
        self.open(ctx.id()).await?;
        // What the further streams sent before the close belongs in this file.
        // (Bounded: a stream sent flat out does not hold the close up.)
        for _ in 0..64 {
            if !self.write_lanes(ctx, true).await? {
                break;
            }
        }
        let notes = &mut self.notes;
        self.timeline
            .place_all(|t, ev| notes.push(note(t, None, &annotation_text(ev))));
        self.send_notes().await?;
        let Writer::Running(mut w) = std::mem::replace(&mut self.writer, Writer::Ended) else {
            return Ok(());
        };
        w.worker.close_jobs();
        let summary = match w.worker.recv().await {
            Some(Done::Finished(summary)) => summary,
            _ => return Err(w.end().await),
        };
        w.worker.finish().await?;
        let clipped = w.take_clipped();
        if clipped > 0 {
            ctx.count_clipped(clipped);
        }
        self.readouts.set(0, COL_RECORDING, 0.0);
        tracing::info!(stage = ctx.id(), frames = self.frames, "{summary}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_cleaned() {
        assert_eq!(clean_text("a\u{14}b\0c"), "a b c");
        let long = "ü".repeat(150); // 300 bytes
        let c = clean_text(&long);
        assert!(c.len() <= MAX_ANNOTATION_TEXT && c.len() >= MAX_ANNOTATION_TEXT - 1);
        assert!(long.starts_with(&c));
    }
}
