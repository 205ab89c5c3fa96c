//! `Vectorize` and `Lda` alone: bins averaged per channel in order, labels kept; the decoder
//! computing scikit-learn's decision and probabilities from its model file, and refusing a
//! model trained on other features, a continuous input, or epochs that were not vectorised.

mod common;
use common::*;
use neuropipe_core::testing::Harness;
use neuropipe_core::*;
use neuropipe_stages::bci::model::{Decoder, ModelFile, Signature, Training};
use serde_json::json;

/// An epoch stream: 2 channels (C3, C4), epochs of 10 frames from -0.02 s at 250 Hz.
fn epochs() -> StreamInfo {
    let mut s = StreamInfo::new("t", 250.0, 2, "uV", 10, PayloadKind::F64);
    s.channels[0].label = "C3".into();
    s.channels[1].label = "C4".into();
    s.epochs = Some(EpochLayout {
        tmin_s: -0.02,
        times: 10,
        classes: vec!["left".into(), "right".into()],
    });
    s
}

#[test]
fn vectorize_averages_bins_per_channel() {
    let mut h = Harness::new(neuropipe_stages::bci::vectorize::spec())
        .param("decimate", 3)
        .param("tmin", 0.0)
        .input::<Samples<f64>>("in", epochs())
        .build()
        .unwrap();
    let pool = h.pool::<Samples<f64>>(10, 2);
    // Frame k: C3 = k, C4 = 10 k; tmin 0 s is frame 5 (of -5..=4): bins 5..8 only (9 is left).
    let data: Vec<f64> = (0..10).flat_map(|k| [k as f64, 10.0 * k as f64]).collect();
    let mut p = Harness::packet(&pool, 100, &data);
    p.header.label = Some(1);
    h.push("in", p);
    let out = h.take::<Samples<f64>>("out");
    assert_eq!(out[0].samples(), &[6.0, 60.0]);
    assert_eq!(out[0].header.label, Some(1));
    assert_eq!(out[0].header.first_frame, 105);
    assert_eq!(out[0].header.timestamp, 100_000_000 + 20_000_000);
    let errs = Harness::new(neuropipe_stages::bci::vectorize::spec())
        .param("decimate", 20)
        .input::<Samples<f64>>("in", epochs())
        .build()
        .err()
        .unwrap();
    assert!(errs.to_string().contains("holds 10 frames"), "{errs}");
}

/// Features "C3@0ms", "C4@0ms" (one bin each) for two classes.
fn features() -> StreamInfo {
    let mut s = epochs();
    s.channels[0].label = "C3@0ms".into();
    s.channels[1].label = "C4@0ms".into();
    s.epochs = Some(EpochLayout {
        tmin_s: 0.0,
        times: 1,
        classes: vec!["left".into(), "right".into()],
    });
    s
}

fn model_file(dir: &std::path::Path, sig: Signature) -> std::path::PathBuf {
    let model = neuropipe_dsp::decode::LdaModel {
        classes: 2,
        features: 2,
        coef: vec![2.0, -1.0],
        intercept: vec![0.5],
    };
    let t = Training {
        data: vec!["test".into()],
        epochs: vec![1, 1],
        folds: 2,
        accuracy: 1.0,
        balanced_accuracy: 1.0,
        auc: Some(1.0),
        confusion: vec![vec![1, 0], vec![0, 1]],
        trained_at: "2026-12-04T00:00:00Z".into(),
    };
    let path = dir.join("model.json");
    std::fs::write(
        &path,
        serde_json::to_string(&ModelFile::new(&Decoder::Lda(model), sig, vec![], t)).unwrap(),
    )
    .unwrap();
    path
}

