//! [`EdfReader`]: validating reader for EDF, EDF+C/D, BDF and BDF+ files.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use super::fields::BLOCK;
use super::header::{parse_num_signals, EdfHeader, SignalHeader};
use super::tal::parse_tals;
use super::{Annotation, EdfError, EdfFormat, EdfVariant};
use crate::datetime::DateTime;

/// Reads an EDF/BDF file: header, annotations and samples.
///
/// Opening parses and validates the whole header and every record's
/// annotation signals; a malformed file is rejected with an error naming the
/// byte offset and the field. Nothing is allocated from a header field
/// without first checking it against the file length. Channel numbers
/// (`ch`) count ordinary signals only, from 0, in file order; annotation
/// signals are left out.
pub struct EdfReader<R: Read + Seek> {
    src: R,
    name: String,
    header: EdfHeader,
    /// Index in `header.signals` of each ordinary signal.
    data: Vec<usize>,
    signals: Vec<SignalHeader>,
    /// Byte offset within a record of every signal (annotation ones too).
    offsets: Vec<usize>,
    record_bytes: usize,
    record_onsets: Option<Vec<f64>>,
    annotations: Vec<Annotation>,
    trailing: u64,
}

impl<R: Read + Seek> std::fmt::Debug for EdfReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdfReader")
            .field("name", &self.name)
            .field("header", &self.header)
            .field("annotations", &self.annotations.len())
            .field("trailing_bytes", &self.trailing)
            .finish_non_exhaustive()
    }
}

impl EdfReader<BufReader<File>> {
    /// Opens and validates the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, EdfError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| EdfError::Io {
            file: name.clone(),
            action: "opening the file".into(),
            source,
        })?;
        EdfReader::new(BufReader::new(file), name)
    }
}

impl EdfReader<Cursor<Vec<u8>>> {
    /// Validates a file held in memory; errors name it `<memory>`.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, EdfError> {
        EdfReader::new(Cursor::new(bytes), "<memory>")
    }
}

impl<R: Read + Seek> EdfReader<R> {
    /// Validates the file behind `src`; `name` is used in error messages.
    pub fn new(mut src: R, name: impl Into<String>) -> Result<Self, EdfError> {
        let name = name.into();
        let io = |action: &str, source| EdfError::Io {
            file: name.clone(),
            action: action.to_string(),
            source,
        };
        let file_len = src
            .seek(SeekFrom::End(0))
            .map_err(|e| io("finding the file length", e))?;
        if file_len < BLOCK as u64 {
            return Err(EdfError::Data {
                file: name.clone(),
                offset: file_len,
                problem: format!(
                    "the file ends inside the 256-byte header (it has {file_len} bytes)"
                ),
            });
        }
        let mut fixed = [0u8; BLOCK];
        src.seek(SeekFrom::Start(0))
            .and_then(|_| src.read_exact(&mut fixed))
            .map_err(|e| io("reading the header", e))?;
        let ns = parse_num_signals(&fixed, file_len, &name)?;
        // parse_num_signals checked that the header fits in the file.
        let mut header = vec![0u8; BLOCK * (ns + 1)];
        header[..BLOCK].copy_from_slice(&fixed);
        src.read_exact(&mut header[BLOCK..])
            .map_err(|e| io("reading the header", e))?;
        let header = EdfHeader::parse(&header, file_len, &name)?;

        let bps = header.format.bytes_per_sample();
        let mut offsets = Vec::with_capacity(ns);
        let mut at = 0usize;
        for s in &header.signals {
            offsets.push(at);
            at += s.samples_per_record * bps;
        }
        let record_bytes = at;
        let data: Vec<usize> = (0..ns)
            .filter(|&i| !header.signals[i].is_annotation)
            .collect();
        let signals = data.iter().map(|&i| header.signals[i].clone()).collect();
        let trailing =
            file_len - header.header_bytes as u64 - header.num_records * record_bytes as u64;
        let mut reader = EdfReader {
            src,
            name,
            header,
            data,
            signals,
            offsets,
            record_bytes,
            record_onsets: None,
            annotations: Vec::new(),
            trailing,
        };
        reader.read_annotations()?;
        Ok(reader)
    }

    fn record_start(&self, r: u64) -> u64 {
        self.header.header_bytes as u64 + r * self.record_bytes as u64
    }

    fn io_err(&self, action: String, source: std::io::Error) -> EdfError {
        EdfError::Io {
            file: self.name.clone(),
            action,
            source,
        }
    }

