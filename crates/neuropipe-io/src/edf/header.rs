//! The parsed header of an EDF/BDF file, and its validation.

use super::fields::{self, Field, SignalField, BLOCK};
use super::spec::parse_edfplus_date;
use super::{EdfError, EdfFormat, EdfVariant};
use crate::datetime::{Date, DateTime};

/// The header of an EDF/BDF file, as read and validated by
/// [`EdfReader`](super::EdfReader).
#[derive(Debug, Clone, PartialEq)]
pub struct EdfHeader {
    /// EDF or BDF, from the version field.
    pub format: EdfFormat,
    /// Plain, +C or +D, from the reserved field.
    pub variant: EdfVariant,
    /// Local patient identification, trailing spaces removed.
    pub patient: String,
    /// Local recording identification, trailing spaces removed.
    pub recording: String,
    /// Start date and time of the recording. Years come from `yy` with the
    /// EDF clipping year 1985, or from the EDF+ `Startdate` subfield when the
    /// header date reads `yy` (years after 2084).
    pub start: DateTime,
    /// Header size in bytes, 256 × (number of signals + 1).
    pub header_bytes: usize,
    /// The reserved field, trailing spaces removed.
    pub reserved: String,
    /// The number of data records the header declares (−1: unknown).
    pub declared_records: i64,
    /// The number of complete data records in the file: the declared number,
    /// or as many as the file length holds if the header says −1.
    pub num_records: u64,
    /// Duration of a data record in seconds.
    pub record_duration: f64,
    /// All signals, annotation signals included, in file order.
    pub signals: Vec<SignalHeader>,
}

/// One signal's header fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalHeader {
    /// Label, trailing spaces removed.
    pub label: String,
    /// Transducer type, trailing spaces removed.
    pub transducer: String,
    /// Physical dimension, trailing spaces removed.
    pub physical_dimension: String,
    /// Physical minimum.
    pub physical_min: f64,
    /// Physical maximum.
    pub physical_max: f64,
    /// Digital minimum.
    pub digital_min: i32,
    /// Digital maximum.
    pub digital_max: i32,
    /// Prefiltering, trailing spaces removed.
    pub prefilter: String,
    /// Number of samples in each data record.
    pub samples_per_record: usize,
    /// The signal's reserved field, trailing spaces removed.
    pub reserved: String,
    /// Whether this is an `EDF Annotations` / `BDF Annotations` signal.
    pub is_annotation: bool,
}

impl SignalHeader {
    /// Physical units per digital step (one LSB).
    pub fn lsb(&self) -> f64 {
        (self.physical_max - self.physical_min) / f64::from(self.digital_max - self.digital_min)
    }

    /// Converts a digital sample to its physical value.
    #[inline]
    pub fn to_physical(&self, digital: i32) -> f64 {
        f64::from(digital - self.digital_min) * self.lsb() + self.physical_min
    }

    /// Sample rate in Hz for a record duration (0 if the duration is 0).
    pub fn sample_rate(&self, record_duration: f64) -> f64 {
        if record_duration > 0.0 {
            self.samples_per_record as f64 / record_duration
        } else {
            0.0
        }
    }
}

/// Errors found while parsing: built with the file name at the end.
struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn field(&self, f: Field, problem: String) -> EdfError {
        EdfError::Field {
            file: self.file.to_string(),
            offset: f.offset as u64,
            field: f.name,
            signal: None,
            problem,
        }
    }

    fn signal_field(&self, f: SignalField, ns: usize, i: usize, problem: String) -> EdfError {
        EdfError::Field {
            file: self.file.to_string(),
            offset: f.offset(ns, i) as u64,
            field: f.name,
            signal: Some(i + 1),
            problem,
        }
    }
}

fn quoted(bytes: &[u8]) -> String {
    format!("{:?}", fields::field_text(bytes))
}

/// Reads the number of signals from the fixed 256-byte header part and checks
/// that the whole header fits in a file of `file_len` bytes.
pub(crate) fn parse_num_signals(
    fixed: &[u8],
    file_len: u64,
    file: &str,
) -> Result<usize, EdfError> {
    let ctx = Ctx { file };
    let f = fields::NUM_SIGNALS;
    let raw = f.slice(fixed);
    let ns = fields::parse_int(&fields::field_text(raw))
        .ok_or_else(|| ctx.field(f, format!("{} is not an integer", quoted(raw))))?;
    if ns < 1 {
        return Err(ctx.field(f, format!("{ns} signals: there must be at least 1")));
    }
    // ns ≤ 9999 (4 digits), so this cannot overflow.
    let need = (ns as u64 + 1) * BLOCK as u64;
    if need > file_len {
        return Err(ctx.field(
            f,
            format!(
                "{ns} signals need a {need}-byte header but the file has only {file_len} bytes"
            ),
        ));
    }
    Ok(ns as usize)
}

