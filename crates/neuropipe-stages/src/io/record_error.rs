//! [`RecordError`]: why a recording's file could not be written.

use neuropipe_io::csv::CsvError;
use neuropipe_io::edf::EdfError;

/// Why a [`RecordFile`](super::recorder::RecordFile) could not be written. Every variant
/// names the file; the cause stays reachable as the error's source, and the recorder reports
/// it as `StageError::Fatal` with this error as its source.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The EDF/BDF writer failed (its message names the file and, where it applies, the byte
    /// offset).
    #[error(transparent)]
    Edf(#[from] EdfError),
    /// The CSV writer failed (its message names the file).
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// The XDF writer failed on `file`.
    #[error("{file}: {source}")]
    Xdf {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: neuropipe_io::xdf::XdfError,
    },
    /// An I/O error on `file` while doing `action`.
    #[error("{file}: {action}: {source}")]
    Io {
        /// The file.
        file: String,
        /// What was being done (e.g. `writing events`).
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file was used before it was created or after it was finished.
    #[error("{file}: the file is not open")]
    NotOpen {
        /// The file.
        file: String,
    },
    /// An annotation the file cannot take now (it is skipped with a warning; the recording
    /// goes on).
    #[error("{file}: annotation not written: {problem}")]
    Annotation {
        /// The file.
        file: String,
        /// Why not.
        problem: String,
    },
    /// A format defined outside this crate failed; its error says where.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl RecordError {
    /// An I/O error on `file` while doing `action`.
    pub fn io(file: impl std::fmt::Display, action: &'static str, source: std::io::Error) -> Self {
        RecordError::Io {
            file: file.to_string(),
            action,
            source,
        }
    }
}
