//! `neuropipe train` end to end, as a user runs it: fit the P300 speller's LDA on a simulated
//! session (decoding well above chance with the P300 on, at chance with it off), refuse to
//! overwrite a model, train on a recording made with `--record` instead, run the online
//! pipeline with the model (predictions printed and annotated), and refuse a model trained on
//! other features; fit motor-imagery decoders (log-variance + LDA, MDM, tangent space + LDA).

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neuropipe-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The repository's speller pipeline with `p300_uv` changed, every `model` pointing at
/// `model.json`, its LSL outlet left out (tests run outside a private network namespace),
/// in `dir`.
fn speller(dir: &Path, p300_uv: f64) -> PathBuf {
    speller_with(dir, p300_uv, true)
}

/// [`speller`], without its Xdawn stage if `!xdawn` (epochs straight into Vectorize).
fn speller_with(dir: &Path, p300_uv: f64, xdawn: bool) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("pipelines/p300_speller.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let mut gone = vec![];
    v["stages"].as_array_mut().unwrap().retain(|s| {
        let keep = s["type"] != "LslOutlet" && (xdawn || s["type"] != "Xdawn");
        if !keep {
            gone.push(s["id"].as_str().unwrap().to_string());
        }
        keep
    });
    for s in v["stages"].as_array_mut().unwrap() {
        if s["type"] == "SimulatedEeg" {
            s["params"]["p300_uv"] = p300_uv.into();
        }
        if s["params"].get("model").is_some() {
            s["params"]["model"] = "model.json".into();
        }
    }
    let links = v["links"].as_array_mut().unwrap();
    links.retain(|l| {
        let l = l.as_str().unwrap();
        !gone
            .iter()
            .any(|g| l.starts_with(&format!("{g} ")) || l.ends_with(&format!(" {g}")))
    });
    if !xdawn {
        links.push("epochs -> features".into());
    }
    let path = dir.join("speller.json");
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

/// The `speller` status line of a run's summary: (selections right, cued selections).
fn selections_right(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("speller: "))
        .unwrap_or_else(|| panic!("no speller summary in {stderr}"));
    let (right, rest) = line
        .split_once("; ")
        .and_then(|(_, r)| r.split_once(" of "))
        .unwrap_or_else(|| panic!("{line}"));
    let cued = rest.split(' ').next().unwrap();
    (right.parse().unwrap(), cued.parse().unwrap())
}

/// The whole speller, as the README runs it: Xdawn and the LDA trained together on a
/// simulated session, then a new session (another seed) spelled: the Accumulator's
/// selections are right far above chance (1 in 6) with the P300, at chance without.
#[test]
fn the_speller_selects_the_cued_symbols_and_is_at_chance_without_a_p300() {
    let d = dir("spell");
    let mut got = vec![];
    for uv in [8.0, 0.0] {
        let p = speller(&d, uv);
        let (ok, _, stderr) = train(&[p.to_str().unwrap(), "--duration", "300", "--overwrite"]);
        assert!(ok, "{stderr}");
        let m: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("model.json")).unwrap()).unwrap();
        assert_eq!(m["transforms"][0]["type"], "Xdawn");
        // 8 channels x (2 classes x 4 filters).
        assert_eq!(m["transforms"][0]["filters"].as_array().unwrap().len(), 64);
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v["stages"][0]["params"]["realtime"] = false.into();
        v["stages"][0]["params"]["duration_s"] = 900.into();
        v["stages"][0]["params"]["seed"] = 99.into();
        std::fs::write(&p, v.to_string()).unwrap();
        let out = bin()
            .args(["run", p.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        println!(
            "p300_uv {uv}: {}",
            stderr.lines().find(|l| l.starts_with("speller: ")).unwrap()
        );
        got.push(selections_right(&stderr));
    }
    // 900 s: a trial every 16 s from 1 s.
    assert!(got.iter().all(|&(_, n)| (50..=57).contains(&n)), "{got:?}");
    let rate = |(r, n): (u64, u64)| r as f64 / n as f64;
    // Deterministic (seeded): 87 % with the P300, 19 % without.
    assert!(rate(got[0]) > 0.7, "with a P300: {:?}", got[0]);
    assert!(rate(got[1]) < 0.4, "without: {:?}", got[1]);
}

fn train(args: &[&str]) -> (bool, String, String) {
    let out = bin().arg("train").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn training_report(model: &Path) -> Value {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(model).unwrap()).unwrap();
    m["training"].clone()
}

