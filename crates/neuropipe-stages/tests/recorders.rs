//! `EdfRecorder`, `BdfRecorder`, `CsvRecorder`: what a pipeline sends is what the files hold
//! (read back with neuropipe's readers and, when the Python venv is there, with MNE, pyedflib
//! and edfio), pipeline events become annotations, bad settings are validation errors.

mod common;
use common::*;
use neuropipe_core::{ControlMsg, PayloadKind, StreamInfo, VoltageEegPacket};
use neuropipe_io::csv::CsvReader;
use neuropipe_io::edf::EdfReader;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// Checks an EDF/BDF file against the frames sent (frame-major f64): labels, rate, every
/// frame within 0.5 LSB, the last record padded with the last value; then, with Python,
/// that MNE, pyedflib and edfio read the same (labels, rate, count, start, annotations,
/// data).
fn check_edf_file(path: &Path, sent: &[f64], labels: &[&str], rate: f64, unit: &str) {
    let ch = labels.len();
    let frames = sent.len() / ch;
    let mut r = EdfReader::open(path).unwrap();
    assert_eq!(r.labels(), labels, "{}", path.display());
    let n = r.num_samples(0) as usize;
    let spr = r.signals()[0].samples_per_record;
    assert_eq!(
        n,
        frames.div_ceil(spr) * spr,
        "whole records, the last padded"
    );
    let mut lsb = vec![];
    let mut expected = Vec::with_capacity(ch * n);
    for c in 0..ch {
        assert_eq!(r.sample_rate(c), rate);
        assert_eq!(r.signals()[c].physical_dimension, unit);
        let l = r.signals()[c].lsb();
        lsb.push(l);
        let got = r.read_signal(c).unwrap();
        for (k, g) in got.iter().enumerate() {
            let want = sent[k.min(frames - 1) * ch + c];
            assert!(
                (g - want).abs() <= 0.5 * l * (1.0 + 1e-9),
                "{} ch {c} sample {k}: {g} vs {want} (lsb {l})",
                path.display()
            );
            expected.push(want);
        }
    }
    let Some(py) = python() else { return };
    let exp_path = path.with_extension("expect.json");
    let data_path = path.with_extension("expect.f64");
    write_f64(&data_path, expected);
    let format = if r.format() == neuropipe_io::edf::EdfFormat::Bdf {
        "bdf"
    } else {
        "edf"
    };
    let start = r.start().to_string();
    let annotations: Vec<_> = r
        .annotations()
        .iter()
        .map(|a| json!([a.onset, a.duration, a.text]))
        .collect();
    let expect = json!({
        "format": format,
        "labels": labels,
        "sample_rate": rate,
        "n_samples": n,
        "start": start.trim_end_matches('Z'),
        "unit": unit,
        "annotations": annotations,
        "data": data_path.file_name().unwrap().to_str().unwrap(),
        "lsb": lsb,
    });
    std::fs::write(&exp_path, serde_json::to_string_pretty(&expect).unwrap()).unwrap();
    let script = workspace().join("scripts/io/check_edf.py");
    run_python(&py, &[&script, path, Path::new("--expect"), &exp_path]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edf_bdf_and_csv_files_hold_exactly_the_frames_sent() {
    let dir = temp_dir("readback");
    let (edf, bdf, csv) = (
        dir.join("rec.edf"),
        dir.join("rec.bdf"),
        dir.join("rec.csv"),
    );
    run(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 4, "sample_rate": 250, "frames": 16, "realtime": false, "duration_s": 5.3}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "edf", "type": "EdfRecorder", "params": {"path": edf}},
            {"id": "bdf", "type": "BdfRecorder", "params": {"path": bdf, "record_duration_s": 0.5}},
            {"id": "csv", "type": "CsvRecorder", "params": {"path": csv}},
            {"id": "cap", "type": "Capture", "params": {"name": "readback"}}
        ],
        "links": ["eeg.out -> volts.in", "volts.out -> edf.in", "volts.out -> bdf.in",
                  "volts.out -> csv.in", "volts.out -> cap.in"]
    }))
    .await;
    let cap = capture("readback");
    let cap = cap.lock().unwrap();
    assert_eq!(cap.frames(), 1325);
    // EDF+ labels carry the channel type (`EEG Fp1`); CSV columns are the bare labels.
    let labels = ["Fp1", "Fp2", "C3", "C4"];
    let typed = ["EEG Fp1", "EEG Fp2", "EEG C3", "EEG C4"];
    check_edf_file(&edf, &cap.samples, &typed, 250.0, "uV");
    check_edf_file(&bdf, &cap.samples, &typed, 250.0, "uV");
    assert_eq!(EdfReader::open(&bdf).unwrap().num_records(), 11); // 0.5 s records

    let data = CsvReader::open(&csv).unwrap().read_all().unwrap();
    assert_eq!(data.labels, labels);
    assert_eq!(data.frames, cap.samples, "CSV values are exact");
    let t = data.timestamps.unwrap();
    assert_eq!(t.len(), 1325);
    for (k, &x) in t.iter().enumerate() {
        assert_eq!(x, (k as u64 * 4_000_000) as f64 / 1e9, "row {k}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_counts_are_recorded_losslessly_in_bdf() {
    let dir = temp_dir("raw");
    let bdf = dir.join("raw.bdf");
    run(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 3, "realtime": false, "duration_s": 2.0, "dc_offset_uv": 150000}},
            {"id": "bdf", "type": "BdfRecorder", "params": {"path": bdf}},
            {"id": "cap", "type": "Capture", "params": {"name": "raw"}}
        ],
        "links": ["eeg.out -> bdf.in", "eeg.out -> cap.in"]
    }))
    .await;
    let cap = capture("raw");
    let cap = cap.lock().unwrap();
    let mut r = EdfReader::open(&bdf).unwrap();
    assert_eq!(r.signals()[0].physical_dimension, "counts");
    for c in 0..3 {
        let digital = r.read_digital(c).unwrap();
        let sent: Vec<i32> = cap
            .samples
            .iter()
            .skip(c)
            .step_by(3)
            .map(|&x| x as i32)
            .collect();
        assert_eq!(digital, sent, "channel {c}: digital values are the counts");
        assert_eq!(r.read_signal(c).unwrap()[7], sent[7] as f64);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn recorder_pipeline(kind: &str, params: serde_json::Value) -> serde_json::Value {
    json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"realtime": false, "duration_s": 1.0}},
            {"id": "rec", "type": kind, "params": params}
        ],
        "links": ["eeg.out -> rec.in"]
    })
}

