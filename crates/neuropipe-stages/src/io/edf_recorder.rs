//! `EdfRecorder` and `BdfRecorder`: record a stream to an EDF+ (16-bit) or BDF+ (24-bit) file
//! that stays valid while it is written (every completed data record updates the header's
//! record count), with pipeline events as annotations.
//!
//! Physical ranges (each can be overridden with `physical_min` / `physical_max`, in µV for
//! voltages):
//!
//! | input | EDF (16-bit) | BDF (24-bit) |
//! |---|---|---|
//! | `f32` / `f64` voltages | −3276.8 … 3276.7 µV: 0.1 µV per step | −262144 … 262143 µV: ≈ 1/32 µV per step |
//! | `i32` (raw counts) | digital = counts (−32768 … 32767) | digital = counts: the whole 24-bit ADS1299 range, lossless |
//!
//! EDF's 16 bits cannot hold both fine resolution and the DC offsets of DC-coupled
//! amplifiers (an ADS1299 at gain 24 spans ±187 500 µV): use BDF for raw or unfiltered
//! recordings, or high-pass filter before an EDF recorder. Values outside the range are
//! clipped, never wrapped: each packet with clipped samples gets a `BAD_clipped` annotation
//! spanning it, and the count is in the stage's metrics.
//!
//! What the header says:
//! * **Units** are normalised: `microvolts`, `µV`, `uV`, `millivolts`, `mV`, `volts`, `V`, … are
//!   written as the EDF standard `uV`, data scaled to µV. Other units are written as given if
//!   they fit the 8-character field; one that does not is a build error naming the channel.
//! * **Labels** carry the channel type as the EDF+ prefix (`EEG Fp1`, `EOG left`) when it fits
//!   the 16-character field (MNE: `read_raw_edf(..., infer_types=True)` turns it back into
//!   types and bare names).
//! * **Prefilter**: the filters upstream, combined (`HP:1Hz LP:40Hz N:50Hz`); MNE shows them as
//!   `highpass` / `lowpass`.
//! * **Patient / recording** subfields from `subject`, `session`, `technician`, `equipment`
//!   (`X` where unknown).
//!
//! The annotation area of every record is sized for `markers_per_s` (default 200) markers of
//! ~40 bytes. More spill into the following records; at the end, whatever is still queued gets
//! whole records of padding, marked like the padding of the last partial record with a
//! `BAD_padding` annotation spanning it, so no marker is lost and no padding passes for data.
//!
//! The file's time axis counts samples: it is contiguous (EDF+C/BDF+C), and lost samples and
//! pauses are annotated where they happened rather than left as gaps. Its start date-time is
//! the pipeline clock's start (whole seconds, UTC); sample 0 is the first sample recorded.

use super::paths::ascii_field;
use super::recorder::{build_recorder, recorder_spec, RecordError, RecordFile};
use super::units::volts_to_microvolts;
use neuropipe_core::{
    BoxedStage, BuildError, PayloadKind, PortSpec, StageBuilder, StageParams, StageSpec, StreamInfo,
};
use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{
    EdfError, EdfFormat, EdfSpec, EdfWriter, SignalPart, SignalSpec, SpecPart,
};
use std::fs::File;
use std::path::PathBuf;

/// Annotations queued beyond this are dropped (counted and reported): a source reporting
/// events far faster than the records can hold them must not grow memory without bound.
const MAX_PENDING_ANNOTATIONS: usize = 100_000;

/// Bytes budgeted per marker when sizing the annotation area (`+1234.5678\x14` plus a text of
/// about 25 characters).
const BYTES_PER_MARKER: f64 = 40.0;

/// Parameters of `EdfRecorder` and `BdfRecorder`, after the `path` and `overwrite` every
/// recorder has (see [`RecorderParams`](super::recorder::RecorderParams)) and before the
/// format's physical range ([`EdfRange`], [`BdfRange`]).
#[derive(StageParams)]
pub struct EdfParams {
    /// data record length (s): sample_rate × this must be a whole number; a crash loses at most one record
    #[param(default = 1.0, min = 0.001, max = 60.0)]
    pub record_duration_s: f64,
    /// marker rate the annotation area of each record is sized for (~40 bytes each); bursts above it spill into later records, nothing is dropped
    #[param(default = 200.0, min = 0.0, max = 10_000.0)]
    pub markers_per_s: f64,
    /// patient identification code (EDF+ patient subfield 1)
    pub subject: Option<String>,
    /// hospital administration code / session (EDF+ recording subfield)
    pub session: Option<String>,
    /// technician or investigator code (EDF+ recording subfield)
    pub technician: Option<String>,
    /// equipment code (EDF+ recording subfield)
    #[param(default = "neuropipe")]
    pub equipment: String,
}