#[test]
fn decoding_is_above_chance_with_a_p300_and_at_chance_without() {
    let d = dir("effect");
    let mut auc = vec![];
    for uv in [15.0, 0.0] {
        let p = speller(&d, uv);
        let model = d.join("model.json");
        let _ = std::fs::remove_file(&model);
        let (ok, stdout, stderr) = train(&[p.to_str().unwrap(), "--duration", "240"]);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("5-fold cross-validation"), "{stdout}");
        let t = training_report(&model);
        println!("p300_uv {uv}: {t}");
        // 240 s: a stimulus every 0.25 s from 1 s (953 complete epochs), minus those the
        // 150 µV threshold rejects (blinks on Fp1/Fp2, every 6 s on average).
        let epochs: u64 = t["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert!((700..=953).contains(&epochs), "{epochs} epochs");
        auc.push((
            t["auc"].as_f64().unwrap(),
            t["balanced_accuracy"].as_f64().unwrap(),
        ));
    }
    // Deterministic (seeded; Xdawn + LDA): 0.92 / 0.79 with the P300, 0.51 / 0.50 without.
    assert!(
        auc[0].0 > 0.85 && auc[0].1 > 0.65,
        "with a P300: {:?}",
        auc[0]
    );
    assert!(
        (0.35..0.65).contains(&auc[1].0) && (0.4..0.6).contains(&auc[1].1),
        "without: {:?}",
        auc[1]
    );
}

