//! [`EdfWriter`]: real-time EDF+/BDF+ writing that keeps the file valid.
//!
//! The header is written at creation with `-1` records; after every completed
//! data record the writer writes the record, then seeks back and rewrites the
//! 8-byte "number of data records" field, so a reader (or a recovery after
//! `kill -9`) always finds a valid file holding every completed record.
//! If writing fails half-way through a record, the file is truncated back to
//! the last complete record (for files made by [`EdfWriter::create`]).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use super::fields;
use super::layout::{build, Layout};
use super::tal::{self, MAX_SECONDS, TIME_KEEPING_MAX};
use super::{EdfError, EdfSpec, PartialRecord};

/// A queued annotation.
#[derive(Debug)]
struct Pending {
    onset: f64,
    duration: Option<f64>,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Failed,
    Finished,
}

/// What [`EdfWriter::finish`] reports about the finished file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EdfSummary {
    /// Data records in the file.
    pub records: u64,
    /// Frames added to complete the last record ([`PartialRecord`] padding).
    pub padded_frames: u64,
    /// Frames of an incomplete last record that were dropped ([`PartialRecord::Discard`]).
    pub discarded_frames: u64,
    /// Samples outside the physical range, written as the digital min or max.
    pub clipped_samples: u64,
    /// Non-finite (NaN or infinite) samples, written as the digital value nearest to
    /// physical zero.
    pub nan_samples: u64,
    /// Whole records of padding added after the data so that queued annotations found room.
    pub extra_records: u64,
    /// Annotations written.
    pub annotations_written: u64,
    /// Annotations that found no room: with no record written at all, with
    /// [`PartialRecord::Discard`], or beyond [`MAX_EXTRA_RECORDS`] of padding.
    pub annotations_dropped: u64,
}

/// Text of the annotation that marks padding after the end of the data. The `BAD_` prefix
/// makes MNE (and EEGLAB's importers) treat the span as bad, so it is never analysed as data.
pub const PADDING_ANNOTATION: &str = "BAD_padding: no data (end of recording)";

/// At most this many whole records of padding are added at [`EdfWriter::finish`] to make room
/// for queued annotations; anything still queued after that is counted as dropped.
pub const MAX_EXTRA_RECORDS: u64 = 10_000;

/// Writes an EDF+ or BDF+ file record by record.
///
/// Samples are pushed frame-major with [`write_frames`](Self::write_frames)
/// (or a record at a time with [`write_record`](Self::write_record) when the
/// signals have different rates). They are converted to digital values with
/// `round((x − pmin)·(dmax − dmin)/(pmax − pmin) + dmin)` (halves away from
/// zero) and clipped to the digital range. Nothing is allocated per sample: a
/// record buffer is allocated at creation and reused.
///
/// [`finish`](Self::finish) completes the last partial record as
/// [`EdfSpec::partial_record`] says (by default repeating each signal's last
/// value) and writes the final record count. Dropping an unfinished writer
/// finishes it too, ignoring errors.
pub struct EdfWriter<W: Write + Seek> {
    out: Option<W>,
    name: String,
    layout: Layout,
    partial_policy: PartialRecord,
    discontinuous: bool,
    record: Vec<u8>,
    /// Frames already in `record` (for `write_frames`).
    frame: usize,
    state: State,
    records: u64,
    segment_onset: f64,
    segment_records: u64,
    pending: VecDeque<Pending>,
    /// Annotation bytes used in the last record written (still in `record`).
    ann_used: usize,
    last: Vec<i32>,
    summary: EdfSummary,
    truncate: Option<fn(&mut W, u64) -> io::Result<()>>,
}

impl<W: Write + Seek> std::fmt::Debug for EdfWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdfWriter")
            .field("name", &self.name)
            .field("format", &self.layout.format)
            .field("channels", &self.layout.spr.len())
            .field("records", &self.records)
            .field("frames_in_record", &self.frame)
            .field("pending_annotations", &self.pending.len())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl EdfWriter<File> {
    /// Creates (or truncates) the file at `path` and writes the header.
    ///
    /// Errors name the file: an invalid spec, or an I/O failure.
    pub fn create(path: impl AsRef<Path>, spec: &EdfSpec) -> Result<Self, EdfError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        // Validate before touching the file system.
        build(spec).map_err(|e| EdfError::Spec {
            file: name.clone(),
            part: e.part,
            problem: e.problem,
        })?;
        let file = File::create(path).map_err(|source| EdfError::Io {
            file: name.clone(),
            action: "creating the file".into(),
            source,
        })?;
        let mut w = EdfWriter::new(file, name, spec)?;
        w.truncate = Some(|f: &mut File, len| f.set_len(len));
        Ok(w)
    }
}

