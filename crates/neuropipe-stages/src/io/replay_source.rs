//! Frame readers behind `FileReplay`: EDF/EDF+/BDF/BDF+ (decoded record by record into
//! buffers allocated when the file is opened), CSV, and XDF (one numeric stream, decoded
//! chunk by chunk; the string streams' samples as markers).

use super::units::{split_typed_label, volts_to_microvolts};
use neuropipe_core::{BuildError, ChannelInfo, FloatSample};
use neuropipe_io::csv::CsvReader;
use neuropipe_io::edf::{EdfFormat, EdfReader, EdfVariant, SignalHeader};
use neuropipe_io::xdf::{XdfIndex, XdfStream};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Why a replayed file could not be read (after it was opened): the file, what was being
/// done, and the cause as the error's source.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The CSV reader failed (its message names the file, line and column).
    #[error(transparent)]
    Csv(#[from] neuropipe_io::csv::CsvError),
    /// The XDF reader failed on `file` (its message gives the byte offset).
    #[error("{file}: {source}")]
    Xdf {
        file: String,
        #[source]
        source: neuropipe_io::xdf::XdfError,
    },
    /// An I/O error on `file` while doing `action`.
    #[error("{file}: {action}: {source}")]
    Io {
        file: String,
        action: String,
        #[source]
        source: std::io::Error,
    },
}

/// Frames to look at when inferring a CSV file's sample rate from its timestamps.
const RATE_PROBE_FRAMES: usize = 1000;

/// An opened file, ready to replay.
pub(crate) struct Opened {
    pub(crate) source: ReplaySource,
    /// Labels, units of the output values (voltages are converted to µV, written `uV`) and
    /// types (from EDF+ label prefixes such as `EEG Fp1`; `EEG` otherwise).
    pub(crate) channels: Vec<ChannelInfo>,
    pub(crate) rate: f64,
    /// Annotations: (frame index from the start of the file, text), sorted by frame.
    pub(crate) markers: Vec<(u64, String)>,
    /// Filters the recording says were applied (the EDF+ prefilter field shared by every
    /// replayed signal, `HP:0.5Hz LP:20Hz`, as one entry), so the stream says so
    /// downstream: filtering it again, or feeding a decoder trained on other data, shows.
    pub(crate) filters: Vec<String>,
    /// The stream's own name and type, when the file has them (XDF).
    pub(crate) name: Option<String>,
    pub(crate) kind: Option<String>,
    /// The stream's time stamps and the file's origin (its earliest time stamp), when the
    /// file has them (XDF).
    pub(crate) times: Option<(Vec<f64>, f64)>,
    /// The device's source id and manufacturer, when the file has them (XDF).
    pub(crate) source_id: String,
    pub(crate) manufacturer: String,
}

/// Where replayed frames come from.
pub(crate) enum ReplaySource {
    Edf(EdfFrames),
    Csv(CsvFrames),
    Xdf(XdfFrames),
}

impl ReplaySource {
    /// Reads up to `max` frames into `out` (frame-major, at least `max × channels` long).
    /// Returns the frames read: 0 at the end of the file; fewer than `max` at the end, or
    /// before a gap in an EDF+D file (the first frames after it report
    /// [`take_discontinuity`](Self::take_discontinuity)).
    pub(crate) fn read<S: FloatSample>(
        &mut self,
        out: &mut [S],
        max: usize,
    ) -> Result<usize, ReadError> {
        match self {
            ReplaySource::Edf(e) => e.read(out, max),
            ReplaySource::Csv(c) => c.read(out, max),
            ReplaySource::Xdf(x) => x.read(out, max),
        }
    }

    /// The length (s) of a gap in the file's time axis before the frames returned by the
    /// last `read`, if there was one (CSV time columns; EDF+D gaps report
    /// [`take_discontinuity`](Self::take_discontinuity) only).
    pub(crate) fn take_gap(&mut self) -> Option<f64> {
        match self {
            ReplaySource::Edf(_) => None,
            ReplaySource::Csv(c) => c.gap.take(),
            ReplaySource::Xdf(x) => x.gap.take(),
        }
    }

