//! `Mdm` and `TangentSpace` alone: predictions and tangent vectors computed by the dsp
//! kernels from the model file, an epoch whose covariance is not positive definite dropped,
//! counted and reported, and what a model was not fitted on refused at build.

mod common;
use common::*;
use neuropipe_core::testing::Harness;
use neuropipe_core::*;
use neuropipe_dsp::decode::{LdaModel, MdmModel, Spd};
use neuropipe_stages::bci::model::{Decoder, ModelFile, Signature, Training, Transform};
use serde_json::json;

/// A covariance stream: C3, C4 as 2 × 2 matrices `cov(a,b)`, two classes.
fn covariances() -> StreamInfo {
    let mut s = StreamInfo::new("t", 250.0, 4, "uV^2", 1, PayloadKind::F64);
    for (c, l) in
        s.channels
            .iter_mut()
            .zip(["cov(C3,C3)", "cov(C3,C4)", "cov(C4,C3)", "cov(C4,C4)"])
    {
        c.label = l.into();
        c.kind = "Covariance".into();
    }
    s.epochs = Some(EpochLayout {
        tmin_s: 0.5,
        times: 1,
        classes: vec!["left".into(), "right".into()],
    });
    s
}

fn training() -> Training {
    Training {
        data: vec!["test".into()],
        epochs: vec![1, 1],
        folds: 2,
        accuracy: 1.0,
        balanced_accuracy: 1.0,
        auc: Some(1.0),
        confusion: vec![vec![1, 0], vec![0, 1]],
        trained_at: "2026-12-05T00:00:00Z".into(),
    }
}

fn write(dir: &std::path::Path, name: &str, f: &ModelFile) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(f).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

/// Class means: left = I, right = diag(1, 4).
fn mdm_model() -> MdmModel {
    MdmModel::from_means(vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 4.0], 2, 2).unwrap()
}

fn run_mdm(model: &str) -> Harness {
    Harness::new(neuropipe_stages::bci::mdm::spec())
        .param("model", model)
        .input::<Samples<f64>>("in", covariances())
        .build()
        .unwrap()
}

#[test]
fn mdm_predicts_the_nearest_class_mean() {
    let dir = temp_dir("mdm");
    let file = ModelFile::new(
        &Decoder::Mdm(mdm_model()),
        Signature::of(&covariances()),
        vec![],
        training(),
    );
    let model = write(&dir, "mdm.json", &file);
    let mut h = run_mdm(&model);
    let pool = h.pool::<Samples<f64>>(1, 4);
    // diag(1, 3.5) is nearer to diag(1, 4); diag(1.2, 0.9) to I.
    let cases = [[1.0, 0.0, 0.0, 3.5], [1.2, 0.1, 0.1, 0.9]];
    for (i, c) in cases.iter().enumerate() {
        let mut p = Harness::packet(&pool, 100 * i as u64, c);
        p.header.label = Some(0);
        h.push("in", p);
    }
    // Not positive definite: dropped, counted, reported; the stage goes on.
    h.push("in", Harness::packet(&pool, 300, &[1.0, 1.0, 1.0, 1.0]));
    h.push("in", Harness::packet(&pool, 400, &cases[0]));
    let out = h.take::<Samples<f64>>("out");
    assert_eq!(out.len(), 3);
    let m = mdm_model();
    let mut spd = Spd::new(2);
    for (o, c) in out.iter().zip([cases[0], cases[1], cases[0]]) {
        let (mut d, mut p) = ([0.0; 2], [0.0; 2]);
        m.distances_into(&c, &mut spd, &mut d).unwrap();
        m.proba_into(&d, &mut p);
        assert_eq!(o.samples(), &p);
        assert_eq!(o.header.label, Some(m.predict(&d) as u32));
    }
    assert_eq!(
        out.iter().map(|o| o.header.label).collect::<Vec<_>>(),
        [Some(1), Some(0), Some(1)]
    );
    assert_eq!(out[2].header.first_frame, 400);
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("right", "predicted"), Some(2.0));
    assert_eq!(r.value("left", "predicted"), Some(1.0));
    assert_eq!(r.value("(dropped)", "predicted"), Some(1.0));
    let events = h.events();
    let dropped: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::EpochDropped)
        .collect();
    assert_eq!(dropped.len(), 1);
    assert!(
        dropped[0].text.contains("not positive definite"),
        "{}",
        dropped[0].text
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::Prediction)
            .count(),
        3
    );
    assert!(h.finish().is_ok());
}

