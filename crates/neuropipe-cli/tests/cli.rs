//! The `neuropipe` binary as a user runs it: exit codes, messages, signals, stats.

mod common;
use common::bin;

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("neuropipe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let p = tmp(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const REPO_DEFAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines/default.json");

#[test]
fn validate_ok_and_all_problems_with_exit_2() {
    let o = bin().args(["validate", REPO_DEFAULT]).output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains(": ok (6 stages, 5 links)"));

    let bad = write(
        "bad.json",
        r#"{"stages": [{"id": "eeg", "type": "SimulatedEg"}, {"id": "v", "type": "RawToVoltage", "params": {"gain": "high"}}],
            "links": ["eeg -> v"]}"#,
    );
    let o = bin().arg("validate").arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(err.contains("problems in pipeline:"), "{err}");
    assert!(
        err.contains(
            "$.stages[0].type: unknown stage type `SimulatedEg` (did you mean \"SimulatedEeg\"?)"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "$.stages[1].params.gain: `gain` must be a number in 1..=24, got string \"high\""
        ),
        "{err}"
    );

    let o = bin()
        .args(["validate", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("cannot read /nonexistent.json"));
}

#[test]
fn stages_and_schema_describe_the_registry() {
    let o = bin().arg("stages").output().unwrap();
    assert!(o.status.success());
    let out = text(&o).0;
    assert!(out.contains("SimulatedEeg"));
    assert!(out.contains("alpha_uv"));
    let o = bin().args(["stages", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["type"] == "RawToVoltage"));
    let o = bin().arg("schema").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["title"], "neuropipe pipeline");
    let variants = v["properties"]["stages"]["items"]["oneOf"]
        .as_array()
        .unwrap();
    assert!(variants
        .iter()
        .any(|s| s["properties"]["type"]["const"] == "SimulatedEeg"));
}

#[test]
fn default_pipeline_runs_for_a_duration_with_stats() {
    let stats = tmp("stats.json");
    let o = bin()
        .args(["run", "--duration", "1.5", "--quiet", "--stats-json"])
        .arg(&stats)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).1.contains("pipeline ran"), "summary table printed");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let stages = v["stages"].as_array().unwrap();
    let src = stages.iter().find(|s| s["id"] == "eeg").unwrap();
    let sink = stages.iter().find(|s| s["id"] == "check").unwrap();
    let frames = src["frames_out"].as_u64().unwrap();
    assert!(
        (300..=400).contains(&frames),
        "about 1.5 s at 250 Hz: {frames}"
    );
    assert_eq!(
        sink["frames_in"].as_u64().unwrap(),
        frames,
        "every frame reached the sink"
    );
    assert!(stages.iter().all(|s| s["state"] == "finished"));
}

#[test]
fn one_worker_thread_runs_the_whole_pipeline() {
    let stats = tmp("one_thread.json");
    let o = bin()
        .args([
            "run",
            "--threads",
            "1",
            "--duration",
            "1",
            "--quiet",
            "--stats-json",
        ])
        .arg(&stats)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let stages = v["stages"].as_array().unwrap();
    let frames = |id: &str, key: &str| {
        stages.iter().find(|s| s["id"] == id).unwrap()[key]
            .as_u64()
            .unwrap()
    };
    assert!(frames("eeg", "frames_out") >= 200, "about 1 s at 250 Hz");
    assert_eq!(frames("check", "frames_in"), frames("eeg", "frames_out"));
    let o = bin().args(["run", "--threads", "0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--threads"), "{:?}", text(&o));
}

#[test]
fn sigint_stops_cleanly_with_exit_0() {
    let stats = tmp("sigint.json");
    let child = bin()
        .args(["run", "--quiet", "--stats-json"])
        .arg(&stats)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t0 = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3), "stopped promptly");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(
        stages[0]["frames_out"], stages[3]["frames_in"],
        "drained to the sink"
    );
}