impl<W: Write + Seek> EdfWriter<W> {
    /// Writes the header to `out` (positioned at its start) and returns a
    /// writer; `name` is used in error messages.
    pub fn new(out: W, name: impl Into<String>, spec: &EdfSpec) -> Result<Self, EdfError> {
        let name = name.into();
        let (header, layout) = build(spec).map_err(|e| EdfError::Spec {
            file: name.clone(),
            part: e.part,
            problem: e.problem,
        })?;
        let ns = layout.spr.len();
        let mut w = EdfWriter {
            out: Some(out),
            name,
            record: vec![0; layout.record_bytes],
            last: layout.zero.clone(),
            layout,
            partial_policy: spec.partial_record,
            discontinuous: spec.discontinuous,
            frame: 0,
            state: State::Open,
            records: 0,
            segment_onset: 0.0,
            segment_records: 0,
            pending: VecDeque::new(),
            ann_used: 0,
            summary: EdfSummary::default(),
            truncate: None,
        };
        debug_assert_eq!(w.last.len(), ns);
        w.io(
            || "writing the header".into(),
            |o| {
                o.seek(SeekFrom::Start(0))?;
                o.write_all(&header)?;
                o.flush()
            },
        )?;
        Ok(w)
    }

    /// The name used in error messages (the path for [`create`](Self::create)).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of ordinary signals (channels).
    pub fn channels(&self) -> usize {
        self.layout.spr.len()
    }

    /// Frames per data record, if all signals share one sample rate.
    pub fn frames_per_record(&self) -> Option<usize> {
        self.layout.uniform
    }

    /// Bytes per data record, annotation signal included.
    pub fn record_bytes(&self) -> usize {
        self.layout.record_bytes
    }

    /// Complete data records written so far.
    pub fn records_written(&self) -> u64 {
        self.records
    }

    /// Samples clipped to the digital range so far.
    pub fn clipped_samples(&self) -> u64 {
        self.summary.clipped_samples
    }

    /// Annotations queued and not yet written.
    pub fn pending_annotations(&self) -> usize {
        self.pending.len()
    }

    /// Onset (seconds after the start) of the record being filled.
    pub fn next_record_onset(&self) -> f64 {
        self.segment_onset + self.segment_records as f64 * self.layout.duration
    }

    fn usage(&self, problem: String) -> EdfError {
        EdfError::Usage {
            file: self.name.clone(),
            problem,
        }
    }

    fn check_open(&self) -> Result<(), EdfError> {
        match self.state {
            State::Open => Ok(()),
            State::Failed => {
                Err(self.usage("the writer failed earlier and accepts no more data".into()))
            }
            State::Finished => Err(self.usage("the file is already finished".into())),
        }
    }

    /// Runs an I/O step; on failure marks the writer failed, truncates the file
    /// back to the last complete record if possible, and names the step.
    fn io(
        &mut self,
        action: impl FnOnce() -> String,
        f: impl FnOnce(&mut W) -> io::Result<()>,
    ) -> Result<(), EdfError> {
        let out = self.out.as_mut().expect("output present while open");
        match f(out) {
            Ok(()) => Ok(()),
            Err(source) => {
                self.state = State::Failed;
                let good =
                    self.layout.header_len as u64 + self.records * self.layout.record_bytes as u64;
                if let Some(truncate) = self.truncate {
                    let _ = truncate(out, good);
                }
                Err(EdfError::Io {
                    file: self.name.clone(),
                    action: action(),
                    source,
                })
            }
        }
    }

    #[inline]
    fn digital(&mut self, c: usize, x: f64) -> i32 {
        let l = &self.layout;
        if !x.is_finite() {
            self.summary.nan_samples += 1;
            return l.zero[c];
        }
        let d = ((x - l.pmin[c]) * l.gain[c] + f64::from(l.dmin[c])).round();
        if d < f64::from(l.dmin[c]) {
            self.summary.clipped_samples += 1;
            l.dmin[c]
        } else if d > f64::from(l.dmax[c]) {
            self.summary.clipped_samples += 1;
            l.dmax[c]
        } else {
            d as i32
        }
    }