#[test]
fn riemannian_stages_refuse_what_their_model_was_not_fitted_on() {
    let dir = temp_dir("riemann-refuse");
    let mdm = write(
        &dir,
        "mdm.json",
        &ModelFile::new(
            &Decoder::Mdm(mdm_model()),
            Signature::of(&covariances()),
            vec![],
            training(),
        ),
    );
    let lda = write(
        &dir,
        "lda.json",
        &ModelFile::new(
            &Decoder::Lda(LdaModel {
                classes: 2,
                features: 4,
                coef: vec![1.0; 4],
                intercept: vec![0.0],
            }),
            Signature::of(&covariances()),
            vec![],
            training(),
        ),
    );
    let err = |spec: StageSpec, model: &str, info: StreamInfo| {
        Harness::new(spec)
            .param("model", model)
            .input::<Samples<f64>>("in", info)
            .build()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let mdm_spec = neuropipe_stages::bci::mdm::spec;
    let ts_spec = neuropipe_stages::bci::tangent::spec;
    // An LDA model in an Mdm stage; an MDM model in a TangentSpace stage.
    let e = err(mdm_spec(), &lda, covariances());
    assert!(e.contains("holds a \"lda\" decoder"), "{e}");
    let e = err(ts_spec(), &mdm, covariances());
    assert!(e.contains("holds no fitted TangentSpace"), "{e}");
    // Other channels.
    let mut other = covariances();
    other.channels[0].label = "cov(Cz,Cz)".into();
    let e = err(mdm_spec(), &mdm, other);
    assert!(e.contains("they first differ at feature 0"), "{e}");
    // Not covariances.
    let mut feats = covariances();
    for c in &mut feats.channels {
        c.kind = "EEG".into();
    }
    let e = err(mdm_spec(), &mdm, feats);
    assert!(e.contains("put a Covariance stage before it"), "{e}");
    // In a pipeline: Mdm straight after Epoch.
    let errs = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"task": "motor_imagery"}},
            {"id": "volts", "type": "RawToVoltage", "params": {"sample_type": "f64"}},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["left", "right"], "tmin": 0.5, "tmax": 3.5}},
            {"id": "mdm", "type": "Mdm", "params": {"model": mdm}},
            {"id": "show", "type": "StdoutSummary"}
        ],
        "links": ["eeg -> volts", "volts -> ep", "ep -> mdm", "mdm -> show"]
    }));
    assert!(
        errs.iter()
            .any(|e| e.message.contains("put a Covariance stage before it")),
        "{errs:?}"
    );
}

