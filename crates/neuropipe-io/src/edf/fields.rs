//! The fixed-width ASCII fields of the EDF header: layout and number formats.

/// Size of the fixed part of the header, and of each signal's part.
pub(crate) const BLOCK: usize = 256;

/// A field of the fixed 256-byte part of the header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// Byte offset from the start of the file.
    pub offset: usize,
    /// Width in bytes.
    pub width: usize,
    /// Name as in the specification.
    pub name: &'static str,
}

impl Field {
    const fn new(offset: usize, width: usize, name: &'static str) -> Field {
        Field {
            offset,
            width,
            name,
        }
    }

    /// This field's bytes within the fixed header part.
    pub(super) fn slice(self, header: &[u8]) -> &[u8] {
        &header[self.offset..self.offset + self.width]
    }
}

pub(crate) const VERSION: Field = Field::new(0, 8, "version");
pub(crate) const PATIENT: Field = Field::new(8, 80, "local patient identification");
pub(crate) const RECORDING: Field = Field::new(88, 80, "local recording identification");
pub(crate) const START_DATE: Field = Field::new(168, 8, "startdate");
pub(crate) const START_TIME: Field = Field::new(176, 8, "starttime");
pub(crate) const HEADER_BYTES: Field = Field::new(184, 8, "number of bytes in header record");
pub(crate) const RESERVED: Field = Field::new(192, 44, "reserved");
pub(crate) const NUM_RECORDS: Field = Field::new(236, 8, "number of data records");
pub(crate) const RECORD_DURATION: Field = Field::new(244, 8, "duration of a data record");
pub(crate) const NUM_SIGNALS: Field = Field::new(252, 4, "number of signals");

/// A per-signal field: `ns` consecutive entries of `width` bytes each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignalField {
    /// Position of this field's block among the ten per-signal blocks.
    index: usize,
    /// Width in bytes of one entry.
    pub width: usize,
    /// Name as in the specification.
    pub name: &'static str,
}

const SIGNAL_WIDTHS: [usize; 10] = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32];

impl SignalField {
    const fn new(index: usize, name: &'static str) -> SignalField {
        SignalField {
            index,
            width: SIGNAL_WIDTHS[index],
            name,
        }
    }

    /// Byte offset (from the start of the file) of signal `signal`'s entry
    /// (0-based) in a file with `ns` signals.
    pub(super) fn offset(self, ns: usize, signal: usize) -> usize {
        let before: usize = SIGNAL_WIDTHS[..self.index].iter().sum();
        BLOCK + before * ns + signal * self.width
    }
}

pub(crate) const LABEL: SignalField = SignalField::new(0, "label");
pub(crate) const TRANSDUCER: SignalField = SignalField::new(1, "transducer type");
pub(crate) const PHYS_DIM: SignalField = SignalField::new(2, "physical dimension");
pub(crate) const PHYS_MIN: SignalField = SignalField::new(3, "physical minimum");
pub(crate) const PHYS_MAX: SignalField = SignalField::new(4, "physical maximum");
pub(crate) const DIG_MIN: SignalField = SignalField::new(5, "digital minimum");
pub(crate) const DIG_MAX: SignalField = SignalField::new(6, "digital maximum");
pub(crate) const PREFILTER: SignalField = SignalField::new(7, "prefiltering");
pub(crate) const SAMPLES: SignalField =
    SignalField::new(8, "number of samples in each data record");
pub(crate) const SIGNAL_RESERVED: SignalField = SignalField::new(9, "reserved");

/// Formats `v` in at most `width` characters, without exponent, rounding
/// away decimals if needed. `None` if `v` is not finite, if its integer part
/// alone is too wide, or if rounding would turn a non-zero value into zero.
pub(crate) fn format_number(v: f64, width: usize) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    let clean = |s: String| if s == "-0" { "0".to_string() } else { s };
    // Rust's `{}` for f64 is the shortest string that reads back exactly,
    // and never uses an exponent.
    let exact = clean(format!("{v}"));
    if exact.len() <= width {
        return Some(exact);
    }
    for decimals in (0..width).rev() {
        let mut s = format!("{v:.decimals$}");
        if s.contains('.') {
            let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
            s.truncate(trimmed);
        }
        let s = clean(s);
        if s.len() <= width {
            return (s != "0").then_some(s);
        }
    }
    None
}

/// Parses an integer field: optional spaces, optional sign, digits.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim_matches(' ');
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// Parses a decimal number field; rejects `inf`, `nan` and the empty string.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim_matches(' ');
    let ok = !t.is_empty()
        && t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-' | b'e' | b'E'));
    if !ok {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Decodes header bytes as text: ASCII as is, other bytes as Latin-1.
pub(crate) fn field_text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Writes `text` left-aligned into `dst`, padding with spaces.
/// The caller has checked that it fits.
pub(crate) fn put(dst: &mut [u8], text: &str) {
    dst.fill(b' ');
    dst[..text.len()].copy_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_offsets() {
        assert_eq!(NUM_RECORDS.offset, 236);
        assert_eq!(NUM_SIGNALS.offset + NUM_SIGNALS.width, BLOCK);
        assert_eq!(SIGNAL_WIDTHS.iter().sum::<usize>(), BLOCK);
        assert_eq!(LABEL.offset(3, 0), 256);
        assert_eq!(TRANSDUCER.offset(3, 1), 256 + 48 + 80);
        assert_eq!(SIGNAL_RESERVED.offset(1, 0), 512 - 32);
    }

    #[test]
    fn number_formatting() {
        assert_eq!(format_number(-3276.8, 8).unwrap(), "-3276.8");
        assert_eq!(format_number(1.0, 8).unwrap(), "1");
        assert_eq!(format_number(-8388608.0, 8).unwrap(), "-8388608");
        assert_eq!(format_number(0.1 + 0.2, 8).unwrap(), "0.3");
        assert_eq!(format_number(1234.56789, 8).unwrap(), "1234.568");
        assert_eq!(format_number(-1234.56789, 8).unwrap(), "-1234.57");
        assert_eq!(format_number(99999999.4, 8).unwrap(), "99999999");
        assert_eq!(format_number(-0.0, 8).unwrap(), "0");
        assert_eq!(format_number(0.00001, 8).unwrap(), "0.00001");
        assert_eq!(format_number(123456789.0, 8), None);
        assert_eq!(format_number(-12345678.0, 8), None);
        assert_eq!(format_number(1e-9, 8), None);
        assert_eq!(format_number(f64::NAN, 8), None);
    }

    #[test]
    fn number_parsing() {
        assert_eq!(parse_int(" -1     "), Some(-1));
        assert_eq!(parse_int("+12"), Some(12));
        assert_eq!(parse_int("1 2"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_number("-3276.8 "), Some(-3276.8));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("1,5"), None);
        assert_eq!(parse_number("1e999"), None);
    }
}