/// The physical range of `EdfRecorder` (16-bit).
#[derive(StageParams)]
pub struct EdfRange {
    /// physical value of the lowest digital value (default: -3276.8 µV for voltages, 0.1 µV per step; -32768 for raw counts)
    #[param(min = -99_999_999.0, max = 99_999_999.0)]
    pub physical_min: Option<f64>,
    /// physical value of the highest digital value (default: 3276.7 µV for voltages; 32767 for raw counts)
    #[param(min = -99_999_999.0, max = 99_999_999.0)]
    pub physical_max: Option<f64>,
}

/// The physical range of `BdfRecorder` (24-bit).
#[derive(StageParams)]
pub struct BdfRange {
    /// physical value of the lowest digital value (default: -262144 µV for voltages, -8388608 for raw counts)
    #[param(min = -99_999_999.0, max = 99_999_999.0)]
    pub physical_min: Option<f64>,
    /// physical value of the highest digital value (default: 262143 µV for voltages, 8388607 for raw counts)
    #[param(min = -99_999_999.0, max = 99_999_999.0)]
    pub physical_max: Option<f64>,
}

/// The physical range asked for (`None`: the format's default for the payload).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhysicalRange {
    /// `physical_min`.
    pub min: Option<f64>,
    /// `physical_max`.
    pub max: Option<f64>,
}

impl From<EdfRange> for PhysicalRange {
    fn from(r: EdfRange) -> Self {
        PhysicalRange {
            min: r.physical_min,
            max: r.physical_max,
        }
    }
}

impl From<BdfRange> for PhysicalRange {
    fn from(r: BdfRange) -> Self {
        PhysicalRange {
            min: r.physical_min,
            max: r.physical_max,
        }
    }
}

/// Stage type specification of `EdfRecorder`.
pub fn edf_spec() -> StageSpec {
    spec::<EdfRange>(
        "EdfRecorder",
        "Sink recording to an EDF+ file (16-bit), pipeline events as annotations",
        build_edf,
    )
}

/// Stage type specification of `BdfRecorder`.
pub fn bdf_spec() -> StageSpec {
    spec::<BdfRange>(
        "BdfRecorder",
        "Sink recording to a BDF+ file (24-bit), pipeline events as annotations",
        build_bdf,
    )
}

fn spec<R: StageParams>(
    name: &'static str,
    summary: &'static str,
    build: neuropipe_core::StageFactory,
) -> StageSpec {
    recorder_spec::<EdfParams>(StageSpec::new(name, summary, build))
        .params::<R>()
        .input(
            PortSpec::any("in")
                .doc("any samples; labels, units, types, filters and rate from the stream"),
        )
}

fn build_edf(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    build_format::<EdfRange>(b, EdfFormat::Edf)
}

fn build_bdf(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    build_format::<BdfRange>(b, EdfFormat::Bdf)
}

/// Builds a recorder of `format`, its physical range read from the format's own parameters.
fn build_format<R: StageParams + Into<PhysicalRange>>(
    b: &mut StageBuilder<'_>,
    format: EdfFormat,
) -> Result<BoxedStage, BuildError> {
    let params: EdfParams = b.parse_params()?;
    let range: PhysicalRange = b.parse_params::<R>()?.into();
    build_recorder(b, move |info, path| {
        EdfFile::new(format, info, &params, range, path)
    })
}

/// Default physical range for a payload and format.
pub fn default_range(format: EdfFormat, payload: PayloadKind) -> (f64, f64) {
    match (payload, format) {
        (PayloadKind::I32, f) => {
            let (dmin, dmax) = f.digital_range();
            (f64::from(dmin), f64::from(dmax))
        }
        (_, EdfFormat::Edf) => (-3_276.8, 3_276.7),
        (_, EdfFormat::Bdf) => (-262_144.0, 262_143.0),
    }
}

/// The header's prefilter text for a chain of filters: the highest high-pass, the lowest
/// low-pass, then every notch and band-stop (`HP:1Hz LP:40Hz N:50Hz`).
pub fn prefilter_text(filters: &[String]) -> String {
    let (mut hp, mut lp): (Option<f64>, Option<f64>) = (None, None);
    let mut others = vec![];
    for part in filters.iter().flat_map(|f| f.split_whitespace()) {
        let number = |p: &str| p.trim_end_matches("Hz").parse::<f64>().ok();
        if let Some(v) = part.strip_prefix("HP:").and_then(number) {
            hp = Some(hp.map_or(v, |h| h.max(v)));
        } else if let Some(v) = part.strip_prefix("LP:").and_then(number) {
            lp = Some(lp.map_or(v, |l| l.min(v)));
        } else if !others.contains(&part) {
            others.push(part);
        }
    }
    let mut out = vec![];
    out.extend(hp.map(|v| format!("HP:{v}Hz")));
    out.extend(lp.map(|v| format!("LP:{v}Hz")));
    out.extend(others.iter().map(|s| s.to_string()));
    out.join(" ")
}

