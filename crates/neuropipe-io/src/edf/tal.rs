//! Time-stamped annotation lists (TALs), the content of EDF+ annotation signals.
//!
//! A TAL is `±onset[\x15duration]\x14text\x14[text\x14…]\x00`; onsets and
//! durations are decimal seconds (no exponent); the first TAL of every data
//! record is the time-keeping TAL `+onset\x14\x14\x00` with an empty text.
//! Unused bytes at the end of the signal are zero.

use std::io::{Cursor, Write};

/// Separates the onset from the duration.
pub(crate) const DURATION_MARK: u8 = 0x15;
/// Ends the onset/duration and every annotation text.
pub(crate) const TEXT_END: u8 = 0x14;
/// Ends a TAL.
pub(crate) const TAL_END: u8 = 0x00;

/// Largest |onset| or duration the writer accepts, in seconds (~31 years).
pub(crate) const MAX_SECONDS: f64 = 1e9;

/// Longest number text [`write_seconds`] produces: sign, 10 integer digits,
/// point, 7 decimals.
const NUMBER_MAX: usize = 19;

/// Bytes a time-keeping TAL can take at most.
pub(crate) const TIME_KEEPING_MAX: usize = NUMBER_MAX + 3;

/// Writes `x` seconds (|x| < [`MAX_SECONDS`]) as a decimal with at most 7
/// decimals, trailing zeros removed, with a leading sign if `signed`.
/// Returns the number of bytes written into `buf`. No allocation.
pub(crate) fn write_seconds(x: f64, signed: bool, buf: &mut [u8; NUMBER_MAX]) -> usize {
    let mut cur = Cursor::new(&mut buf[..]);
    let sign = if x < 0.0 { "-" } else { "+" };
    let x = x.abs();
    let written = if signed {
        write!(cur, "{sign}{x:.7}")
    } else {
        write!(cur, "{x:.7}")
    };
    // `x` is below 1e9, so at most 1 + 10 + 1 + 7 bytes: this cannot fail.
    debug_assert!(written.is_ok());
    let mut len = cur.position() as usize;
    while buf[len - 1] == b'0' {
        len -= 1;
    }
    if buf[len - 1] == b'.' {
        len -= 1;
    }
    len
}

/// Bytes the TAL for one annotation takes.
pub(crate) fn tal_len(onset: f64, duration: Option<f64>, text: &str) -> usize {
    let mut num = [0u8; NUMBER_MAX];
    let mut n = write_seconds(onset, true, &mut num);
    if let Some(d) = duration {
        n += 1 + write_seconds(d, false, &mut num);
    }
    n + 1 + text.len() + 2
}

/// Writes one TAL with one text (empty for time-keeping) into `out` at `pos`.
/// Returns the new position, or `None` (and writes nothing) if it does not fit.
pub(crate) fn write_tal(
    out: &mut [u8],
    pos: usize,
    onset: f64,
    duration: Option<f64>,
    text: &str,
) -> Option<usize> {
    let need = tal_len(onset, duration, text);
    if pos + need > out.len() {
        return None;
    }
    let mut num = [0u8; NUMBER_MAX];
    let mut p = pos;
    let mut put = |bytes: &[u8]| {
        out[p..p + bytes.len()].copy_from_slice(bytes);
        p += bytes.len();
    };
    let n = write_seconds(onset, true, &mut num);
    put(&num[..n]);
    if let Some(d) = duration {
        put(&[DURATION_MARK]);
        let n = write_seconds(d, false, &mut num);
        put(&num[..n]);
    }
    put(&[TEXT_END]);
    put(text.as_bytes());
    put(&[TEXT_END, TAL_END]);
    Some(p)
}

/// One decoded TAL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tal {
    /// Onset in seconds.
    pub onset: f64,
    /// Duration in seconds, if given.
    pub duration: Option<f64>,
    /// The texts; a time-keeping TAL has one empty text first.
    pub texts: Vec<String>,
}

/// A decoding error: offset within the signal bytes, and what is wrong.
pub(crate) type TalError = (usize, String);

fn parse_seconds(bytes: &[u8], signed: bool) -> Option<f64> {
    let (sign, digits) = if signed {
        match bytes.split_first()? {
            (b'+', rest) => (1.0, rest),
            (b'-', rest) => (-1.0, rest),
            _ => return None,
        }
    } else {
        (1.0, bytes)
    };
    let valid = digits.iter().any(u8::is_ascii_digit)
        && digits.iter().all(|&b| b.is_ascii_digit() || b == b'.')
        && digits.iter().filter(|&&b| b == b'.').count() <= 1;
    if !valid {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    text.parse::<f64>().ok().map(|v| sign * v)
}

fn shown(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]);
    format!("{:?}", s)
}