fn parse_two_digits(b: &[u8]) -> Option<u8> {
    (b[0].is_ascii_digit() && b[1].is_ascii_digit()).then(|| (b[0] - b'0') * 10 + (b[1] - b'0'))
}

fn parse_date(raw: &[u8], recording: &str) -> Option<Date> {
    if raw[2] != b'.' || raw[5] != b'.' {
        return None;
    }
    let day = parse_two_digits(&raw[0..2])?;
    let month = parse_two_digits(&raw[3..5])?;
    // EDF+: the recording field may carry the full date; it is the only
    // source of the year after 2084, when the header reads `yy`.
    let plus_date = recording
        .strip_prefix("Startdate ")
        .and_then(|rest| parse_edfplus_date(rest.get(..11)?));
    let year = if &raw[6..8] == b"yy" {
        plus_date?.year
    } else {
        let yy = u16::from(parse_two_digits(&raw[6..8])?);
        if yy >= 85 {
            1900 + yy
        } else {
            2000 + yy
        }
    };
    Date::new(year, month, day)
}

fn parse_time(raw: &[u8]) -> Option<(u8, u8, u8)> {
    if raw[2] != b'.' || raw[5] != b'.' {
        return None;
    }
    let h = parse_two_digits(&raw[0..2])?;
    let m = parse_two_digits(&raw[3..5])?;
    let s = parse_two_digits(&raw[6..8])?;
    (h < 24 && m < 60 && s < 60).then_some((h, m, s))
}

impl EdfHeader {
    /// Parses and validates a complete header (`header.len()` = 256 × (ns + 1),
    /// as found by [`parse_num_signals`]) of a file of `file_len` bytes.
    pub(crate) fn parse(header: &[u8], file_len: u64, file: &str) -> Result<EdfHeader, EdfError> {
        let ctx = Ctx { file };
        let text = |f: Field| fields::field_text(f.slice(header)).trim_end().to_string();

        let format = match fields::VERSION.slice(header) {
            v if v == EdfFormat::Edf.version_field() => EdfFormat::Edf,
            v if v == EdfFormat::Bdf.version_field() => EdfFormat::Bdf,
            v if v[0] == b'0' && v[1..].iter().all(|&b| b == b' ' || b == 0) => EdfFormat::Edf,
            v => {
                return Err(ctx.field(
                    fields::VERSION,
                    format!(
                        "{} is neither \"0\" (EDF) nor 0xFF \"BIOSEMI\" (BDF)",
                        quoted(v)
                    ),
                ))
            }
        };
        let patient = text(fields::PATIENT);
        let recording = text(fields::RECORDING);

        let raw = fields::START_DATE.slice(header);
        let date = parse_date(raw, &recording).ok_or_else(|| {
            ctx.field(
                fields::START_DATE,
                format!("{} is not a valid date dd.mm.yy", quoted(raw)),
            )
        })?;
        let raw = fields::START_TIME.slice(header);
        let (hour, minute, second) = parse_time(raw).ok_or_else(|| {
            ctx.field(
                fields::START_TIME,
                format!("{} is not a valid time hh.mm.ss", quoted(raw)),
            )
        })?;
        let start = DateTime {
            date,
            hour,
            minute,
            second,
        };

        let ns = header.len() / BLOCK - 1;
        let f = fields::HEADER_BYTES;
        let raw = f.slice(header);
        let header_bytes = fields::parse_int(&fields::field_text(raw))
            .ok_or_else(|| ctx.field(f, format!("{} is not an integer", quoted(raw))))?;
        if header_bytes != header.len() as i64 {
            return Err(ctx.field(
                f,
                format!(
                    "{header_bytes} bytes, but {ns} signals need 256 × ({ns} + 1) = {}",
                    header.len()
                ),
            ));
        }

        let reserved = text(fields::RESERVED);
        let variant = if reserved.starts_with("EDF+C") || reserved.starts_with("BDF+C") {
            EdfVariant::Continuous
        } else if reserved.starts_with("EDF+D") || reserved.starts_with("BDF+D") {
            EdfVariant::Discontinuous
        } else {
            EdfVariant::Plain
        };

        let f = fields::NUM_RECORDS;
        let raw = f.slice(header);
        let declared_records = fields::parse_int(&fields::field_text(raw))
            .ok_or_else(|| ctx.field(f, format!("{} is not an integer", quoted(raw))))?;
        if declared_records < -1 {
            return Err(ctx.field(
                f,
                format!("{declared_records} is negative (only -1 means unknown)"),
            ));
        }

        let f = fields::RECORD_DURATION;
        let raw = f.slice(header);
        let record_duration = fields::parse_number(&fields::field_text(raw))
            .ok_or_else(|| ctx.field(f, format!("{} is not a number", quoted(raw))))?;
        if record_duration < 0.0 {
            return Err(ctx.field(f, format!("{record_duration} s is negative")));
        }

        let signals = (0..ns)
            .map(|i| parse_signal(header, ns, i, format, &ctx))
            .collect::<Result<Vec<_>, _>>()?;

        if record_duration == 0.0 {
            if let Some(i) = signals.iter().position(|s| !s.is_annotation) {
                return Err(ctx.signal_field(
                    fields::LABEL,
                    ns,
                    i,
                    "an ordinary signal needs a data record duration above 0".into(),
                ));
            }
        }

        // Every signal has at least one sample and at most 99 999 999
        // (8 digits), and there are at most 9999 signals: no overflow in u64.
        let record_bytes: u64 = signals
            .iter()
            .map(|s| s.samples_per_record as u64 * format.bytes_per_sample() as u64)
            .sum();
        let available = file_len - header.len() as u64;
        let num_records = if declared_records == -1 {
            available / record_bytes
        } else {
            // u128: 99 999 999 records of up to ~3e12 bytes overflow u64.
            let need = declared_records as u128 * u128::from(record_bytes);
            if need > u128::from(available) {
                return Err(ctx.field(
                    fields::NUM_RECORDS,
                    format!(
                        "{declared_records} records of {record_bytes} bytes need {need} bytes after the \
                         header, but the file has {available}"
                    ),
                ));
            }
            declared_records as u64
        };

        Ok(EdfHeader {
            format,
            variant,
            patient,
            recording,
            start,
            header_bytes: header.len(),
            reserved,
            declared_records,
            num_records,
            record_duration,
            signals,
        })
    }

