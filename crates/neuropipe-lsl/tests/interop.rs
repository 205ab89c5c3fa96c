//! Interoperability with pylsl 1.18.6 (its own liblsl 1.18) on loopback, inside a private
//! network namespace (see `common`), driven by `scripts/lsl/interop.py`:
//!
//! * `pipelines/sim_to_lsl.json` run in process for 5 s while pylsl receives: every sample, in
//!   order, bit-identical, with the channel labels/units/types, rate and name.
//! * A pylsl outlet feeds an `LslInlet` pipeline: exact values, labels and rate.
//! * pylsl markers land on their sample in a recording, for any chunk size.
//! * The P300 speller's predictions reach pylsl on the marker stream, each stamped with its
//!   stimulus's time.
//!
//! Python: `NEUROPIPE_PYTHON` (set by scripts/test.sh) or `./.venv/bin/python`.

mod common;

use neuropipe_core::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    common::python().expect(
        "the pylsl interop tests need Python with pylsl: set NEUROPIPE_PYTHON or run scripts/venv.sh",
    )
}

/// Every sample the test kit's `Capture` named `name` received, as sent (f32).
fn collected(name: &str) -> Vec<f32> {
    let cap = neuropipe_testkit::stages::capture(name);
    let c = cap.lock().unwrap();
    c.samples.iter().map(|&x| x as f32).collect()
}

fn registry() -> Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_lsl::register(&mut r);
    neuropipe_testkit::stages::register(&mut r);
    r
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Builds `cfg` (resolving its pylsl streams) and runs it until its `LslInlet` ends the
/// stream (`on_lost: end`) when pylsl's outlet goes away; it must finish cleanly.
fn run_until_the_sender_leaves(cfg: PipelineConfig) {
    let report = runtime().block_on(async {
        let reg = registry();
        let p = tokio::task::spawn_blocking(move || Pipeline::build(&cfg, &reg))
            .await
            .unwrap()
            .expect("resolves the pylsl streams");
        tokio::time::timeout(Duration::from_secs(40), p.run())
            .await
            .expect("ends when pylsl's outlet goes away")
    });
    assert_eq!(report.outcome, Outcome::Finished, "{report:?}");
}