#[test]
fn lda_predicts_from_its_model_file() {
    let dir = temp_dir("lda");
    let path = model_file(&dir, Signature::of(&features()));
    let mut h = Harness::new(neuropipe_stages::bci::lda::spec())
        .param("model", path.to_str().unwrap())
        .input::<Samples<f64>>("in", features())
        .build()
        .unwrap();
    let pool = h.pool::<Samples<f64>>(1, 2);
    h.push("in", Harness::packet(&pool, 7, &[1.0, 3.0])); // 2 - 3 + 0.5 = -0.5
    h.push("in", Harness::packet(&pool, 9, &[1.0, 0.0])); // 2.5
    let out = h.take::<Samples<f64>>("out");
    let p1 = |d: f64| 1.0 / (1.0 + (-d).exp());
    assert_eq!(out[0].samples(), &[1.0 - p1(-0.5), p1(-0.5)]);
    assert_eq!(out[0].header.label, Some(0));
    assert_eq!(out[1].header.label, Some(1));
    assert_eq!(out[1].header.timestamp, 9_000_000);
    let events: Vec<String> = h
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Prediction)
        .map(|e| e.text)
        .collect();
    assert_eq!(events, ["left (p = 0.622)", "right (p = 0.924)"]);
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(
        (r.value("left", "predicted"), r.value("right", "predicted")),
        (Some(1.0), Some(1.0))
    );
}

#[test]
fn lda_refuses_what_its_model_was_not_trained_on() {
    let dir = temp_dir("lda-refuse");
    let mut other = Signature::of(&features());
    other.filters = vec!["HP:1Hz".into()];
    let path = model_file(&dir, other);
    let build = |info: StreamInfo| {
        Harness::new(neuropipe_stages::bci::lda::spec())
            .param("model", path.to_str().unwrap())
            .input::<Samples<f64>>("in", info)
            .build()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(build(features()).contains("trained on signal filtered [\"HP:1Hz\"]"));
    assert!(build(epochs()).contains("put a Vectorize stage before it"));
    let missing = Harness::new(neuropipe_stages::bci::lda::spec())
        .param("model", dir.join("none.json").to_str().unwrap())
        .input::<Samples<f64>>("in", features())
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        missing.contains("not found: train it with `neuropipe train"),
        "{missing}"
    );
    let errs = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg"},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "lda", "type": "Lda", "params": {"model": path}},
            {"id": "show", "type": "StdoutSummary"}
        ],
        "links": ["eeg -> volts", "volts -> lda", "lda -> show"]
    }));
    assert!(
        errs[0].message.contains("put an Epoch"),
        "{}",
        errs[0].message
    );
}

#[test]
fn log_variance_is_numpys_log_var_per_channel() {
    let mut h = Harness::new(neuropipe_stages::bci::logvar::spec())
        .input::<Samples<f64>>("in", epochs())
        .build()
        .unwrap();
    let pool = h.pool::<Samples<f64>>(10, 2);
    // C3 = 0, 1, …, 9 (variance 8.25); C4 = 3 × C3 (variance 74.25).
    let data: Vec<f64> = (0..10).flat_map(|k| [k as f64, 3.0 * k as f64]).collect();
    let mut p = Harness::packet(&pool, 40, &data);
    p.header.label = Some(0);
    h.push("in", p);
    let out = h.take::<Samples<f64>>("out");
    assert_eq!(out[0].samples(), &[8.25f64.ln(), 74.25f64.ln()]);
    assert_eq!(
        (out[0].header.label, out[0].header.first_frame),
        (Some(0), 40)
    );
    // An epoch with a flat channel is dropped, counted and reported, naming the channel;
    // the stage goes on.
    h.push("in", Harness::packet(&pool, 50, &[1.0; 20]));
    h.push("in", Harness::packet(&pool, 60, &data));
    let out = h.take::<Samples<f64>>("out");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].header.first_frame, 60);
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("epochs", "dropped_flat"), Some(1.0));
    let dropped: Vec<String> = h
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::EpochDropped)
        .map(|e| e.text)
        .collect();
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].contains("channel C3 is flat"), "{dropped:?}");
    assert!(h.finish().is_ok());
}

