//! BDF+ writer throughput, reported in MB/s (10⁶ bytes) of file written:
//!
//! ```text
//! cargo bench -p neuropipe-io --bench bdf_write
//! ```
//!
//! Writes 64 channels at 2048 Hz in 1 s records, pushed 32 frames at a time as a recorder
//! stage does, to a file in the temporary directory (so the figure includes the record-count
//! update after every record), plus the same into memory (encoding alone).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{EdfFormat, EdfSpec, EdfWriter, SignalSpec};
use std::hint::black_box;
use std::io::Cursor;

const CHANNELS: usize = 64;
const RATE: f64 = 2048.0;
const SECONDS: usize = 10;
const CHUNK: usize = 32;

fn spec() -> EdfSpec {
    let signals = (0..CHANNELS)
        .map(|c| SignalSpec::new(format!("EEG {c}"), RATE, -262_144.0, 262_143.0))
        .collect();
    EdfSpec::new(
        EdfFormat::Bdf,
        DateTime::new(2024, 1, 1, 0, 0, 0).expect("valid date"),
        signals,
    )
}

/// One second of signal, frame-major.
fn block() -> Vec<f64> {
    (0..RATE as usize * CHANNELS)
        .map(|i| 1000.0 * ((i / CHANNELS) as f64 * 0.01 + (i % CHANNELS) as f64).sin())
        .collect()
}

fn write_all<W: std::io::Write + std::io::Seek>(w: &mut EdfWriter<W>, block: &[f64]) {
    let frames = SECONDS * RATE as usize;
    let mut written = 0;
    while written < frames {
        let start = (written % RATE as usize) * CHANNELS;
        w.write_frames(black_box(&block[start..start + CHUNK * CHANNELS]), CHANNELS)
            .expect("write");
        written += CHUNK;
    }
}

fn bdf_write(c: &mut Criterion) {
    let spec = spec();
    let block = block();
    let path = std::env::temp_dir().join(format!("neuropipe-bench-{}.bdf", std::process::id()));
    // Size of the finished file: header + records.
    let bytes = {
        let mut w = EdfWriter::create(&path, &spec).expect("create");
        write_all(&mut w, &block);
        w.finish().expect("finish");
        std::fs::metadata(&path).expect("metadata").len()
    };
    let mut g = c.benchmark_group("bdf_write");
    g.throughput(Throughput::BytesDecimal(bytes));
    g.sample_size(20);
    g.bench_function("64ch_2048Hz_10s_file", |b| {
        b.iter(|| {
            let mut w = EdfWriter::create(&path, &spec).expect("create");
            write_all(&mut w, &block);
            w.finish().expect("finish")
        })
    });
    g.bench_function("64ch_2048Hz_10s_memory", |b| {
        b.iter(|| {
            let buf = Cursor::new(Vec::with_capacity(bytes as usize));
            let mut w = EdfWriter::new(buf, "memory", &spec).expect("header");
            write_all(&mut w, &block);
            w.finish_into_inner().expect("finish")
        })
    });
    g.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, bdf_write);
criterion_main!(benches);