    /// Appends frames of physical values, frame-major (`data[frame * channels + c]`).
    /// All signals must share one sample rate. Completed records are written
    /// to the file (and the record count updated) before this returns.
    pub fn write_frames(&mut self, data: &[f64], channels: usize) -> Result<(), EdfError> {
        self.check_open()?;
        let ns = self.layout.spr.len();
        if channels != ns {
            return Err(self.usage(format!(
                "write_frames got {channels} channels, the file has {ns} signals"
            )));
        }
        if !data.len().is_multiple_of(ns) {
            return Err(self.usage(format!(
                "write_frames got {} values, not a whole number of {ns}-channel frames",
                data.len()
            )));
        }
        let Some(spr) = self.layout.uniform else {
            return Err(self.usage(
                "write_frames needs all signals at one sample rate; use write_record".into(),
            ));
        };
        let bps = self.layout.format.bytes_per_sample();
        for frame in data.chunks_exact(ns) {
            for (c, &x) in frame.iter().enumerate() {
                let d = self.digital(c, x);
                self.last[c] = d;
                let pos = self.layout.offsets[c] + self.frame * bps;
                self.layout.format.encode_sample(d, &mut self.record[pos..]);
            }
            self.frame += 1;
            if self.frame == spr {
                self.frame = 0;
                self.complete_record(false)?;
            }
        }
        Ok(())
    }

    /// Writes one whole data record from per-signal slices of physical values
    /// (`signals[c].len()` = that signal's samples per record). Works with
    /// mixed sample rates; not allowed while `write_frames` has a partial record.
    pub fn write_record(&mut self, signals: &[&[f64]]) -> Result<(), EdfError> {
        self.check_open()?;
        if self.frame != 0 {
            return Err(self.usage(format!(
                "write_record called with {} frames of a partial record pending",
                self.frame
            )));
        }
        let ns = self.layout.spr.len();
        if signals.len() != ns {
            return Err(self.usage(format!(
                "write_record got {} signals, the file has {ns}",
                signals.len()
            )));
        }
        for (c, s) in signals.iter().enumerate() {
            if s.len() != self.layout.spr[c] {
                return Err(self.usage(format!(
                    "write_record got {} samples for signal {}, which has {} per record",
                    s.len(),
                    c + 1,
                    self.layout.spr[c]
                )));
            }
        }
        let bps = self.layout.format.bytes_per_sample();
        for (c, s) in signals.iter().enumerate() {
            for (k, &x) in s.iter().enumerate() {
                let d = self.digital(c, x);
                self.last[c] = d;
                let pos = self.layout.offsets[c] + k * bps;
                self.layout.format.encode_sample(d, &mut self.record[pos..]);
            }
        }
        self.complete_record(false)
    }

    /// EDF+D only: the next record starts at `onset` seconds after the start
    /// (at or after the end of the previous record), leaving a gap. Only
    /// allowed at a record boundary.
    pub fn begin_record_at(&mut self, onset: f64) -> Result<(), EdfError> {
        self.check_open()?;
        if !self.discontinuous {
            return Err(
                self.usage("begin_record_at needs a discontinuous (EDF+D/BDF+D) file".into())
            );
        }
        if self.frame != 0 {
            return Err(self.usage(format!(
                "begin_record_at called with {} frames of a partial record pending",
                self.frame
            )));
        }
        let earliest = self.next_record_onset();
        if !(onset.is_finite() && onset.abs() < MAX_SECONDS) || onset < earliest - 1e-9 {
            return Err(self.usage(format!(
                "record onset {onset} s is not a number between the end of the previous record ({earliest} s) and 1e9 s"
            )));
        }
        self.segment_onset = onset;
        self.segment_records = 0;
        Ok(())
    }

