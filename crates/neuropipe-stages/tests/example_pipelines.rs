//! The example pipelines that use files.
//!
//! * `pipelines/data/small.edf` is made by this test's generator (neuropipe's own writer,
//!   simulated EEG, three annotations): the test fails if the checked-in file differs;
//!   `NEUROPIPE_REGENERATE_DATA=1 cargo test -p neuropipe-stages --test example_pipelines`
//!   rewrites it.
//! * `replay_edf_to_csv.json` and `sim_to_bdf.json` run, their recordings redirected to a
//!   temporary directory, their input found relative to the pipeline file's directory.

mod common;
use common::*;
use neuropipe_core::{Outcome, Pipeline, PipelineConfig};
use neuropipe_io::csv::CsvReader;
use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{EdfFormat, EdfReader, EdfSpec, EdfWriter, SignalSpec};
use neuropipe_stages::simulated::{Generator, SignalModel};
use serde_json::Value;
use std::io::Cursor;
use std::time::Duration;

const LABELS: [&str; 8] = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"];
const ANNOTATIONS: [(f64, &str); 3] = [(2.0, "eyes closed"), (5.5, "blink"), (8.0, "eyes open")];

/// The bytes of `pipelines/data/small.edf`: 8 channels of simulated EEG, 250 Hz, 10 s,
/// EDF+ with 0.1 µV resolution, three annotations.
fn small_edf() -> Vec<u8> {
    let rate = 250.0;
    let model = SignalModel {
        rate,
        alpha_uv: 20.0,
        alpha_hz: 10.0,
        line_hz: 50.0,
        line_uv: 5.0,
        noise_uv: 8.0,
        drift_uv: 30.0,
        blink_interval_s: 4.0,
        blink_uv: 150.0,
        dc_offset_uv: 0.0,
    };
    let mut gen = Generator::new(model, &LABELS, 7);
    let signals = LABELS
        .iter()
        .map(|l| {
            let mut s = SignalSpec::new(*l, rate, -3276.8, 3276.7);
            s.transducer = "simulated".into();
            s
        })
        .collect();
    let mut spec = EdfSpec::new(
        EdfFormat::Edf,
        DateTime::new(2024, 1, 1, 12, 0, 0).unwrap(),
        signals,
    );
    spec.annotation_bytes_per_record = 64;
    spec.recording.equipment = "neuropipe".into();
    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "small.edf", &spec).unwrap();
    for (onset, text) in ANNOTATIONS {
        w.annotate(onset, None, text).unwrap();
    }
    let mut frame = [0.0; 8];
    for f in 0..2500 {
        gen.frame(f, &mut frame);
        w.write_frames(&frame, 8).unwrap();
    }
    let (out, summary) = w.finish_into_inner().unwrap();
    assert_eq!(summary.clipped_samples, 0);
    out.into_inner()
}

#[test]
fn example_edf_is_reproducible_and_small() {
    let path = workspace().join("pipelines/data/small.edf");
    let bytes = small_edf();
    assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
    if std::env::var_os("NEUROPIPE_REGENERATE_DATA").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let on_disk = std::fs::read(&path).unwrap_or_default();
    assert!(
        on_disk == bytes,
        "{} differs from its generator: rerun with NEUROPIPE_REGENERATE_DATA=1",
        path.display()
    );
    let r = EdfReader::open(&path).unwrap();
    assert_eq!(r.labels(), LABELS);
    assert_eq!(r.num_records(), 10);
}

/// Loads `pipelines/NAME`, with every recorder's output moved into `dir`.
fn load(name: &str, dir: &std::path::Path) -> PipelineConfig {
    let text = std::fs::read_to_string(workspace().join("pipelines").join(name)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for stage in v["stages"].as_array_mut().unwrap() {
        if !stage["type"].as_str().unwrap().ends_with("Recorder") {
            continue;
        }
        for key in ["path", "events_path"] {
            if let Some(p) = stage["params"][key].as_str() {
                assert!(
                    !p.starts_with('/'),
                    "example recordings are relative to the pipeline file"
                );
                stage["params"][key] = Value::from(dir.join(p).to_str().unwrap());
            }
        }
    }
    // Read from its file: relative inputs resolve against `pipelines/`.
    PipelineConfig::from_value(&v)
        .unwrap()
        .located_at(&workspace().join("pipelines").join(name))
}

/// The one file in `dir` named `prefix…suffix` (the examples name recordings with templates).
fn find_one(dir: &std::path::Path, prefix: &str, suffix: &str) -> std::path::PathBuf {
    let found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(prefix) && name.ends_with(suffix) && !name.ends_with(".events.csv")
                || suffix == ".events.csv" && name.starts_with(prefix) && name.ends_with(suffix)
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{prefix}*{suffix} in {}: {found:?}",
        dir.display()
    );
    found[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_pipelines_run() {
    let dir = temp_dir("examples");
    let reg = neuropipe_stages::registry();

    let p = Pipeline::build(&load("replay_edf_to_csv.json", &dir), &reg).unwrap();
    assert_eq!(p.run().await.outcome, Outcome::Finished);
    let data = CsvReader::open(find_one(&dir, "replay_out_", ".csv"))
        .unwrap()
        .read_all()
        .unwrap();
    assert_eq!(data.labels, LABELS);
    assert_eq!(data.frames.len(), 2500 * 8);
    let events = std::fs::read_to_string(find_one(&dir, "replay_out_", ".events.csv")).unwrap();
    assert_eq!(
        events, "onset_s,duration_s,text\n2,,\"eyes closed\"\n5.5,,\"blink\"\n8,,\"eyes open\"\n",
        "markers land on their sample"
    );

    let p = Pipeline::build(&load("sim_to_bdf.json", &dir), &reg).unwrap();
    let h = p.handle();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1300)).await;
        h.stop();
    });
    assert_eq!(p.run().await.outcome, Outcome::Finished);
    let r = EdfReader::open(find_one(&dir, "recording_", "_1.bdf")).unwrap();
    assert_eq!(r.signals().len(), 8);
    assert!(r.num_records() >= 1, "{} records", r.num_records());
    std::fs::remove_dir_all(&dir).unwrap();
}
