//! Interoperability with the reference Python readers and writers.
//!
//! Files written by `EdfWriter` must open in MNE, pyedflib and edfio with the
//! same labels, rate, sample count, start, annotations and data within
//! 0.5 LSB (checked by `scripts/io/check_edf.py`); files written by edfio
//! (`scripts/io/write_reference.py`) must read back in `EdfReader` to the
//! same samples.
//!
//! Python comes from `NEUROPIPE_PYTHON`, or else the workspace's `.venv`
//! (made by `bash scripts/venv.sh`). Without it the tests print why and
//! pass, unless `CI` or `NEUROPIPE_REQUIRE_PYTHON` is set: then they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{EdfFormat, EdfReader, EdfSpec, EdfWriter, SignalSpec};
use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

use neuropipe_testkit::python;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "neuropipe-io-interop-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(python: &Path, args: &[&Path]) {
    let out = Command::new(python)
        .args(args)
        .output()
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{args:?} failed:\n{stdout}\n{stderr}");
}

fn write_f64(path: &Path, values: impl IntoIterator<Item = f64>) {
    let bytes: Vec<u8> = values.into_iter().flat_map(f64::to_le_bytes).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f64(path: &Path) -> Vec<f64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Writes a 4-channel file with annotations (some spilling to later records)
/// and its expectations JSON; returns (file, json).
fn write_rust_file(dir: &Path, format: EdfFormat) -> (PathBuf, PathBuf) {
    let ext = if format == EdfFormat::Edf {
        "edf"
    } else {
        "bdf"
    };
    let rate = 256.0;
    let start = DateTime::new(2024, 3, 5, 14, 7, 9).unwrap();
    let mut signals = vec![
        SignalSpec::new("EEG Fp1", rate, -3276.8, 3276.7),
        SignalSpec::new("EEG Fp2", rate, -500.0, 500.0),
        SignalSpec::new("EEG Cz", rate, -1000.0, 1000.0),
        SignalSpec::new("EEG Pz", rate, -200.0, 200.0),
    ];
    signals[2].digital_min = Some(-2048);
    signals[2].digital_max = Some(2047);
    signals[0].prefilter = "HP:0.1Hz LP:75Hz".into();
    signals[0].transducer = "AgAgCl electrode".into();
    let mut spec = EdfSpec::new(format, start, signals);
    spec.annotation_bytes_per_record = 120;
    spec.patient.name = "Test Subject".into();
    spec.recording.equipment = "neuropipe".into();

    let channels = spec.signals.len();
    let frames = (5.5 * rate) as usize; // 5.5 s: the last record is padded
    let data: Vec<f64> = (0..frames * channels)
        .map(|i| {
            let (f, c) = (i / channels, i % channels);
            let t = f as f64 / rate;
            let amp = [2500.0, 400.0, 900.0, 150.0][c];
            amp * (std::f64::consts::TAU * (3.0 + 4.0 * c as f64) * t).sin() + 0.37 * c as f64
        })
        .collect();

    let path = dir.join(format!("rust.{ext}"));
    let mut w = EdfWriter::create(&path, &spec).unwrap();
    let mut annotations = vec![
        json!([0.5, null, "eyes closed"]),
        json!([1.25, 0.75, "blink"]),
        json!([3.0, null, "stimulus ü"]),
    ];
    w.annotate(0.5, None, "eyes closed").unwrap();
    w.annotate(1.25, Some(0.75), "blink").unwrap();
    w.annotate(3.0, None, "stimulus ü").unwrap();
    for i in 0..12 {
        let onset = 4.0 + f64::from(i) * 0.01;
        let text = format!("tick {i}");
        w.annotate(onset, None, &text).unwrap();
        annotations.push(json!([onset, null, text]));
    }
    for chunk in data.chunks(channels * 100) {
        w.write_frames(chunk, channels).unwrap();
    }
    let summary = w.finish().unwrap();
    // The last record is padded, and the annotations still queued need one more record of
    // padding; both are marked by one padding annotation, so no annotation is lost.
    assert_eq!(summary.records, 7);
    assert_eq!(summary.extra_records, 1);
    assert_eq!(summary.annotations_written, 16);
    assert_eq!(summary.annotations_dropped, 0);
    assert_eq!(summary.clipped_samples, 0);
    annotations.push(json!([5.5, 1.5, neuropipe_io::edf::PADDING_ANNOTATION]));

    // Expected data, channel after channel, padded with the last value.
    let n = 7 * rate as usize;
    let expected = (0..channels).flat_map(|c| {
        let data = &data;
        (0..n).map(move |f| data[f.min(frames - 1) * channels + c])
    });
    let data_file = format!("rust.{ext}.f64");
    write_f64(&dir.join(&data_file), expected);
    let lsb: Vec<f64> = spec
        .signals
        .iter()
        .map(|s| {
            let (dmin, dmax) = format.digital_range();
            let (dmin, dmax) = (s.digital_min.unwrap_or(dmin), s.digital_max.unwrap_or(dmax));
            (s.physical_max - s.physical_min) / f64::from(dmax - dmin)
        })
        .collect();
    let expect = json!({
        "format": ext,
        "labels": spec.signals.iter().map(|s| s.label.clone()).collect::<Vec<_>>(),
        "sample_rate": rate,
        "n_samples": n,
        "start": "2024-03-05T14:07:09",
        "unit": "uV",
        "annotations": annotations,
        "data": data_file,
        "lsb": lsb,
    });
    let json_path = dir.join(format!("rust.{ext}.json"));
    std::fs::write(&json_path, serde_json::to_string_pretty(&expect).unwrap()).unwrap();
    (path, json_path)
}

#[test]
fn rust_files_open_in_mne_pyedflib_and_edfio() {
    let Some(py) = python() else { return };
    let dir = temp_dir("rust-written");
    let (edf, edf_json) = write_rust_file(&dir, EdfFormat::Edf);
    let (bdf, bdf_json) = write_rust_file(&dir, EdfFormat::Bdf);
    let script = workspace().join("scripts/io/check_edf.py");
    let expect = Path::new("--expect");
    run(
        &py,
        &[&script, &edf, expect, &edf_json, &bdf, expect, &bdf_json],
    );
}

#[test]
fn edfio_files_read_in_rust() {
    let Some(py) = python() else { return };
    let dir = temp_dir("edfio-written");
    run(
        &py,
        &[&workspace().join("scripts/io/write_reference.py"), &dir],
    );
    for ext in ["edf", "bdf"] {
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("edfio.{ext}.json"))).unwrap(),
        )
        .unwrap();
        let mut r = EdfReader::open(dir.join(format!("edfio.{ext}"))).unwrap();
        let format = if ext == "edf" {
            EdfFormat::Edf
        } else {
            EdfFormat::Bdf
        };
        assert_eq!(r.format(), format);
        let labels: Vec<&str> = exp["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(r.labels(), labels, "{ext}");
        assert_eq!(
            r.start().to_string(),
            format!("{}Z", exp["start"].as_str().unwrap())
        );
        let annotations: Vec<(f64, Option<f64>, String)> = r
            .annotations()
            .iter()
            .map(|a| (a.onset, a.duration, a.text.clone()))
            .collect();
        let want: Vec<(f64, Option<f64>, String)> = exp["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a[0].as_f64().unwrap(),
                    a[1].as_f64(),
                    a[2].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(annotations, want, "{ext}");
        for ch in 0..labels.len() {
            assert_eq!(
                r.sample_rate(ch),
                exp["sample_rates"][ch].as_f64().unwrap(),
                "{ext} ch {ch}"
            );
            let got = r.read_signal(ch).unwrap();
            let readback = read_f64(&dir.join(exp["readback"][ch].as_str().unwrap()));
            let original = read_f64(&dir.join(exp["original"][ch].as_str().unwrap()));
            let lsb = exp["lsb"][ch].as_f64().unwrap();
            assert_eq!(got.len(), readback.len(), "{ext} ch {ch}");
            for (k, ((g, b), o)) in got.iter().zip(&readback).zip(&original).enumerate() {
                assert!(
                    (g - b).abs() <= 1e-9 * lsb.max(1.0),
                    "{ext} ch {ch} sample {k}: {g} vs edfio {b}"
                );
                assert!(
                    (g - o).abs() <= 0.5 * lsb * (1.0 + 1e-9),
                    "{ext} ch {ch} sample {k}: {g} vs original {o}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