#[test]
fn neuropipe_outlet_to_pylsl() {
    if !common::enter_netns("neuropipe_outlet_to_pylsl") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("np-lsl-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = dir.join("recv");
    // pylsl first: it waits for the stream.
    let mut py = Command::new(python())
        .arg(root().join("scripts/lsl/interop.py"))
        .args(["recv", "--name", "neuropipe-sim", "--idle", "2", "--out"])
        .arg(&prefix)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start interop.py");

    // The example pipeline as committed, plus a copy of what goes out, and an outlet that
    // waits for the consumer so that every sample reaches it.
    let text = std::fs::read_to_string(root().join("pipelines/sim_to_lsl.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let stages = v["stages"].as_array_mut().unwrap();
    let lsl = stages
        .iter_mut()
        .find(|s| s["type"] == "LslOutlet")
        .unwrap();
    lsl["params"]["wait_for_consumer_s"] = 20.into();
    v["stages"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({ "id": "copy", "type": "Capture", "params": { "name": "sent" } }));
    v["links"]
        .as_array_mut()
        .unwrap()
        .push("volts.out -> copy.in".into());
    let cfg = PipelineConfig::from_value(&v).expect("valid");

    let rt = runtime();
    let (sent_info, report) = rt.block_on(async {
        let reg = registry();
        let p = Pipeline::build(&cfg, &reg).expect("builds");
        let h = p.handle();
        let info = h.output_streams("volts").unwrap()[0].clone();
        let task = tokio::spawn(p.run());
        tokio::time::sleep(Duration::from_secs(5)).await; // `neuropipe run --duration 5`
        h.stop();
        (info, task.await.unwrap())
    });
    assert_eq!(report.outcome, Outcome::Finished);
    let out = py.wait().expect("interop.py ends");
    assert!(out.success(), "interop.py recv failed: {out}");

    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prefix.with_extension("json")).unwrap())
            .unwrap();
    println!("pylsl received: {meta}");
    let bytes = std::fs::read(prefix.with_extension("f32")).unwrap();
    let got: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let sent = collected("sent");
    assert!(
        sent.len() >= 4 * 250 * 8,
        "5 s of data sent ({})",
        sent.len()
    );
    assert_eq!(meta["name"], "neuropipe-sim");
    assert_eq!(meta["type"], "EEG");
    assert_eq!(meta["source_id"], "neuropipe-sim-lsl");
    // The device it comes from, in the outlet's description (the outlet keeps its own id).
    assert_eq!(meta["manufacturer"], "neuropipe (simulated)");
    assert_eq!(meta["upstream_source_id"], "neuropipe-sim-eeg");
    assert_eq!(meta["channel_count"], 8);
    assert_eq!(meta["srate"], 250.0);
    let labels: Vec<&str> = meta["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(labels, sent_info.labels());
    for (i, c) in sent_info.channels.iter().enumerate() {
        assert_eq!(meta["units"][i], c.unit.as_str());
        assert_eq!(meta["types"][i], c.kind.as_str());
    }
    assert_eq!(got.len(), sent.len(), "pylsl received every sample");
    assert!(
        got.iter()
            .zip(&sent)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "values identical and in order"
    );
    let step = 1.0 / 250.0;
    let (lo, hi) = (
        meta["min_stamp_step"].as_f64().unwrap(),
        meta["max_stamp_step"].as_f64().unwrap(),
    );
    assert!(
        (lo - step).abs() < 1e-3 && (hi - step).abs() < 1e-3,
        "timestamps one period apart: {lo}..{hi}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pylsl_outlet_to_neuropipe_inlet() {
    if !common::enter_netns("pylsl_outlet_to_neuropipe_inlet") {
        return;
    }
    let (channels, rate, seconds) = (4usize, 500.0, 3.0);
    let mut py = Command::new(python())
        .arg(root().join("scripts/lsl/interop.py"))
        .args([
            "send",
            "--name",
            "pylsl-eeg",
            "--channels",
            "4",
            "--rate",
            "500",
        ])
        .args(["--seconds", "3", "--chunk", "10", "--wait", "20"])
        .spawn()
        .expect("start interop.py");
    let cfg = PipelineConfig::from_value(&serde_json::json!({
        "name": "from_pylsl",
        "stages": [
            { "id": "lsl", "type": "LslInlet",
              "params": { "name": "pylsl-eeg", "timeout_s": 20, "on_lost": "end", "lost_timeout_s": 1.5 } },
            { "id": "check", "type": "ContinuityCheck" },
            { "id": "got", "type": "Capture", "params": { "name": "from_pylsl" } }
        ],
        "links": [ "lsl.out -> check.in", "lsl.out -> got.in" ]
    }))
    .unwrap();
    let rt = runtime();
    let (info, report) = rt.block_on(async {
        let reg = registry();
        let p = tokio::task::spawn_blocking(move || Pipeline::build(&cfg, &reg))
            .await
            .unwrap()
            .expect("resolves the pylsl stream");
        let info = p.handle().output_streams("lsl").unwrap()[0].clone();
        let report = tokio::time::timeout(Duration::from_secs(30), p.run())
            .await
            .expect("ends when pylsl's outlet goes away");
        (info, report)
    });
    assert_eq!(report.outcome, Outcome::Finished, "{report:?}");
    assert!(py.wait().unwrap().success());
    assert_eq!(info.name, "pylsl-eeg");
    assert_eq!(info.sample_rate, rate);
    assert_eq!(info.labels(), ["Py1", "Py2", "Py3", "Py4"]);
    // The source's rate on its own stamps (pylsl stamps at exactly 500 Hz here): the drift
    // readout is that of the stamps, not of the delivery.
    let st = report
        .snapshot
        .stages
        .iter()
        .find(|s| s.id == "lsl")
        .unwrap();
    let ro = st.readouts.as_ref().unwrap();
    let (measured, ppm) = (
        ro.value("stream", "rate").unwrap(),
        ro.value("stream", "drift").unwrap(),
    );
    assert!(
        (measured - rate).abs() < 0.05 && ppm.abs() < 100.0,
        "{measured} Hz, {ppm} ppm"
    );
    // The device's id and maker travel with the stream (recorders write them).
    assert_eq!(info.source_id, "pylsl-eeg-src");
    assert_eq!(info.manufacturer, "pylsl test amplifier");
    assert!(info.channels.iter().all(|c| c.unit == "microvolts"));
    let got = collected("from_pylsl");
    let frames = (seconds * rate) as usize;
    // Which frame is missing, if one is (the sender's frame index is in the values).
    let first_off = got
        .chunks(channels)
        .enumerate()
        .find(|(f, row)| row[0] != *f as f32 * 0.5 + 0.25)
        .map(|(f, row)| format!("frame {f} holds sender frame {}", (row[0] - 0.25) / 0.5));
    assert_eq!(
        got.len(),
        frames * channels,
        "every sample (first out of place: {first_off:?})"
    );
    for (i, v) in got.iter().enumerate() {
        let (f, c) = (i / channels, i % channels);
        let want = f as f32 * 0.5 + c as f32 * 1000.0 + 0.25;
        assert_eq!(*v, want, "frame {f} channel {c}");
    }
}

/// Markers from a pylsl marker stream land on the sample whose timestamp they carry, for any
/// sender chunk size: the recorded EDF's annotation `m500` sits on the frame holding sample
/// 500 (its value encodes the sender's frame index), never a chunk early or late.
#[test]
fn pylsl_markers_land_on_their_sample_for_any_chunk_size() {
    if !common::enter_netns("pylsl_markers_land_on_their_sample_for_any_chunk_size") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("np-lsl-markers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for chunk in [1, 25, 50] {
        let name = format!("pylsl-mk-{chunk}");
        let mut py = Command::new(python())
            .arg(root().join("scripts/lsl/interop.py"))
            .args(["send", "--name", &name, "--channels", "2", "--rate", "500"])
            .args([
                "--seconds",
                "3.5",
                "--chunk",
                &chunk.to_string(),
                "--wait",
                "20",
            ])
            .args(["--markers", "500"])
            .spawn()
            .expect("start interop.py");
        let edf = dir.join(format!("chunk{chunk}.edf"));
        let cfg = PipelineConfig::from_value(&serde_json::json!({
            "stages": [
                { "id": "lsl", "type": "LslInlet",
                  "params": { "name": name, "marker_name": format!("{name}-markers"),
                              "timeout_s": 20, "on_lost": "end", "lost_timeout_s": 1.5 } },
                { "id": "rec", "type": "EdfRecorder",
                  "params": { "path": edf, "overwrite": true, "record_duration_s": 0.1 } }
            ],
            "links": [ "lsl.out -> rec.in" ]
        }))
        .unwrap();
        run_until_the_sender_leaves(cfg);
        assert!(py.wait().unwrap().success());

        let mut r = neuropipe_io::edf::EdfReader::open(&edf).unwrap();
        let ch0 = r.read_signal(0).unwrap();
        let marks: Vec<(f64, String)> = r
            .annotations()
            .iter()
            .filter(|a| a.text.starts_with('m'))
            .map(|a| (a.onset, a.text.clone()))
            .collect();
        assert_eq!(
            marks.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            ["m500", "m1000", "m1500"],
            "chunk {chunk}: every marker recorded"
        );
        for (onset, text) in &marks {
            let want: f64 = text[1..].parse().unwrap();
            let row = (onset * 500.0).round() as usize;
            // value(frame, 0) = frame * 0.5 + 0.25, stored with 0.1 uV resolution.
            let frame = (ch0[row] - 0.25) / 0.5;
            assert!(
                (frame - want).abs() < 0.5,
                "chunk {chunk}: {text} recorded on sender frame {frame} (0 samples error wanted)"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A decoder's predictions reach pylsl on the pipeline's marker stream, each stamped with
/// the LSL time of the stimulus it decodes: `pipelines/p300_speller.json` as committed (its
/// model, its `LslOutlet` with `markers: true`), run for 6 s.
#[test]
fn predictions_reach_pylsl_stamped_at_their_stimulus() {
    if !common::enter_netns("predictions_reach_pylsl_stamped_at_their_stimulus") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("np-lsl-pred-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("markers.json");
    let mut py = Command::new(python())
        .arg(root().join("scripts/lsl/interop.py"))
        .args([
            "markers",
            "--name",
            "neuropipe-speller-markers",
            "--idle",
            "3",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start interop.py");
    let cfg = PipelineConfig::load(&root().join("pipelines/p300_speller.json")).unwrap();
    let report = runtime().block_on(async {
        let p = Pipeline::build(&cfg, &registry()).expect("builds");
        let h = p.handle();
        let task = tokio::spawn(p.run());
        tokio::time::sleep(Duration::from_secs(6)).await;
        h.stop();
        task.await.unwrap()
    });
    assert_eq!(report.outcome, Outcome::Finished);
    assert!(py.wait().unwrap().success());
    let got: Vec<(String, f64)> =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let stimuli: Vec<f64> = got
        .iter()
        .filter(|m| m.0 == "target" || m.0 == "nontarget")
        .map(|m| m.1)
        .collect();
    // The speller's own markers too: each flash names its symbol, at its stimulus's time.
    let flashes = got.iter().filter(|m| m.0.starts_with("flash:")).count();
    assert!(
        flashes >= stimuli.len().saturating_sub(1) && flashes > 0,
        "{got:?}"
    );
    let first = *stimuli.first().expect("stimulus markers received");
    // Predictions of stimuli pushed before pylsl connected have no marker to match.
    let predictions: Vec<&(String, f64)> = got
        .iter()
        .filter(|m| m.0.starts_with("prediction lda: ") && m.1 >= first - 1e-9)
        .collect();
    println!(
        "{} markers, {} predictions matched",
        got.len(),
        predictions.len()
    );
    assert!(predictions.len() >= 5, "{got:?}");
    for (text, ts) in predictions {
        assert!(
            text.contains("target (p = ") || text.contains("nontarget (p = "),
            "{text}"
        );
        assert!(
            stimuli.iter().any(|s| (s - ts).abs() < 1e-6),
            "{text} at {ts}: no stimulus marker with that timestamp in {stimuli:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An LSL stream recorded to XDF is written as LabRecorder writes it: its raw stamps (the
/// sender's own LSL time stamps, t0 + frame / rate, to 1 µs) with `ClockOffset` chunks
/// holding the inlet's correction onto the pipeline clock, so that pyxdf's clock
/// synchronisation puts it on the file's clock: each pylsl marker (recorded on the pipeline
/// clock in the file's marker stream) then lies on the synchronised stamp of the frame it
/// marks, to 100 µs.
#[test]
fn lsl_streams_are_recorded_to_xdf_with_raw_stamps_and_clock_offsets() {
    if !common::enter_netns("lsl_streams_are_recorded_to_xdf_with_raw_stamps_and_clock_offsets") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("np-lsl-xdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let py = Command::new(python())
        .arg(root().join("scripts/lsl/interop.py"))
        .args([
            "send",
            "--name",
            "pylsl-xdf",
            "--channels",
            "2",
            "--rate",
            "500",
        ])
        .args([
            "--seconds",
            "3",
            "--chunk",
            "10",
            "--wait",
            "20",
            "--markers",
            "500",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start interop.py");
    let xdf = dir.join("session.xdf");
    let cfg = PipelineConfig::from_value(&serde_json::json!({
        "stages": [
            { "id": "lsl", "type": "LslInlet",
              "params": { "name": "pylsl-xdf", "marker_name": "pylsl-xdf-markers",
                          "timeout_s": 20, "on_lost": "end", "lost_timeout_s": 1.5 } },
            { "id": "rec", "type": "XdfRecorder", "params": { "path": xdf, "overwrite": true } }
        ],
        "links": [ "lsl.out -> rec.in" ]
    }))
    .unwrap();
    run_until_the_sender_leaves(cfg);
    let sent = py.wait_with_output().unwrap();
    assert!(sent.status.success());
    let sent: serde_json::Value = serde_json::from_slice(&sent.stdout).expect("send's JSON");
    let t0 = sent["t0"].as_f64().unwrap();
    let check = Command::new(python())
        .arg(root().join("scripts/lsl/interop.py"))
        .arg("xdf")
        .arg(&xdf)
        .args([
            "--name",
            "pylsl-xdf",
            "--t0",
            &format!("{t0:.9}"),
            "--rate",
            "500",
        ])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    println!("{v}");
    assert_eq!(v["samples"], 1500);
    let raw_error = v["max_raw_error"].as_f64().unwrap();
    assert!(
        raw_error <= 1e-6,
        "raw stamps are the sender's: {raw_error} s off"
    );
    // The correction: the inlet's time_correction (about 0 on one machine) minus the LSL
    // clock's offset from the pipeline's, the same in every chunk here (3 s: the first one
    // and the one measured when the correction was first refreshed, at most).
    let values: Vec<f64> = v["clock_values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(!values.is_empty());
    let spread = values
        .iter()
        .fold(0.0f64, |m, x| m.max((x - values[0]).abs()));
    assert!(spread < 1e-3, "{values:?}");
    // On the file's clock after pyxdf's synchronisation: every marker on its frame.
    let errors = v["marker_errors"].as_object().unwrap();
    let mut names: Vec<&str> = errors.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["m1000", "m500"]);
    for (name, e) in errors {
        let e = e.as_f64().unwrap();
        assert!(
            e.abs() < 1e-4,
            "{name}: the synchronised stamp is {e} s from the marker"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
