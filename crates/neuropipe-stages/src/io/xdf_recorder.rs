//! `XdfRecorder`: records a stream as XDF, the format LabRecorder writes and `pyxdf`, MNE
//! (through pyxdf) and EEGLAB read — the signal as one stream and, with `markers` (the
//! default), every pipeline event (markers, predictions, selections, pauses, parameter
//! changes, lost samples) as a second, string stream.
//!
//! * **Streams**: stream 1 is the recorded stream: its name, type, nominal rate, channel
//!   labels, units (in the XDF meta-data convention's words: `microvolts`) and types, the
//!   filters applied upstream (`desc/filters`), the device's source id and
//!   `desc/manufacturer` (as its source knows them: an LSL stream's, a BrainFlow board's, a
//!   replayed file's, a `"stream"` override's; else this recorder's id and `neuropipe`), values in the format they arrive in (`f32`
//!   as `float32`, `f64` as `double64`, raw `i32` counts as `int32`: never rounded to
//!   another type). Stream 2 (`<name>-markers`, type `Markers`, irregular rate) holds the
//!   events as text, each at the timestamp of the sample it belongs to (an event with a
//!   duration gets ` (N s)` after its text).
//! * **Several streams**: further inputs `in2` … `in8` (an accelerometer, a second device,
//!   a resampled stream: any rate, channel count and sample type) are recorded as streams
//!   3 … 9 of the same file, each with its own header and its own packets' timestamps, as
//!   LabRecorder records every stream of a session. The stage waits on all its inputs at
//!   once: a stream that stops sending holds none of the others up (see
//!   `io/recorder_lanes.rs`). Lost samples, discontinuities and non-finite values of a
//!   further stream are marked in the marker stream with the stream's name.
//! * **Timestamps**: every sample carries its own, in seconds on the pipeline clock
//!   (monotonic, from the pipeline's start; packet timestamps, so a pause shows as a gap
//!   and `pyxdf`'s dejittering sees the true sample times), or on its source's clock (below).
//! * **Clock offsets**: a stream whose source put a device's own stamps on the pipeline clock
//!   with a correction ([`PacketHeader::clock_offset_ns`](neuropipe_core::PacketHeader):
//!   an `LslInlet`, the sender's LSL stamps plus `time_correction`) is written as LabRecorder
//!   writes it: the raw stamps, on the sender's clock, and `ClockOffset` chunks holding the
//!   correction (measured at the sender's time: at the start, every 5 s of signal, and
//!   whenever the correction changes), so that pyxdf's clock synchronisation (a robust fit
//!   over the whole session) puts it on the file's clock. Streams stamped on the pipeline
//!   clock, and the marker stream, have offsets 0: their stamps stay as they are.
//! * **Valid at every moment**: each chunk reaches the file in one write; a `Boundary`
//!   chunk every 10 s of signal; the footers (first and last timestamp, sample count) when
//!   the recording ends. A file cut short by a crash or `kill -9` holds every chunk before
//!   the cut, and `pyxdf` reads it (without footers).

use super::recorder::{build_with_lanes, recorder_spec, RecordError, RecordFile};
use super::recorder_lanes::{open_lanes, LANE_PORTS};
use neuropipe_core::{
    BoxedStage, BuildError, PayloadKind, PortSpec, StageBuilder, StageParams, StageSpec, StreamInfo,
};
use neuropipe_io::xdf::{ChannelFormat, ChannelMeta, StreamHeader, XdfError, XdfWriter};
use std::fs::File;
use std::path::PathBuf;

/// Parameters of `XdfRecorder`, after the `path`, `overwrite` and `recording` every
/// recorder has.
#[derive(StageParams)]
pub struct XdfParams {
    /// also record pipeline events (markers, predictions, pauses, parameter changes, lost samples) as a string stream
    #[param(default = true)]
    pub markers: bool,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    let spec = recorder_spec::<XdfParams>(StageSpec::new(
        "XdfRecorder",
        "Sink recording to XDF (LabRecorder's format, read by pyxdf): the stream with per-sample timestamps, and pipeline events as a marker stream",
        build,
    ))
    .input(PortSpec::any("in").doc("any samples; metadata from the stream"));
    LANE_PORTS.iter().fold(spec, |s, port| {
        s.input(
            PortSpec::any(port)
                .doc("optional further stream (any rate, channels and sample type), recorded as a stream of its own")
                .optional(),
        )
    })
}

/// The signal's stream id; the markers'.
const SIGNAL: u32 = 1;
const MARKERS: u32 = 2;

/// Seconds of signal between boundary chunks (as LabRecorder).
const BOUNDARY_EVERY_S: f64 = 10.0;