#[test]
fn bad_settings_and_unwritable_paths_are_validation_errors() {
    let dir = temp_dir("validation");
    let ok = dir.join("ok.edf");
    let errs = build_errors(recorder_pipeline(
        "EdfRecorder",
        json!({"path": ok, "record_duration_s": 0.003}),
    ));
    assert_eq!(
        errs[0].path, "$.stages[1].params.record_duration_s",
        "{errs:?}"
    );
    assert!(
        errs[0].message.contains("not a whole number"),
        "{}",
        errs[0].message
    );
    assert!(!ok.exists(), "an invalid recorder creates no file");

    let bad = "/nonexistent-neuropipe-dir/x.bdf";
    for kind in ["EdfRecorder", "BdfRecorder", "CsvRecorder"] {
        let errs = build_errors(recorder_pipeline(kind, json!({"path": bad})));
        assert_eq!(errs[0].path, "$.stages[1].params.path", "{kind}");
        assert!(
            errs[0].message.contains(&format!("cannot create {bad}")),
            "{kind}: {}",
            errs[0].message
        );
    }
    let errs = build_errors(recorder_pipeline(
        "BdfRecorder",
        json!({"path": ok, "physical_min": 10, "physical_max": -10}),
    ));
    assert_eq!(errs[0].path, "$.stages[1].params.physical_max");

    // Validation only: a new file is not left behind, an existing one is not touched.
    drop(build(recorder_pipeline("BdfRecorder", json!({"path": ok}))));
    assert!(!ok.exists());
    std::fs::write(&ok, b"keep me").unwrap();
    // An existing recording is never replaced unless asked.
    for kind in ["EdfRecorder", "BdfRecorder", "CsvRecorder"] {
        let errs = build_errors(recorder_pipeline(kind, json!({"path": ok})));
        assert_eq!(errs[0].path, "$.stages[1].params.path", "{kind}");
        assert!(
            errs[0].message.contains("exists and would be replaced"),
            "{kind}: {}",
            errs[0].message
        );
    }
    drop(build(recorder_pipeline(
        "EdfRecorder",
        json!({"path": ok, "overwrite": true}),
    )));
    assert_eq!(std::fs::read(&ok).unwrap(), b"keep me");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Annotations of an EDF file as (onset, text).
fn annotations(path: &Path) -> Vec<(f64, String)> {
    EdfReader::open(path)
        .unwrap()
        .annotations()
        .iter()
        .map(|a| (a.onset, a.text.clone()))
        .collect()
}

fn find<'a>(anns: &'a [(f64, String)], prefix: &str) -> &'a (f64, String) {
    anns.iter()
        .find(|a| a.1.starts_with(prefix))
        .unwrap_or_else(|| panic!("no annotation starting {prefix:?} in {anns:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_events_become_annotations_where_they_happened() {
    let dir = temp_dir("events");
    let (edf, csv, events) = (
        dir.join("ev.edf"),
        dir.join("ev.csv"),
        dir.join("ev.events.csv"),
    );
    let p = build(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 2, "frames": 10}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "edf", "type": "EdfRecorder", "params": {"path": edf, "record_duration_s": 0.2}},
            {"id": "csv", "type": "CsvRecorder", "params": {"path": csv, "events_path": events}},
            {"id": "cap", "type": "Capture", "params": {"name": "events"}}
        ],
        "links": ["eeg.out -> volts.in", "volts.out -> edf.in", "volts.out -> csv.in", "volts.out -> cap.in"]
    }));
    let h = p.handle();
    let run = tokio::spawn(p.run());
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.set_param("eeg", "alpha_uv", json!(5.0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.pause("eeg").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    h.resume("eeg").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    h.stop();
    let report = run.await.unwrap();
    assert_eq!(report.outcome, neuropipe_core::Outcome::Finished);

    // EDF: a contiguous time axis; the pause has no length in the file.
    let anns = annotations(&edf);
    println!("EDF annotations: {anns:?}");
    let near = |t: f64, want: f64, what: &str| {
        assert!(
            (t - want).abs() < 0.2,
            "{what} at {t} s, expected about {want} s"
        );
    };
    near(find(&anns, "eeg: alpha_uv = 5").0, 0.5, "parameter change");
    let paused = find(&anns, "paused eeg").0;
    near(paused, 0.8, "pause");
    let resumed = find(&anns, "resumed eeg").0;
    assert!(
        (resumed - paused).abs() < 0.05,
        "pause and resume meet in a contiguous file"
    );
    let disc = find(&anns, "discontinuity").clone();
    assert!((disc.0 - resumed).abs() < 0.05, "{disc:?}");
    let gap: f64 = disc.1["discontinuity: ".len()..]
        .trim_end_matches(" s gap")
        .parse()
        .unwrap();
    near(gap, 0.4, "timestamp gap");
    near(find(&anns, "stop requested").0, 1.2, "stop");

    // CSV: the time column follows the timestamps; events go to the events file.
    let text = std::fs::read_to_string(&events).unwrap();
    println!("{text}");
    let rows: Vec<(f64, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let (t, rest) = l.split_once(',').unwrap();
            let (_duration, s) = rest.split_once(',').unwrap();
            (t.parse().unwrap(), s.trim_matches('"').to_string())
        })
        .collect();
    near(find(&rows, "paused eeg").0, 0.8, "pause (csv)");
    near(find(&rows, "resumed eeg").0, 1.2, "resume (csv)");
    near(find(&rows, "discontinuity").0, 1.2, "discontinuity (csv)");
    let data = CsvReader::open(&csv).unwrap().read_all().unwrap();
    let t = data.timestamps.unwrap();
    let jump = t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    near(jump, 0.4, "largest step of the CSV time column");

    let cap = capture("events");
    let cap = cap.lock().unwrap();
    check_edf_file(&edf, &cap.samples, &["EEG Fp1", "EEG Fp2"], 250.0, "uV");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An operator's marker (`PipelineHandle::mark`: the dashboard, `ctl mark`, `POST
/// /api/markers`) is written into the recording at the sample captured when it arrived;
/// texts a recording could not hold as given are refused, not altered.
#[test]
fn operator_markers_land_in_the_recording_at_their_sample() {
    let dir = temp_dir("operator-marker");
    let edf = dir.join("marked.edf");
    let p = build(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 2, "sample_rate": 250, "frames": 10}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "rec", "type": "EdfRecorder", "params": {"path": edf, "overwrite": true}},
            {"id": "cap", "type": "Capture", "params": {"name": "operator-marker"}}
        ],
        "links": ["eeg.out -> volts.in", "volts.out -> rec.in", "volts.out -> cap.in"]
    }));
    let h = p.handle();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let marked = rt.block_on(async move {
        let run = tokio::spawn(p.run());
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(h.mark("  "), Err(neuropipe_core::MarkError::Empty));
        assert!(matches!(
            h.mark("line\nbreak"),
            Err(neuropipe_core::MarkError::Control { code: 10 })
        ));
        assert!(matches!(
            h.mark(&"x".repeat(201)),
            Err(neuropipe_core::MarkError::TooLong { bytes: 201 })
        ));
        let ev = h.mark("eyes closed").expect("a valid marker");
        tokio::time::sleep(Duration::from_millis(600)).await;
        h.stop();
        run.await.unwrap();
        ev.time_ns
    });
    // The frame whose timestamp the marker matches, from the packets themselves.
    let cap = capture("operator-marker");
    let cap = cap.lock().unwrap();
    let mut expected = None;
    for hd in &cap.headers {
        for k in 0..hd.frames() {
            let t = hd.timestamp + (k as f64 * 1e9 / 250.0) as u64;
            if t <= marked {
                expected = Some(hd.first_frame + k as u64);
            }
        }
    }
    let expected = expected.expect("the marker falls within the recorded data") as i64;
    let r = EdfReader::open(&edf).unwrap();
    let onsets: Vec<i64> = r
        .annotations()
        .iter()
        .filter(|a| a.text == "eyes closed")
        .map(|a| (a.onset * 250.0).round() as i64)
        .collect();
    assert_eq!(onsets.len(), 1, "exactly one marker: {:?}", r.annotations());
    assert!(
        (onsets[0] - expected).abs() <= 1,
        "marker at sample {} but captured at sample {expected}",
        onsets[0]
    );
    assert!(
        r.annotations().iter().all(|a| !a.text.contains("line")),
        "refused markers are not recorded"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Frames `first..first + 25` of 2 channels, frame-major: channel 0 = frame, channel 1 = −frame.
fn ramp(first: u64) -> Vec<f32> {
    (first..first + 25)
        .flat_map(|f| [f as f32, -(f as f32)])
        .collect()
}

/// A marker set just before a stop lies on its nearest frame, which can be the first frame
/// of a packet starting (by less than half a frame) after the stop: that packet is recorded.
#[test]
fn a_stop_keeps_the_frame_a_marker_just_before_it_lies_on() {
    use neuropipe_core::testing::Harness;
    let dir = temp_dir("stop-half-frame");
    let path = dir.join("session.bdf");
    let mut info = StreamInfo::new("test", 250.0, 2, "uV", 25, PayloadKind::F32);
    info.start_unix_ns = 1_780_000_000_000_000_000;
    let mut h = Harness::new(neuropipe_stages::io::edf_recorder::bdf_spec())
        .param("path", path.to_str().unwrap())
        .input::<VoltageEegPacket>("in", info)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<VoltageEegPacket>(25, 2);
    for k in 0..4 {
        h.push("in", Harness::packet(&pool, k * 25, &ramp(k * 25)));
    }
    let before_stop = h.now_ns();
    h.control(ControlMsg::UpdateParam("recording".into(), json!(false)))
        .unwrap();
    // Starts just under half a frame (2 ms at 250 Hz) after a moment before the stop: a
    // marker set then may lie on its first frame.
    let mut p = Harness::packet(&pool, 100, &ramp(100));
    p.header.timestamp = before_stop + 2_000_000 - 1;
    p.header.emitted = p.header.timestamp;
    h.push("in", p);
    // Half a frame or more after: not recorded.
    let mut p = Harness::packet(&pool, 125, &ramp(125));
    p.header.timestamp = u64::MAX / 4;
    p.header.emitted = u64::MAX / 4;
    h.push("in", p);
    h.finish().unwrap();
    let kept: Vec<f64> = (0..5).flat_map(|k| ramp(k * 25)).map(f64::from).collect();
    check_edf_file(&path, &kept, &["EEG Ch1", "EEG Ch2"], 250.0, "uV");
}

#[test]
fn recording_stops_and_starts_at_run_time_into_a_new_file_each_time() {
    use neuropipe_core::testing::Harness;
    let dir = temp_dir("ondemand");
    let path = dir.join("session.bdf");
    let mut info = StreamInfo::new("test", 250.0, 2, "uV", 25, PayloadKind::F32);
    info.start_unix_ns = 1_780_000_000_000_000_000; // 2026: EDF dates start in 1985
    let mut h = Harness::new(neuropipe_stages::io::edf_recorder::bdf_spec())
        .param("path", path.to_str().unwrap())
        .input::<VoltageEegPacket>("in", info)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<VoltageEegPacket>(25, 2);
    let readouts = |h: &Harness| h.snapshot().readouts.expect("a recorder has readouts");
    for k in 0..4 {
        h.push("in", Harness::packet(&pool, k * 25, &ramp(k * 25)));
    }
    // Stop: the file is completed and closed once the data captured before it are in; what
    // comes after is not recorded.
    let stop = h.control(ControlMsg::UpdateParam("recording".into(), json!(false)));
    assert_eq!(
        stop,
        Ok(json!({"recording": false, "file": path.to_str().unwrap()}))
    );
    // Packets captured after the stop (the file closes before the first of them).
    for k in 4..6 {
        let mut p = Harness::packet(&pool, k * 25, &ramp(k * 25));
        p.header.timestamp = u64::MAX / 4;
        p.header.emitted = u64::MAX / 4;
        h.push("in", p);
    }
    let r = readouts(&h);
    assert_eq!(r.value("file", "recording"), Some(0.0));
    assert_eq!(r.value("file", "duration"), Some(100.0 / 250.0));
    assert_eq!(
        r.value("file", "size"),
        Some(std::fs::metadata(&path).unwrap().len() as f64)
    );
    let first: Vec<f64> = (0..4).flat_map(|k| ramp(k * 25)).map(f64::from).collect();
    check_edf_file(&path, &first, &["EEG Ch1", "EEG Ch2"], 250.0, "uV");
    // Asking again is no change.
    assert_eq!(
        h.control(ControlMsg::UpdateParam("recording".into(), json!(false))),
        Ok(json!({"recording": false, "file": path.to_str().unwrap()}))
    );

    // Start: a new file, named from the path with a number (the first one is kept).
    let second = dir.join("session_1.bdf");
    assert_eq!(
        h.control(ControlMsg::UpdateParam("recording".into(), json!(true))),
        Ok(json!({"recording": true, "file": second.to_str().unwrap()}))
    );
    for k in 6..9 {
        h.push("in", Harness::packet(&pool, k * 25, &ramp(k * 25)));
    }
    let r = readouts(&h);
    assert_eq!(r.value("file", "recording"), Some(1.0));
    assert_eq!(r.value("file", "files"), Some(2.0));
    assert_eq!(r.status, second.to_str().unwrap());
    h.finish().unwrap();
    let later: Vec<f64> = (6..9).flat_map(|k| ramp(k * 25)).map(f64::from).collect();
    check_edf_file(&second, &later, &["EEG Ch1", "EEG Ch2"], 250.0, "uV");
    check_edf_file(&path, &first, &["EEG Ch1", "EEG Ch2"], 250.0, "uV");
    // The stop is annotated at the end of the first file; nothing from before the start (the
    // repeated stop) is in the second.
    let texts = |p: &Path| {
        annotations(p)
            .into_iter()
            .map(|(o, t)| format!("{o} {t}"))
            .collect::<Vec<_>>()
    };
    assert!(
        texts(&path).contains(&"0.4 stage: recording = false".to_string()),
        "{:?}",
        texts(&path)
    );
    assert!(
        texts(&second).iter().all(|t| t.contains("BAD_padding")),
        "{:?}",
        texts(&second)
    );
}

#[test]
fn an_idle_recorder_makes_no_file_until_switched_on() {
    use neuropipe_core::testing::Harness;
    let dir = temp_dir("idle");
    let template = dir.join("run_{n}.csv");
    let mut h = Harness::new(neuropipe_stages::io::csv_recorder::spec())
        .param("path", template.to_str().unwrap())
        .param("recording", false)
        .input::<VoltageEegPacket>(
            "in",
            StreamInfo::new("test", 250.0, 2, "uV", 25, PayloadKind::F32),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<VoltageEegPacket>(25, 2);
    h.push("in", Harness::packet(&pool, 0, &ramp(0)));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no file while idle"
    );
    let file = dir.join("run_1.csv");
    assert_eq!(
        h.control(ControlMsg::UpdateParam("recording".into(), json!(true))),
        Ok(json!({"recording": true, "file": file.to_str().unwrap()}))
    );
    h.push("in", Harness::packet(&pool, 25, &ramp(25)));
    h.finish().unwrap();
    let data = CsvReader::open(&file).unwrap().read_all().unwrap();
    assert_eq!(data.frames.len(), 25 * 2, "only what came after the start");
    assert_eq!(data.frames[0], 25.0);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}