    /// Bytes in one data record.
    pub fn record_bytes(&self) -> usize {
        self.signals
            .iter()
            .map(|s| s.samples_per_record)
            .sum::<usize>()
            * self.format.bytes_per_sample()
    }
}

fn parse_signal(
    header: &[u8],
    ns: usize,
    i: usize,
    format: EdfFormat,
    ctx: &Ctx<'_>,
) -> Result<SignalHeader, EdfError> {
    let raw = |f: SignalField| {
        let o = f.offset(ns, i);
        &header[o..o + f.width]
    };
    let text = |f: SignalField| fields::field_text(raw(f)).trim_end().to_string();
    let number = |f: SignalField| {
        fields::parse_number(&fields::field_text(raw(f))).ok_or_else(|| {
            ctx.signal_field(f, ns, i, format!("{} is not a number", quoted(raw(f))))
        })
    };
    let integer = |f: SignalField| {
        fields::parse_int(&fields::field_text(raw(f))).ok_or_else(|| {
            ctx.signal_field(f, ns, i, format!("{} is not an integer", quoted(raw(f))))
        })
    };

    let label = text(fields::LABEL);
    let is_annotation = label == "EDF Annotations" || label == "BDF Annotations";
    let physical_min = number(fields::PHYS_MIN)?;
    let physical_max = number(fields::PHYS_MAX)?;
    let (lo, hi) = format.digital_range();
    let digital = |f: SignalField| -> Result<i32, EdfError> {
        let v = integer(f)?;
        if v < i64::from(lo) || v > i64::from(hi) {
            return Err(ctx.signal_field(
                f,
                ns,
                i,
                format!("{v} is outside the sample range {lo}..{hi}"),
            ));
        }
        Ok(v as i32)
    };
    let digital_min = digital(fields::DIG_MIN)?;
    let digital_max = digital(fields::DIG_MAX)?;
    if digital_min >= digital_max {
        return Err(ctx.signal_field(
            fields::DIG_MAX,
            ns,
            i,
            format!("{digital_max} is not above the digital minimum {digital_min}"),
        ));
    }
    if physical_min == physical_max && !is_annotation {
        return Err(ctx.signal_field(
            fields::PHYS_MAX,
            ns,
            i,
            format!("{physical_max} equals the physical minimum"),
        ));
    }
    let samples = integer(fields::SAMPLES)?;
    if samples < 1 {
        return Err(ctx.signal_field(fields::SAMPLES, ns, i, format!("{samples} is not positive")));
    }
    Ok(SignalHeader {
        label,
        transducer: text(fields::TRANSDUCER),
        physical_dimension: text(fields::PHYS_DIM),
        physical_min,
        physical_max,
        digital_min,
        digital_max,
        prefilter: text(fields::PREFILTER),
        samples_per_record: samples as usize,
        reserved: text(fields::SIGNAL_RESERVED),
        is_annotation,
    })
}