/// Seconds of signal between clock offsets (as LabRecorder).
const OFFSET_EVERY_S: f64 = 5.0;

/// A unit in the XDF meta-data convention's words.
fn xdf_unit(unit: &str) -> String {
    let names = [
        (1.0, "microvolts"),
        (1e3, "millivolts"),
        (1e6, "volts"),
        (1e-3, "nanovolts"),
    ];
    super::units::volts_to_microvolts(unit)
        .and_then(|f| names.iter().find(|(g, _)| *g == f))
        .map_or_else(|| unit.to_string(), |(_, name)| name.to_string())
}

/// Stream id of further stream `lane` (`in2` is lane 0).
fn lane_id(lane: usize) -> u32 {
    3 + lane as u32
}

/// The header of stream `info` recorded by stage `stage` (from its port `port`).
fn header(info: &StreamInfo, stage: &str, port: &str) -> StreamHeader {
    let format = match info.payload {
        PayloadKind::F32 => ChannelFormat::Float32,
        PayloadKind::I32 => ChannelFormat::Int32,
        _ => ChannelFormat::Double64,
    };
    let mut signal = StreamHeader::new(&info.name, &info.kind, format, info.sample_rate).channels(
        info.channels
            .iter()
            .map(|c| ChannelMeta::new(&c.label, &xdf_unit(&c.unit), &c.kind))
            .collect(),
    );
    // The device's own id and maker when the source knows them (an LSL stream's, a
    // BrainFlow board's, a replayed file's), else this recorder's.
    signal.source_id = match info.source_id.as_str() {
        "" => format!("neuropipe-{stage}-{port}"),
        id => id.to_string(),
    };
    let maker = match info.manufacturer.as_str() {
        "" => "neuropipe",
        m => m,
    };
    signal.desc.push(("manufacturer".into(), maker.into()));
    if !info.filters.is_empty() {
        signal
            .desc
            .push(("filters".into(), info.filters.join("; ")));
    }
    signal.desc.push((
        "time_base".into(),
        "seconds on the neuropipe pipeline clock (monotonic, from the pipeline's start)".into(),
    ));
    signal
}

/// The signal's and the markers' headers for stream `info` recorded by stage `stage`.
fn headers(info: &StreamInfo, stage: &str) -> (StreamHeader, StreamHeader) {
    let signal = header(info, stage, "in");
    let mut markers = StreamHeader::new(
        &format!("{}-markers", info.name),
        "Markers",
        ChannelFormat::String,
        0.0,
    );
    markers.source_id = format!("neuropipe-{stage}-markers");
    (signal, markers)
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let XdfParams { markers } = b.parse_params()?;
    let stage = b.id().to_string();
    let lanes = open_lanes(b)?;
    let lane_headers: Vec<(StreamHeader, f64)> = lanes
        .iter()
        .map(|l| (header(&l.info, &stage, l.port), l.info.sample_rate))
        .collect();
    build_with_lanes(b, lanes, move |info, path| {
        let (signal, marker_header) = headers(info, &stage);
        Ok(XdfFile {
            path: PathBuf::from(path),
            signal,
            markers: markers.then_some(marker_header),
            lanes: lane_headers.clone(),
            rate: info.sample_rate,
            writer: None,
            origin_s: 0.0,
            stamps: Vec::with_capacity(4096),
            since_boundary_s: 0.0,
            next_offset_s: 0.0,
            offset: (0.0, false),
            lane_offsets: vec![(f64::NAN, false); lane_headers.len()],
            marker_count: 0,
        })
    })
}

/// An XDF file being recorded.
pub struct XdfFile {
    path: PathBuf,
    signal: StreamHeader,
    markers: Option<StreamHeader>,
    /// Further streams (`in2` …) and their rates.
    lanes: Vec<(StreamHeader, f64)>,
    rate: f64,
    writer: Option<XdfWriter<File>>,
    /// The first frame's time (s, pipeline clock).
    origin_s: f64,
    /// Timestamps of the samples being written (kept: no allocation per write).
    stamps: Vec<f64>,
    since_boundary_s: f64,
    /// Signal time (s from the first frame) of the next clock offsets.
    next_offset_s: f64,
    /// The main stream's clock correction (s) and whether it changed since last written.
    offset: (f64, bool),
    /// Each further stream's (NaN until its first packet: no offset is written for a stream
    /// before its source is known, so that pyxdf sees no jump from a guessed 0).
    lane_offsets: Vec<(f64, bool)>,
    marker_count: u64,
}

impl XdfFile {
    fn err(&self, source: XdfError) -> RecordError {
        RecordError::Xdf {
            file: self.path.display().to_string(),
            source,
        }
    }

