//! Validating an [`EdfSpec`] and laying out the header and the data records.

use super::fields::{self, BLOCK};
use super::tal::TIME_KEEPING_MAX;
use super::{EdfFormat, EdfSpec};

/// Precomputed sizes and conversion factors of the file being written.
#[derive(Debug)]
pub(crate) struct Layout {
    /// EDF or BDF.
    pub(crate) format: EdfFormat,
    /// Samples per record of each ordinary signal.
    pub(crate) spr: Vec<usize>,
    /// Byte offset of each ordinary signal within a record.
    pub(crate) offsets: Vec<usize>,
    /// Physical minimum as written in the header.
    pub(crate) pmin: Vec<f64>,
    /// Digital steps per physical unit.
    pub(crate) gain: Vec<f64>,
    /// Digital minimum of each ordinary signal.
    pub(crate) dmin: Vec<i32>,
    /// Digital maximum of each ordinary signal.
    pub(crate) dmax: Vec<i32>,
    /// Digital value nearest to physical zero.
    pub(crate) zero: Vec<i32>,
    /// Common samples per record when all ordinary signals share one rate.
    pub(crate) uniform: Option<usize>,
    /// Byte offset of the annotation signal within a record.
    pub(crate) ann_offset: usize,
    /// Bytes of the annotation signal in each record.
    pub(crate) ann_bytes: usize,
    /// Bytes in one data record.
    pub(crate) record_bytes: usize,
    /// Bytes in the header.
    pub(crate) header_len: usize,
    /// Record duration in seconds.
    pub(crate) duration: f64,
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (32..=126).contains(&b))
}

/// A problem with an [`EdfSpec`], and which part of it is wrong (so a caller can point at
/// the setting that produced it, e.g. a recorder's parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpecError {
    pub(crate) part: SpecPart,
    pub(crate) problem: String,
}

/// The part of an [`EdfSpec`] an [`EdfError::Spec`](super::EdfError::Spec) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecPart {
    /// `record_duration`.
    RecordDuration,
    /// `start` (the start date).
    Start,
    /// `patient` (the patient identification subfields).
    Patient,
    /// `recording` (the recording identification subfields).
    Recording,
    /// The number of signals.
    SignalCount,
    /// Signal `index` (0-based), field `field`.
    Signal {
        /// 0-based index in `signals`.
        index: usize,
        /// The field.
        field: SignalPart,
    },
    /// `annotation_bytes_per_record`.
    Annotations,
    /// The size of a data record (overflow).
    RecordSize,
}

/// The field of a signal a [`SpecPart::Signal`] problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalPart {
    /// Label.
    Label,
    /// Transducer type.
    Transducer,
    /// Physical dimension (unit).
    PhysicalDimension,
    /// Prefiltering.
    Prefilter,
    /// Sample rate (samples per record).
    SampleRate,
    /// Digital minimum/maximum.
    DigitalRange,
    /// Physical minimum/maximum.
    PhysicalRange,
}

fn err(part: SpecPart, problem: String) -> SpecError {
    SpecError { part, problem }
}

fn check_text(part: SpecPart, what: &str, s: &str, width: usize) -> Result<(), SpecError> {
    if !printable(s) {
        return Err(err(
            part,
            format!("{what} {s:?} has characters other than printable ASCII"),
        ));
    }
    if s.len() > width {
        return Err(err(
            part,
            format!(
                "{what} {s:?} is {} characters, the field holds {width}",
                s.len()
            ),
        ));
    }
    Ok(())
}

/// Validates `spec` and builds the header bytes and the layout, in four steps: the global
/// settings, the fixed header, each ordinary signal, the annotation signal.
pub(crate) fn build(spec: &EdfSpec) -> Result<(Vec<u8>, Layout), SpecError> {
    let duration_text = check_global(spec)?;
    let ns = spec.signals.len() + 1;
    let mut header = fixed_header(spec, ns, &duration_text)?;
    let mut layout = Layout {
        format: spec.format,
        spr: Vec::new(),
        offsets: Vec::new(),
        pmin: Vec::new(),
        gain: Vec::new(),
        dmin: Vec::new(),
        dmax: Vec::new(),
        zero: Vec::new(),
        uniform: None,
        ann_offset: 0,
        ann_bytes: 0,
        record_bytes: 0,
        header_len: header.len(),
        duration: spec.record_duration,
    };
    for (i, sig) in spec.signals.iter().enumerate() {
        add_signal(&mut header, &mut layout, ns, i, sig)?;
    }
    layout.uniform = Some(layout.spr[0]).filter(|&n| layout.spr.iter().all(|&m| m == n));
    add_annotation_signal(
        &mut header,
        &mut layout,
        ns,
        spec.annotation_bytes_per_record,
    )?;
    debug_assert!(printable(&String::from_utf8_lossy(&header[8..])));
    Ok((header, layout))
}