#[test]
fn covariance_matches_pyriemann_covariances() {
    let Some(py) = python() else { return };
    let dir = temp_dir("covariance");
    run_python(
        &py,
        &[
            &workspace().join("scripts/bci/covariance_reference.py"),
            &dir,
        ],
    );
    let (n, c, t) = (20, 6, 125);
    let x = read_f64(&dir.join("epochs.f64"));
    let mut info = StreamInfo::new("t", 250.0, c, "uV", t, PayloadKind::F64);
    info.epochs = Some(EpochLayout {
        tmin_s: 0.0,
        times: t,
        classes: vec!["a".into(), "b".into()],
    });
    for est in ["scm", "lwf", "oas"] {
        let want = read_f64(&dir.join(format!("cov_{est}.f64")));
        let mut h = Harness::new(neuropipe_stages::bci::covariance::spec())
            .param("estimator", est)
            .input::<Samples<f64>>("in", info.clone())
            .build()
            .unwrap();
        let pool = h.pool::<Samples<f64>>(t, c);
        let mut worst: f64 = 0.0;
        for e in 0..n {
            // pyRiemann: channels x times; a packet: frames x channels.
            let frames: Vec<f64> = (0..t)
                .flat_map(|k| (0..c).map(move |ch| (e, ch, k)))
                .map(|(e, ch, k)| x[(e * c + ch) * t + k])
                .collect();
            let mut p = Harness::packet(&pool, e as u64 * 1000, &frames);
            p.header.label = Some((e % 2) as u32);
            h.push("in", p);
            let out = h.take::<Samples<f64>>("out");
            let got = out[0].samples();
            let w = &want[e * c * c..(e + 1) * c * c];
            let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (g, v) in got.iter().zip(w) {
                worst = worst.max((g - v).abs() / scale);
            }
            assert_eq!(out[0].header.label, Some((e % 2) as u32));
        }
        println!("{est}: worst relative error {worst:e}");
        assert!(worst <= 1e-12, "{est}: {worst:e}");
    }
}

/// `calibrate`: the first N labelled epochs fit the LDA in the pipeline (nothing is sent
/// meanwhile), the model file is written, predictions follow; calibrating again while running
/// writes a new file beside the first, never over it.
#[test]
fn lda_calibrates_in_the_running_pipeline() {
    let dir = temp_dir("lda-calibrate");
    let path = dir.join("calibrated.json");
    let mut h = Harness::new(neuropipe_stages::bci::lda::spec())
        .param("model", path.to_str().unwrap())
        .param("calibrate", 20)
        .input::<Samples<f64>>("in", features())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<Samples<f64>>(1, 2);
    // Class 0 around (0, 0), class 1 around (3, -3).
    let vector = |i: u64, class: u32| {
        let j = (i * 7 % 11) as f64 * 0.1 - 0.5;
        let mut p = if class == 0 {
            Harness::packet(&pool, i, &[j, -j * 0.5])
        } else {
            Harness::packet(&pool, i, &[3.0 + j, -3.0 + j])
        };
        p.header.label = Some(class);
        p
    };
    for i in 0..20 {
        h.push("in", vector(i, (i % 2) as u32));
    }
    assert!(
        h.take::<Samples<f64>>("out").is_empty(),
        "nothing sent while calibrating"
    );
    // The next epochs are predicted with the fitted model (once the fit is in).
    for i in 20..24 {
        h.push("in", vector(i, (i % 2) as u32));
    }
    let out = h.run_until::<Samples<f64>>("out", 4);
    let labels: Vec<Option<u32>> = out.iter().map(|o| o.header.label).collect();
    assert_eq!(labels, [Some(0), Some(1), Some(0), Some(1)]);
    let m = ModelFile::load(&path).unwrap();
    assert_eq!(m.training.epochs, vec![10, 10]);
    assert_eq!(m.training.folds, 5);
    assert_eq!(m.training.balanced_accuracy, 1.0);
    let status = h.snapshot().readouts.unwrap().status;
    assert!(
        status.contains("calibrated on 20 epochs (10 / 10)"),
        "{status}"
    );
    assert!(status.contains(path.to_str().unwrap()), "{status}");
    // Again, live: a new file.
    let r = h.control(ControlMsg::UpdateParam("calibrate".into(), json!(6)));
    assert_eq!(r, Ok(json!(6)));
    for i in 30..36 {
        h.push("in", vector(i, (i % 2) as u32));
    }
    h.push("in", vector(40, 1));
    let out = h.run_until::<Samples<f64>>("out", 1);
    assert_eq!(out[0].header.label, Some(1));
    assert!(dir.join("calibrated_1.json").exists());
    let texts: Vec<String> = h
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Calibration)
        .map(|e| e.text)
        .collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[1].starts_with("calibration started: 6"), "{texts:?}");
    // Calibration needs labels of every class: all one class fails, and starts over.
    let r = h.control(ControlMsg::UpdateParam("calibrate".into(), json!(4)));
    assert_eq!(r, Ok(json!(4)));
    for i in 50..54 {
        h.push("in", vector(i, 0));
    }
    let failed = h
        .run_until_event(|e| e.kind == EventKind::Calibration && e.text.contains("failed"))
        .expect("the calibration's failure is published");
    assert!(
        failed.text.contains("need samples of at least two classes"),
        "{}",
        failed.text
    );
    // Calibrating again: the next epochs are collected, not predicted.
    h.push("in", vector(60, 1));
    assert!(h.take::<Samples<f64>>("out").is_empty());
}