/// Decodes all TALs of one annotation signal's bytes in one data record.
pub(crate) fn parse_tals(bytes: &[u8]) -> Result<Vec<Tal>, TalError> {
    let mut tals = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() && bytes[pos] != TAL_END {
        let start = pos;
        // Onset, up to the duration mark or the first text end.
        let onset_end = bytes[pos..]
            .iter()
            .position(|&b| b == DURATION_MARK || b == TEXT_END || b == TAL_END)
            .map(|i| pos + i)
            .ok_or((
                start,
                format!("TAL {} is not terminated", shown(&bytes[start..])),
            ))?;
        let onset = parse_seconds(&bytes[pos..onset_end], true).ok_or((
            start,
            format!(
                "TAL onset {} is not a signed decimal number",
                shown(&bytes[pos..onset_end])
            ),
        ))?;
        pos = onset_end;
        let mut duration = None;
        if bytes[pos] == DURATION_MARK {
            pos += 1;
            let end = bytes[pos..]
                .iter()
                .position(|&b| b == TEXT_END || b == TAL_END)
                .map(|i| pos + i)
                .ok_or((
                    start,
                    format!("TAL {} is not terminated", shown(&bytes[start..])),
                ))?;
            duration = Some(parse_seconds(&bytes[pos..end], false).ok_or((
                pos,
                format!(
                    "TAL duration {} is not a decimal number",
                    shown(&bytes[pos..end])
                ),
            ))?);
            pos = end;
        }
        if bytes[pos] != TEXT_END {
            return Err((pos, "TAL onset is not followed by byte 0x14".into()));
        }
        pos += 1;
        // Texts, each ended by 0x14, until the 0x00 that ends the TAL.
        let mut texts = Vec::new();
        loop {
            let end = bytes[pos..]
                .iter()
                .position(|&b| b == TEXT_END || b == TAL_END)
                .map(|i| pos + i)
                .ok_or((
                    start,
                    format!("TAL {} is not terminated", shown(&bytes[start..])),
                ))?;
            if bytes[end] == TAL_END {
                if end != pos {
                    return Err((end, "annotation text is not ended by byte 0x14".into()));
                }
                pos = end + 1;
                break;
            }
            texts.push(String::from_utf8_lossy(&bytes[pos..end]).into_owned());
            pos = end + 1;
        }
        tals.push(Tal {
            onset,
            duration,
            texts,
        });
    }
    Ok(tals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(x: f64, signed: bool) -> String {
        let mut buf = [0u8; NUMBER_MAX];
        let n = write_seconds(x, signed, &mut buf);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn number_texts() {
        assert_eq!(seconds(0.0, true), "+0");
        assert_eq!(seconds(0.1 * 3.0, true), "+0.3");
        assert_eq!(seconds(-2.5, true), "-2.5");
        assert_eq!(seconds(12.0, false), "12");
        assert_eq!(seconds(-999_999_999.25, true), "-999999999.25");
        assert!(seconds(-999_999_999.123_456_7, true).len() <= NUMBER_MAX);
    }

    #[test]
    fn write_and_parse() {
        let mut buf = [0u8; 64];
        let p = write_tal(&mut buf, 0, 3.0, None, "").unwrap();
        let p = write_tal(&mut buf, p, 3.25, Some(0.5), "blink").unwrap();
        assert_eq!(&buf[..p], b"+3\x14\x14\x00+3.25\x150.5\x14blink\x14\x00");
        assert_eq!(write_tal(&mut buf, p, 1.0, None, &"x".repeat(60)), None);
        let tals = parse_tals(&buf).unwrap();
        assert_eq!(tals.len(), 2);
        assert_eq!(tals[0].texts, vec![String::new()]);
        assert_eq!(tals[1].onset, 3.25);
        assert_eq!(tals[1].duration, Some(0.5));
        assert_eq!(tals[1].texts, vec!["blink".to_string()]);
    }

    #[test]
    fn several_texts_in_one_tal() {
        let tals = parse_tals(b"+180\x14Lights off\x14Close door\x14\x00\x00\x00").unwrap();
        assert_eq!(tals[0].texts, vec!["Lights off", "Close door"]);
    }

    #[test]
    fn malformed_tals() {
        assert_eq!(
            parse_tals(b"3\x14\x14\x00").unwrap_err(),
            (0, "TAL onset \"3\" is not a signed decimal number".into())
        );
        assert_eq!(
            parse_tals(b"+1\x15-2\x14\x14\x00").unwrap_err(),
            (3, "TAL duration \"-2\" is not a decimal number".into())
        );
        assert_eq!(
            parse_tals(b"+1\x14abc").unwrap_err(),
            (0, "TAL \"+1\\u{14}abc\" is not terminated".into())
        );
        assert_eq!(
            parse_tals(b"+1\x14abc\x00").unwrap_err(),
            (6, "annotation text is not ended by byte 0x14".into())
        );
        assert_eq!(
            parse_tals(b"+1\x15").unwrap_err(),
            (0, "TAL \"+1\\u{15}\" is not terminated".into())
        );
        assert_eq!(parse_tals(b"\x00garbage").unwrap(), vec![]);
    }
}