/// Record duration (returned as its 8-character text), signal count and start year.
fn check_global(spec: &EdfSpec) -> Result<String, SpecError> {
    let d = spec.record_duration;
    if !(d.is_finite() && d > 0.0) {
        return Err(err(
            SpecPart::RecordDuration,
            format!("record duration {d} s is not a positive number"),
        ));
    }
    let duration_text = fields::format_number(d, 8)
        .filter(|t| fields::parse_number(t) == Some(d))
        .ok_or_else(|| {
            err(
                SpecPart::RecordDuration,
                format!("record duration {d} s cannot be written exactly in 8 characters"),
            )
        })?;
    if spec.signals.is_empty() {
        return Err(err(SpecPart::SignalCount, "there are no signals".into()));
    }
    if spec.signals.len() + 1 > 9999 {
        return Err(err(
            SpecPart::SignalCount,
            format!(
                "{} signals plus the annotation signal exceed 9999",
                spec.signals.len()
            ),
        ));
    }
    let year = spec.start.date.year;
    if year < 1985 {
        return Err(err(
            SpecPart::Start,
            format!("start year {year} is before 1985, which EDF cannot represent"),
        ));
    }
    Ok(duration_text)
}

/// The fixed part of the header (version, identification, start, sizes) with room for `ns`
/// signal headers.
fn fixed_header(spec: &EdfSpec, ns: usize, duration_text: &str) -> Result<Vec<u8>, SpecError> {
    let format = spec.format;
    let mut header = vec![b' '; BLOCK * (ns + 1)];
    let put = |h: &mut Vec<u8>, f: fields::Field, text: &str| {
        fields::put(&mut h[f.offset..f.offset + f.width], text)
    };
    header[..8].copy_from_slice(&format.version_field());
    let patient = spec.patient.to_field();
    check_text(SpecPart::Patient, "patient identification", &patient, 80)?;
    put(&mut header, fields::PATIENT, &patient);
    let recording = spec.recording.to_field(spec.start.date);
    check_text(
        SpecPart::Recording,
        "recording identification",
        &recording,
        80,
    )?;
    put(&mut header, fields::RECORDING, &recording);
    let s = spec.start;
    let year = s.date.year;
    let yy = if year > 2084 {
        "yy".to_string()
    } else {
        format!("{:02}", year % 100)
    };
    put(
        &mut header,
        fields::START_DATE,
        &format!("{:02}.{:02}.{yy}", s.date.day, s.date.month),
    );
    put(
        &mut header,
        fields::START_TIME,
        &format!("{:02}.{:02}.{:02}", s.hour, s.minute, s.second),
    );
    put(
        &mut header,
        fields::HEADER_BYTES,
        &(BLOCK * (ns + 1)).to_string(),
    );
    let plus = match (format, spec.discontinuous) {
        (EdfFormat::Edf, false) => "EDF+C",
        (EdfFormat::Edf, true) => "EDF+D",
        (EdfFormat::Bdf, false) => "BDF+C",
        (EdfFormat::Bdf, true) => "BDF+D",
    };
    put(&mut header, fields::RESERVED, plus);
    put(&mut header, fields::NUM_RECORDS, "-1");
    put(&mut header, fields::RECORD_DURATION, duration_text);
    put(&mut header, fields::NUM_SIGNALS, &ns.to_string());
    Ok(header)
}

fn put_sig(h: &mut [u8], f: fields::SignalField, ns: usize, i: usize, text: &str) {
    let o = f.offset(ns, i);
    fields::put(&mut h[o..o + f.width], text)
}

