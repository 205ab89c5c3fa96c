//! EDF, EDF+, BDF and BDF+ files: a real-time writer and a validating reader.
//!
//! Written from the EDF (1992) and EDF+ (2003) specifications and the BioSemi
//! BDF variant:
//!
//! * a 256-byte header, then 256 bytes per signal, all space-padded ASCII;
//! * data records, each holding a fixed number of samples of every signal,
//!   one signal after the other, as 16-bit (EDF) or 24-bit (BDF)
//!   little-endian two's complement integers;
//! * `physical = (digital − dmin)·(pmax − pmin)/(dmax − dmin) + pmin`;
//! * EDF+/BDF+ add an `EDF Annotations` / `BDF Annotations` signal holding
//!   time-stamped annotation lists (TALs); the first TAL of every record is
//!   the time-keeping TAL `+<record onset>\x14\x14\x00`.
//!
//! [`EdfWriter`] writes EDF+C/BDF+C (or +D) files that stay valid at every
//! moment while recording; [`EdfReader`] reads EDF, EDF+C, EDF+D, BDF and
//! BDF+ files and rejects malformed ones with an error naming the byte offset
//! and the field.

mod error;
mod fields;
mod header;
mod layout;
mod reader;
mod spec;
mod tal;
mod writer;

pub use error::EdfError;
pub use header::{EdfHeader, SignalHeader};
pub use layout::{SignalPart, SpecPart};
pub use reader::EdfReader;
pub use spec::{
    EdfSpec, PartialRecord, PatientId, RecordingId, Sex, SignalSpec, DEFAULT_ANNOTATION_BYTES,
};
pub use writer::{EdfSummary, EdfWriter, MAX_EXTRA_RECORDS, PADDING_ANNOTATION};

/// Sample encoding of a file: 16-bit EDF or 24-bit BDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdfFormat {
    /// European Data Format: 16-bit samples, version field `0`.
    Edf,
    /// BioSemi Data Format: 24-bit samples, version field byte 0xFF + `BIOSEMI`.
    Bdf,
}

impl EdfFormat {
    /// Bytes per stored sample: 2 for EDF, 3 for BDF.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            EdfFormat::Edf => 2,
            EdfFormat::Bdf => 3,
        }
    }

    /// The full digital range of the sample type, `(min, max)`.
    pub fn digital_range(self) -> (i32, i32) {
        match self {
            EdfFormat::Edf => (-32_768, 32_767),
            EdfFormat::Bdf => (-8_388_608, 8_388_607),
        }
    }

    /// Label of the annotation signal: `EDF Annotations` or `BDF Annotations`.
    pub fn annotation_label(self) -> &'static str {
        match self {
            EdfFormat::Edf => "EDF Annotations",
            EdfFormat::Bdf => "BDF Annotations",
        }
    }

    /// The 8-byte version field that starts every file of this format.
    pub fn version_field(self) -> [u8; 8] {
        match self {
            EdfFormat::Edf => *b"0       ",
            EdfFormat::Bdf => *b"\xFFBIOSEMI",
        }
    }

    /// Decodes one little-endian sample from the start of `bytes`
    /// (which must hold at least [`bytes_per_sample`](Self::bytes_per_sample) bytes).
    #[inline]
    pub fn decode_sample(self, bytes: &[u8]) -> i32 {
        match self {
            EdfFormat::Edf => i32::from(i16::from_le_bytes([bytes[0], bytes[1]])),
            // Put the 3 bytes in the top of an i32 and shift back to sign-extend.
            EdfFormat::Bdf => i32::from_le_bytes([0, bytes[0], bytes[1], bytes[2]]) >> 8,
        }
    }

    /// Encodes one sample (already within [`digital_range`](Self::digital_range))
    /// into the start of `out` as little-endian bytes.
    #[inline]
    pub fn encode_sample(self, value: i32, out: &mut [u8]) {
        let b = value.to_le_bytes();
        match self {
            EdfFormat::Edf => out[..2].copy_from_slice(&b[..2]),
            EdfFormat::Bdf => out[..3].copy_from_slice(&b[..3]),
        }
    }
}

/// Which flavour of the format a file declares in its reserved field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdfVariant {
    /// Plain EDF or BDF (reserved field neither `EDF+C`/`BDF+C` nor `+D`).
    Plain,
    /// EDF+C / BDF+C: data records follow each other without gaps.
    Continuous,
    /// EDF+D / BDF+D: each record's onset comes from its time-keeping TAL.
    Discontinuous,
}

/// One annotation: an onset (seconds from the file's start date-time), an
/// optional duration and a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Seconds after the start date-time in the header (may be negative).
    pub onset: f64,
    /// Duration in seconds, if the TAL has one.
    pub duration: Option<f64>,
    /// The annotation text (UTF-8).
    pub text: String,
}

#[cfg(test)]
mod tests;
