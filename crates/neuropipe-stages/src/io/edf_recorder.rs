//! `EdfRecorder` and `BdfRecorder`: record a stream to an EDF+ (16-bit) or BDF+ (24-bit) file
//! that stays valid while it is written (every completed data record updates the header's
//! record count), with pipeline events as annotations.
//!
//! Physical ranges (each can be overridden with `physical_min` / `physical_max`, in the
//! stream's unit):
//!
//! | input | EDF (16-bit) | BDF (24-bit) |
//! |---|---|---|
//! | `f32` / `f64` (µV) | −32768 … 32767 µV: exactly 1 µV per step | −262144 … 262143 µV: ≈ 1/32 µV per step |
//! | `i32` (raw counts) | digital = counts (−32768 … 32767) | digital = counts: the whole 24-bit ADS1299 range, lossless |
//!
//! EDF's 16 bits cannot hold both fine resolution and the DC offsets of DC-coupled
//! amplifiers (an ADS1299 at gain 24 spans ±187 500 µV): use BDF for raw recordings, or
//! high-pass filter before an EDF recorder. Values outside the range are clipped (counted in
//! the log at the end).
//!
//! The file's time axis counts samples: it is contiguous (EDF+C/BDF+C), and lost samples and
//! pauses are annotated where they happened rather than left as gaps. Its start date-time is
//! the pipeline clock's start (whole seconds, UTC); sample 0 is the first sample recorded.

use super::paths::ascii_field;
use super::recorder::{build_recorder, RecordFile};
use neuropipe_core::{
    BoxedStage, BuildError, ParamSpec, Params, PayloadKind, PortSpec, StageBuilder, StageSpec,
    StreamInfo,
};
use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{EdfFormat, EdfSpec, EdfWriter, SignalSpec};
use std::fs::File;
use std::path::PathBuf;

/// Annotations queued beyond this are dropped (and counted): a source reporting events
/// faster than the records can hold them must not grow memory without bound.
const MAX_PENDING_ANNOTATIONS: usize = 1000;

/// Stage type specification of `EdfRecorder`.
pub fn edf_spec() -> StageSpec {
    spec(
        "EdfRecorder",
        "Sink recording to an EDF+ file (16-bit), pipeline events as annotations",
        "physical value of the lowest digital value (default: -32768 µV for voltages, -32768 for raw counts)",
        "physical value of the highest digital value (default: 32767 µV for voltages, 32767 for raw counts)",
        build_edf,
    )
}

/// Stage type specification of `BdfRecorder`.
pub fn bdf_spec() -> StageSpec {
    spec(
        "BdfRecorder",
        "Sink recording to a BDF+ file (24-bit), pipeline events as annotations",
        "physical value of the lowest digital value (default: -262144 µV for voltages, -8388608 for raw counts)",
        "physical value of the highest digital value (default: 262143 µV for voltages, 8388607 for raw counts)",
        build_bdf,
    )
}

fn spec(
    name: &'static str,
    summary: &'static str,
    min_doc: &'static str,
    max_doc: &'static str,
    build: neuropipe_core::StageFactory,
) -> StageSpec {
    StageSpec::new(name, summary, build)
        .input(PortSpec::any("in").doc("any samples; labels, units and rate from the stream"))
        .param(
            ParamSpec::string("path")
                .doc("file to write (relative to the working directory); replaced if it exists"),
        )
        .param(
            ParamSpec::float("record_duration_s", 0.001, 60.0)
                .default(1.0)
                .doc("data record length (s): sample_rate × this must be a whole number; a crash loses at most one record"),
        )
        .param(ParamSpec::float("physical_min", -99_999_999.0, 99_999_999.0).optional().doc(min_doc))
        .param(ParamSpec::float("physical_max", -99_999_999.0, 99_999_999.0).optional().doc(max_doc))
}

fn build_edf(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    build_recorder(b, |info, params, path| {
        EdfFile::new(EdfFormat::Edf, info, params, path)
    })
}

fn build_bdf(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    build_recorder(b, |info, params, path| {
        EdfFile::new(EdfFormat::Bdf, info, params, path)
    })
}