    /// Whether the frames returned by the last `read` follow a gap in time in the file.
    pub(crate) fn take_discontinuity(&mut self) -> bool {
        match self {
            ReplaySource::Edf(e) => std::mem::take(&mut e.discontinuity),
            ReplaySource::Csv(c) => c.gap.is_some(),
            ReplaySource::Xdf(x) => x.gap.is_some(),
        }
    }

    /// Samples at the ends of their declared physical range decoded since the last call
    /// (EDF/BDF; CSV declares no range).
    pub(crate) fn take_railed(&mut self) -> u64 {
        match self {
            ReplaySource::Edf(e) => std::mem::take(&mut e.railed),
            ReplaySource::Csv(_) | ReplaySource::Xdf(_) => 0,
        }
    }

    /// Back to the first frame (for `loop`).
    pub(crate) fn rewind(&mut self) -> Result<(), ReadError> {
        match self {
            ReplaySource::Edf(e) => e.rewind(),
            ReplaySource::Csv(c) => c.rewind(),
            ReplaySource::Xdf(x) => {
                x.rewind();
                Ok(())
            }
        }
    }
}

/// Opens `path` (EDF/BDF by their version field, XDF by its magic, otherwise CSV), keeping
/// the signals named in `select` (all if `None`), in that order; from an XDF file, the
/// numeric streams named in `streams`, in that order (default: the first), each opened for
/// a reader of its own. Other files give one [`Opened`].
pub(crate) fn open(
    path: &Path,
    select: Option<&[String]>,
    sample_rate: Option<f64>,
    streams: &[String],
    clock_sync: bool,
) -> Result<Vec<Opened>, BuildError> {
    let name = path.display().to_string();
    // A FIFO would block the build forever and a device (`/dev/zero`) never ends: only
    // regular files are replayed.
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return Err(BuildError::param(
                "path",
                format!("{name} is not a regular file (a directory, FIFO or device): FileReplay replays files"),
            ))
        }
        Err(e) => return Err(BuildError::param("path", format!("cannot open {name}: {e}"))),
    }
    let mut head = [0u8; 8];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| BuildError::param("path", format!("cannot open {name}: {e}")))?;
    let is_edf = n == 8 && (head == *b"0       " || head == EdfFormat::Bdf.version_field());
    let is_xdf = n >= 4 && head[..4] == *b"XDF:";
    if !streams.is_empty() && !is_xdf {
        return Err(BuildError::param(
            if streams.len() > 1 {
                "streams"
            } else {
                "stream"
            },
            format!("{name} is not an XDF file: only XDF files hold several streams"),
        ));
    }
    let opened = if is_xdf {
        if sample_rate.is_some() {
            return Err(BuildError::param(
                "sample_rate",
                format!("{name} is an XDF file, whose streams have their own sample rate: leave out sample_rate"),
            ));
        }
        open_xdf(path, select, streams, clock_sync)?
    } else if is_edf {
        if sample_rate.is_some() {
            return Err(BuildError::param(
                "sample_rate",
                format!("{name} is an EDF/BDF file, which has its own sample rate: leave out sample_rate"),
            ));
        }
        vec![open_edf(path, select)?]
    } else {
        vec![open_csv(path, select, sample_rate)?]
    };
    // A file's own rate gets the same bounds as the `sample_rate` parameter.
    for o in &opened {
        if !(MIN_RATE..=MAX_RATE).contains(&o.rate) {
            return Err(BuildError::param(
                "path",
                format!(
                    "{name}: its sample rate {:e} Hz is outside {MIN_RATE}..={MAX_RATE} Hz (a corrupt record duration or timestamp column?)",
                    o.rate
                ),
            ));
        }
    }
    Ok(opened)
}

/// Sample rates FileReplay accepts (Hz), from the file or the `sample_rate` parameter.
pub(crate) const MIN_RATE: f64 = 0.001;
/// See [`MIN_RATE`].
pub(crate) const MAX_RATE: f64 = 1e6;