/// Checks ordinary signal `i`, writes its header fields and appends it to the layout.
fn add_signal(
    header: &mut [u8],
    layout: &mut Layout,
    ns: usize,
    i: usize,
    sig: &super::SignalSpec,
) -> Result<(), SpecError> {
    let part = |field| SpecPart::Signal { index: i, field };
    let d = layout.duration;
    let what = |field: &str| format!("signal {} {field}", i + 1);
    check_text(part(SignalPart::Label), &what("label"), &sig.label, 16)?;
    if sig.label == "EDF Annotations" || sig.label == "BDF Annotations" {
        return Err(err(
            part(SignalPart::Label),
            format!(
                "{} {:?} is reserved for the annotation signal",
                what("label"),
                sig.label
            ),
        ));
    }
    let name = |field: &str| format!("signal {} ({:?}) {field}", i + 1, sig.label);
    check_text(
        part(SignalPart::Transducer),
        &name("transducer"),
        &sig.transducer,
        80,
    )?;
    check_text(
        part(SignalPart::PhysicalDimension),
        &name("physical dimension"),
        &sig.physical_dimension,
        8,
    )?;
    check_text(
        part(SignalPart::Prefilter),
        &name("prefilter"),
        &sig.prefilter,
        80,
    )?;
    let rate = sig.sample_rate;
    let exact = rate * d;
    let spr = exact.round();
    if !(rate.is_finite() && rate > 0.0) || spr < 1.0 || (exact - spr).abs() > 1e-6 * spr.max(1.0) {
        return Err(err(
            part(SignalPart::SampleRate),
            format!(
                "{}: {rate} Hz × {d} s = {exact} samples per record, which is not a positive whole number",
                name("sample rate")
            ),
        ));
    }
    if spr > 99_999_999.0 {
        return Err(err(
            part(SignalPart::SampleRate),
            format!(
                "{}: {spr} samples per record exceed 8 digits",
                name("sample rate")
            ),
        ));
    }
    let (fmt_min, fmt_max) = layout.format.digital_range();
    let dmin = sig.digital_min.unwrap_or(fmt_min);
    let dmax = sig.digital_max.unwrap_or(fmt_max);
    if dmin < fmt_min || dmax > fmt_max || dmin >= dmax {
        return Err(err(
            part(SignalPart::DigitalRange),
            format!(
                "{}: {dmin}..{dmax} is not an increasing range within {fmt_min}..{fmt_max}",
                name("digital range")
            ),
        ));
    }
    let range = part(SignalPart::PhysicalRange);
    let number = |v: f64, field: &str| {
        fields::format_number(v, 8).ok_or_else(|| {
            err(
                range,
                format!("{} {v} does not fit in 8 characters", name(field)),
            )
        })
    };
    let pmin_text = number(sig.physical_min, "physical minimum")?;
    let pmax_text = number(sig.physical_max, "physical maximum")?;
    // Convert with the values the header states, so readers agree exactly.
    let pmin = fields::parse_number(&pmin_text).unwrap_or(f64::NAN);
    let pmax = fields::parse_number(&pmax_text).unwrap_or(f64::NAN);
    if pmin == pmax {
        return Err(err(
            range,
            format!(
                "{}: minimum {} and maximum {} are equal in 8 characters ({pmin_text})",
                name("physical range"),
                sig.physical_min,
                sig.physical_max
            ),
        ));
    }
    put_sig(header, fields::LABEL, ns, i, &sig.label);
    put_sig(header, fields::TRANSDUCER, ns, i, &sig.transducer);
    put_sig(header, fields::PHYS_DIM, ns, i, &sig.physical_dimension);
    put_sig(header, fields::PHYS_MIN, ns, i, &pmin_text);
    put_sig(header, fields::PHYS_MAX, ns, i, &pmax_text);
    put_sig(header, fields::DIG_MIN, ns, i, &dmin.to_string());
    put_sig(header, fields::DIG_MAX, ns, i, &dmax.to_string());
    put_sig(header, fields::PREFILTER, ns, i, &sig.prefilter);
    put_sig(header, fields::SAMPLES, ns, i, &(spr as u64).to_string());

    let spr = spr as usize;
    let gain = f64::from(dmax - dmin) / (pmax - pmin);
    let zero = ((0.0 - pmin) * gain + f64::from(dmin)).round();
    // This signal starts where the previous one ends.
    let bps = layout.format.bytes_per_sample();
    let offset = match (layout.offsets.last(), layout.spr.last()) {
        (Some(&o), Some(&n)) => n
            .checked_mul(bps)
            .and_then(|b| o.checked_add(b))
            .ok_or_else(|| err(SpecPart::RecordSize, "record size overflows".into()))?,
        _ => 0,
    };
    layout.spr.push(spr);
    layout.offsets.push(offset);
    layout.pmin.push(pmin);
    layout.gain.push(gain);
    layout.dmin.push(dmin);
    layout.dmax.push(dmax);
    layout
        .zero
        .push(zero.clamp(f64::from(dmin), f64::from(dmax)) as i32);
    Ok(())
}

/// Checks the annotation area, writes the annotation signal's header (it comes last) and
/// completes the layout's record size.
fn add_annotation_signal(
    header: &mut [u8],
    layout: &mut Layout,
    ns: usize,
    want: usize,
) -> Result<(), SpecError> {
    let format = layout.format;
    let bps = format.bytes_per_sample();
    let overflow = || err(SpecPart::RecordSize, "record size overflows".into());
    // Bytes of the ordinary signals in one record.
    let mut offset = 0usize;
    for &spr in &layout.spr {
        offset = offset
            .checked_add(spr.checked_mul(bps).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
    }
    if want < TIME_KEEPING_MAX {
        return Err(err(
            SpecPart::Annotations,
            format!(
                "{want} annotation bytes per record cannot hold the {TIME_KEEPING_MAX}-byte time-keeping annotation"
            ),
        ));
    }
    let ann_spr = want.div_ceil(bps);
    if ann_spr > 99_999_999 {
        return Err(err(
            SpecPart::Annotations,
            format!("{want} annotation bytes per record exceed 8 digits of samples"),
        ));
    }
    let (fmt_min, fmt_max) = format.digital_range();
    let a = ns - 1;
    put_sig(header, fields::LABEL, ns, a, format.annotation_label());
    put_sig(header, fields::PHYS_MIN, ns, a, "-1");
    put_sig(header, fields::PHYS_MAX, ns, a, "1");
    put_sig(header, fields::DIG_MIN, ns, a, &fmt_min.to_string());
    put_sig(header, fields::DIG_MAX, ns, a, &fmt_max.to_string());
    put_sig(header, fields::SAMPLES, ns, a, &ann_spr.to_string());
    layout.ann_offset = offset;
    layout.ann_bytes = ann_spr * bps;
    layout.record_bytes = offset.checked_add(layout.ann_bytes).ok_or_else(overflow)?;
    Ok(())
}