    fn not_open(&self) -> RecordError {
        RecordError::NotOpen {
            file: self.path.display().to_string(),
        }
    }
}

impl RecordFile for XdfFile {
    const CONTIGUOUS: bool = false;

    fn create(&mut self) -> Result<(), RecordError> {
        let name = self.path.display().to_string();
        let file =
            File::create(&self.path).map_err(|e| RecordError::io(&name, "creating the file", e))?;
        let mut w = XdfWriter::new(file).map_err(|e| self.err(e))?;
        w.add_stream(SIGNAL, &self.signal)
            .map_err(|e| self.err(e))?;
        if let Some(m) = &self.markers {
            w.add_stream(MARKERS, m).map_err(|e| self.err(e))?;
        }
        for (i, (h, _)) in self.lanes.iter().enumerate() {
            w.add_stream(lane_id(i), h).map_err(|e| self.err(e))?;
        }
        self.writer = Some(w);
        Ok(())
    }

    fn origin(&mut self, first_frame_ns: u64) {
        self.origin_s = first_frame_ns as f64 / 1e9;
    }

    fn clock_offset(&mut self, lane: Option<usize>, offset_ns: i64) -> Result<(), RecordError> {
        let off = offset_ns as f64 / 1e9;
        let slot = match lane {
            None => Some(&mut self.offset),
            Some(i) => self.lane_offsets.get_mut(i),
        };
        if let Some(o) = slot {
            o.1 |= off != o.0;
            o.0 = off;
        }
        Ok(())
    }

    fn write(&mut self, data: &[f64], channels: usize, t0_ns: u64) -> Result<(), RecordError> {
        let n = data.len() / channels.max(1);
        let (origin, rate, off) = (self.origin_s, self.rate, self.offset.0);
        // Raw stamps: the pipeline's minus the source's correction (0 for most sources).
        self.stamps.clear();
        self.stamps
            .extend((0..n).map(|i| origin + (t0_ns as f64 + i as f64 * 1e9 / rate) / 1e9 - off));
        let Some(w) = self.writer.as_mut() else {
            return Err(self.not_open());
        };
        let t0_s = t0_ns as f64 / 1e9;
        // Now on the file's clock; each stream's offset is measured at its own clock's time
        // (as LabRecorder: the recorder's time minus the offset).
        let now = origin + t0_s;
        let periodic = t0_s >= self.next_offset_s;
        let mut r = Ok(());
        if periodic || self.offset.1 {
            self.offset.1 = false;
            r = w.clock_offset(SIGNAL, now - off, off);
        }
        if periodic {
            self.next_offset_s = t0_s + OFFSET_EVERY_S;
            if r.is_ok() && self.markers.is_some() {
                r = w.clock_offset(MARKERS, now, 0.0);
            }
            for (i, o) in self.lane_offsets.iter_mut().enumerate() {
                if r.is_ok() && !o.0.is_nan() {
                    o.1 = false;
                    r = w.clock_offset(lane_id(i), now - o.0, o.0);
                }
            }
        }
        if r.is_ok() {
            r = w.write_numeric(SIGNAL, &self.stamps, data);
        }
        self.since_boundary_s += n as f64 / rate;
        if r.is_ok() && self.since_boundary_s >= BOUNDARY_EVERY_S {
            self.since_boundary_s = 0.0;
            r = w.boundary();
        }
        r.map_err(|e| self.err(e))
    }

    fn annotate(
        &mut self,
        onset_s: f64,
        duration_s: Option<f64>,
        text: &str,
    ) -> Result<(), RecordError> {
        if self.markers.is_none() {
            return Ok(());
        }
        let t = self.origin_s + onset_s;
        let text = match duration_s {
            Some(d) => format!("{text} ({d} s)"),
            None => text.to_string(),
        };
        let Some(w) = self.writer.as_mut() else {
            return Err(self.not_open());
        };
        let r = w.write_strings(MARKERS, &[t], &[&text]);
        r.map_err(|e| self.err(e))?;
        self.marker_count += 1;
        Ok(())
    }

    fn write_lane(
        &mut self,
        lane: usize,
        data: &[f64],
        channels: usize,
        t_ns: u64,
    ) -> Result<(), RecordError> {
        let Some(&(_, rate)) = self.lanes.get(lane) else {
            return Err(self.err(XdfError::Stream(lane_id(lane), "no such stream")));
        };
        let n = data.len() / channels.max(1);
        // Known by now: the recorder tells the offset before a stream's first packet.
        let (off, changed) = match self.lane_offsets.get(lane).copied() {
            Some((off, changed)) if !off.is_nan() => (off, changed),
            _ => (0.0, true),
        };
        self.stamps.clear();
        self.stamps
            .extend((0..n).map(|i| (t_ns as f64 + i as f64 * 1e9 / rate) / 1e9 - off));
        let Some(w) = self.writer.as_mut() else {
            return Err(self.not_open());
        };
        let mut r = Ok(());
        if changed {
            r = w.clock_offset(lane_id(lane), t_ns as f64 / 1e9 - off, off);
            if let Some(o) = self.lane_offsets.get_mut(lane) {
                *o = (off, false);
            }
        }
        if r.is_ok() {
            r = w.write_numeric(lane_id(lane), &self.stamps, data);
        }
        r.map_err(|e| self.err(e))
    }

