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

fn check_text(what: &str, s: &str, width: usize) -> Result<(), String> {
    if !printable(s) {
        return Err(format!(
            "{what} {s:?} has characters other than printable ASCII"
        ));
    }
    if s.len() > width {
        return Err(format!(
            "{what} {s:?} is {} characters, the field holds {width}",
            s.len()
        ));
    }
    Ok(())
}

/// Validates `spec` and builds the header bytes and the layout.
pub(crate) fn build(spec: &EdfSpec) -> Result<(Vec<u8>, Layout), String> {
    let format = spec.format;
    let bps = format.bytes_per_sample();
    let d = spec.record_duration;
    if !(d.is_finite() && d > 0.0) {
        return Err(format!("record duration {d} s is not a positive number"));
    }
    let duration_text = fields::format_number(d, 8)
        .filter(|t| fields::parse_number(t) == Some(d))
        .ok_or_else(|| {
            format!("record duration {d} s cannot be written exactly in 8 characters")
        })?;
    if spec.signals.is_empty() {
        return Err("there are no signals".into());
    }
    let ns = spec.signals.len() + 1;
    if ns > 9999 {
        return Err(format!(
            "{} signals plus the annotation signal exceed 9999",
            spec.signals.len()
        ));
    }
    let year = spec.start.date.year;
    if year < 1985 {
        return Err(format!(
            "start year {year} is before 1985, which EDF cannot represent"
        ));
    }

    let mut header = vec![b' '; BLOCK * (ns + 1)];
    let put = |h: &mut Vec<u8>, f: fields::Field, text: &str| {
        fields::put(&mut h[f.offset..f.offset + f.width], text)
    };
    header[..8].copy_from_slice(&format.version_field());
    let patient = spec.patient.to_field();
    check_text("patient identification", &patient, 80)?;
    put(&mut header, fields::PATIENT, &patient);
    let recording = spec.recording.to_field(spec.start.date);
    check_text("recording identification", &recording, 80)?;
    put(&mut header, fields::RECORDING, &recording);
    let s = spec.start;
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
    put(&mut header, fields::RECORD_DURATION, &duration_text);
    put(&mut header, fields::NUM_SIGNALS, &ns.to_string());

    let (fmt_min, fmt_max) = format.digital_range();
    let mut layout = Layout {
        format,
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
        duration: d,
    };
    let put_sig = |h: &mut Vec<u8>, f: fields::SignalField, i: usize, text: &str| {
        let o = f.offset(ns, i);
        fields::put(&mut h[o..o + f.width], text)
    };
    let mut offset = 0usize;
    for (i, sig) in spec.signals.iter().enumerate() {
        let what = |field: &str| format!("signal {} {field}", i + 1);
        check_text(&what("label"), &sig.label, 16)?;
        if sig.label == "EDF Annotations" || sig.label == "BDF Annotations" {
            return Err(format!(
                "{} {:?} is reserved for the annotation signal",
                what("label"),
                sig.label
            ));
        }
        let name = |field: &str| format!("signal {} ({:?}) {field}", i + 1, sig.label);
        check_text(&name("transducer"), &sig.transducer, 80)?;
        check_text(&name("physical dimension"), &sig.physical_dimension, 8)?;
        check_text(&name("prefilter"), &sig.prefilter, 80)?;
        let rate = sig.sample_rate;
        let exact = rate * d;
        let spr = exact.round();
        if !(rate.is_finite() && rate > 0.0)
            || spr < 1.0
            || (exact - spr).abs() > 1e-6 * spr.max(1.0)
        {
            return Err(format!(
                "{}: {rate} Hz × {d} s = {exact} samples per record, which is not a positive whole number",
                name("sample rate")
            ));
        }
        if spr > 99_999_999.0 {
            return Err(format!(
                "{}: {spr} samples per record exceed 8 digits",
                name("sample rate")
            ));
        }
        let dmin = sig.digital_min.unwrap_or(fmt_min);
        let dmax = sig.digital_max.unwrap_or(fmt_max);
        if dmin < fmt_min || dmax > fmt_max || dmin >= dmax {
            return Err(format!(
                "{}: {dmin}..{dmax} is not an increasing range within {fmt_min}..{fmt_max}",
                name("digital range")
            ));
        }
        let pmin_text = fields::format_number(sig.physical_min, 8).ok_or_else(|| {
            format!(
                "{} {} does not fit in 8 characters",
                name("physical minimum"),
                sig.physical_min
            )
        })?;
        let pmax_text = fields::format_number(sig.physical_max, 8).ok_or_else(|| {
            format!(
                "{} {} does not fit in 8 characters",
                name("physical maximum"),
                sig.physical_max
            )
        })?;
        // Convert with the values the header states, so readers agree exactly.
        let pmin = fields::parse_number(&pmin_text).unwrap_or(f64::NAN);
        let pmax = fields::parse_number(&pmax_text).unwrap_or(f64::NAN);
        if pmin == pmax {
            return Err(format!(
                "{}: minimum {} and maximum {} are equal in 8 characters ({pmin_text})",
                name("physical range"),
                sig.physical_min,
                sig.physical_max
            ));
        }
        put_sig(&mut header, fields::LABEL, i, &sig.label);
        put_sig(&mut header, fields::TRANSDUCER, i, &sig.transducer);
        put_sig(&mut header, fields::PHYS_DIM, i, &sig.physical_dimension);
        put_sig(&mut header, fields::PHYS_MIN, i, &pmin_text);
        put_sig(&mut header, fields::PHYS_MAX, i, &pmax_text);
        put_sig(&mut header, fields::DIG_MIN, i, &dmin.to_string());
        put_sig(&mut header, fields::DIG_MAX, i, &dmax.to_string());
        put_sig(&mut header, fields::PREFILTER, i, &sig.prefilter);
        put_sig(&mut header, fields::SAMPLES, i, &(spr as u64).to_string());

        let spr = spr as usize;
        let gain = f64::from(dmax - dmin) / (pmax - pmin);
        let zero = ((0.0 - pmin) * gain + f64::from(dmin)).round();
        layout.spr.push(spr);
        layout.offsets.push(offset);
        layout.pmin.push(pmin);
        layout.gain.push(gain);
        layout.dmin.push(dmin);
        layout.dmax.push(dmax);
        layout
            .zero
            .push(zero.clamp(f64::from(dmin), f64::from(dmax)) as i32);
        offset = offset
            .checked_add(spr.checked_mul(bps).ok_or("record size overflows")?)
            .ok_or("record size overflows")?;
    }
    layout.uniform = Some(layout.spr[0]).filter(|&n| layout.spr.iter().all(|&m| m == n));

    // The annotation signal comes last.
    let want = spec.annotation_bytes_per_record;
    if want < TIME_KEEPING_MAX {
        return Err(format!(
            "{want} annotation bytes per record cannot hold the {TIME_KEEPING_MAX}-byte time-keeping annotation"
        ));
    }
    let ann_spr = want.div_ceil(bps);
    if ann_spr > 99_999_999 {
        return Err(format!(
            "{want} annotation bytes per record exceed 8 digits of samples"
        ));
    }
    let a = ns - 1;
    put_sig(&mut header, fields::LABEL, a, format.annotation_label());
    put_sig(&mut header, fields::PHYS_MIN, a, "-1");
    put_sig(&mut header, fields::PHYS_MAX, a, "1");
    put_sig(&mut header, fields::DIG_MIN, a, &fmt_min.to_string());
    put_sig(&mut header, fields::DIG_MAX, a, &fmt_max.to_string());
    put_sig(&mut header, fields::SAMPLES, a, &ann_spr.to_string());
    layout.ann_offset = offset;
    layout.ann_bytes = ann_spr * bps;
    layout.record_bytes = offset
        .checked_add(layout.ann_bytes)
        .ok_or("record size overflows")?;
    debug_assert!(printable(&String::from_utf8_lossy(&header[8..])));
    Ok((header, layout))
}
