//! `Onnx`: tiny models made by `scripts/bci/onnx_models.py` (a linear decoder of whole epochs
//! built with `onnx.helper`, and a scikit-learn LogisticRegression exported by skl2onnx) give
//! onnxruntime's outputs for the same inputs; shapes that do not fit are build errors naming
//! both.

mod common;
use common::*;
use neuropipe_core::testing::Harness;
use neuropipe_core::*;
use serde_json::{json, Value};

fn data(name: &str) -> String {
    workspace()
        .join("crates/neuropipe-stages/tests/data")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("onnx_reference.json")).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// An epoch stream of `channels` x `times` with these classes.
fn epochs(channels: usize, times: usize, classes: &[&str]) -> StreamInfo {
    let mut s = StreamInfo::new("t", 250.0, channels, "uV", times, PayloadKind::F64);
    s.epochs = Some(EpochLayout {
        tmin_s: 0.0,
        times,
        classes: classes.iter().map(|c| c.to_string()).collect(),
    });
    s
}

#[test]
fn onnx_models_give_onnxruntimes_outputs() {
    let r = reference();
    // A whole epoch, channels first: [1, 4, 50].
    let mut h = Harness::new(neuropipe_stages::bci::onnx::spec())
        .param("model", data("epoch_linear.onnx"))
        .input::<Samples<f64>>("in", epochs(4, 50, &["a", "b", "c"]))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<Samples<f64>>(50, 4);
    let mut worst: f64 = 0.0;
    for (i, case) in r["epoch_linear"].as_array().unwrap().iter().enumerate() {
        let x = floats(&case["input"]);
        // The model's [1, 4, 50] row-major is channels x times; a packet is frame-major.
        let frames: Vec<f64> = (0..50)
            .flat_map(|f| (0..4).map(move |ch| (ch, f)))
            .map(|(ch, f)| x[ch * 50 + f])
            .collect();
        h.push("in", Harness::packet(&pool, 100 * i as u64, &frames));
        let out = h.take::<Samples<f64>>("out");
        let want = floats(&case["probabilities"]);
        for (g, w) in out[0].samples().iter().zip(&want) {
            worst = worst.max((g - w).abs());
        }
        let best = (0..3).max_by(|&a, &b| want[a].total_cmp(&want[b])).unwrap();
        assert_eq!(out[0].header.label, Some(best as u32));
    }
    println!("epoch_linear: worst absolute error {worst:e}");
    assert!(worst <= 1e-6, "{worst}");
    let events: Vec<String> = h
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Prediction)
        .map(|e| e.text)
        .collect();
    assert_eq!(events.len(), 5);
    assert!(
        ["a (", "b (", "c ("]
            .iter()
            .any(|p| events[0].starts_with(p)),
        "{events:?}"
    );

    // scikit-learn's LogisticRegression (ai.onnx.ml LinearClassifier) on a feature vector.
    let mut h = Harness::new(neuropipe_stages::bci::onnx::spec())
        .param("model", data("logreg.onnx"))
        .param("classes", json!(["rest", "move"]))
        .input::<Samples<f64>>("in", epochs(6, 1, &["rest", "move"]))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<Samples<f64>>(1, 6);
    let mut worst: f64 = 0.0;
    for case in r["logreg"].as_array().unwrap() {
        h.push("in", Harness::packet(&pool, 0, &floats(&case["input"])));
        let out = h.take::<Samples<f64>>("out");
        for (g, w) in out[0].samples().iter().zip(&floats(&case["probabilities"])) {
            worst = worst.max((g - w).abs());
        }
        assert_eq!(
            out[0].header.label,
            Some(case["label"].as_u64().unwrap() as u32)
        );
    }
    println!("logreg: worst absolute error {worst:e}");
    assert!(worst <= 1e-6, "{worst}");
}

#[test]
fn models_that_do_not_fit_the_epochs_are_refused() {
    let err = |model: &str, info: StreamInfo, extra: Value| {
        let mut b = Harness::new(neuropipe_stages::bci::onnx::spec())
            .param("model", data(model))
            .input::<Samples<f64>>("in", info);
        for (k, v) in extra.as_object().unwrap() {
            b = b.param(k, v.clone());
        }
        b.build().err().map(|e| e.to_string()).unwrap_or_default()
    };
    // Epochs of 8 channels x 50 frames into a model taking [1, 4, 50].
    let e = err("epoch_linear.onnx", epochs(8, 50, &["a", "b"]), json!({}));
    assert!(
        e.contains("cannot take epochs shaped [1, 8, 50] (8 channels x 50 frames)"),
        "{e}"
    );
    let e = err(
        "epoch_linear.onnx",
        epochs(4, 50, &["a", "b"]),
        json!({"classes": ["x", "y"]}),
    );
    assert!(e.contains("2 class names for the 3 values"), "{e}");
    let e = err(
        "epoch_linear.onnx",
        epochs(4, 50, &["a", "b"]),
        json!({"output": "logits"}),
    );
    assert!(e.contains("has no output \"logits\""), "{e}");
    let e = err("missing.onnx", epochs(4, 50, &["a", "b"]), json!({}));
    assert!(e.contains("no such file"), "{e}");
    let e = err("onnx_reference.json", epochs(4, 50, &["a", "b"]), json!({}));
    assert!(e.contains("not a model tract can read"), "{e}");
}
