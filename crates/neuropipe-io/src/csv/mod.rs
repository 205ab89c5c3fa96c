//! Multichannel CSV: a writer for recordings and a reader for replay.
//!
//! Layout: a header row `timestamp_s,<label1>,<label2>,…` (labels quoted as
//! RFC 4180 says when they contain a comma, a quote, a line break, or
//! leading/trailing spaces), then one row per frame: the time in seconds
//! relative to the first frame, then one value per channel. Values are
//! written in Rust's shortest round-trip form, so reading gives back the
//! exact `f64`s (`NaN` and `inf` included).
//!
//! The reader accepts the same files, with or without the timestamp column
//! (recognised by a first header field named `timestamp_s`, `timestamp`,
//! `time_s` or `time`, any case), and reports errors as `file:line:column`.

mod reader;
mod whole_rows;
mod writer;

pub use reader::{CsvData, CsvFrame, CsvReader};
pub use whole_rows::WholeRows;
pub use writer::CsvWriter;

use std::io;

/// Errors of the CSV reader and writer; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// An I/O operation failed.
    #[error("{file}: {action}: {source}")]
    Io {
        /// The file.
        file: String,
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Malformed content, at a 1-based line and column (in bytes).
    #[error("{file}:{line}:{column}: {problem}")]
    Parse {
        /// The file.
        file: String,
        /// Line, from 1.
        line: u64,
        /// Column, from 1, in bytes.
        column: u64,
        /// What is wrong.
        problem: String,
    },
    /// A call that does not fit the file (wrong channel count, …).
    #[error("{file}: {problem}")]
    Usage {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

/// Header names recognised as a timestamp column (compared ignoring case).
pub const TIMESTAMP_NAMES: [&str; 4] = ["timestamp_s", "timestamp", "time_s", "time"];

#[cfg(test)]
mod tests;
