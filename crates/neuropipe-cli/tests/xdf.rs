//! XDF recordings read by pyxdf (clock synchronisation and dejittering on) and MNE, as users
//! open LabRecorder files: a 64-channel, 1 kHz float32 session with P300 markers recorded by
//! `XdfRecorder` next to a `CsvRecorder` of the same stream gives pyxdf the same samples
//! (bit for bit), time stamps (≤ 1 µs), markers and metadata; `--record x.xdf` works; after
//! Ctrl-C the footers are there, after `kill -9` pyxdf reads every chunk written.

mod common;
use common::*;
use neuropipe_testkit::python;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neuropipe-xdf-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// pyxdf's view of `path` (see `scripts/xdf/read_xdf.py`); with `samples`, the first
/// numeric stream's values and raw time stamps are written there.
fn read_xdf(py: &Path, path: &Path, samples: Option<&Path>) -> Value {
    read_xdf_as(py, path, samples, false)
}

/// [`read_xdf`]; with `synced`, the dumped time stamps are pyxdf's clock-synchronised ones.
fn read_xdf_as(py: &Path, path: &Path, samples: Option<&Path>, synced: bool) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = std::process::Command::new(py);
    cmd.arg(root.join("scripts/xdf/read_xdf.py")).arg(path);
    if let Some(s) = samples {
        cmd.arg(s);
        if synced {
            cmd.arg("synced");
        }
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "pyxdf could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn read_f64(path: &Path) -> Vec<f64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
fn pyxdf_reads_the_samples_timestamps_markers_and_metadata_neuropipe_wrote() {
    let Some(py) = python() else { return };
    let d = tmp_dir("session");
    run_pipeline(
        &d,
        "session.json",
        r#"{"stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "task": "p300", "realtime": false, "duration_s": 12},
             "stream": {"source_id": "amp-1234", "manufacturer": "ACME Neuro"}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "acc", "type": "SimulatedEeg", "params": {"channels": 3, "sample_rate": 100, "frames": 10, "realtime": false, "duration_s": 12, "seed": 7, "line_hz": 20}},
            {"id": "xdf", "type": "XdfRecorder", "params": {"path": "session.xdf"}},
            {"id": "csv", "type": "CsvRecorder", "params": {"path": "session.csv", "events_path": "events.csv"}},
            {"id": "acc_csv", "type": "CsvRecorder", "params": {"path": "acc.csv"}}
        ], "links": ["eeg -> volts", "volts -> xdf", "volts -> csv", "acc -> xdf.in2", "acc -> acc_csv"]}"#,
    );
    let samples = d.join("samples.f64");
    let v = read_xdf(&py, &d.join("session.xdf"), Some(&samples));
    let streams = v["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 3, "{v}");
    let (eeg, markers, acc) = (&streams[0], &streams[1], &streams[2]);
    // Each device's identity, through the conversion stage to the file.
    assert_eq!(eeg["source_id"], "amp-1234");
    assert_eq!(eeg["manufacturer"], "ACME Neuro");
    assert_eq!(acc["source_id"], "neuropipe-sim-acc");
    assert_eq!(acc["manufacturer"], "neuropipe (simulated)");
    assert_eq!(eeg["type"], "EEG");
    assert_eq!(eeg["channel_format"], "float32");
    assert_eq!(eeg["nominal_srate"], 1000.0);
    assert_eq!(eeg["samples"], 12_000);
    assert_eq!(eeg["footer"], true);
    assert_eq!(eeg["monotonic"], true);
    let labels: Vec<&str> = eeg["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 64);
    assert!(eeg["units"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u == "microvolts"));
    assert!(eeg["types"].as_array().unwrap().iter().all(|t| t == "EEG"));
    // Dejittering a stream stamped from its own sample clock moves nothing beyond 1 µs.
    assert!(eeg["dejitter_max_dev"].as_f64().unwrap() <= 1e-6, "{eeg}");
    assert_eq!(markers["type"], "Markers");
    assert_eq!(markers["channel_format"], "string");

    // The same values, bit for bit, as the CSV recorder wrote (f32 values, shortest form),
    // and the same times (relative to the first sample) to 1 µs.
    let csv = std::fs::read_to_string(d.join("session.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[1..], labels.as_slice());
    let raw = read_f64(&samples);
    let (values, stamps) = raw.split_at(12_000 * 64);
    assert_eq!(stamps.len(), 12_000);
    let mut rows = 0;
    for (k, line) in lines.enumerate() {
        let mut cols = line.split(',').map(|c| c.parse::<f64>().unwrap());
        let t = cols.next().unwrap();
        assert!(
            ((stamps[k] - stamps[0]) - t).abs() <= 1e-6,
            "sample {k}: {} vs {t}",
            stamps[k] - stamps[0]
        );
        for (ch, x) in cols.enumerate() {
            assert_eq!(values[k * 64 + ch], x, "sample {k} channel {ch}");
        }
        rows += 1;
    }
    assert_eq!(rows, 12_000);

    // Every event the CSV recorder wrote, at the same time and with the same text.
    let events = std::fs::read_to_string(d.join("events.csv")).unwrap();
    let want: Vec<(f64, String)> = events
        .lines()
        .skip(1)
        .map(|l| {
            let (onset, rest) = l.split_once(',').unwrap();
            let (_, text) = rest.split_once(',').unwrap();
            (onset.parse().unwrap(), text.trim_matches('"').to_string())
        })
        .collect();
    let got = markers["markers"].as_array().unwrap();
    assert!(
        want.iter().filter(|w| w.1 == "target").count() >= 5,
        "{events}"
    );
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, (onset, text)) in got.iter().zip(&want) {
        assert_eq!(g[1].as_str().unwrap(), text);
        assert!(((g[0].as_f64().unwrap() - stamps[0]) - onset).abs() <= 1e-6);
    }
    // The further stream (in2): its own rate, channels and format (raw int32 counts), every
    // sample as the CSV recorder wrote it, its own time stamps (≤ 1 µs), starting with the
    // EEG's (both sources start at the pipeline's time zero).
    assert_eq!(acc["channel_format"], "int32");
    assert_eq!(acc["nominal_srate"], 100.0);
    assert_eq!(acc["samples"], 1_200);
    assert_eq!(acc["footer"], true);
    // The footers' measured rates (samples over the stamps' span).
    for (s, rate) in [(eeg, 1000.0), (acc, 100.0)] {
        let m = s["measured_srate"].as_f64().unwrap();
        assert!((m - rate).abs() < 1e-6 * rate, "{m} Hz");
    }
    assert_eq!(acc["labels"].as_array().unwrap().len(), 3);
    assert!((acc["first"].as_f64().unwrap() - eeg["first"].as_f64().unwrap()).abs() <= 1e-6);
    let raw = read_f64(&d.join("samples.f64.1"));
    let (values, acc_stamps) = raw.split_at(1_200 * 3);
    let rows = csv_rows(&d.join("acc.csv"));
    assert_eq!(rows.len(), 1_200);
    for (k, row) in rows.iter().enumerate() {
        assert!(
            ((acc_stamps[k] - acc_stamps[0]) - row[0]).abs() <= 1e-6,
            "acc sample {k}"
        );
        assert!((acc_stamps[k] - (acc_stamps[0] + k as f64 / 100.0)).abs() <= 1e-6);
        assert_eq!(&values[k * 3..k * 3 + 3], &row[1..], "acc sample {k}");
    }

    // MNE, from pyxdf's arrays: the names, types and rate, in volts.
    let mne = &v["mne"];
    assert_eq!(mne["ch_names"].as_array().unwrap().len(), 64);
    assert_eq!(mne["ch_names"][0], labels[0]);
    assert!(mne["ch_types"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t == "eeg"));
    assert_eq!(mne["sfreq"], 1000.0);
    let max_v = mne["max_abs_volts"].as_f64().unwrap();
    assert!((1e-6..1e-2).contains(&max_v), "EEG in volts: {max_v}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn an_xdf_recording_is_readable_after_ctrl_c_and_after_kill_9() {
    let Some(py) = python() else { return };
    let d = tmp_dir("signals");
    for (name, sig) in [("stopped.xdf", libc::SIGINT), ("killed.xdf", libc::SIGKILL)] {
        let path = d.join(name);
        let mut child = record_default(&path);
        std::thread::sleep(Duration::from_millis(2500));
        signal(&child, sig);
        let status = child.wait().unwrap();
        if sig == libc::SIGINT {
            assert_eq!(status.code(), Some(0));
        }
        let v = read_xdf(&py, &path, None);
        let eeg = &v["streams"][0];
        assert_eq!(eeg["labels"].as_array().unwrap().len(), 8, "{v}");
        let n = eeg["samples"].as_u64().unwrap();
        // The built-in default: 250 Hz, from the start to the signal (at least a second).
        assert!(n >= 250, "{name}: {n} samples");
        assert_eq!(eeg["monotonic"], true, "{name}");
        // Ctrl-C completes the file (footers, the stop annotated); kill -9 leaves every
        // chunk written, without footers.
        assert_eq!(eeg["footer"], sig == libc::SIGINT, "{name}");
        if sig == libc::SIGINT {
            let markers = v["streams"][1]["markers"].as_array().unwrap();
            assert!(
                markers.iter().any(|m| m[1] == "stop requested"),
                "{markers:?}"
            );
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Runs pipeline JSON `text` (written to `dir/name`) to its end.
fn run_pipeline(dir: &Path, name: &str, text: &str) {
    run_pipeline_with(dir, name, text, &[]);
}

/// [`run_pipeline`] with further `run` arguments (`--record x.xdf`).
fn run_pipeline_with(dir: &Path, name: &str, text: &str, extra: &[&Path]) {
    let out = run_file(dir, name, text, extra);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes pipeline `text` to `dir/name` and runs it (`--quiet`, then `extra`), whatever the
/// outcome.
fn run_file(dir: &Path, name: &str, text: &str, extra: &[&Path]) -> std::process::Output {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    bin()
        .args(["run", p.to_str().unwrap(), "--quiet"])
        .args(extra)
        .output()
        .unwrap()
}

/// CSV rows as numbers (time column first), without the header.
fn csv_rows(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect()
}

/// Events files' (onset, text) rows, without the recorders' own discontinuity notes.
fn event_rows(path: &Path) -> Vec<(f64, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (onset, rest) = l.split_once(',').unwrap();
            let (_, text) = rest.split_once(',').unwrap();
            (onset.parse().unwrap(), text.trim_matches('"').to_string())
        })
        .filter(|(_, t)| !t.starts_with("discontinuity") && t != "stop requested")
        .collect()
}

/// A file built byte by byte from the specification (`scripts/xdf/make_reference.py`:
/// int16 values, time stamps omitted in one chunk, a gap, markers in a second stream, read
/// by pyxdf first) replays through `FileReplay` to its values, its markers on their nearest
/// samples, and the gap as a discontinuity.
#[test]
fn a_hand_built_xdf_file_replays_to_its_samples_and_markers() {
    let Some(py) = python() else { return };
    let d = tmp_dir("reference");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(&py)
        .arg(root.join("scripts/xdf/make_reference.py"))
        .arg(d.join("ref.xdf"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Value = serde_json::from_slice(&out.stdout).unwrap();
    run_pipeline(
        &d,
        "replay.json",
        r#"{"stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": "ref.xdf", "realtime": false, "frames": 5, "sample_type": "f64"}},
            {"id": "csv", "type": "CsvRecorder", "params": {"path": "out.csv", "events_path": "events.csv"}}
        ], "links": ["replay -> csv"]}"#,
    );
    let header = std::fs::read_to_string(d.join("out.csv")).unwrap();
    assert!(header.starts_with("timestamp_s,Fz,Cz,Pz\n"), "{header}");
    let rows = csv_rows(&d.join("out.csv"));
    let values: Vec<Vec<f64>> = rows.iter().map(|r| r[1..].to_vec()).collect();
    let want_values: Vec<Vec<f64>> = want["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(values, want_values);
    // Markers at their frames' time stamps in the file, from its first (10 Hz: frame k at
    // k / 10 s, and 4.2 s later after the gap that follows frame 7).
    let events = event_rows(&d.join("events.csv"));
    let gap_after = want["gap_after_frame"].as_f64().unwrap();
    let want_markers: Vec<(f64, String)> = want["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let frame = m[0].as_f64().unwrap();
            let t = frame / 10.0 + if frame > gap_after { 4.2 } else { 0.0 };
            (t, m[1].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(events.len(), want_markers.len(), "{events:?}");
    for ((t, text), (wt, wtext)) in events.iter().zip(&want_markers) {
        assert_eq!(text, wtext);
        assert!((t - wt).abs() < 1e-6, "{text} at {t} s, not {wt} s");
    }
    let all = std::fs::read_to_string(d.join("events.csv")).unwrap();
    assert!(all.contains("\n5,,\"discontinuity: 4.200 s gap\""), "{all}");
    // A stream that is not there is named with those that are.
    let p = d.join("missing.json");
    std::fs::write(
        &p,
        r#"{"stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": "ref.xdf", "stream": "EMG"}},
            {"id": "show", "type": "StdoutSummary"}
        ], "links": ["replay -> show"]}"#,
    )
    .unwrap();
    let out = bin()
        .args(["validate", p.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("params.stream")
            && stderr.contains("no numeric stream \"EMG\"")
            && stderr.contains("Ref EEG"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// A session recorded to XDF replays through `FileReplay` to the same values (float32, bit
/// for bit) and the same markers on the same samples as a CSV recording of the original run.
#[test]
fn a_neuropipe_xdf_recording_replays_to_the_same_samples_and_markers() {
    let d = tmp_dir("roundtrip");
    run_pipeline(
        &d,
        "record.json",
        r#"{"stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"task": "p300", "realtime": false, "duration_s": 20}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "xdf", "type": "XdfRecorder", "params": {"path": "session.xdf"}},
            {"id": "csv", "type": "CsvRecorder", "params": {"path": "original.csv", "events_path": "original_events.csv"}}
        ], "links": ["eeg -> volts", "volts -> xdf", "volts -> csv"]}"#,
    );
    run_pipeline(
        &d,
        "replay.json",
        r#"{"stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": "session.xdf", "realtime": false, "frames": 32}},
            {"id": "csv", "type": "CsvRecorder", "params": {"path": "replayed.csv", "events_path": "replayed_events.csv"}}
        ], "links": ["replay -> csv"]}"#,
    );
    let a = csv_rows(&d.join("original.csv"));
    let b = csv_rows(&d.join("replayed.csv"));
    assert_eq!(a.len(), 5000);
    assert_eq!(a, b, "values and times");
    let ea = event_rows(&d.join("original_events.csv"));
    let eb = event_rows(&d.join("replayed_events.csv"));
    assert!(ea.iter().filter(|e| e.1 == "target").count() >= 5, "{ea:?}");
    assert_eq!(ea.len(), eb.len());
    for (a, b) in ea.iter().zip(&eb) {
        // The same sample (250 Hz: 4 ms apart); onsets printed from ns or from frames.
        assert_eq!(a.1, b.1);
        assert!((a.0 - b.0).abs() < 1e-6, "{a:?} vs {b:?}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// `--record FILE.xdf` records the processed output and, as LabRecorder records a session,
/// every other source's stream (here an accelerometer-like stream that only goes to a CSV
/// file), each as a stream of its own with all its samples.
#[test]
fn record_xdf_takes_every_stream_of_the_pipeline() {
    let Some(py) = python() else { return };
    let d = tmp_dir("record-all");
    let xdf = d.join("session.xdf");
    run_pipeline_with(
        &d,
        "two.json",
        r#"{"stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 8, "realtime": false, "duration_s": 4}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "band", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}},
            {"id": "show", "type": "StdoutSummary"},
            {"id": "acc", "type": "SimulatedEeg", "params": {"channels": 3, "sample_rate": 100, "frames": 10, "realtime": false, "duration_s": 4, "line_hz": 20}},
            {"id": "acc_csv", "type": "CsvRecorder", "params": {"path": "acc.csv"}}
        ], "links": ["eeg -> volts", "volts -> band", "band -> show", "acc -> acc_csv"]}"#,
        &[Path::new("--record"), &xdf],
    );
    let v = read_xdf(&py, &xdf, None);
    let streams = v["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 3, "{v}");
    let (eeg, acc) = (&streams[0], &streams[2]);
    assert_eq!(eeg["samples"], 1_000);
    assert_eq!(eeg["filters"], "HP:1Hz LP:40Hz", "{eeg}");
    assert_eq!(acc["nominal_srate"], 100.0);
    assert_eq!(acc["labels"].as_array().unwrap().len(), 3);
    assert_eq!(acc["samples"], csv_rows(&d.join("acc.csv")).len());
    assert_eq!(acc["samples"], 400);
    std::fs::remove_dir_all(&d).unwrap();
}

/// `scripts/xdf/make_session.py` writes `dir/session.xdf` (with `extra` arguments, e.g.
/// `reset`); returns its path.
fn make_session(py: &Path, dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = dir.join("session.xdf");
    let made = std::process::Command::new(py)
        .arg(root.join("scripts/xdf/make_session.py"))
        .arg(&source)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    source
}

/// Every stream of an XDF session, each replayed by its own `FileReplay` (an EEG stream at
/// 250 Hz and an accelerometer at 100 Hz from another machine, whose clock offsets put it
/// 0.37 s after the EEG, on LSL's clock, in a file built from the specification by
/// `scripts/xdf/make_session.py`), keeps its samples and its time stamps relative to the
/// file's first one: recorded again into one XDF file, pyxdf finds the same values and the
/// stamps pyxdf's own clock synchronisation gives, minus the file's origin, to 1 µs,
/// whether replayed flat out or in real time, by a `FileReplay` per stream or by one with a
/// port per stream.
#[test]
fn the_streams_of_one_xdf_file_replay_with_their_own_time_stamps() {
    let Some(py) = python() else { return };
    let d = tmp_dir("session-replay");
    let source = make_session(&py, &d, &[]);
    let original = d.join("original.f64");
    read_xdf_as(&py, &source, Some(&original), true);
    let eeg_in = read_f64(&original);
    let acc_in = read_f64(&d.join("original.f64.1"));
    // Each stream by its own FileReplay, or both by one (`streams`, a port each: the
    // accelerometer's packets then last as long as the EEG's 16 frames, 6 frames).
    for (realtime, one_stage) in [(false, false), (true, false), (false, true), (true, true)] {
        let name = format!("again_{realtime}_{one_stage}.xdf");
        let stages = if one_stage {
            format!(
                r#"{{"stages": [
                {{"id": "rep", "type": "FileReplay", "params": {{"path": "session.xdf", "streams": ["Session EEG", "Session accel"], "frames": 16, "sample_type": "f64", "realtime": {realtime}}}}},
                {{"id": "xdf", "type": "XdfRecorder", "params": {{"path": "{name}"}}}}
            ], "links": ["rep -> xdf", "rep.out2 -> xdf.in2"]}}"#
            )
        } else {
            format!(
                r#"{{"stages": [
                {{"id": "eeg", "type": "FileReplay", "params": {{"path": "session.xdf", "stream": "Session EEG", "frames": 16, "sample_type": "f64", "realtime": {realtime}}}}},
                {{"id": "acc", "type": "FileReplay", "params": {{"path": "session.xdf", "stream": "Session accel", "frames": 10, "sample_type": "f64", "realtime": {realtime}, "markers": false}}}},
                {{"id": "xdf", "type": "XdfRecorder", "params": {{"path": "{name}"}}}}
            ], "links": ["eeg -> xdf", "acc -> xdf.in2"]}}"#
            )
        };
        run_pipeline(&d, "replay.json", &stages);
        let realtime = format!("{realtime}_{one_stage}");
        let acc_frames = if one_stage { 6 } else { 10 };
        let again = d.join(format!("again_{realtime}.f64"));
        let v = read_xdf(&py, &d.join(&name), Some(&again));
        let streams = v["streams"].as_array().unwrap();
        assert_eq!(streams[0]["name"], "Session EEG");
        assert_eq!(streams[0]["source_id"], "amp-0042");
        assert_eq!(streams[0]["manufacturer"], "ACME Neuro");
        assert_eq!(streams[2]["name"], "Session accel");
        assert_eq!(streams[2]["type"], "Accelerometer");
        // Both markers, at their own times.
        let marks: Vec<(f64, &str)> = streams[1]["markers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m[0].as_f64().unwrap(), m[1].as_str().unwrap()))
            .collect();
        assert_eq!(marks.len(), 2, "{marks:?}");
        assert!(
            (marks[0].0 - 0.5).abs() <= 1e-6 && marks[0].1 == "start",
            "{marks:?}"
        );
        assert!(
            (marks[1].0 - 1.0).abs() <= 1e-6 && marks[1].1 == "probe",
            "{marks:?}"
        );
        let acc_got = read_f64(&d.join(format!("again_{realtime}.f64.1")));
        for (orig, got, n, ch, rate, frames) in [
            (&eeg_in, read_f64(&again), 375, 4, 250.0, 16),
            (&acc_in, acc_got.clone(), 100, 3, 100.0, acc_frames),
        ] {
            assert_eq!(got.len(), n * (ch + 1), "realtime {realtime}");
            assert_eq!(
                &got[..n * ch],
                &orig[..n * ch],
                "values, realtime {realtime}"
            );
            for k in 0..n {
                // A packet carries its first sample's time (pyxdf's synchronised stamp, to
                // 1 µs); the samples after it follow at the nominal rate, so they differ from
                // the file's by the source clock's drift over the packet (10 ppm and the
                // offsets' noise here: well under 100 ppm).
                let k0 = k - k % frames;
                let first = orig[n * ch + k0] - 1000.0;
                let (want, t) = (orig[n * ch + k] - 1000.0, got[n * ch + k]);
                let nominal = got[n * ch + k0] + (k - k0) as f64 / rate;
                let got0 = got[n * ch + k0];
                assert!(
                    (got0 - first).abs() <= 1e-6,
                    "sample {k0}: {got0} vs {first}"
                );
                assert!((t - nominal).abs() <= 1e-9, "sample {k}: {t} vs {nominal}");
                let drift = (k - k0) as f64 / rate * 1e-4;
                assert!(
                    (t - want).abs() <= 1e-6 + drift,
                    "sample {k}: {t} vs {want}"
                );
            }
        }
        // The accelerometer's machine was 2.5 s behind: on the recorder's clock it starts
        // 0.37 s after the EEG, as pyxdf puts it.
        assert!((acc_got[300] - 0.37).abs() < 1e-4, "{}", acc_got[300]);
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// A session whose accelerometer machine restarted half-way (`make_session.py … reset`: its
/// clock jumps back 993 s, its clock offsets with it) replays on one continuous axis, each
/// side of the reset synchronised with its own line, as pyxdf: every packet's first stamp
/// equal to pyxdf's synchronised stamp minus the file's origin (1 µs), the values unchanged,
/// and no discontinuity at the reset (the raw stamps jump back 993 s there).
#[test]
fn a_clock_reset_in_a_session_replays_synchronised_as_pyxdf() {
    let Some(py) = python() else { return };
    let d = tmp_dir("session-reset");
    let source = make_session(&py, &d, &["reset"]);
    let original = d.join("original.f64");
    read_xdf_as(&py, &source, Some(&original), true);
    let orig = read_f64(&d.join("original.f64.1"));
    run_pipeline(
        &d,
        "replay.json",
        r#"{"stages": [
            {"id": "acc", "type": "FileReplay", "params": {"path": "session.xdf", "stream": "Session accel", "frames": 10, "sample_type": "f64", "markers": false}},
            {"id": "xdf", "type": "XdfRecorder", "params": {"path": "again.xdf"}}
        ], "links": ["acc -> xdf"]}"#,
    );
    let again = d.join("again.f64");
    let v = read_xdf(&py, &d.join("again.xdf"), Some(&again));
    let got = read_f64(&again);
    let (n, ch) = (100, 3);
    assert_eq!(got.len(), n * (ch + 1));
    assert_eq!(&got[..n * ch], &orig[..n * ch], "values");
    // pyxdf's synchronised stamps are continuous across the reset (the raw ones jump 993 s).
    let stamps = |x: &[f64]| x[n * ch..].to_vec();
    let (want, t) = (stamps(&orig), stamps(&got));
    assert!((want[50] - want[49] - 0.01).abs() < 1e-3, "{want:?}");
    for k in 0..n {
        // Packets of 10 from sample 0 (no markers cut them): a packet's first stamp is
        // pyxdf's, the samples after it follow at the nominal rate (within the clock's drift
        // over one packet).
        let k0 = k - k % 10;
        let drift = (k - k0) as f64 / 100.0 * 1e-4;
        assert!(
            (t[k] - (want[k] - 1000.0)).abs() <= 1e-6 + drift,
            "sample {k}: {} vs {}",
            t[k],
            want[k] - 1000.0
        );
    }
    // No discontinuity marked at the reset.
    let streams = v["streams"].as_array().unwrap();
    for m in streams.iter().filter_map(|s| s["markers"].as_array()) {
        assert!(
            m.iter()
                .all(|m| !m[1].as_str().unwrap_or("").contains("discontinuity")),
            "{m:?}"
        );
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Two streams linked to one XDF recorder's `in`: the error names both and offers the
/// recorder's free input `in2` next to a `Merge`.
#[test]
fn a_second_stream_into_a_recorder_is_pointed_to_its_free_input() {
    let d = tmp_dir("second-stream");
    let p = d.join("p.json");
    std::fs::write(
        &p,
        r#"{"stages": [
            {"id": "eeg", "type": "SimulatedEeg"},
            {"id": "acc", "type": "SimulatedEeg", "params": {"channels": 3}},
            {"id": "rec", "type": "XdfRecorder", "params": {"path": "s.xdf"}}
        ], "links": ["eeg -> rec", "acc -> rec"]}"#,
    )
    .unwrap();
    let out = bin()
        .args(["validate", p.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("input `rec.in` is already linked from `eeg.out`")
            && stderr.contains("\"acc.out -> rec.in2\""),
        "{stderr}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// A pipeline that ends in a `Fatal` error (a stage failing while the recorder writes) leaves
/// an XDF file pyxdf reads: exit code 1, and the samples written before the failure, in order.
#[test]
fn an_xdf_recording_is_readable_after_a_fatal_error() {
    let Some(py) = python() else { return };
    let d = tmp_dir("fatal");
    let out = run_file(
        &d,
        "fatal.json",
        r#"{"stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 8, "realtime": false, "duration_s": 4}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "xdf", "type": "XdfRecorder", "params": {"path": "fatal.xdf"}},
            {"id": "check", "type": "ContinuityCheck", "params": {"expect_frames": 100}}
        ], "links": ["eeg -> volts", "volts -> xdf", "volts -> check"]}"#,
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stage `check` failed"), "{stderr}");
    let v = read_xdf(&py, &d.join("fatal.xdf"), None);
    let eeg = &v["streams"][0];
    let n = eeg["samples"].as_u64().unwrap();
    assert!(n > 0 && n <= 1_000, "{eeg}");
    assert_eq!(eeg["monotonic"], true);
    std::fs::remove_dir_all(&d).unwrap();
}