    /// Queues an annotation at `onset` seconds after the start (may be in the
    /// past or the future). It is written into the record that covers its
    /// onset, or the next record written if that one is already written or
    /// full; its onset is kept. At [`finish`](Self::finish) the remaining
    /// ones go into the last record as far as they fit.
    pub fn annotate(
        &mut self,
        onset: f64,
        duration: Option<f64>,
        text: &str,
    ) -> Result<(), EdfError> {
        self.check_open()?;
        if !(onset.is_finite() && onset.abs() < MAX_SECONDS) {
            return Err(self.usage(format!(
                "annotation onset {onset} s is not a number within ±1e9 s"
            )));
        }
        if let Some(d) = duration {
            if !(d.is_finite() && (0.0..MAX_SECONDS).contains(&d)) {
                return Err(self.usage(format!(
                    "annotation duration {d} s is not a number within 0..1e9 s"
                )));
            }
        }
        if text.bytes().any(|b| matches!(b, 0x00 | 0x14 | 0x15)) {
            return Err(self.usage(format!(
                "annotation text {text:?} contains byte 0x00, 0x14 or 0x15, which EDF+ reserves"
            )));
        }
        let len = tal::tal_len(onset, duration, text);
        let room = self.layout.ann_bytes - TIME_KEEPING_MAX;
        if len > room {
            return Err(self.usage(format!(
                "annotation of {len} bytes does not fit in the {} annotation bytes per record \
                 (after the time-keeping annotation); raise annotation_bytes_per_record",
                self.layout.ann_bytes
            )));
        }
        self.pending.push_back(Pending {
            onset,
            duration,
            text: text.to_string(),
        });
        Ok(())
    }

    /// Moves pending annotations with onset before `limit` into the record's
    /// annotation area from `pos`, in queue order, as far as they fit.
    fn fill_annotations(&mut self, mut pos: usize, limit: f64) -> usize {
        let area = &mut self.record
            [self.layout.ann_offset..self.layout.ann_offset + self.layout.ann_bytes];
        let mut i = 0;
        while i < self.pending.len() {
            let a = &self.pending[i];
            if a.onset < limit {
                match tal::write_tal(area, pos, a.onset, a.duration, &a.text) {
                    Some(p) => {
                        pos = p;
                        self.pending.remove(i);
                        self.summary.annotations_written += 1;
                    }
                    None => break,
                }
            } else {
                i += 1;
            }
        }
        pos
    }

    /// Writes the record in the buffer and updates the record count.
    fn complete_record(&mut self, last: bool) -> Result<(), EdfError> {
        let onset = self.next_record_onset();
        if onset >= MAX_SECONDS {
            self.state = State::Failed;
            return Err(self.usage(format!("record onset {onset} s is beyond 1e9 s")));
        }
        let l = &self.layout;
        let area = &mut self.record[l.ann_offset..l.ann_offset + l.ann_bytes];
        area.fill(0);
        let pos = tal::write_tal(area, 0, onset, None, "")
            .expect("time-keeping TAL fits by construction");
        let limit = if last {
            f64::INFINITY
        } else {
            onset + l.duration
        };
        self.ann_used = self.fill_annotations(pos, limit);

        let n = self.records + 1;
        let end = self.layout.header_len as u64 + n * self.layout.record_bytes as u64;
        let record = std::mem::take(&mut self.record);
        let written = self.io(
            || format!("writing data record {n}"),
            |o| o.write_all(&record),
        );
        self.record = record;
        written?;
        self.records = n;
        self.segment_records += 1;
        self.write_count(end)
    }

    /// Rewrites the record-count field and returns to the end of the data.
    fn write_count(&mut self, end: u64) -> Result<(), EdfError> {
        let mut field = [b' '; 8];
        if self.records > 99_999_999 {
            self.state = State::Failed;
            return Err(self.usage("more than 99999999 data records".into()));
        }
        // Formats into the stack array: no allocation per record.
        let _ = write!(&mut field[..], "{}", self.records);
        self.io(
            || "updating the number of data records".into(),
            |o| {
                o.seek(SeekFrom::Start(fields::NUM_RECORDS.offset as u64))?;
                o.write_all(&field)?;
                o.seek(SeekFrom::Start(end))?;
                o.flush()
            },
        )
    }

