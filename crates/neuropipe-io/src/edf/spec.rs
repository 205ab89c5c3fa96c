//! What the writer is asked to write: [`EdfSpec`] and its parts.

use super::EdfFormat;
use crate::datetime::{Date, DateTime, MONTHS};

/// Sex subfield of the EDF+ patient identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// `F`.
    Female,
    /// `M`.
    Male,
}

/// The EDF+ patient identification subfields. Empty strings and `None` are
/// written as `X` (unknown); spaces inside subfields become `_`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientId {
    /// Hospital administration code.
    pub code: String,
    /// Sex.
    pub sex: Option<Sex>,
    /// Birth date.
    pub birthdate: Option<Date>,
    /// Patient name.
    pub name: String,
    /// Further text appended after the four subfields (spaces kept).
    pub additional: String,
}

/// The EDF+ recording identification subfields (after `Startdate dd-MMM-yyyy`,
/// which the writer fills in from [`EdfSpec::start`]). Empty strings are written
/// as `X`; spaces inside subfields become `_`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingId {
    /// Hospital administration code of the investigation.
    pub admin_code: String,
    /// Code of the technician or investigator.
    pub technician: String,
    /// Code of the equipment used.
    pub equipment: String,
    /// Further text appended after the subfields (spaces kept).
    pub additional: String,
}

/// One ordinary (non-annotation) signal to write.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSpec {
    /// Label, at most 16 characters, e.g. `EEG Fp1`.
    pub label: String,
    /// Transducer type, at most 80 characters, e.g. `AgAgCl electrode`.
    pub transducer: String,
    /// Physical dimension, at most 8 characters, e.g. `uV`.
    pub physical_dimension: String,
    /// Physical value of the digital minimum.
    pub physical_min: f64,
    /// Physical value of the digital maximum.
    pub physical_max: f64,
    /// Digital minimum; `None` for the format's minimum (EDF −32768, BDF −8388608).
    pub digital_min: Option<i32>,
    /// Digital maximum; `None` for the format's maximum (EDF 32767, BDF 8388607).
    pub digital_max: Option<i32>,
    /// Prefiltering, at most 80 characters, e.g. `HP:0.1Hz LP:75Hz`.
    pub prefilter: String,
    /// Sample rate in Hz; rate × record duration must be a whole number.
    pub sample_rate: f64,
}

impl SignalSpec {
    /// A signal in µV (`uV`) with the given physical range, full digital
    /// range, and empty transducer and prefilter texts.
    pub fn new(
        label: impl Into<String>,
        sample_rate: f64,
        physical_min: f64,
        physical_max: f64,
    ) -> Self {
        SignalSpec {
            label: label.into(),
            transducer: String::new(),
            physical_dimension: "uV".into(),
            physical_min,
            physical_max,
            digital_min: None,
            digital_max: None,
            prefilter: String::new(),
            sample_rate,
        }
    }
}

/// What [`EdfWriter::finish`](super::EdfWriter::finish) does with a last,
/// incomplete data record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PartialRecord {
    /// Complete it by repeating each signal's last sample (no step in the
    /// signal for filters that read the file). The default.
    #[default]
    PadWithLast,
    /// Complete it with the digital value nearest to physical zero.
    PadWithZero,
    /// Drop it: the file ends with the last complete record.
    Discard,
}

/// Everything the writer needs to know before the first sample.
#[derive(Debug, Clone, PartialEq)]
pub struct EdfSpec {
    /// EDF (16-bit) or BDF (24-bit).
    pub format: EdfFormat,
    /// Patient identification subfields.
    pub patient: PatientId,
    /// Recording identification subfields.
    pub recording: RecordingId,
    /// Start of the first data record, UTC, years 1985–2084 or later (after
    /// 2084 the header date reads `yy`, as EDF+ prescribes).
    pub start: DateTime,
    /// Duration of one data record in seconds (default 1.0); must be written
    /// exactly in 8 characters.
    pub record_duration: f64,
    /// The ordinary signals, in file order (at most 9998).
    pub signals: Vec<SignalSpec>,
    /// Bytes reserved in every data record for annotations (default 512;
    /// rounded up to whole samples). Must hold at least one time-keeping TAL.
    pub annotation_bytes_per_record: usize,
    /// Write EDF+D/BDF+D, allowing gaps between records
    /// (see [`EdfWriter::begin_record_at`](super::EdfWriter::begin_record_at)).
    pub discontinuous: bool,
    /// What to do with a last, incomplete data record.
    pub partial_record: PartialRecord,
}

/// Default number of annotation bytes per data record.
pub const DEFAULT_ANNOTATION_BYTES: usize = 512;