/// An EDF+/BDF+ file being recorded.
pub struct EdfFile {
    path: PathBuf,
    spec: EdfSpec,
    writer: Option<EdfWriter<File>>,
    dropped_annotations: u64,
    /// Per-channel factor to the file's unit (µV for voltages); empty when all are 1.
    scale: Vec<f64>,
}

impl EdfFile {
    /// Validates the settings for `info` (nothing is written yet).
    pub fn new(
        format: EdfFormat,
        info: &StreamInfo,
        params: &EdfParams,
        range: PhysicalRange,
        path: &str,
    ) -> Result<EdfFile, BuildError> {
        let rate = info.sample_rate;
        let duration = params.record_duration_s;
        let per_record = rate * duration;
        if (per_record - per_record.round()).abs() > 1e-6 * per_record.max(1.0)
            || per_record.round() < 1.0
        {
            return Err(BuildError::param(
                "record_duration_s",
                format!(
                    "{duration} s × {rate} Hz = {per_record} samples per record, which is not a whole number; pick a duration such as {}",
                    suggest_duration(rate)
                ),
            ));
        }
        let (def_min, def_max) = default_range(format, info.payload);
        let pmin = range.min.unwrap_or(def_min);
        let pmax = range.max.unwrap_or(def_max);
        if pmin >= pmax {
            return Err(BuildError::param(
                "physical_max",
                format!("physical_max ({pmax}) must be above physical_min ({pmin})"),
            ));
        }
        let prefilter = ascii_field(&prefilter_text(&info.filters), 80);
        let mut scale = Vec::with_capacity(info.channels.len());
        let mut signals = Vec::with_capacity(info.channels.len());
        for (i, c) in info.channels.iter().enumerate() {
            let raw = info.payload == PayloadKind::I32;
            let (unit, factor) = match volts_to_microvolts(&c.unit) {
                Some(f) if !raw => ("uV".to_string(), f),
                _ => {
                    let u = ascii_field(&c.unit, usize::MAX);
                    if u.len() > 8 {
                        return Err(BuildError::stage(format!(
                            "channel {} ({}) has unit {:?}, which is not a known voltage unit and does not fit the EDF header's 8 characters; give the stream a shorter unit (\"stream\": {{\"units\": ...}})",
                            i + 1,
                            c.label,
                            c.unit
                        )));
                    }
                    if !u.is_empty() && !raw {
                        tracing::warn!(
                            "channel {} ({}): unit {:?} is not a voltage; written as given, with the physical range {pmin}..{pmax}",
                            i + 1,
                            c.label,
                            c.unit
                        );
                    }
                    (u, 1.0)
                }
            };
            scale.push(factor);
            let mut s = SignalSpec::new(typed_label(&c.label, &c.kind), rate, pmin, pmax);
            s.physical_dimension = unit;
            s.prefilter = prefilter.clone();
            signals.push(s);
        }
        if scale.iter().all(|&f| f == 1.0) {
            scale.clear();
        }
        let start = i64::try_from(info.start_unix_ns / 1_000_000_000)
            .ok()
            .and_then(DateTime::from_unix_seconds)
            .unwrap_or_else(DateTime::now_utc);
        let mut spec = EdfSpec::new(format, start, signals);
        spec.record_duration = duration;
        let text = |value: Option<&str>| value.map(|s| ascii_field(s, 80)).unwrap_or_default();
        spec.patient.code = text(params.subject.as_deref());
        spec.recording.admin_code = text(params.session.as_deref());
        spec.recording.technician = text(params.technician.as_deref());
        spec.recording.equipment = text(Some(params.equipment.as_str()));
        spec.recording.additional = ascii_field(&info.name, 40);
        let markers = params.markers_per_s;
        spec.annotation_bytes_per_record = spec
            .annotation_bytes_per_record
            .max((markers * duration * BYTES_PER_MARKER).ceil() as usize);
        // Validate everything the writer checks (field widths, ranges) without a file.
        EdfWriter::new(std::io::Cursor::new(Vec::new()), path, &spec).map_err(header_error)?;
        Ok(EdfFile {
            path: PathBuf::from(path),
            spec,
            writer: None,
            dropped_annotations: 0,
            scale,
        })
    }
}