#[test]
fn tangent_space_maps_at_its_fitted_reference() {
    let dir = temp_dir("tangent");
    let reference = vec![1.0, 0.0, 0.0, 4.0];
    let ts = Transform::TangentSpace {
        input: Signature::of(&covariances()),
        reference,
    };
    // The decoder after it (its signature: the tangent features).
    let n = 2;
    let feats = neuropipe_stages::bci::tangent::output_stream(&covariances(), n);
    let labels: Vec<&str> = feats.channels.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["ts(C3,C3)", "ts(C3,C4)", "ts(C4,C4)"]);
    let lda = Decoder::Lda(LdaModel {
        classes: 2,
        features: 3,
        coef: vec![1.0; 3],
        intercept: vec![0.0],
    });
    let model = write(
        &dir,
        "ts.json",
        &ModelFile::new(&lda, Signature::of(&feats), vec![ts], training()),
    );
    let mut h = Harness::new(neuropipe_stages::bci::tangent::spec())
        .param("model", model.as_str())
        .input::<Samples<f64>>("in", covariances())
        .build()
        .unwrap();
    let pool = h.pool::<Samples<f64>>(1, 4);
    // R^-½ diag(2, 4) R^-½ = diag(2, 1): log = diag(ln 2, 0).
    let mut p = Harness::packet(&pool, 10, &[2.0, 0.0, 0.0, 4.0]);
    p.header.label = Some(1);
    h.push("in", p);
    h.push("in", Harness::packet(&pool, 20, &[f64::NAN, 0.0, 0.0, 1.0]));
    let out = h.take::<Samples<f64>>("out");
    assert_eq!(out.len(), 1);
    let v = out[0].samples();
    assert!(
        (v[0] - 2f64.ln()).abs() < 1e-15 && v[1].abs() < 1e-15 && v[2].abs() < 1e-15,
        "{v:?}"
    );
    assert_eq!(out[0].header.label, Some(1));
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("epochs", "dropped"), Some(1.0));
    // An Lda reading the same file takes the tangent features.
    let mut h = Harness::new(neuropipe_stages::bci::lda::spec())
        .param("model", model.as_str())
        .input::<Samples<f64>>("in", feats)
        .build()
        .unwrap();
    let pool = h.pool::<Samples<f64>>(1, 3);
    h.push("in", Harness::packet(&pool, 10, &[1.0, 0.0, 0.0]));
    assert_eq!(h.take::<Samples<f64>>("out")[0].header.label, Some(1));
}

#[test]
fn csp_filters_give_log_variances_and_must_match_the_model() {
    let dir = temp_dir("csp");
    // Two filters: C3 alone, and C3 - C4.
    let filters = vec![1.0, 0.0, 1.0, -1.0];
    let feats = neuropipe_stages::bci::csp::output_stream(&covariances(), 2);
    let labels: Vec<&str> = feats.channels.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["csp1", "csp2"]);
    let lda = Decoder::Lda(LdaModel {
        classes: 2,
        features: 2,
        coef: vec![1.0, -1.0],
        intercept: vec![0.0],
    });
    let model = write(
        &dir,
        "csp.json",
        &ModelFile::new(
            &lda,
            Signature::of(&feats),
            vec![Transform::Csp {
                input: Signature::of(&covariances()),
                filters,
            }],
            training(),
        ),
    );
    let csp = |filters: usize| {
        Harness::new(neuropipe_stages::bci::csp::spec())
            .param("model", model.as_str())
            .param("filters", filters)
            .input::<Samples<f64>>("in", covariances())
    };
    let mut h = csp(2).build().unwrap();
    let pool = h.pool::<Samples<f64>>(1, 4);
    // C = [[2, 0.5], [0.5, 3]]: var(C3) = 2, var(C3 - C4) = 2 - 1 + 3 = 4.
    let mut p = Harness::packet(&pool, 10, &[2.0, 0.5, 0.5, 3.0]);
    p.header.label = Some(0);
    h.push("in", p);
    // C3 - C4 cancels a signal common to both: variance 0, dropped.
    h.push("in", Harness::packet(&pool, 20, &[1.0, 1.0, 1.0, 1.0]));
    let out = h.take::<Samples<f64>>("out");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].samples(), &[2f64.ln(), 4f64.ln()]);
    assert_eq!(out[0].header.label, Some(0));
    assert_eq!(
        h.snapshot().readouts.unwrap().value("epochs", "dropped"),
        Some(1.0)
    );
    let e = csp(3).build().err().unwrap().to_string();
    assert!(e.contains("3 filters from 2 channels"), "{e}");
    let e = csp(1).build().err().unwrap().to_string();
    assert!(e.contains("the model holds 2 CSP filters, not 1"), "{e}");
}