impl EdfSpec {
    /// A spec with 1-second records, unknown patient and recording,
    /// 512 annotation bytes per record, continuous, padding with last values.
    pub fn new(format: EdfFormat, start: DateTime, signals: Vec<SignalSpec>) -> Self {
        EdfSpec {
            format,
            patient: PatientId::default(),
            recording: RecordingId::default(),
            start,
            record_duration: 1.0,
            signals,
            annotation_bytes_per_record: DEFAULT_ANNOTATION_BYTES,
            discontinuous: false,
            partial_record: PartialRecord::default(),
        }
    }
}

/// An EDF+ subfield: `X` if empty, spaces replaced by `_`.
fn subfield(s: &str) -> String {
    if s.is_empty() {
        "X".into()
    } else {
        s.replace(' ', "_")
    }
}

/// `dd-MMM-yyyy`, as EDF+ writes dates in the identification fields.
pub(crate) fn edfplus_date(d: Date) -> String {
    format!(
        "{:02}-{}-{:04}",
        d.day,
        MONTHS[usize::from(d.month) - 1],
        d.year
    )
}

impl PatientId {
    /// The 80-character field text (before the length check).
    pub fn to_field(&self) -> String {
        let sex = match self.sex {
            Some(Sex::Female) => "F",
            Some(Sex::Male) => "M",
            None => "X",
        };
        let birth = self
            .birthdate
            .map(edfplus_date)
            .unwrap_or_else(|| "X".into());
        let mut s = format!(
            "{} {sex} {birth} {}",
            subfield(&self.code),
            subfield(&self.name)
        );
        if !self.additional.is_empty() {
            s.push(' ');
            s.push_str(&self.additional);
        }
        s
    }

    /// Parses an EDF+ patient identification field; `None` if it does not
    /// have the four subfields (plain EDF files use free text).
    pub fn parse(field: &str) -> Option<PatientId> {
        let mut parts = field.trim_end().splitn(5, ' ');
        let code = parts.next()?;
        let sex = match parts.next()? {
            "F" => Some(Sex::Female),
            "M" => Some(Sex::Male),
            "X" => None,
            _ => return None,
        };
        let birth = parts.next()?;
        let birthdate = if birth == "X" {
            None
        } else {
            Some(parse_edfplus_date(birth)?)
        };
        let name = parts.next()?;
        let unknown = |s: &str| {
            if s == "X" {
                String::new()
            } else {
                s.to_string()
            }
        };
        Some(PatientId {
            code: unknown(code),
            sex,
            birthdate,
            name: unknown(name),
            additional: parts.next().unwrap_or("").to_string(),
        })
    }
}

impl RecordingId {
    /// The 80-character field text (before the length check) for a
    /// recording that started at `start`.
    pub fn to_field(&self, start: Date) -> String {
        let mut s = format!(
            "Startdate {} {} {} {}",
            edfplus_date(start),
            subfield(&self.admin_code),
            subfield(&self.technician),
            subfield(&self.equipment)
        );
        if !self.additional.is_empty() {
            s.push(' ');
            s.push_str(&self.additional);
        }
        s
    }
}

/// Parses `dd-MMM-yyyy` (month in English, any case).
pub(crate) fn parse_edfplus_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 11 || b[2] != b'-' || b[6] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u16> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let day = num(0..2)?;
    let year = num(7..11)?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(&s[3..6]))?;
    Date::new(year, month as u8 + 1, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_field_round_trip() {
        let p = PatientId {
            code: "MCH-0234567".into(),
            sex: Some(Sex::Female),
            birthdate: Date::new(1951, 5, 2),
            name: "Haagse Harry".into(),
            additional: String::new(),
        };
        assert_eq!(p.to_field(), "MCH-0234567 F 02-MAY-1951 Haagse_Harry");
        let back = PatientId::parse(&p.to_field()).unwrap();
        assert_eq!(back.name, "Haagse_Harry");
        assert_eq!(back.birthdate, p.birthdate);
        assert_eq!(PatientId::default().to_field(), "X X X X");
        assert_eq!(PatientId::parse("X X X X"), Some(PatientId::default()));
        assert_eq!(PatientId::parse("free text patient"), None);
    }

    #[test]
    fn recording_field() {
        let r = RecordingId {
            equipment: "OpenBCI Cyton".into(),
            ..Default::default()
        };
        assert_eq!(
            r.to_field(Date::new(2002, 3, 2).unwrap()),
            "Startdate 02-MAR-2002 X X OpenBCI_Cyton"
        );
        assert_eq!(parse_edfplus_date("02-mar-2002"), Date::new(2002, 3, 2));
        assert_eq!(parse_edfplus_date("31-FEB-2002"), None);
    }
}