/// `EEG Fp1`: the EDF+ label with the channel type as prefix, when the type is known, not
/// already there, and the whole fits 16 characters; else the bare label.
fn typed_label(label: &str, kind: &str) -> String {
    let kind = kind.trim().to_ascii_uppercase();
    let bare = ascii_field(label, 16);
    if kind.is_empty()
        || matches!(kind.as_str(), "AUX" | "COUNTS" | "UNKNOWN")
        || label.to_ascii_uppercase().starts_with(&format!("{kind} "))
    {
        return bare;
    }
    let typed = format!("{kind} {label}");
    if ascii_field(&typed, usize::MAX).len() <= 16 {
        ascii_field(&typed, 16)
    } else {
        bare
    }
}

/// A problem of the header, reported on the parameter it comes from (the writer says which
/// part of the spec is wrong): the record duration, the physical range, the identification
/// subfields (reported on `subject`); anything else (the stream's signals, the start date,
/// the annotation area) on the stage.
fn header_error(e: EdfError) -> BuildError {
    let message = e.to_string();
    let EdfError::Spec { part, .. } = e else {
        return BuildError::stage(message);
    };
    match part {
        SpecPart::RecordDuration => BuildError::param("record_duration_s", message),
        SpecPart::Signal {
            field: SignalPart::PhysicalRange,
            ..
        } => BuildError::param("physical_min", message),
        SpecPart::Patient | SpecPart::Recording => BuildError::param("subject", message),
        _ => BuildError::stage(message),
    }
}

/// A record duration giving whole samples per record at `rate` (for error messages).
fn suggest_duration(rate: f64) -> String {
    for d in [1.0, 0.5, 0.25, 0.2, 0.1, 2.0, 4.0, 5.0, 10.0] {
        let n = rate * d;
        if (n - n.round()).abs() < 1e-9 && n >= 1.0 {
            return format!("{d}");
        }
    }
    "one whose product with the rate is whole".into()
}

impl EdfFile {
    fn not_open(&self) -> RecordError {
        RecordError::NotOpen {
            file: self.path.display().to_string(),
        }
    }
}

impl RecordFile for EdfFile {
    const CONTIGUOUS: bool = true;

    fn create(&mut self) -> Result<(), RecordError> {
        self.writer = Some(EdfWriter::create(&self.path, &self.spec)?);
        Ok(())
    }

    fn write(&mut self, data: &[f64], channels: usize, _t0_ns: u64) -> Result<(), RecordError> {
        match &mut self.writer {
            Some(w) => Ok(w.write_frames(data, channels)?),
            None => Err(self.not_open()),
        }
    }

    fn annotate(
        &mut self,
        onset_s: f64,
        duration_s: Option<f64>,
        text: &str,
    ) -> Result<(), RecordError> {
        let Some(w) = &mut self.writer else {
            return Err(self.not_open());
        };
        if w.pending_annotations() >= MAX_PENDING_ANNOTATIONS {
            self.dropped_annotations += 1;
            return Err(RecordError::Annotation {
                file: self.path.display().to_string(),
                problem: format!(
                    "{MAX_PENDING_ANNOTATIONS} annotations are already waiting for room in the data records"
                ),
            });
        }
        Ok(w.annotate(onset_s, duration_s, text)?)
    }

    fn clipped(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.clipped_samples())
    }

    fn range(&self) -> String {
        let s = &self.spec.signals[0];
        format!(
            "{}..{} {}",
            s.physical_min, s.physical_max, s.physical_dimension
        )
    }

    fn scale(&self) -> &[f64] {
        &self.scale
    }

    fn finish(&mut self) -> Result<String, RecordError> {
        let Some(w) = self.writer.take() else {
            return Err(self.not_open());
        };
        let s = w.finish()?;
        if s.clipped_samples > 0 {
            tracing::warn!(
                "{}: {} samples were outside the physical range {}..{} and were clipped",
                self.path.display(),
                s.clipped_samples,
                self.spec.signals[0].physical_min,
                self.spec.signals[0].physical_max
            );
        }
        let dropped = s.annotations_dropped + self.dropped_annotations;
        if dropped > 0 {
            tracing::error!(
                "{}: {dropped} annotations could not be written (see the summary)",
                self.path.display()
            );
        }
        Ok(format!(
            "{}: {} data records, {} annotations ({} dropped), {} frames of padding ({} whole records added for annotations), {} NaN/Inf samples written as 0",
            self.path.display(),
            s.records,
            s.annotations_written,
            dropped,
            s.padded_frames,
            s.extra_records,
            s.nan_samples
        ))
    }
}
