//! I/O stages: recorders (EDF+, BDF+, CSV, XDF), file replay, the OpenBCI Cyton source and a
//! stdout summary — thin wrappers around the pure formats and devices of `neuropipe-io`.
//!
//! | stage | module |
//! |---|---|
//! | `EdfRecorder`, `BdfRecorder` | [`edf_recorder`] |
//! | `CsvRecorder` | [`csv_recorder`] |
//! | `XdfRecorder` | [`xdf_recorder`] |
//! | `FileReplay` | [`replay`] |
//! | `PushSource` | [`push`] |
//! | `CytonSource` | [`cyton`] |
//! | `StdoutSummary` | [`summary`] |
//!
//! Recorders share [`recorder`] (the stage loop: sample conversion into a preallocated
//! buffer, event annotations, lazy file creation) and [`timeline`] (pipeline events placed on
//! the file's time axis). [`paths`] resolves file names.

pub mod csv_recorder;
pub mod cyton;
mod cyton_reader;
pub mod edf_recorder;
pub mod paths;
pub mod push;
pub mod record_error;
pub mod recorder;
mod recorder_lanes;
pub mod replay;
mod replay_lane;
mod replay_reader;
mod replay_source;
mod replay_times;
pub mod summary;
pub mod timeline;
pub mod units;
mod writer;
pub mod xdf_recorder;