/// `LogisticRegression` calibrates the same way, fitting a logistic regression with its `c`
/// (the model file says `logreg`, and a second stage loads it).
#[test]
fn logistic_regression_calibrates_in_the_running_pipeline() {
    let dir = temp_dir("logreg-calibrate");
    let path = dir.join("lr.json");
    let mut h = Harness::new(neuropipe_stages::bci::lda::logistic_spec())
        .param("model", path.to_str().unwrap())
        .param("calibrate", 10)
        .param("c", 0.5)
        .input::<Samples<f64>>("in", features())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<Samples<f64>>(1, 2);
    let vector = |i: u64, class: u32| {
        let j = (i * 7 % 11) as f64 * 0.1 - 0.5;
        let x = if class == 0 {
            [j, 1.0 - j]
        } else {
            [2.0 + j, -1.0 - j]
        };
        let mut p = Harness::packet(&pool, i, &x);
        p.header.label = Some(class);
        p
    };
    for i in 0..14 {
        h.push("in", vector(i, (i % 2) as u32));
    }
    let out = h.run_until::<Samples<f64>>("out", 4);
    let labels: Vec<Option<u32>> = out.iter().map(|o| o.header.label).collect();
    assert_eq!(labels, [Some(0), Some(1), Some(0), Some(1)]);
    let m = ModelFile::load(&path).unwrap();
    assert_eq!(m.decoder, "logreg");
    assert_eq!(m.training.epochs, vec![5, 5]);
    // The calibrated model equals a fit of the same epochs.
    let (mut x, mut y) = (vec![], vec![]);
    for i in 0..10 {
        let j = (i * 7 % 11) as f64 * 0.1 - 0.5;
        x.extend(if i % 2 == 0 {
            [j, 1.0 - j]
        } else {
            [2.0 + j, -1.0 - j]
        });
        y.push((i % 2) as u32);
    }
    let want = neuropipe_dsp::decode::fit_logistic(&x, 2, &y, 2, 0.5).unwrap();
    assert_eq!(m.logistic().unwrap(), want);
    assert!(
        m.lda().is_err(),
        "an Lda stage refuses a logistic regression's file"
    );
    h.finish().unwrap();
    let loaded = Harness::new(neuropipe_stages::bci::lda::logistic_spec())
        .param("model", path.to_str().unwrap())
        .input::<Samples<f64>>("in", features())
        .build();
    assert!(loaded.is_ok());
}