/// Default physical range for a payload and format.
pub fn default_range(format: EdfFormat, payload: PayloadKind) -> (f64, f64) {
    match (payload, format) {
        (PayloadKind::I32, f) => {
            let (dmin, dmax) = f.digital_range();
            (f64::from(dmin), f64::from(dmax))
        }
        (_, EdfFormat::Edf) => (-32_768.0, 32_767.0),
        (_, EdfFormat::Bdf) => (-262_144.0, 262_143.0),
    }
}

/// An EDF+/BDF+ file being recorded.
pub struct EdfFile {
    path: PathBuf,
    spec: EdfSpec,
    writer: Option<EdfWriter<File>>,
    dropped_annotations: u64,
}

impl EdfFile {
    /// Validates the settings for `info` (nothing is written yet).
    pub fn new(
        format: EdfFormat,
        info: &StreamInfo,
        params: &Params,
        path: &str,
    ) -> Result<EdfFile, BuildError> {
        let rate = info.sample_rate;
        let duration = params.f64("record_duration_s")?;
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
        let pmin = params.opt_f64("physical_min").unwrap_or(def_min);
        let pmax = params.opt_f64("physical_max").unwrap_or(def_max);
        if pmin >= pmax {
            return Err(BuildError::param(
                "physical_max",
                format!("physical_max ({pmax}) must be above physical_min ({pmin})"),
            ));
        }
        let signals = info
            .channels
            .iter()
            .map(|c| {
                let mut s = SignalSpec::new(ascii_field(&c.label, 16), rate, pmin, pmax);
                s.physical_dimension = ascii_field(&c.unit, 8);
                s
            })
            .collect();
        let start = i64::try_from(info.start_unix_ns / 1_000_000_000)
            .ok()
            .and_then(DateTime::from_unix_seconds)
            .unwrap_or_else(DateTime::now_utc);
        let mut spec = EdfSpec::new(format, start, signals);
        spec.record_duration = duration;
        spec.recording.equipment = "neuropipe".into();
        spec.recording.additional = ascii_field(&info.name, 40);
        // Validate everything the writer checks (field widths, ranges) without a file.
        EdfWriter::new(std::io::Cursor::new(Vec::new()), path, &spec).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("record duration") {
                BuildError::param("record_duration_s", msg)
            } else if msg.contains("physical") {
                BuildError::param("physical_min", msg)
            } else {
                BuildError::stage(msg)
            }
        })?;
        Ok(EdfFile {
            path: PathBuf::from(path),
            spec,
            writer: None,
            dropped_annotations: 0,
        })
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

impl RecordFile for EdfFile {
    const CONTIGUOUS: bool = true;

    fn create(&mut self) -> Result<(), String> {
        self.writer = Some(EdfWriter::create(&self.path, &self.spec).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn write(&mut self, data: &[f64], channels: usize, _t0_ns: u64) -> Result<(), String> {
        match &mut self.writer {
            Some(w) => w.write_frames(data, channels).map_err(|e| e.to_string()),
            None => Err(format!("{}: the file is not open", self.path.display())),
        }
    }

    fn annotate(&mut self, onset_s: f64, text: &str) -> Result<(), String> {
        let Some(w) = &mut self.writer else {
            return Err("the file is not open".into());
        };
        if w.pending_annotations() >= MAX_PENDING_ANNOTATIONS {
            self.dropped_annotations += 1;
            return Err(format!(
                "{MAX_PENDING_ANNOTATIONS} annotations are already waiting for room in the data records"
            ));
        }
        w.annotate(onset_s, None, text).map_err(|e| e.to_string())
    }

    fn finish(&mut self) -> Result<String, String> {
        let Some(w) = self.writer.take() else {
            return Err(format!("{}: the file is not open", self.path.display()));
        };
        let s = w.finish().map_err(|e| e.to_string())?;
        if s.clipped_samples > 0 {
            tracing::warn!(
                "{}: {} samples were outside the physical range {}..{} and were clipped",
                self.path.display(),
                s.clipped_samples,
                self.spec.signals[0].physical_min,
                self.spec.signals[0].physical_max
            );
        }
        Ok(format!(
            "{}: {} data records, {} annotations ({} dropped), {} frames of padding",
            self.path.display(),
            s.records,
            s.annotations_written,
            s.annotations_dropped + self.dropped_annotations,
            s.padded_frames
        ))
    }
}