#[test]
fn fatal_stage_error_exits_1_naming_the_stage() {
    let p = write(
        "fatal.json",
        r#"{"stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"realtime": false, "duration_s": 1}},
            {"id": "check", "type": "ContinuityCheck", "params": {"expect_frames": 100}}
        ], "links": ["eeg -> check"]}"#,
    );
    let o = bin().arg("run").arg(&p).arg("--quiet").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o)
            .1
            .contains("error: stage `check` failed: expected 100 frames, received 250"),
        "{:?}",
        text(&o)
    );
}

#[test]
fn bad_arguments_exit_2() {
    let o = bin().args(["run", "--duration", "-1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = bin()
        .args(["run", "--record", "out.wav", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("must end in .edf, .bdf, .csv or .xdf"),
        "{:?}",
        text(&o)
    );
}

#[test]
fn published_schema_is_current() {
    let o = bin().arg("schema").output().unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/pipeline.schema.json"
    );
    let published = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        published == String::from_utf8_lossy(&o.stdout),
        "docs/pipeline.schema.json is stale: run `neuropipe schema > docs/pipeline.schema.json`"
    );
}

#[test]
fn hardware_examples_validate_offline_and_probe_finds_the_missing_device() {
    // `validate` never touches serial ports or the network: the hardware examples are valid on
    // a machine with no board and no stream.
    for name in [
        "cyton_to_bdf.json",
        "lsl_to_edf.json",
        "lsl_session_to_xdf.json",
    ] {
        let path = format!(
            "{}/../../pipelines/hardware/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let o = bin().args(["validate", &path]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o).1);
        assert!(text(&o).0.contains(": ok ("), "{name}");
    }
    // `--probe` opens the port, as `run` would.
    let cyton = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../pipelines/hardware/cyton_to_bdf.json"
    );
    let o = bin().args(["validate", "--probe", cyton]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(err.contains("1 problem in pipeline:"), "{err}");
    assert!(err.contains("$.stages[0].params.port: stage `cyton` (CytonSource): cannot open serial port /dev/ttyUSB0"), "{err}");
}

#[test]
fn validate_is_cheap_and_caps_its_output() {
    // 10,000 stages: checked offline without allocating the pools a run would.
    let dir = std::env::temp_dir().join(format!("np-cli-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut stages = vec![
        serde_json::json!({"id": "eeg", "type": "SimulatedEeg"}),
        serde_json::json!({"id": "v", "type": "RawToVoltage"}),
    ];
    let mut links = vec!["eeg.out -> v.in".to_string()];
    let mut prev = "v".to_string();
    for i in 0..9_997 {
        stages.push(serde_json::json!({"id": format!("g{i}"), "type": "Gain"}));
        links.push(format!("{prev}.out -> g{i}.in"));
        prev = format!("g{i}");
    }
    stages.push(serde_json::json!({"id": "sink", "type": "ContinuityCheck"}));
    links.push(format!("{prev}.out -> sink.in"));
    let big = dir.join("big.json");
    std::fs::write(
        &big,
        serde_json::json!({"stages": stages, "links": links}).to_string(),
    )
    .unwrap();
    let o = bin()
        .args(["validate", big.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert!(text(&o).0.contains("ok (10000 stages"), "{}", text(&o).0);

    // 100,000 duplicate links: every one counted, the first 50 shown.
    let dup = dir.join("dup.json");
    let links = vec!["eeg.out -> v.in"; 100_000];
    std::fs::write(
        &dup,
        serde_json::json!({"stages": [
            {"id": "eeg", "type": "SimulatedEeg"}, {"id": "v", "type": "RawToVoltage"}
        ], "links": links})
        .to_string(),
    )
    .unwrap();
    let o = bin()
        .args(["validate", dup.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(
        err.contains("99999 problems in pipeline:"),
        "{}",
        &err[..200.min(err.len())]
    );
    assert!(
        err.contains("... and 99949 more"),
        "{}",
        &err[err.len().saturating_sub(300)..]
    );
    assert!(err.len() < 20_000, "{} bytes of errors", err.len());
    std::fs::remove_dir_all(&dir).unwrap();
}
