//! Helpers shared by the I/O stage tests: a `Capture` sink recording what reaches it, the
//! registry with it, temporary directories, and the Python interpreter for interop checks.
#![allow(dead_code)]

use neuropipe_core::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(unused_imports)]
pub use neuropipe_testkit::stages::{capture, Captured};

/// The stage library plus the test kit's stages (`Capture`: param `name`, the capture to fill).
pub fn registry() -> Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_testkit::stages::register(&mut r);
    r
}

/// Builds a pipeline from JSON, panicking with every problem if it is invalid.
pub fn build(v: Value) -> Pipeline {
    let cfg = PipelineConfig::from_value(&v).unwrap_or_else(|e| panic!("{e}"));
    Pipeline::build(&cfg, &registry()).unwrap_or_else(|e| panic!("{e}"))
}

/// The errors of an invalid pipeline.
pub fn build_errors(v: Value) -> Vec<ConfigError> {
    let cfg = PipelineConfig::from_value(&v).unwrap_or_else(|e| panic!("{e}"));
    match Pipeline::build(&cfg, &registry()) {
        Ok(_) => panic!("pipeline unexpectedly valid"),
        Err(e) => e.0,
    }
}

/// Builds and runs a pipeline to its end; panics unless it finished.
pub async fn run(v: Value) -> RunReport {
    let report = build(v).run().await;
    assert_eq!(report.outcome, Outcome::Finished, "pipeline failed");
    report
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neuropipe-stages-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[allow(unused_imports)] // not every test binary that includes this module uses it
pub use neuropipe_testkit::python;

/// Runs a Python script, panicking with its output if it fails; returns stdout.
pub fn run_python(python: &Path, args: &[&Path]) -> String {
    let out = Command::new(python)
        .args(args)
        .output()
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

pub fn write_f64(path: &Path, values: impl IntoIterator<Item = f64>) {
    let bytes: Vec<u8> = values.into_iter().flat_map(f64::to_le_bytes).collect();
    std::fs::write(path, bytes).unwrap();
}

pub fn read_f64(path: &Path) -> Vec<f64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Writes a small EDF+/BDF+ file with neuropipe's writer: `channels` sines at `rate` Hz for
/// `seconds`, 1 s records, the given annotations; if `gap_after` is `Some(r)`, the file is
/// discontinuous (EDF+D) with a 2.5 s gap after record `r`. Returns the values written,
/// frame-major.
pub fn write_test_edf(
    path: &Path,
    format: neuropipe_io::edf::EdfFormat,
    channels: usize,
    rate: f64,
    seconds: usize,
    annotations: &[(f64, &str)],
    gap_after: Option<usize>,
) -> Vec<f64> {
    use neuropipe_io::datetime::DateTime;
    use neuropipe_io::edf::{EdfSpec, EdfWriter, SignalSpec};
    let signals = (0..channels)
        .map(|c| SignalSpec::new(format!("EEG {}", c + 1), rate, -500.0, 500.0))
        .collect();
    let mut spec = EdfSpec::new(format, DateTime::new(2024, 5, 6, 7, 8, 9).unwrap(), signals);
    spec.annotation_bytes_per_record = 120;
    spec.discontinuous = gap_after.is_some();
    let mut w = EdfWriter::create(path, &spec).unwrap();
    for (onset, text) in annotations {
        w.annotate(*onset, None, text).unwrap();
    }
    let spr = rate as usize;
    let mut all = vec![];
    for r in 0..seconds {
        if gap_after.is_some_and(|g| r == g + 1) {
            w.begin_record_at(r as f64 + 2.5).unwrap();
        }
        let data: Vec<f64> = (0..spr * channels)
            .map(|i| {
                let (f, c) = ((r * spr + i / channels) as f64, i % channels);
                200.0 * (std::f64::consts::TAU * (1.0 + c as f64) * f / rate).sin() + c as f64
            })
            .collect();
        w.write_frames(&data, channels).unwrap();
        all.extend(data);
    }
    w.finish().unwrap();
    all
}
