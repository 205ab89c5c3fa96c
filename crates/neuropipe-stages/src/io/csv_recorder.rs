//! `CsvRecorder`: records a stream as CSV — a header `timestamp_s,<labels>`, then one row per
//! frame with its time in seconds since the first frame (from packet timestamps, so a pause
//! shows as a jump in the time column) and the exact values (shortest round-trip form).
//!
//! CSV has no place for annotations: pipeline events, lost samples and discontinuities go
//! to an optional second CSV file (`events_path`) with columns `onset_s,duration_s,text`
//! (`duration_s` empty for instants; `BAD_…` spans such as non-finite samples have one).
//! Non-finite samples are written as `NaN`. Rows reach the file whole or not at all: a full
//! disk never leaves half a row (see [`WholeRows`]).
//! Rows are flushed to the file once per second of data, so a crash loses at most about a
//! second.

use super::paths::OutputFile;
use super::recorder::{
    build_recorder, next_name, recorder_spec, RecordError, RecordFile, RecorderParams,
};
use neuropipe_core::{BoxedStage, BuildError, PortSpec, StageBuilder, StageParams, StageSpec};
use neuropipe_io::csv::{CsvWriter, WholeRows};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Parameters of `CsvRecorder`, after the `path` and `overwrite` every recorder has (see
/// [`RecorderParams`]).
#[derive(StageParams)]
pub struct CsvParams {
    /// also write pipeline events (pauses, parameter changes, markers, lost samples) to this CSV file: onset_s,duration_s,text
    pub events_path: Option<String>,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    recorder_spec::<CsvParams>(StageSpec::new(
        "CsvRecorder",
        "Sink recording to CSV: timestamp_s plus one column per channel",
        build,
    ))
    .input(PortSpec::any("in").doc("any samples; labels from the stream"))
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let CsvParams { events_path } = b.parse_params()?;
    let RecorderParams { overwrite, .. } = b.parse_params()?;
    let events_template = events_path.map(|p| b.resolve_path(&p).to_string_lossy().into_owned());
    // One events file per recording, named like the recordings (see `next_name`).
    let mut made = 0;
    build_recorder(b, move |info, path| {
        let events = match &events_template {
            Some(t) => Some(
                OutputFile::probe(&next_name(t, made), overwrite)
                    .map_err(|e| BuildError::param("events_path", e))?,
            ),
            None => None,
        };
        made += 1;
        Ok(CsvFile {
            path: PathBuf::from(path),
            labels: info.labels().iter().map(|s| s.to_string()).collect(),
            rate: info.sample_rate,
            writer: None,
            events_probe: events,
            events: None,
            since_flush: 0,
        })
    })
}

/// A CSV file being recorded.
pub struct CsvFile {
    path: PathBuf,
    labels: Vec<String>,
    rate: f64,
    writer: Option<CsvWriter<WholeRows<File>>>,
    events_probe: Option<OutputFile>,
    /// The events file and its name.
    events: Option<(BufWriter<File>, String)>,
    since_flush: u64,
}

impl CsvFile {
    fn flush(&mut self) -> Result<(), RecordError> {
        if let Some(w) = &mut self.writer {
            w.flush()?;
        }
        if let Some((f, name)) = &mut self.events {
            f.flush()
                .map_err(|e| RecordError::io(&name, "writing events", e))?;
        }
        self.since_flush = 0;
        Ok(())
    }
}

impl RecordFile for CsvFile {
    const CONTIGUOUS: bool = false;

    fn create(&mut self) -> Result<(), RecordError> {
        let labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        self.writer = Some(CsvWriter::create(&self.path, &labels, self.rate)?);
        if let Some(probe) = &mut self.events_probe {
            let p = probe.path().to_path_buf();
            let mut f = File::create(&p)
                .map(BufWriter::new)
                .map_err(|e| RecordError::io(p.display(), "creating the file", e))?;
            f.write_all(b"onset_s,duration_s,text\n")
                .and_then(|_| f.flush())
                .map_err(|e| RecordError::io(p.display(), "writing the header row", e))?;
            probe.mark_used();
            self.events = Some((f, p.display().to_string()));
        }
        Ok(())
    }

    fn write(&mut self, data: &[f64], channels: usize, t0_ns: u64) -> Result<(), RecordError> {
        let Some(w) = &mut self.writer else {
            return Err(RecordError::NotOpen {
                file: self.path.display().to_string(),
            });
        };
        for (i, frame) in data.chunks_exact(channels).enumerate() {
            // Whole nanoseconds, then seconds: 250 Hz gives 0.004, 0.008, … not 0.0120000001.
            let t_ns = t0_ns + (i as f64 * 1e9 / self.rate).round() as u64;
            w.write_frame_at(t_ns as f64 / 1e9, frame)?;
        }
        self.since_flush += (data.len() / channels) as u64;
        if self.since_flush as f64 >= self.rate {
            self.flush()?;
        }
        Ok(())
    }

    fn annotate(
        &mut self,
        onset_s: f64,
        duration_s: Option<f64>,
        text: &str,
    ) -> Result<(), RecordError> {
        let Some((f, name)) = &mut self.events else {
            return Ok(()); // no events file asked for
        };
        let quoted = text.replace('"', "\"\"");
        let duration = duration_s.map(|d| d.to_string()).unwrap_or_default();
        writeln!(f, "{onset_s},{duration},\"{quoted}\"")
            .map_err(|e| RecordError::io(&name, "writing events", e))
    }

    fn finish(&mut self) -> Result<String, RecordError> {
        self.flush()?;
        let frames = self.writer.as_ref().map_or(0, |w| w.frames_written());
        let path = self.path.display().to_string();
        if let Some(w) = self.writer.take() {
            w.finish()?
                .into_inner()
                .map_err(|e| RecordError::io(&path, "flushing", e))?
                .sync_all()
                .map_err(|e| RecordError::io(&path, "syncing", e))?;
        }
        if let Some((f, name)) = self.events.take() {
            f.into_inner()
                .map_err(|e| RecordError::io(&name, "writing events", e.into_error()))?
                .sync_all()
                .map_err(|e| RecordError::io(&name, "syncing", e))?;
        }
        Ok(format!("{}: {frames} rows", self.path.display()))
    }
}