    fn finish_impl(&mut self) -> Result<EdfSummary, EdfError> {
        self.check_open()?;
        let pads = self.partial_policy != PartialRecord::Discard;
        if self.frame > 0 && !pads {
            self.summary.discarded_frames += self.frame as u64;
            self.frame = 0;
        }
        if !self.pending.is_empty() && self.records > 0 && self.frame == 0 {
            self.fill_last_record()?;
        }
        let spr = self.layout.uniform.unwrap_or(0);
        if pads && spr > 0 && (self.frame > 0 || (!self.pending.is_empty() && self.records > 0)) {
            self.pad_to_end(spr)?;
        }
        self.summary.annotations_dropped += self.pending.len() as u64;
        self.pending.clear();
        self.summary.records = self.records;
        self.state = State::Finished;
        Ok(self.summary)
    }

    /// Completes the partial record, plus as many whole records as the queued annotations
    /// need (at most [`MAX_EXTRA_RECORDS`]), with the padding the policy says, and marks all
    /// of it with a [`PADDING_ANNOTATION`] spanning it, so padding can never pass for data.
    fn pad_to_end(&mut self, spr: usize) -> Result<(), EdfError> {
        let l = &self.layout;
        let data_end = self.next_record_onset() + self.frame as f64 / spr as f64 * l.duration;
        // Records needed: the queue (with the padding annotation first) packed in order, as
        // `fill_annotations` will pack it.
        let room = l.ann_bytes - TIME_KEEPING_MAX;
        let pad_tal = tal::tal_len(data_end, Some(MAX_SECONDS - 1.0), PADDING_ANNOTATION);
        let mut records = 1u64;
        let mut used = pad_tal;
        for a in &self.pending {
            let len = tal::tal_len(a.onset, a.duration, &a.text);
            if used + len > room {
                records += 1;
                used = 0;
            }
            used += len;
        }
        let records = records.min(MAX_EXTRA_RECORDS + 1);
        // Without a partial record every padded record is a whole extra one.
        let whole = if self.frame > 0 { records - 1 } else { records };
        let pad_frames = (spr - self.frame) as u64 % spr as u64 + whole * spr as u64;
        let pad_s = pad_frames as f64 / spr as f64 * l.duration;
        self.pending.push_front(Pending {
            onset: data_end,
            duration: Some(pad_s),
            text: PADDING_ANNOTATION.to_string(),
        });
        let bps = l.format.bytes_per_sample();
        let fill = match self.partial_policy {
            PartialRecord::PadWithZero => self.layout.zero.clone(),
            _ => self.last.clone(),
        };
        for _ in 0..records {
            for (c, &d) in fill.iter().enumerate() {
                for k in self.frame..spr {
                    let pos = self.layout.offsets[c] + k * bps;
                    self.layout.format.encode_sample(d, &mut self.record[pos..]);
                }
            }
            self.frame = 0;
            self.complete_record(true)?;
        }
        self.summary.padded_frames += pad_frames;
        self.summary.extra_records += whole;
        Ok(())
    }

    /// Puts queued annotations into the free room of the last record written (its
    /// annotation area is still in the buffer) and rewrites that area in place.
    fn fill_last_record(&mut self) -> Result<(), EdfError> {
        let before = self.summary.annotations_written;
        self.ann_used = self.fill_annotations(self.ann_used, f64::INFINITY);
        if self.summary.annotations_written == before {
            return Ok(());
        }
        let l = &self.layout;
        let at =
            l.header_len as u64 + (self.records - 1) * l.record_bytes as u64 + l.ann_offset as u64;
        let end = l.header_len as u64 + self.records * l.record_bytes as u64;
        let area = self.record[l.ann_offset..l.ann_offset + l.ann_bytes].to_vec();
        self.io(
            || "writing annotations into the last data record".into(),
            |o| {
                o.seek(SeekFrom::Start(at))?;
                o.write_all(&area)?;
                o.seek(SeekFrom::Start(end))?;
                o.flush()
            },
        )
    }

    /// Completes the last record (see [`PartialRecord`]), writes the final
    /// record count and returns what was written.
    pub fn finish(mut self) -> Result<EdfSummary, EdfError> {
        self.finish_impl()
    }

    /// Like [`finish`](Self::finish), and returns the underlying writer too.
    pub fn finish_into_inner(mut self) -> Result<(W, EdfSummary), EdfError> {
        let summary = self.finish_impl()?;
        let out = self.out.take().expect("output present until finished");
        Ok((out, summary))
    }
}

impl<W: Write + Seek> Drop for EdfWriter<W> {
    fn drop(&mut self) {
        if self.state == State::Open && self.out.is_some() {
            let _ = self.finish_impl();
        }
    }
}