#[test]
fn the_online_pipeline_predicts_with_the_trained_model_and_refuses_a_mismatch() {
    let d = dir("online");
    let p = speller(&d, 15.0);
    let (ok, _, stderr) = train(&[p.to_str().unwrap(), "--duration", "60"]);
    assert!(ok, "{stderr}");
    let model = d.join("model.json");
    let before = std::fs::read(&model).unwrap();
    // No silent overwrite.
    let (ok, _, stderr) = train(&[p.to_str().unwrap(), "--duration", "60"]);
    assert!(
        !ok && stderr.contains("exists: pass --overwrite"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&model).unwrap(), before);

    // Run on line (real time, 3 s: stimuli from 1 s, windows of 0.8 s) and record: the
    // predictions are printed and annotated in the recording.
    let rec = d.join("online.bdf");
    let out = bin()
        .current_dir(&d)
        .args([
            "run",
            p.to_str().unwrap(),
            "--duration",
            "3",
            "--quiet",
            "--record",
        ])
        .arg(&rec)
        .arg("--stats-json")
        .arg(d.join("stats.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("epochs (target"), "{stdout}");
    assert!(
        stderr.contains("lda: ") && stderr.contains("predictions (target"),
        "{stderr}"
    );
    // The closed loop is measured: every prediction reaching the sink carries the emission
    // time of the packet that completed its epoch.
    let stats: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("stats.json")).unwrap()).unwrap();
    let show = stats["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "show")
        .unwrap();
    let n = show["packets_in"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(show["latency_count"].as_u64().unwrap(), n, "{show}");
    let bytes = std::fs::read(&rec).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("prediction: "),
        "predictions annotated in {}",
        rec.display()
    );

    // Other features (coarser bins) than the model was trained on: refused, with the reason.
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    for s in v["stages"].as_array_mut().unwrap() {
        if s["type"] == "Vectorize" {
            s["params"]["decimate"] = 50.into();
        }
    }
    let other = d.join("other.json");
    std::fs::write(&other, v.to_string()).unwrap();
    let out = bin()
        .args(["validate", other.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("params.model") && stderr.contains("takes 64 features but 32 arrive here"),
        "{stderr}"
    );
}

#[test]
fn training_on_a_recording_gives_the_same_decoder_quality() {
    let d = dir("data");
    // A calibration session: the simulated oddball recorded as volts, markers annotated.
    let calib = d.join("calib.json");
    std::fs::write(
        &calib,
        r#"{"stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"task": "p300", "p300_uv": 15, "realtime": false, "duration_s": 240}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "show", "type": "StdoutSummary", "params": {"interval_s": 3600}}
        ], "links": ["eeg -> volts", "volts -> show"]}"#,
    )
    .unwrap();
    let rec = d.join("calib.bdf");
    let out = bin()
        .args(["run", calib.to_str().unwrap(), "--quiet", "--record"])
        .arg(&rec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = speller(&d, 15.0);
    let (ok, stdout, stderr) = train(&[p.to_str().unwrap(), "--data", rec.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("AUC"), "{stdout}");
    let t = training_report(&d.join("model.json"));
    assert_eq!(t["data"][0].as_str().unwrap(), rec.to_str().unwrap());
    let auc = t["auc"].as_f64().unwrap();
    assert!(auc > 0.85, "trained on the recording: AUC {auc}");
}

/// The repository's pipeline `name` with the simulated ERD set and every `model` pointing
/// at `model.json` in `dir`.
fn motor_imagery(dir: &Path, name: &str, erd: f64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("pipelines").join(name)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for s in v["stages"].as_array_mut().unwrap() {
        if s["type"] == "SimulatedEeg" {
            s["params"]["erd"] = erd.into();
        }
        if s["params"].get("model").is_some() {
            s["params"]["model"] = "model.json".into();
        }
    }
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

/// Log-variance + LDA, MDM on covariances, tangent space + LDA, CSP + LDA and tangent
/// space + logistic regression (the front stage fitted with the decoder, inside each
/// cross-validation fold), on the same simulated sessions.
#[test]
fn motor_imagery_is_decoded_from_mu_desynchronisation_and_at_chance_without() {
    let d = dir("mi");
    // Deterministic (seeded): with the ERD, 94 %, 77.5 %, 89 %, 92 % and 91 % balanced
    // accuracy; without, 46 %, 45 %, 53 %, 53.5 % and 56 %.
    for (name, at_least) in [
        ("motor_imagery.json", 0.85),
        ("motor_imagery_mdm.json", 0.7),
        ("motor_imagery_tangent.json", 0.8),
        ("motor_imagery_csp.json", 0.85),
        ("motor_imagery_logreg.json", 0.85),
    ] {
        let mut got = vec![];
        for erd in [0.6, 0.0] {
            let p = motor_imagery(&d, name, erd);
            let (ok, _, stderr) = train(&[p.to_str().unwrap(), "--duration", "600", "--overwrite"]);
            assert!(ok, "{name}: {stderr}");
            let t = training_report(&d.join("model.json"));
            assert_eq!(
                t["epochs"],
                serde_json::json!([47, 53]),
                "{name}: a cue every 6 s from 2 s"
            );
            got.push(t["balanced_accuracy"].as_f64().unwrap());
        }
        assert!(
            got[0] > at_least,
            "{name} with mu desynchronisation: {}",
            got[0]
        );
        println!("{name}: balanced accuracy {got:?} (with, without the ERD)");
        assert!((0.3..0.7).contains(&got[1]), "{name} without: {}", got[1]);
    }
    // The tangent-space model file holds the reference the TangentSpace stage loads, and the
    // online pipeline runs with it.
    let p = motor_imagery(&d, "motor_imagery_tangent.json", 0.6);
    let (ok, _, stderr) = train(&[p.to_str().unwrap(), "--duration", "600", "--overwrite"]);
    assert!(ok, "{stderr}");
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("model.json")).unwrap()).unwrap();
    assert_eq!(m["transforms"][0]["type"], "TangentSpace");
    assert_eq!(
        m["transforms"][0]["reference"].as_array().unwrap().len(),
        64
    );
    assert_eq!(m["input"]["features"].as_array().unwrap().len(), 36);
    let out = bin()
        .args(["run", p.to_str().unwrap(), "--duration", "9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The run summary: one cue (at 2 s) whose epoch ended within the 9 s.
    assert!(stderr.contains("lda: 1 predictions"), "{stderr}");
}

#[test]
fn a_tangent_space_must_share_its_decoders_model_file() {
    let d = dir("ts-file");
    let p = motor_imagery(&d, "motor_imagery_tangent.json", 0.6);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["stages"][5]["params"]["model"] = "other.json".into();
    std::fs::write(&p, v.to_string()).unwrap();
    let (ok, _, stderr) = train(&[p.to_str().unwrap(), "--duration", "60"]);
    assert!(!ok);
    assert!(
        stderr.contains("stage `ts` (TangentSpace) is fitted with the decoder `lda`"),
        "{stderr}"
    );
}

/// `calibrate` in the pipeline file: the speller collects its first 200 epochs, fits, writes
/// the model (beside the one named if a file is there), then predicts the rest; the run
/// summary says so.
#[test]
fn the_speller_calibrates_itself_in_the_running_pipeline() {
    let d = dir("calibrate");
    // In-pipeline calibration fits the LDA alone: the speller without its Xdawn stage.
    let p = speller_with(&d, 15.0, false);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    for s in v["stages"].as_array_mut().unwrap() {
        match s["type"].as_str().unwrap() {
            "SimulatedEeg" => {
                s["params"]["realtime"] = false.into();
                s["params"]["duration_s"] = 120.into();
            }
            "Lda" => s["params"]["calibrate"] = 200.into(),
            _ => {}
        }
    }
    std::fs::write(&p, v.to_string()).unwrap();
    let run = || {
        let out = bin().args(["run", p.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let stderr = run();
    assert!(stderr.contains("calibrated on 200 epochs"), "{stderr}");
    assert!(stderr.contains("labelled epochs right"), "{stderr}");
    let model = d.join("model.json");
    let t = training_report(&model);
    assert_eq!(
        t["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        200
    );
    assert!(t["auc"].as_f64().unwrap() > 0.8, "{t}");
    // Again: the first model stays; the new one goes beside it.
    let before = std::fs::read(&model).unwrap();
    let stderr = run();
    assert!(stderr.contains("model_1.json"), "{stderr}");
    assert_eq!(std::fs::read(&model).unwrap(), before);
}
