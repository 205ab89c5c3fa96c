//! The error type of the EDF reader and writer.

use super::layout::SpecPart;
use std::io;

/// Everything that can go wrong reading or writing an EDF/BDF file.
///
/// Every variant names the file (`<memory>` for in-memory data, or the name
/// given to [`EdfWriter::new`](super::EdfWriter::new) /
/// [`EdfReader::new`](super::EdfReader::new)).
#[derive(Debug, thiserror::Error)]
pub enum EdfError {
    /// An I/O operation failed (unwritable path, full disk, short read, …).
    #[error("{file}: {action}: {source}")]
    Io {
        /// The file.
        file: String,
        /// What was being done, e.g. `writing data record 12`.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A header field is malformed or inconsistent.
    #[error("{file}: byte {offset}: field \"{field}\"{}: {problem}", signal_suffix(*.signal))]
    Field {
        /// The file.
        file: String,
        /// Byte offset of the field in the file.
        offset: u64,
        /// The field's name as in the specification, e.g. `number of data records`.
        field: &'static str,
        /// For per-signal fields, the 1-based signal number.
        signal: Option<usize>,
        /// What is wrong.
        problem: String,
    },
    /// The data (records, annotations) are malformed.
    #[error("{file}: byte {offset}: {problem}")]
    Data {
        /// The file.
        file: String,
        /// Byte offset of the problem in the file.
        offset: u64,
        /// What is wrong.
        problem: String,
    },
    /// The [`EdfSpec`](super::EdfSpec) given to the writer cannot be written.
    #[error("{file}: invalid spec: {problem}")]
    Spec {
        /// The file.
        file: String,
        /// Which part of the spec is wrong.
        part: SpecPart,
        /// What is wrong.
        problem: String,
    },
    /// A call that does not fit the file or the writer's state.
    #[error("{file}: {problem}")]
    Usage {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

fn signal_suffix(signal: Option<usize>) -> String {
    signal
        .map(|s| format!(" of signal {s}"))
        .unwrap_or_default()
}