    fn annotate_lane(&mut self, _lane: usize, t_ns: u64, text: &str) -> Result<(), RecordError> {
        if self.markers.is_none() {
            return Ok(());
        }
        let Some(w) = self.writer.as_mut() else {
            return Err(self.not_open());
        };
        let r = w.write_strings(MARKERS, &[t_ns as f64 / 1e9], &[text]);
        r.map_err(|e| self.err(e))?;
        self.marker_count += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<String, RecordError> {
        let Some(mut w) = self.writer.take() else {
            return Ok(format!("{}: not written", self.path.display()));
        };
        let samples = w.sample_count(SIGNAL);
        let lanes: Vec<String> = (0..self.lanes.len())
            .map(|i| {
                format!(
                    ", {} samples of {}",
                    w.sample_count(lane_id(i)),
                    self.lanes[i].0.name
                )
            })
            .collect();
        let markers = self.markers.is_some();
        let lane_count = self.lanes.len();
        let mut end = || -> Result<(), XdfError> {
            w.footer(SIGNAL)?;
            if markers {
                w.footer(MARKERS)?;
            }
            for i in 0..lane_count {
                w.footer(lane_id(i))?;
            }
            w.flush()
        };
        end().map_err(|e| self.err(e))?;
        let file = w.into_inner();
        let name = self.path.display().to_string();
        file.sync_all()
            .map_err(|e| RecordError::io(&name, "syncing", e))?;
        Ok(format!(
            "{name}: {samples} samples, {} markers{}",
            self.marker_count,
            lanes.concat()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuropipe_io::xdf::scan;

    /// A further stream whose source corrects its clock (an LSL stream on `in2`) gets raw
    /// stamps and its own offsets, and no offset before its first packet (a guessed 0 would
    /// look like a clock reset to pyxdf); the main stream on the pipeline clock keeps 0.
    #[test]
    fn a_further_streams_offsets_start_with_its_first_packet() {
        let path = std::env::temp_dir().join(format!("np-xdf-offsets-{}.xdf", std::process::id()));
        let header = |name: &str, rate| {
            StreamHeader::new(name, "EEG", ChannelFormat::Double64, rate)
                .channels(vec![ChannelMeta::new("C", "microvolts", "EEG")])
        };
        let mut f = XdfFile {
            path: path.clone(),
            signal: header("main", 10.0),
            markers: None,
            lanes: vec![(header("lsl", 10.0), 10.0)],
            rate: 10.0,
            writer: None,
            origin_s: 0.0,
            stamps: Vec::new(),
            since_boundary_s: 0.0,
            next_offset_s: 0.0,
            offset: (0.0, false),
            lane_offsets: vec![(f64::NAN, false)],
            marker_count: 0,
        };
        f.create().unwrap();
        f.origin(1_000_000_000);
        f.clock_offset(None, 0).unwrap();
        // 0 s and 5 s: periodic offsets, the further stream not yet heard from.
        f.write(&[1.0; 10], 1, 0).unwrap();
        f.write(&[1.0; 10], 1, 5_000_000_000).unwrap();
        // Its first packet at 6 s on the pipeline clock, stamped with a -1000 s correction.
        f.clock_offset(Some(0), -1_000_000_000_000).unwrap();
        f.write_lane(0, &[2.0; 10], 1, 6_000_000_000).unwrap();
        f.write(&[1.0; 10], 1, 10_000_000_000).unwrap();
        f.finish().unwrap();
        let mut file = std::io::BufReader::new(File::open(&path).unwrap());
        let index = scan(&mut file).unwrap();
        let (main, lane) = (&index.streams[0], &index.streams[1]);
        assert!(
            main.clock_offsets.iter().all(|o| o.1 == 0.0),
            "{:?}",
            main.clock_offsets
        );
        assert_eq!(main.clock_offsets.len(), 3);
        // Offsets from its first packet on, measured on its own clock.
        assert_eq!(lane.clock_offsets, [(1006.0, -1000.0), (1011.0, -1000.0)]);
        assert_eq!(lane.timestamps[0], 1006.0);
        std::fs::remove_file(&path).unwrap();
    }
}
