//! [`CsvWriter`]: one row per frame, timestamps in relative seconds.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::{CsvError, WholeRows};

/// Writes multichannel frames as CSV (see the [module docs](super)).
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: W,
    name: String,
    channels: usize,
    sample_rate: f64,
    frames: u64,
}

/// Quotes a header field when RFC 4180 (or a reader trimming spaces) needs it.
fn quote(label: &str) -> String {
    let needs = label.is_empty()
        || label.contains([',', '"', '\n', '\r'])
        || label.starts_with(' ')
        || label.ends_with(' ');
    if needs {
        format!("\"{}\"", label.replace('"', "\"\""))
    } else {
        label.to_string()
    }
}

impl CsvWriter<WholeRows<File>> {
    /// Creates (or truncates) the file at `path` and writes the header row. Rows reach the
    /// file whole or not at all (see [`WholeRows`]): a full disk never leaves half a row.
    pub fn create(
        path: impl AsRef<Path>,
        labels: &[&str],
        sample_rate: f64,
    ) -> Result<Self, CsvError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::create(path).map_err(|source| CsvError::Io {
            file: name.clone(),
            action: "creating the file".into(),
            source,
        })?;
        CsvWriter::new(WholeRows::file(file, 0), name, labels, sample_rate)
    }
}

impl<W: Write> CsvWriter<W> {
    /// Writes the header row `timestamp_s,<labels…>` to `out`. Frames written
    /// with [`write_frames`](Self::write_frames) get timestamps `n / sample_rate`.
    pub fn new(
        mut out: W,
        name: impl Into<String>,
        labels: &[&str],
        sample_rate: f64,
    ) -> Result<Self, CsvError> {
        let name = name.into();
        if labels.is_empty() {
            return Err(CsvError::Usage {
                file: name,
                problem: "no channel labels".into(),
            });
        }
        if !(sample_rate.is_finite() && sample_rate > 0.0) {
            return Err(CsvError::Usage {
                file: name,
                problem: format!("sample rate {sample_rate} Hz is not a positive number"),
            });
        }
        let mut header = String::from("timestamp_s");
        for l in labels {
            header.push(',');
            header.push_str(&quote(l));
        }
        header.push('\n');
        if let Err(source) = out.write_all(header.as_bytes()) {
            return Err(CsvError::Io {
                file: name,
                action: "writing the header row".into(),
                source,
            });
        }
        Ok(CsvWriter {
            out,
            name,
            channels: labels.len(),
            sample_rate,
            frames: 0,
        })
    }

    /// Number of channels (labels).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    fn io(&self, action: &str, source: std::io::Error) -> CsvError {
        CsvError::Io {
            file: self.name.clone(),
            action: action.to_string(),
            source,
        }
    }

    fn row(&mut self, t: f64, frame: &[f64]) -> Result<(), CsvError> {
        let mut write = || -> std::io::Result<()> {
            write!(self.out, "{t}")?;
            for x in frame {
                write!(self.out, ",{x}")?;
            }
            self.out.write_all(b"\n")
        };
        write().map_err(|e| self.io("writing a row", e))?;
        self.frames += 1;
        Ok(())
    }

    /// Writes frame-major values (`data.len()` a multiple of the channel
    /// count), timestamped `n / sample_rate` from the first frame.
    pub fn write_frames(&mut self, data: &[f64]) -> Result<(), CsvError> {
        if !data.len().is_multiple_of(self.channels) {
            return Err(CsvError::Usage {
                file: self.name.clone(),
                problem: format!(
                    "{} values are not a whole number of {}-channel frames",
                    data.len(),
                    self.channels
                ),
            });
        }
        for frame in data.chunks_exact(self.channels) {
            let t = self.frames as f64 / self.sample_rate;
            self.row(t, frame)?;
        }
        Ok(())
    }

    /// Writes one frame with an explicit timestamp (seconds).
    pub fn write_frame_at(&mut self, t: f64, frame: &[f64]) -> Result<(), CsvError> {
        if frame.len() != self.channels {
            return Err(CsvError::Usage {
                file: self.name.clone(),
                problem: format!(
                    "frame has {} values, expected {}",
                    frame.len(),
                    self.channels
                ),
            });
        }
        self.row(t, frame)
    }

    /// Flushes buffered rows to the underlying writer.
    pub fn flush(&mut self) -> Result<(), CsvError> {
        self.out.flush().map_err(|e| self.io("flushing", e))
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, CsvError> {
        self.flush()?;
        Ok(self.out)
    }
}
