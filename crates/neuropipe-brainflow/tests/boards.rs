//! `BrainFlowSource` end to end with BrainFlow's own library (the pinned `brainflow` 5.23.0
//! wheel): the synthetic board (-1) streams every sample at its rate, labelled as BrainFlow
//! labels it, with markers inserted through `insert_marker`; the playback board (-3) delivers
//! exactly what BrainFlow's own `get_board_data` returns for the same file (reference made by
//! `scripts/brainflow/playback.py`); a hole in the package numbers is counted and flagged,
//! never filled; bad parameters are build errors naming the parameter.

mod common;

use common::*;
use neuropipe_brainflow::board::BoardController;
use neuropipe_brainflow::locate::find_library;
use neuropipe_core::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

fn controller(lib: &str) -> BoardController {
    let path = find_library(Some(Path::new(lib))).unwrap();
    BoardController::load(&path).unwrap()
}

/// The reference files of `scripts/brainflow/playback.py`, made once per test binary.
fn reference_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let py = python().expect("python");
        let dir = std::env::temp_dir().join(format!("np-brainflow-{}", std::process::id()));
        let root = neuropipe_testkit::workspace_root();
        let out = std::process::Command::new(py)
            .arg(root.join("scripts/brainflow/playback.py"))
            .arg(&dir)
            .output()
            .expect("run playback.py");
        assert!(
            out.status.success(),
            "playback.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// Rows of BrainFlow's reference (samples × rows, as `reference.csv` holds them).
fn reference_rows(dir: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(dir.join("reference.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect()
}

fn build(v: serde_json::Value) -> Result<Pipeline, String> {
    let cfg = PipelineConfig::from_value(&v).map_err(|e| e.to_string())?;
    Pipeline::build(&cfg, &registry()).map_err(|e| e.to_string())
}

/// Runs `v` until the capture `out` has `frames` frames (or `limit`), then stops it.
fn run_until(
    v: serde_json::Value,
    frames: Option<u64>,
    limit: Duration,
    during: impl FnOnce(&PipelineHandle),
) -> (RunReport, PipelineHandle) {
    let pipeline = build(v).unwrap();
    let handle = pipeline.handle();
    let rt = runtime();
    let run = rt.spawn(pipeline.run());
    during(&handle);
    match frames {
        Some(n) => {
            wait_until(limit, || frames_in(&handle, "cap") >= n);
        }
        None => std::thread::sleep(limit),
    }
    handle.stop();
    let report = rt.block_on(run).unwrap();
    (report, handle)
}

fn captured(name: &str) -> neuropipe_testkit::stages::Captured {
    let c = neuropipe_testkit::stages::capture(name);
    let mut c = c.lock().unwrap();
    std::mem::take(&mut *c)
}

/// Plays `file` of the reference directory through the playback board (master: synthetic)
/// into capture `name` until every sample arrived (or 30 s); the capture, the handle and the
/// file's sample count.
fn play(
    lib: &str,
    file: &str,
    name: &str,
) -> (neuropipe_testkit::stages::Captured, PipelineHandle, u64) {
    let dir = reference_dir();
    let total = std::fs::read_to_string(dir.join(file))
        .unwrap()
        .lines()
        .count() as u64;
    let (report, handle) = run_until(
        json!({
            "stages": [
                {"id": "board", "type": "BrainFlowSource", "params": {
                    "board_id": -3, "master_board": -1, "library": lib,
                    "file": dir.join(file), "frames": 16}},
                {"id": "cap", "type": "Capture", "params": {"name": name}}
            ],
            "links": ["board.out -> cap"]
        }),
        Some(total),
        Duration::from_secs(30),
        |_| {},
    );
    assert_eq!(report.outcome, Outcome::Finished);
    (captured(name), handle, total)
}

#[test]
fn synthetic_board_streams_every_sample_at_its_rate_with_brainflows_labels_and_markers() {
    let Some(lib) = library() else { return };
    let _board = one_board();
    let descr = controller(&lib).describe(-1).unwrap();
    let (report, handle) = run_until(
        json!({
            "stages": [
                {"id": "board", "type": "BrainFlowSource", "params": {"board_id": -1, "library": lib, "frames": 10, "insert_markers": true}},
                {"id": "cap", "type": "Capture", "params": {"name": "bf-syn"}},
                {"id": "auxcap", "type": "Capture", "params": {"name": "bf-syn-aux"}}
            ],
            "links": ["board.out -> cap", "board.aux -> auxcap"]
        }),
        None,
        Duration::from_secs(4),
        |h| {
            // Markers once data flow: a number is inserted, a word is refused (counted).
            assert!(wait_until(Duration::from_secs(30), || frames_in(h, "cap") >= 250));
            h.mark("7").unwrap();
            h.mark("eyes closed").unwrap();
        },
    );
    assert_eq!(report.outcome, Outcome::Finished);
    // The source waits on its device thread most of the time: waiting, not busy.
    neuropipe_testkit::assert_mostly_waiting(&report, "board");
    let cap = captured("bf-syn");
    let aux = captured("bf-syn-aux");
    // Labels and units as BrainFlow gives them.
    let stream = cap.stream.as_ref().unwrap();
    let names: Vec<&str> = descr.eeg_names.as_deref().unwrap().split(',').collect();
    assert_eq!(stream.labels(), names);
    assert!(stream.channels.iter().all(|c| c.unit == "uV"));
    assert_eq!(stream.sample_rate, 250.0);
    // The board's identity, for recordings: BrainFlow's board name and id.
    assert_eq!(stream.source_id, "brainflow:-1");
    assert_eq!(
        stream.manufacturer,
        format!("{} (BrainFlow board -1)", descr.name)
    );
    let aux_stream = aux.stream.as_ref().unwrap();
    assert_eq!(aux_stream.source_id, "brainflow:-1-aux");
    let aux_labels = aux_stream.labels();
    for l in [
        "accel_x", "accel_y", "accel_z", "gyro_x", "battery", "marker",
    ] {
        assert!(aux_labels.contains(&l), "aux has {l}: {aux_labels:?}");
    }
    // Every sample, in order, none lost; aux frame for frame with the data.
    let n = cap.frames() as u64;
    assert!(n >= 500, "{n} frames in 4 s");
    let mut next = 0;
    for h in &cap.headers {
        assert_eq!(h.first_frame, next, "frames continue");
        assert_eq!(h.flags & FLAG_LOST_SAMPLES, 0);
        next += h.frames() as u64;
    }
    assert_eq!(readout(&handle, "board", "lost"), 0.0);
    let aux_first: Vec<u64> = aux.headers.iter().map(|h| h.first_frame).collect();
    let first: Vec<u64> = cap.headers.iter().map(|h| h.first_frame).collect();
    assert_eq!(aux_first, first);
    // The sample count matches the rate over the board's own time span. Every sample BrainFlow
    // made arrived (no package-number jump, above); the rate is BrainFlow's synthetic board's
    // own pacing (a 4 ms sleep per sample with no catch-up, so it runs slow by its sleeps'
    // overshoot on a loaded machine): within 1 % on an idle one, 5 % asserted.
    let (t0, t1) = (
        cap.headers[0].timestamp,
        cap.headers.last().unwrap().timestamp,
    );
    let last_first = cap.headers.last().unwrap().first_frame;
    let rate = last_first as f64 / ((t1 - t0) as f64 / 1e9);
    assert!(
        (rate / 250.0 - 1.0).abs() < 0.05,
        "{last_first} frames over {} s: {rate} Hz",
        (t1 - t0) as f64 / 1e9
    );
    // Stamps never go back; the drift readout is the same measure.
    assert!(cap
        .headers
        .windows(2)
        .all(|w| w[1].timestamp >= w[0].timestamp));
    let drift = readout(&handle, "board", "drift");
    assert!(drift.abs() < 10_000.0, "drift {drift} ppm");
    // The marker landed in BrainFlow's marker row, once; the word was refused.
    let m = aux_labels.iter().position(|l| *l == "marker").unwrap();
    let marks: Vec<f64> = aux
        .samples
        .chunks(aux.channels)
        .map(|f| f[m])
        .filter(|&v| v != 0.0)
        .collect();
    assert_eq!(marks, vec![7.0]);
    assert_eq!(readout(&handle, "board", "markers"), 1.0);
    assert_eq!(readout(&handle, "board", "refused"), 1.0);
}

#[test]
fn playback_board_delivers_exactly_what_brainflows_get_board_data_returns() {
    let Some(lib) = library() else { return };
    let dir = reference_dir();
    let _board = one_board();
    let reference = reference_rows(dir);
    let descr = controller(&lib).describe(-1).unwrap();
    let (report, _) = run_until(
        json!({
            "stages": [
                {"id": "board", "type": "BrainFlowSource", "params": {
                    "board_id": -3, "master_board": -1, "library": lib,
                    "file": dir.join("synthetic.csv"), "frames": 16}},
                {"id": "cap", "type": "Capture", "params": {"name": "bf-play"}},
                {"id": "auxcap", "type": "Capture", "params": {"name": "bf-play-aux"}}
            ],
            "links": ["board.out -> cap", "board.aux -> auxcap"]
        }),
        Some(reference.len() as u64),
        Duration::from_secs(30),
        |_| {},
    );
    assert_eq!(report.outcome, Outcome::Finished);
    let cap = captured("bf-play");
    let aux = captured("bf-play-aux");
    assert_eq!(cap.frames(), reference.len(), "every sample of the file");
    let data_rows = descr.data_rows();
    let aux_rows: Vec<usize> = descr.aux_rows().iter().map(|(r, _, _)| *r).collect();
    for (k, sample) in reference.iter().enumerate() {
        let got = &cap.samples[k * data_rows.len()..(k + 1) * data_rows.len()];
        let want: Vec<f64> = data_rows.iter().map(|&r| sample[r]).collect();
        assert_eq!(got, &want[..], "EEG of sample {k}, bit for bit");
        let got = &aux.samples[k * aux_rows.len()..(k + 1) * aux_rows.len()];
        let want: Vec<f64> = aux_rows.iter().map(|&r| sample[r]).collect();
        assert_eq!(got, &want[..], "aux rows of sample {k}");
    }
}

#[test]
fn a_hole_in_the_package_numbers_is_counted_flagged_and_never_filled() {
    let Some(lib) = library() else { return };
    let _board = one_board();
    let (cap, handle, total) = play(&lib, "gap.csv", "bf-gap");
    assert_eq!(
        cap.frames() as u64,
        total,
        "every sample in the file, none invented"
    );
    assert_eq!(readout(&handle, "board", "lost"), 5.0);
    let flagged: Vec<&PacketHeader> = cap
        .headers
        .iter()
        .filter(|h| h.flags & FLAG_LOST_SAMPLES != 0)
        .collect();
    assert_eq!(flagged.len(), 1, "one packet after the hole");
    assert_eq!(flagged[0].lost_frames, 5);
    assert_eq!(
        flagged[0].first_frame, 105,
        "indices skip the 5 lost samples"
    );
    let mut next = 0;
    for h in &cap.headers {
        let lost = if h.flags & FLAG_LOST_SAMPLES != 0 {
            5
        } else {
            0
        };
        assert_eq!(h.first_frame, next + lost);
        next = h.first_frame + h.frames() as u64;
    }
}

#[test]
fn bad_parameters_are_build_errors_naming_the_parameter() {
    let Some(lib) = library() else { return };
    let _board = one_board();
    let err = |params: serde_json::Value| {
        build(json!({
            "stages": [
                {"id": "board", "type": "BrainFlowSource", "params": params},
                {"id": "check", "type": "ContinuityCheck"}
            ],
            "links": ["board.out -> check"]
        }))
        .err()
        .expect("a build error")
    };
    let e = err(json!({"library": "/nonexistent/brainflow"}));
    assert!(
        e.contains("params.library") && e.contains("/nonexistent/brainflow"),
        "{e}"
    );
    let e = err(json!({"board_id": -3, "library": lib, "file": "x.csv"}));
    assert!(e.contains("params.master_board"), "{e}");
    let e = err(json!({"board_id": 999, "library": lib}));
    assert!(e.contains("params.board_id") && e.contains("999"), "{e}");
    let e = err(
        json!({"board_id": -3, "master_board": -1, "library": lib, "file": "/nonexistent.csv"}),
    );
    assert!(
        e.contains("params.file") && e.contains("/nonexistent.csv"),
        "{e}"
    );
}

#[test]
fn a_repeated_package_number_is_no_loss_and_a_restarted_count_is_a_discontinuity() {
    let Some(lib) = library() else { return };
    let _board = one_board();
    let (cap, handle, total) = play(&lib, "renumbered.csv", "bf-renumbered");
    assert_eq!(cap.frames() as u64, total, "every sample");
    assert_eq!(
        readout(&handle, "board", "lost"),
        0.0,
        "nothing counted lost"
    );
    let mut next = 0;
    for h in &cap.headers {
        assert_eq!(h.first_frame, next, "indices continue");
        assert_eq!(h.flags & FLAG_LOST_SAMPLES, 0);
        next += h.frames() as u64;
    }
    let flagged: Vec<u64> = cap
        .headers
        .iter()
        .filter(|h| h.flags & FLAG_DISCONTINUITY != 0)
        .map(|h| h.first_frame)
        .collect();
    assert_eq!(flagged, vec![300], "the restart of the count");
}