    /// Reads `buf.len()` bytes at `offset` within record `r`.
    fn read_at(&mut self, r: u64, offset: usize, buf: &mut [u8]) -> Result<(), EdfError> {
        let pos = self.record_start(r) + offset as u64;
        self.src
            .seek(SeekFrom::Start(pos))
            .and_then(|_| self.src.read_exact(buf))
            .map_err(|e| self.io_err(format!("reading data record {}", r + 1), e))
    }

    /// Decodes every record's annotation signals: record onsets from the
    /// time-keeping TALs, and the annotations.
    fn read_annotations(&mut self) -> Result<(), EdfError> {
        let ann: Vec<usize> = (0..self.header.signals.len())
            .filter(|&i| self.header.signals[i].is_annotation)
            .collect();
        if ann.is_empty() {
            if self.header.variant == EdfVariant::Discontinuous {
                return Err(EdfError::Field {
                    file: self.name.clone(),
                    offset: super::fields::RESERVED.offset as u64,
                    field: super::fields::RESERVED.name,
                    signal: None,
                    problem:
                        "EDF+D needs an annotation signal to time its records, but there is none"
                            .into(),
                });
            }
            return Ok(());
        }
        let bps = self.header.format.bytes_per_sample();
        if self.header.num_records == 0 {
            self.record_onsets = Some(Vec::new());
            return Ok(());
        }
        let max_len = ann
            .iter()
            .map(|&i| self.header.signals[i].samples_per_record * bps)
            .max()
            .unwrap_or(0);
        // At least one whole record is in the file, so this is bounded by its length.
        let mut buf = vec![0u8; max_len];
        let mut onsets = Vec::new();
        for r in 0..self.header.num_records {
            let mut onset = None;
            for (k, &i) in ann.iter().enumerate() {
                let len = self.header.signals[i].samples_per_record * bps;
                let offset = self.offsets[i];
                self.read_at(r, offset, &mut buf[..len])?;
                let base = self.record_start(r) + offset as u64;
                let tals = parse_tals(&buf[..len]).map_err(|(at, problem)| EdfError::Data {
                    file: self.name.clone(),
                    offset: base + at as u64,
                    problem: format!(
                        "data record {}, annotation signal {}: {problem}",
                        r + 1,
                        i + 1
                    ),
                })?;
                for (t, tal) in tals.into_iter().enumerate() {
                    let mut texts = tal.texts.into_iter();
                    if k == 0 && t == 0 && texts.as_slice().first().is_some_and(String::is_empty) {
                        onset = Some(tal.onset);
                        texts.next();
                    }
                    for text in texts.filter(|s| !s.is_empty()) {
                        self.annotations.push(Annotation {
                            onset: tal.onset,
                            duration: tal.duration,
                            text,
                        });
                    }
                }
            }
            let onset = match onset {
                Some(o) => o,
                None if self.header.variant == EdfVariant::Discontinuous => {
                    return Err(EdfError::Data {
                        file: self.name.clone(),
                        offset: self.record_start(r) + self.offsets[ann[0]] as u64,
                        problem: format!(
                            "data record {} has no time-keeping annotation, which EDF+D needs",
                            r + 1
                        ),
                    });
                }
                None => r as f64 * self.header.record_duration,
            };
            onsets.push(onset);
        }
        self.record_onsets = Some(onsets);
        Ok(())
    }

    /// The name used in error messages (the path for [`open`](EdfReader::open)).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The validated header (all signals, annotation signals included).
    pub fn header(&self) -> &EdfHeader {
        &self.header
    }

    /// EDF or BDF.
    pub fn format(&self) -> EdfFormat {
        self.header.format
    }

    /// Plain, +C or +D.
    pub fn variant(&self) -> EdfVariant {
        self.header.variant
    }

    /// Start date and time of the recording.
    pub fn start(&self) -> DateTime {
        self.header.start
    }

    /// The ordinary signals (channels), annotation signals left out.
    pub fn signals(&self) -> &[SignalHeader] {
        &self.signals
    }

    /// Labels of the ordinary signals.
    pub fn labels(&self) -> Vec<&str> {
        self.signals.iter().map(|s| s.label.as_str()).collect()
    }

    /// Sample rate of channel `ch` in Hz.
    ///
    /// # Panics
    /// If `ch` is not below `signals().len()`.
    pub fn sample_rate(&self, ch: usize) -> f64 {
        self.signals[ch].sample_rate(self.header.record_duration)
    }