/// Indices of the selected labels in `labels`.
fn selection(
    labels: &[&str],
    select: Option<&[String]>,
    name: &str,
) -> Result<Vec<usize>, BuildError> {
    let Some(sel) = select else {
        return Ok((0..labels.len()).collect());
    };
    if sel.is_empty() {
        return Err(BuildError::param(
            "signals",
            "is empty: name at least one signal, or leave it out for all",
        ));
    }
    sel.iter()
        .map(|want| {
            let bare = |l: &&str| split_typed_label(l).1 == want;
            (labels.iter().position(|l| l == want))
                .or_else(|| labels.iter().position(bare))
                .ok_or_else(|| {
                    BuildError::param(
                        "signals",
                        format!(
                            "{name} has no signal {want:?}{} (signals: {})",
                            neuropipe_core::suggestion(want, labels.iter().copied()),
                            labels.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

fn open_edf(path: &Path, select: Option<&[String]>) -> Result<Opened, BuildError> {
    let name = path.display().to_string();
    let reader = EdfReader::open(path).map_err(|e| BuildError::param("path", e.to_string()))?;
    let ordinary = reader.signals();
    if ordinary.is_empty() {
        return Err(BuildError::param(
            "path",
            format!("{name} has no signals to replay (only annotations)"),
        ));
    }
    let labels: Vec<&str> = ordinary.iter().map(|s| s.label.as_str()).collect();
    let sel = selection(&labels, select, &name)?;
    let spr = ordinary[sel[0]].samples_per_record;
    if sel.iter().any(|&i| ordinary[i].samples_per_record != spr) {
        let rates: Vec<String> = sel
            .iter()
            .map(|&i| format!("{} {} Hz", labels[i], reader.sample_rate(i)))
            .collect();
        return Err(BuildError::param(
            "path",
            format!(
                "the signals of {name} have different sample rates ({}); FileReplay replays signals of one rate: choose them with `signals`",
                rates.join(", ")
            ),
        ));
    }
    let rate = reader.sample_rate(sel[0]);
    let header = reader.header();
    let format = header.format;
    let bps = format.bytes_per_sample();
    // Byte offset of every signal in a record (annotation signals included), then of each
    // ordinary signal in file order.
    let mut offsets = Vec::with_capacity(header.signals.len());
    let mut at = 0usize;
    for s in &header.signals {
        offsets.push(at);
        at += s.samples_per_record * bps;
    }
    let record_bytes = at;
    let ordinary_offsets: Vec<usize> = header
        .signals
        .iter()
        .zip(&offsets)
        .filter(|(s, _)| !s.is_annotation)
        .map(|(_, &o)| o)
        .collect();
    if reader.trailing_bytes() >= record_bytes as u64 && record_bytes > 0 {
        tracing::warn!(
            "{name}: the header declares {} data records but the file holds {} more whole records after them (readers disagree on such files: pyedflib rejects them, MNE and edfio read the declared count); replaying the {} declared records",
            header.num_records,
            reader.trailing_bytes() / record_bytes as u64,
            header.num_records
        );
    }
    let mut channels = vec![];
    let signals: Vec<SignalConv> = sel
        .iter()
        .map(|&i| {
            let s: &SignalHeader = &ordinary[i];
            let (scale, unit) = match volts_to_microvolts(&s.physical_dimension) {
                Some(k) => (k, "uV".to_string()),
                None => (1.0, s.physical_dimension.clone()),
            };
            let (kind, bare) = split_typed_label(&s.label);
            channels.push(ChannelInfo {
                label: bare.to_string(),
                unit,
                kind: kind.unwrap_or("EEG").to_string(),
                range: Some(sorted(s.physical_min * scale, s.physical_max * scale)),
            });
            SignalConv {
                offset: ordinary_offsets[i],
                dmin: s.digital_min,
                dmax: s.digital_max,
                lsb: s.lsb(),
                pmin: s.physical_min,
                scale,
            }
        })
        .collect();
    let onsets = reader.record_onsets();
    let duration = header.record_duration;
    let gap_before: Vec<bool> = (0..onsets.len())
        .map(|r| {
            header.variant == EdfVariant::Discontinuous
                && r > 0
                && onsets[r] > onsets[r - 1] + duration + 1e-6
        })
        .collect();
    let total = header.num_records * spr as u64;
    let mut markers: Vec<(u64, String)> = reader
        .annotations()
        .iter()
        .map(|a| {
            // The record holding the onset, then the sample within it.
            let r = onsets.partition_point(|&o| o <= a.onset).saturating_sub(1);
            let base = onsets.get(r).copied().unwrap_or(0.0);
            let within = ((a.onset - base) * rate).round().max(0.0) as u64;
            let frame = (r as u64 * spr as u64 + within.min(spr as u64)).min(total);
            (frame, a.text.clone())
        })
        .collect();
    markers.sort_by_key(|m| m.0);
    let mut file = File::open(path)
        .map_err(|e| BuildError::param("path", format!("cannot open {name}: {e}")))?;
    let header_bytes = header.header_bytes as u64;
    file.seek(SeekFrom::Start(header_bytes))
        .map_err(|e| BuildError::param("path", format!("{name}: {e}")))?;
    let n = signals.len();
    let prefilters: Vec<&str> = sel.iter().map(|&i| ordinary[i].prefilter.trim()).collect();
    let filters = match prefilters.first() {
        Some(first) if prefilters.iter().all(|p| p == first) => Some(first.to_string())
            .filter(|f| !f.is_empty())
            .into_iter()
            .collect(),
        _ => {
            tracing::warn!(
                "{name}: its signals were filtered differently ({prefilters:?}); the replayed stream does not carry the prefilter"
            );
            vec![]
        }
    };
    Ok(Opened {
        channels,
        rate,
        markers,
        filters,
        name: None,
        kind: None,
        times: None,
        source_id: String::new(),
        manufacturer: String::new(),
        source: ReplaySource::Edf(EdfFrames {
            path: path.to_path_buf(),
            file,
            header_bytes,
            num_records: header.num_records,
            format,
            spr,
            signals,
            raw: vec![0; record_bytes],
            decoded: vec![0.0; spr * n],
            pos: spr,
            next_record: 0,
            gap_before,
            discontinuity: false,
            railed_at: vec![0; spr],
            railed: 0,
        }),
    })
}

/// Signals decoded together per frame (see [`EdfFrames::load`]): 16 `f64` are two cache
/// lines of a frame.
const DECODE_BLOCK: usize = 16;

/// How to turn one signal's digital samples into output values.
struct SignalConv {
    /// Byte offset of the signal in a data record.
    offset: usize,
    dmin: i32,
    dmax: i32,
    lsb: f64,
    pmin: f64,
    /// To µV (1 for non-voltage units).
    scale: f64,
}

/// EDF/BDF data records decoded one at a time into preallocated buffers.
pub(crate) struct EdfFrames {
    path: PathBuf,
    file: File,
    header_bytes: u64,
    num_records: u64,
    format: EdfFormat,
    spr: usize,
    signals: Vec<SignalConv>,
    raw: Vec<u8>,
    /// The current record, frame-major, decoded in `f64`.
    decoded: Vec<f64>,
    /// Next frame of `decoded` to hand out (`spr`: none left).
    pos: usize,
    next_record: u64,
    gap_before: Vec<bool>,
    discontinuity: bool,
    /// Per frame of the current record: samples at their signal's digital minimum or maximum
    /// (the declared physical range's ends: a railed or clipped amplifier).
    railed_at: Vec<u32>,
    /// Such samples handed out by `read` and not yet reported.
    railed: u64,
}

impl EdfFrames {
    fn load(&mut self) -> Result<(), ReadError> {
        let r = self.next_record;
        self.file
            .read_exact(&mut self.raw)
            .map_err(|source| ReadError::Io {
                file: self.path.display().to_string(),
                action: format!("reading data record {}", r + 1),
                source,
            })?;
        let ch = self.signals.len();
        let bps = self.format.bytes_per_sample();
        self.railed_at.fill(0);
        // The record holds each signal's samples together; the output is frame-major. A block
        // of signals at a time, frame by frame: each frame's part of the output is written
        // whole (a few cache lines) instead of one sample per cache line (and, at 1,024
        // channels, per memory page), which kept the cost per sample from staying flat as
        // the channel count grows.
        for (b, block) in self.signals.chunks(DECODE_BLOCK).enumerate() {
            let c0 = b * DECODE_BLOCK;
            for (k, railed) in self.railed_at.iter_mut().enumerate() {
                let row = &mut self.decoded[k * ch + c0..k * ch + c0 + block.len()];
                for (out, s) in row.iter_mut().zip(block) {
                    let at = s.offset + k * bps;
                    let d = self.format.decode_sample(&self.raw[at..at + bps]);
                    *railed += u32::from(d <= s.dmin || d >= s.dmax);
                    let phys = f64::from(d - s.dmin) * s.lsb + s.pmin;
                    *out = phys * s.scale;
                }
            }
        }
        if self.gap_before.get(r as usize).copied().unwrap_or(false) {
            self.discontinuity = true;
        }
        self.pos = 0;
        self.next_record += 1;
        Ok(())
    }

    fn read<S: FloatSample>(&mut self, out: &mut [S], max: usize) -> Result<usize, ReadError> {
        let ch = self.signals.len();
        let mut n = 0;
        while n < max {
            if self.pos == self.spr {
                if self.next_record >= self.num_records {
                    break;
                }
                let gap = self
                    .gap_before
                    .get(self.next_record as usize)
                    .copied()
                    .unwrap_or(false);
                if gap && n > 0 {
                    break; // the packet ends before the gap
                }
                self.load()?;
            }
            let take = (max - n).min(self.spr - self.pos);
            let railed: u32 = self.railed_at[self.pos..self.pos + take].iter().sum();
            self.railed += u64::from(railed);
            for (o, &d) in out[n * ch..(n + take) * ch]
                .iter_mut()
                .zip(&self.decoded[self.pos * ch..(self.pos + take) * ch])
            {
                *o = S::from_f64(d);
            }
            n += take;
            self.pos += take;
        }
        Ok(n)
    }

    fn rewind(&mut self) -> Result<(), ReadError> {
        self.file
            .seek(SeekFrom::Start(self.header_bytes))
            .map_err(|source| ReadError::Io {
                file: self.path.display().to_string(),
                action: "seeking back to the first record".into(),
                source,
            })?;
        self.next_record = 0;
        self.pos = self.spr;
        self.discontinuity = false;
        Ok(())
    }
}

fn open_csv(
    path: &Path,
    select: Option<&[String]>,
    sample_rate: Option<f64>,
) -> Result<Opened, BuildError> {
    let name = path.display().to_string();
    let csv_err = |e: neuropipe_io::csv::CsvError| BuildError::param("path", e.to_string());
    let mut reader = CsvReader::open(path).map_err(csv_err)?;
    let labels: Vec<String> = reader.labels().to_vec();
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let sel = selection(&label_refs, select, &name)?;
    let rate = match sample_rate {
        Some(r) => r,
        None if !reader.has_timestamps() => {
            return Err(BuildError::param(
                "sample_rate",
                format!(
                "{name} has no timestamp column to infer the sample rate from: give sample_rate"
            ),
            ))
        }
        None => {
            // The median step of the first rows: a gap in the time column (a pause in the
            // recording) must not change the rate.
            let mut row = vec![0.0; labels.len()];
            let mut steps = Vec::with_capacity(RATE_PROBE_FRAMES);
            let mut prev: Option<f64> = None;
            while steps.len() < RATE_PROBE_FRAMES {
                let Some(f) = reader.read_frame(&mut row).map_err(csv_err)? else {
                    break;
                };
                let t = f.timestamp.unwrap_or(0.0);
                if let Some(p) = prev {
                    steps.push(t - p);
                }
                prev = Some(t);
            }
            let mut sorted = steps.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
            if median <= 0.0 {
                return Err(BuildError::param(
                    "sample_rate",
                    format!("{name}: too few rows with increasing timestamps to infer the sample rate: give sample_rate"),
                ));
            }
            // Precise from the span of the rows before the first gap (timestamps are rounded).
            let regular = steps.iter().take_while(|&&d| d > 0.0 && d < 1.5 * median);
            let (n, span) = regular.fold((0usize, 0.0), |(n, s), d| (n + 1, s + d));
            let r = if n > 0 { n as f64 / span } else { 1.0 / median };
            // Timestamps are rounded: snap to a whole rate when within a millionth.
            if (r - r.round()).abs() <= 1e-6 * r {
                r.round()
            } else {
                r
            }
        }
    };
    let reader = CsvReader::open(path).map_err(csv_err)?;
    Ok(Opened {
        channels: sel
            .iter()
            .map(|&i| ChannelInfo {
                label: labels[i].clone(),
                unit: "uV".into(),
                kind: "EEG".into(),
                range: None,
            })
            .collect(),
        rate,
        markers: vec![],
        filters: vec![],
        name: None,
        kind: None,
        times: None,
        source_id: String::new(),
        manufacturer: String::new(),
        source: ReplaySource::Csv(CsvFrames {
            path: path.to_path_buf(),
            row: vec![0.0; labels.len()],
            reader,
            sel,
            period: 1.0 / rate,
            last_time: None,
            held: None,
            gap: None,
        }),
    })
}

/// CSV rows, one frame each.
pub(crate) struct CsvFrames {
    path: PathBuf,
    reader: CsvReader<BufReader<File>>,
    row: Vec<f64>,
    sel: Vec<usize>,
    /// Sample period (s), to find gaps in the time column.
    period: f64,
    /// Timestamp of the last row read.
    last_time: Option<f64>,
    /// `row` holds a frame after a gap, read but not handed out yet (its gap in s).
    held: Option<f64>,
    /// The frames of the last `read` follow a gap of this many seconds.
    gap: Option<f64>,
}

impl CsvFrames {
    fn read<S: FloatSample>(&mut self, out: &mut [S], max: usize) -> Result<usize, ReadError> {
        let ch = self.sel.len();
        self.gap = None;
        for n in 0..max {
            if let Some(gap) = self.held.take() {
                // The first frame after a gap starts this packet.
                self.gap = Some(gap);
            } else {
                let Some(frame) = self.reader.read_frame(&mut self.row)? else {
                    return Ok(n);
                };
                if let (Some(t), Some(prev)) = (frame.timestamp, self.last_time) {
                    let step = t - prev;
                    if step > 1.5 * self.period {
                        let gap = step - self.period;
                        self.last_time = Some(t);
                        if n > 0 {
                            self.held = Some(gap); // the packet ends before the gap
                            return Ok(n);
                        }
                        self.gap = Some(gap);
                    }
                }
                if frame.timestamp.is_some() {
                    self.last_time = frame.timestamp;
                }
            }
            for (d, &i) in out[n * ch..(n + 1) * ch].iter_mut().zip(&self.sel) {
                *d = S::from_f64(self.row[i]);
            }
        }
        Ok(max)
    }

    fn rewind(&mut self) -> Result<(), ReadError> {
        self.reader = CsvReader::open(&self.path)?;
        self.last_time = None;
        self.held = None;
        self.gap = None;
        Ok(())
    }
}

/// `[a, b]` in increasing order (a physical range may be declared upside down).
fn sorted(a: f64, b: f64) -> [f64; 2] {
    [a.min(b), a.max(b)]
}

/// Opens XDF file `path`: the numeric streams named in `streams` (default: the first), their
/// channels named in `select`; every string stream's samples become markers on the frame
/// nearest their time stamp in the first stream. With `clock_sync`, every stream's stamps
/// are first put on the recorder's clock from its clock offsets, as pyxdf does. The file is
/// scanned once, whatever the number of streams.
fn open_xdf(
    path: &Path,
    select: Option<&[String]>,
    streams: &[String],
    clock_sync: bool,
) -> Result<Vec<Opened>, BuildError> {
    use neuropipe_io::xdf::{scan, ChannelFormat, ClockSync};
    let name = path.display().to_string();
    let bad = |e: neuropipe_io::xdf::XdfError| BuildError::param("path", format!("{name}: {e}"));
    let mut file = File::open(path)
        .map(BufReader::new)
        .map_err(|e| BuildError::param("path", format!("cannot open {name}: {e}")))?;
    let mut index = scan(&mut file).map_err(bad)?;
    if clock_sync {
        // Every stream on the recorder's clock (markers from another machine included).
        for s in &mut index.streams {
            let sync = ClockSync::new(&s.clock_offsets);
            if sync.resets() > 0 {
                tracing::info!(
                    "{name}: stream {:?}'s source clock was reset {} times: each stretch between resets synchronised on its own, as pyxdf",
                    s.header.name,
                    sync.resets()
                );
            }
            if sync.is_identity() {
                continue;
            }
            sync.apply(&mut s.timestamps);
            sync.apply(
                index
                    .strings
                    .iter_mut()
                    .filter(|m| m.0 == s.id)
                    .map(|m| &mut m.1),
            );
        }
    }
    let numeric: Vec<_> = index
        .streams
        .iter()
        .filter(|s| s.header.format != ChannelFormat::String)
        .collect();
    let names = || {
        numeric
            .iter()
            .map(|s| s.header.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let param = if streams.len() > 1 {
        "streams"
    } else {
        "stream"
    };
    let chosen: Vec<&XdfStream> = if streams.is_empty() {
        vec![numeric.first().ok_or_else(|| {
            BuildError::param("path", format!("{name} holds no numeric stream to replay"))
        })?]
    } else {
        let mut chosen = Vec::with_capacity(streams.len());
        for (k, want) in streams.iter().enumerate() {
            if streams[..k].contains(want) {
                return Err(BuildError::param(
                    param,
                    format!("lists stream {want:?} twice"),
                ));
            }
            chosen.push(
                *numeric
                    .iter()
                    .find(|s| s.header.name == *want)
                    .ok_or_else(|| {
                        BuildError::param(
                            param,
                            format!(
                                "{name} has no numeric stream {want:?} (its numeric streams: {})",
                                names()
                            ),
                        )
                    })?,
            );
        }
        chosen
    };
    chosen
        .iter()
        .enumerate()
        .map(|(k, c)| xdf_stream(path, &index, c, select, k == 0, param))
        .collect()
}

/// One numeric stream `chosen` of the scanned (and synchronised) XDF file `path`, its
/// channels named in `select`; with `with_markers`, the string streams' samples as markers
/// on its frames.
fn xdf_stream(
    path: &Path,
    index: &XdfIndex,
    chosen: &XdfStream,
    select: Option<&[String]>,
    with_markers: bool,
    param: &str,
) -> Result<Opened, BuildError> {
    use neuropipe_io::xdf::XdfSamples;
    let name = path.display().to_string();
    let bad = |e: neuropipe_io::xdf::XdfError| BuildError::param("path", format!("{name}: {e}"));
    let h = &chosen.header;
    let rate = h.nominal_srate;
    if rate <= 0.0 {
        return Err(BuildError::param(
            param,
            format!("{name}: stream {:?} has an irregular rate (nominal_srate 0): FileReplay replays regularly sampled streams", h.name),
        ));
    }
    let ts = &chosen.timestamps;
    if ts.is_empty() {
        return Err(BuildError::param(
            "path",
            format!("{name}: stream {:?} has no samples", h.name),
        ));
    }
    let labels: Vec<&str> = h.channels.iter().map(|c| c.label.as_str()).collect();
    let sel = selection(&labels, select, &name)?;
    // Voltages in µV (as every replayed file); other units as they are.
    let scale: Vec<f64> = sel
        .iter()
        .map(|&i| volts_to_microvolts(&h.channels[i].unit).unwrap_or(1.0))
        .collect();
    let channels = sel
        .iter()
        .map(|&i| {
            let c = &h.channels[i];
            ChannelInfo {
                label: c.label.clone(),
                unit: if volts_to_microvolts(&c.unit).is_some() {
                    "uV".into()
                } else {
                    c.unit.clone()
                },
                kind: if c.kind.is_empty() {
                    "EEG".into()
                } else {
                    c.kind.clone()
                },
                range: None,
            }
        })
        .collect();
    // Gaps in the time stamps (more than 1.5 sample periods): discontinuities.
    let period = 1.0 / rate;
    let gaps: Vec<(u64, f64)> = ts
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1] - w[0] > 1.5 * period)
        .map(|(i, w)| (i as u64 + 1, w[1] - w[0] - period))
        .collect();
    // The file's origin: its earliest time stamp, whichever stream has it.
    let origin = index
        .streams
        .iter()
        .filter_map(|s| s.timestamps.first())
        .chain(index.strings.iter().map(|(_, t, _)| t))
        .fold(f64::INFINITY, |a, &b| a.min(b));
    // Markers on the nearest frame; those beyond the stream's span by more than half a
    // period are placed at its first or last frame, and said so.
    let (first, last) = (ts[0], ts[ts.len() - 1]);
    let mut outside = 0usize;
    let mut markers: Vec<(u64, String)> = index
        .strings
        .iter()
        .filter(|_| with_markers)
        .map(|(_, t, text)| {
            if *t < first - 0.5 * period || *t > last + 0.5 * period {
                outside += 1;
            }
            let k = ts.partition_point(|x| x < t);
            let frame = match k {
                0 => 0,
                k if k == ts.len() => k - 1,
                k if t - ts[k - 1] <= ts[k] - t => k - 1,
                k => k,
            };
            (frame as u64, text.clone())
        })
        .collect();
    markers.sort_by_key(|m| m.0);
    if outside > 0 {
        tracing::warn!(
            "{name}: {outside} markers lie outside stream {:?}'s samples; replayed at its first or last frame",
            h.name
        );
    }
    let filters = h
        .desc
        .iter()
        .filter(|(k, _)| k == "filters")
        .map(|(_, v)| v.clone())
        .collect();
    let samples = XdfSamples::new(
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| BuildError::param("path", format!("cannot open {name}: {e}")))?,
        index,
        chosen.id,
    )
    .map_err(bad)?;
    Ok(Opened {
        channels,
        rate,
        markers,
        filters,
        name: Some(h.name.clone()),
        kind: Some(h.kind.clone()).filter(|k| !k.is_empty()),
        times: Some((ts.clone(), origin)),
        source_id: h.source_id.clone(),
        manufacturer: h
            .desc
            .iter()
            .find(|(k, _)| k == "manufacturer")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        source: ReplaySource::Xdf(XdfFrames {
            file: name.clone(),
            frame: vec![0.0; h.channel_count() * 4096],
            all: h.channel_count(),
            samples,
            sel,
            scale,
            gaps,
            next_gap: 0,
            pos: 0,
            gap: None,
        }),
    })
}

/// An XDF stream's samples.
pub(crate) struct XdfFrames {
    file: String,
    samples: neuropipe_io::xdf::XdfSamples<BufReader<File>>,
    /// Frames with every channel of the stream, decoded (room for 4096).
    frame: Vec<f64>,
    all: usize,
    sel: Vec<usize>,
    /// Per selected channel: the factor to µV (1 for other units).
    scale: Vec<f64>,
    /// (frame, gap in s) where the time stamps jump, in order.
    gaps: Vec<(u64, f64)>,
    next_gap: usize,
    /// Frames handed out in this pass.
    pos: u64,
    /// The frames of the last `read` follow a gap of this many seconds.
    gap: Option<f64>,
}

impl XdfFrames {
    fn read<S: FloatSample>(&mut self, out: &mut [S], max: usize) -> Result<usize, ReadError> {
        self.gap = None;
        let mut want = max.min(self.frame.len() / self.all);
        if let Some(&(at, gap_s)) = self.gaps.get(self.next_gap) {
            if at == self.pos {
                self.gap = Some(gap_s);
                self.next_gap += 1;
                if let Some(&(next, _)) = self.gaps.get(self.next_gap) {
                    want = want.min((next - self.pos) as usize);
                }
            } else {
                // The packet ends before the gap.
                want = want.min((at - self.pos) as usize);
            }
        }
        let n = self
            .samples
            .read(&mut self.frame[..want * self.all], want)
            .map_err(|source| ReadError::Xdf {
                file: self.file.clone(),
                source,
            })?;
        let ch = self.sel.len();
        for (o, f) in out[..n * ch]
            .chunks_exact_mut(ch)
            .zip(self.frame.chunks_exact(self.all))
        {
            for ((d, &i), k) in o.iter_mut().zip(&self.sel).zip(&self.scale) {
                *d = S::from_f64(f[i] * k);
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    fn rewind(&mut self) {
        self.samples.rewind();
        self.pos = 0;
        self.next_gap = 0;
        self.gap = None;
    }
}
