//! File formats and devices for neuropipe: EDF+/BDF+, CSV, XDF, OpenBCI Cyton.
//!
//! Pure, synchronous code with no dependency on the runtime crates:
//!
//! * [`edf`]: EDF+/BDF+ writer (valid at every moment while recording) and a
//!   validating reader for EDF, EDF+C/D, BDF and BDF+;
//! * [`csv`]: multichannel CSV writer and reader for replay;
//! * [`xdf`]: XDF writer (the format of LabRecorder and pyxdf);
//! * [`cyton`]: OpenBCI Cyton packet parser, scaling, commands and a simulator;
//! * [`datetime`]: the small calendar the EDF header needs.
//!
//! # Recording to BDF+ and reading it back
//!
//! ```
//! use std::io::Cursor;
//! use neuropipe_io::datetime::DateTime;
//! use neuropipe_io::edf::{EdfFormat, EdfReader, EdfSpec, EdfWriter, SignalSpec};
//!
//! let signals = vec![
//!     SignalSpec::new("EEG Fp1", 250.0, -187_500.0, 187_500.0),
//!     SignalSpec::new("EEG Fp2", 250.0, -187_500.0, 187_500.0),
//! ];
//! let spec = EdfSpec::new(EdfFormat::Bdf, DateTime::now_utc(), signals);
//! // `EdfWriter::create(path, &spec)` for a file; any `Write + Seek` works.
//! let mut w = EdfWriter::new(Cursor::new(Vec::new()), "demo.bdf", &spec)?;
//! w.annotate(0.5, None, "eyes closed")?;
//! let frames: Vec<f64> = (0..2 * 375).map(|i| i as f64).collect(); // 1.5 s, frame-major
//! w.write_frames(&frames, 2)?;
//! let (file, summary) = w.finish_into_inner()?; // pads the last record
//! assert_eq!(summary.records, 2);
//!
//! let mut r = EdfReader::from_bytes(file.into_inner())?;
//! assert_eq!(r.labels(), ["EEG Fp1", "EEG Fp2"]);
//! assert_eq!(r.annotations()[0].text, "eyes closed");
//! assert_eq!(r.read_signal(0)?.len(), 500);
//! # Ok::<(), neuropipe_io::edf::EdfError>(())
//! ```
//!
//! # Parsing a Cyton stream
//!
//! ```
//! use neuropipe_io::cyton::{CytonEvent, CytonParser, CytonSimulator, Gain, SimulatorConfig};
//!
//! let mut board = CytonSimulator::new(SimulatorConfig::default());
//! let mut bytes = Vec::new();
//! board.generate(10, &mut bytes);
//! let mut parser = CytonParser::new(Gain::X24);
//! let mut uv = Vec::new();
//! parser.push(&bytes, &mut |event| match event {
//!     CytonEvent::Sample(s) => uv.push(s.uv),
//!     CytonEvent::Gap { missing } => eprintln!("lost {missing} packets"),
//!     CytonEvent::Garbage { bytes } => eprintln!("skipped {bytes} bytes"),
//! });
//! assert_eq!(uv.len(), 10);
//! assert_eq!(uv[3], board.expected_uv(3));
//! ```
#![warn(unreachable_pub)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod csv;
pub mod cyton;
pub mod datetime;
pub mod edf;
pub mod xdf;

#[cfg(test)]
pub(crate) mod test_util {
    use std::path::PathBuf;

    /// A path in a per-process temporary directory.
    pub(crate) fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("neuropipe-io-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }
}