    /// Complete data records in the file.
    pub fn num_records(&self) -> u64 {
        self.header.num_records
    }

    /// Samples of channel `ch` in the file.
    ///
    /// # Panics
    /// If `ch` is not below `signals().len()`.
    pub fn num_samples(&self, ch: usize) -> u64 {
        self.header.num_records * self.signals[ch].samples_per_record as u64
    }

    /// Bytes after the last complete record (e.g. a record cut short when the
    /// writer was killed); they are ignored.
    pub fn trailing_bytes(&self) -> u64 {
        self.trailing
    }

    /// The annotations of all records, in file order (time-keeping TALs left out).
    pub fn annotations(&self) -> &[Annotation] {
        &self.annotations
    }

    /// Onset of every data record in seconds after the start: from the
    /// time-keeping TALs when the file has an annotation signal, otherwise
    /// record number × record duration.
    pub fn record_onsets(&self) -> Vec<f64> {
        match &self.record_onsets {
            Some(o) => o.clone(),
            None => (0..self.header.num_records)
                .map(|r| r as f64 * self.header.record_duration)
                .collect(),
        }
    }

    fn check_channel(&self, ch: usize) -> Result<(), EdfError> {
        if ch < self.signals.len() {
            Ok(())
        } else {
            Err(EdfError::Usage {
                file: self.name.clone(),
                problem: format!(
                    "channel {ch} does not exist; the file has {} ordinary signals",
                    self.signals.len()
                ),
            })
        }
    }

    /// All digital samples of channel `ch`, records concatenated.
    pub fn read_digital(&mut self, ch: usize) -> Result<Vec<i32>, EdfError> {
        self.check_channel(ch)?;
        let format = self.header.format;
        let bps = format.bytes_per_sample();
        let i = self.data[ch];
        let spr = self.signals[ch].samples_per_record;
        if self.header.num_records == 0 {
            return Ok(Vec::new());
        }
        // At least one whole record is in the file: both are bounded by its length.
        let mut buf = vec![0u8; spr * bps];
        let mut out = Vec::with_capacity(self.num_samples(ch) as usize);
        for r in 0..self.header.num_records {
            self.read_at(r, self.offsets[i], &mut buf)?;
            out.extend(buf.chunks_exact(bps).map(|b| format.decode_sample(b)));
        }
        Ok(out)
    }

    /// All physical samples of channel `ch`, records concatenated (for EDF+D
    /// see [`record_onsets`](Self::record_onsets) for where the gaps are).
    pub fn read_signal(&mut self, ch: usize) -> Result<Vec<f64>, EdfError> {
        let digital = self.read_digital(ch)?;
        let s = &self.signals[ch];
        Ok(digital.into_iter().map(|d| s.to_physical(d)).collect())
    }

    /// All physical samples, frame-major (`out[frame * channels + ch]`).
    /// Needs all ordinary signals at one sample rate.
    pub fn read_frames(&mut self) -> Result<Vec<f64>, EdfError> {
        let n = self.signals.len();
        let spr = self.signals.first().map_or(0, |s| s.samples_per_record);
        if self.signals.iter().any(|s| s.samples_per_record != spr) {
            return Err(EdfError::Usage {
                file: self.name.clone(),
                problem: "read_frames needs all signals at one sample rate; use read_signal".into(),
            });
        }
        let mut out = vec![0.0; n * spr * self.header.num_records as usize];
        for ch in 0..n {
            for (k, x) in self.read_signal(ch)?.into_iter().enumerate() {
                out[k * n + ch] = x;
            }
        }
        Ok(out)
    }

    /// Physical samples of one data record (`r` from 0), one `Vec` per channel.
    pub fn read_record(&mut self, r: u64) -> Result<Vec<Vec<f64>>, EdfError> {
        if r >= self.header.num_records {
            return Err(EdfError::Usage {
                file: self.name.clone(),
                problem: format!(
                    "data record {r} does not exist; the file has {}",
                    self.header.num_records
                ),
            });
        }
        let format = self.header.format;
        let bps = format.bytes_per_sample();
        let mut record = vec![0u8; self.record_bytes];
        self.read_at(r, 0, &mut record)?;
        Ok(self
            .data
            .iter()
            .zip(&self.signals)
            .map(|(&i, s)| {
                let bytes = &record[self.offsets[i]..self.offsets[i] + s.samples_per_record * bps];
                bytes
                    .chunks_exact(bps)
                    .map(|b| s.to_physical(format.decode_sample(b)))
                    .collect()
            })
            .collect())
    }
}
