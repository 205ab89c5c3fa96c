//! BDF writer throughput (ignored by default; run in release):
//!
//! ```text
//! cargo test -p neuropipe-io --release --test throughput -- --ignored --nocapture
//! ```
//!
//! Writes 64 channels at 2048 Hz (1 s records, pushed 32 frames at a time,
//! as a pipeline stage would) to a file in the temp directory and prints MB/s
//! of file written and samples per second.

use std::time::Instant;

use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{EdfFormat, EdfReader, EdfSpec, EdfWriter, SignalSpec};

#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn bdf_writer_throughput() {
    let (channels, rate, seconds, chunk) = (64usize, 2048.0, 120usize, 32usize);
    let signals = (0..channels)
        .map(|c| SignalSpec::new(format!("EEG {c}"), rate, -262_144.0, 262_143.97))
        .collect();
    let spec = EdfSpec::new(
        EdfFormat::Bdf,
        DateTime::new(2024, 1, 1, 0, 0, 0).unwrap(),
        signals,
    );
    let path =
        std::env::temp_dir().join(format!("neuropipe-throughput-{}.bdf", std::process::id()));
    let frames = seconds * rate as usize;
    // Precompute one second of data so the timing covers the writer only.
    let block: Vec<f64> = (0..rate as usize * channels)
        .map(|i| 1000.0 * ((i / channels) as f64 * 0.01 + (i % channels) as f64).sin())
        .collect();
    let mut w = EdfWriter::create(&path, &spec).unwrap();
    let t0 = Instant::now();
    let mut written = 0;
    while written < frames {
        let start = (written % rate as usize) * channels;
        w.write_frames(&block[start..start + chunk * channels], channels)
            .unwrap();
        written += chunk;
    }
    let summary = w.finish().unwrap();
    let dt = t0.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "BDF writer: {channels} ch × {rate} Hz × {seconds} s = {} records, {:.1} MB in {:.3} s: \
         {:.1} MB/s, {:.1} M samples/s ({:.0}× real time)",
        summary.records,
        bytes as f64 / 1e6,
        dt,
        bytes as f64 / 1e6 / dt,
        (frames * channels) as f64 / 1e6 / dt,
        seconds as f64 / dt
    );
    assert_eq!(
        EdfReader::open(&path).unwrap().num_records(),
        seconds as u64
    );
    std::fs::remove_file(&path).unwrap();
}
