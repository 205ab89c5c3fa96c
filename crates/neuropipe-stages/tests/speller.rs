//! The P300 speller's stages alone. `Xdawn`: each epoch through its model file's filters
//! (layout, label and timestamp kept), a model with other filters or channels refused.
//! `Accumulator`: flash markers paired with their predictions, the evidence summed per
//! symbol as log-likelihood ratios against the flash's prior, selection at the threshold
//! (not before `min_repetitions`, always at `max_repetitions`), trial markers ending a
//! selection and scoring it, and everything it could not use counted.

mod common;
use common::*;
use neuropipe_core::testing::Harness;
use neuropipe_core::*;
use neuropipe_stages::bci::model::{Decoder, ModelFile, Signature, Training, Transform};

/// Epochs of 2 channels (Cz, Pz) × 3 frames from 0 s at 250 Hz, classes target/nontarget.
fn epochs() -> StreamInfo {
    let mut s = StreamInfo::new("t", 250.0, 2, "uV", 3, PayloadKind::F64);
    s.channels[0].label = "Cz".into();
    s.channels[1].label = "Pz".into();
    s.epochs = Some(EpochLayout {
        tmin_s: 0.0,
        times: 3,
        classes: vec!["target".into(), "nontarget".into()],
    });
    s
}

/// A model file whose Xdawn holds one filter per class: target [0.6, 0.8], nontarget [1, 0].
fn xdawn_model(dir: &std::path::Path) -> std::path::PathBuf {
    let lda = neuropipe_dsp::decode::LdaModel {
        classes: 2,
        features: 2,
        coef: vec![1.0, 0.0],
        intercept: vec![0.0],
    };
    let t = Training {
        data: vec![],
        epochs: vec![1, 1],
        folds: 2,
        accuracy: 1.0,
        balanced_accuracy: 1.0,
        auc: None,
        confusion: vec![],
        trained_at: String::new(),
    };
    let xd = Transform::Xdawn {
        input: Signature::of(&epochs()),
        filters: vec![0.6, 0.8, 1.0, 0.0],
    };
    let mut sig = Signature::of(&epochs());
    sig.features = vec!["a".into(), "b".into()];
    let path = dir.join("model.json");
    let file = ModelFile::new(&Decoder::Lda(lda), sig, vec![xd], t);
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    path
}

#[test]
fn xdawn_filters_each_epoch_with_its_model() {
    let dir = temp_dir("xdawn");
    let model = xdawn_model(&dir);
    let mut h = Harness::new(neuropipe_stages::bci::xdawn::spec())
        .param("model", model.to_str().unwrap())
        .param("filters", 1)
        .input::<Samples<f64>>("in", epochs())
        .build()
        .unwrap();
    let pool = h.pool::<Samples<f64>>(3, 2);
    let mut p = Harness::packet(&pool, 40, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    p.header.label = Some(0);
    h.push("in", p);
    let out = h.take::<Samples<f64>>("out");
    assert_eq!(out.len(), 1);
    let want = [2.2, 1.0, 5.0, 3.0, 7.8, 5.0];
    for (a, b) in out[0].samples().iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{:?}", out[0].samples());
    }
    assert_eq!(out[0].header.channels, 2);
    assert_eq!(out[0].header.label, Some(0));
    assert_eq!(out[0].header.timestamp, 40_000_000);
    assert!(h.finish().is_ok());
    let refuse = |filters: usize, stream: StreamInfo| {
        Harness::new(neuropipe_stages::bci::xdawn::spec())
            .param("model", model.to_str().unwrap())
            .param("filters", filters)
            .input::<Samples<f64>>("in", stream)
            .build()
            .err()
            .unwrap()
            .to_string()
    };
    let e = refuse(2, epochs());
    assert!(e.contains("holds 2 xDAWN filters, not 4"), "{e}");
    let mut other = epochs();
    other.channels[1].label = "Oz".into();
    let e = refuse(1, other);
    assert!(e.contains("params.model") || e.contains("model"), "{e}");
    assert!(e.contains("Oz"), "{e}");
}

/// A decoder's prediction stream: target/nontarget probabilities, one frame per epoch,
/// epochs starting at their event (tmin 0) at 1 kHz (so a packet's timestamp in ms is its
/// event time and the tolerance is half a millisecond).
fn predictions() -> StreamInfo {
    let mut s = StreamInfo::new("lda", 1000.0, 2, "", 1, PayloadKind::F64);
    s.kind = "Prediction".into();
    s.channels[0].label = "target".into();
    s.channels[1].label = "nontarget".into();
    s.epochs = Some(EpochLayout {
        tmin_s: 0.0,
        times: 1,
        classes: vec!["target".into(), "nontarget".into()],
    });
    s
}

fn marker(h: &mut Harness, ms: u64, text: &str) {
    h.publish(PipelineEvent {
        time_ns: ms * 1_000_000,
        stage: "eeg".into(),
        kind: EventKind::Marker,
        text: text.into(),
        on_sample: true,
    });
}

fn speller(params: &[(&str, serde_json::Value)]) -> Harness {
    let mut b = Harness::new(neuropipe_stages::bci::accumulate::spec())
        .param("items", serde_json::json!(["A", "B", "C", "D"]));
    for (k, v) in params {
        b = b.param(k, v.clone());
    }
    b.input::<Samples<f64>>("in", predictions())
        .build()
        .unwrap()
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// The posterior of every symbol from summed log-likelihood ratios (softmax), as the issue's
/// Bayesian accumulation defines it: computed here independently of the stage.
fn posterior(scores: &[f64]) -> Vec<f64> {
    let z: f64 = scores.iter().map(|s| s.exp()).sum();
    scores.iter().map(|s| s.exp() / z).collect()
}

fn selections(h: &mut Harness) -> Vec<String> {
    h.events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Selection)
        .map(|e| e.text)
        .collect()
}

#[test]
fn evidence_accumulates_per_symbol_until_the_threshold() {
    let mut h = speller(&[("threshold", 0.95.into()), ("min_repetitions", 2.into())]);
    let pool = h.pool::<Samples<f64>>(1, 2);
    // Trial cueing B; each repetition flashes A, B, C, D 100 ms apart; B's flashes look like
    // targets (p = 0.7), the others not (p = 0.2).
    marker(&mut h, 1000, "trial:B");
    let p_of = |s: usize| if s == 1 { 0.7 } else { 0.2 };
    let mut scores = [0.0; 4];
    let mut t = 1000;
    for rep in 0..2 {
        for s in 0..4 {
            marker(&mut h, t, &format!("flash:{}", ["A", "B", "C", "D"][s]));
            let p = p_of(s);
            h.push("in", Harness::packet(&pool, t, &[p, 1.0 - p]));
            scores[s] += logit(p) - logit(0.25);
            t += 100;
            let out = h.take::<Samples<f64>>("out");
            if rep == 0 {
                assert!(out.is_empty(), "no selection before 2 repetitions");
            } else if s < 3 {
                // Not every symbol has had its second flash yet.
                assert!(out.is_empty());
            } else {
                assert_eq!(out.len(), 1);
                let post = posterior(&scores);
                assert!(post[1] >= 0.95, "{post:?}");
                for (a, b) in out[0].samples().iter().zip(&post) {
                    assert!((a - b).abs() < 1e-12, "{:?} vs {post:?}", out[0].samples());
                }
                assert_eq!(out[0].header.label, Some(1));
                assert_eq!(out[0].header.timestamp, (t - 100) * 1_000_000);
            }
        }
    }
    assert_eq!(
        selections(&mut h),
        [format!(
            "B (p = {:.3} after 2 repetitions; cued B)",
            posterior(&scores)[1]
        )]
    );
    // After the selection, flashes until the next trial are ignored, counted.
    marker(&mut h, t, "flash:A");
    h.push("in", Harness::packet(&pool, t, &[0.9, 0.1]));
    assert!(h.take::<Samples<f64>>("out").is_empty());
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("B", "selected"), Some(1.0));
    assert_eq!(r.value("(cued)", "selected"), Some(1.0));
    assert_eq!(r.value("(right)", "selected"), Some(1.0));
    assert_eq!(r.value("(ignored)", "selected"), Some(1.0));
    h.close().unwrap();
    let status = h.snapshot().readouts.unwrap().status;
    assert!(
        status.starts_with(
            "1 selections (mean 2.0 repetitions); 1 of 1 cued selections right (100.0 %)"
        ),
        "{status}"
    );
}

#[test]
fn max_repetitions_and_trial_markers_end_a_selection() {
    let mut h = speller(&[
        ("threshold", 0.999.into()),
        ("min_repetitions", 1.into()),
        ("max_repetitions", 3.into()),
    ]);
    let pool = h.pool::<Samples<f64>>(1, 2);
    // No evidence either way (p = the prior): after 3 repetitions the leader (the first of
    // equals) is selected at p = 1/4.
    let mut t = 1000;
    marker(&mut h, t, "trial:");
    for _ in 0..3 {
        for s in ["A", "B", "C", "D"] {
            marker(&mut h, t, &format!("flash:{s}"));
            h.push("in", Harness::packet(&pool, t, &[0.25, 0.75]));
            t += 100;
        }
    }
    assert_eq!(selections(&mut h), ["A (p = 0.250 after 3 repetitions)"]);
    // Rows of two symbols (prior 2/4): C and D flashed together look like targets; the
    // next trial marker ends the selection before max_repetitions, with the evidence so far.
    marker(&mut h, t, "trial:D");
    for (row, p) in [("A,B", 0.3), ("C,D", 0.8)] {
        marker(&mut h, t, &format!("flash:{row}"));
        h.push("in", Harness::packet(&pool, t, &[p, 1.0 - p]));
        t += 100;
    }
    marker(&mut h, t, "trial:A");
    // A prediction without a marker (unmatched), a flash of an unknown symbol, and a flash
    // whose epoch never came (its prediction skipped: undecoded).
    h.push("in", Harness::packet(&pool, t + 37, &[0.5, 0.5]));
    marker(&mut h, t + 50, "flash:Z");
    marker(&mut h, t + 100, "flash:A");
    marker(&mut h, t + 200, "flash:B");
    h.push("in", Harness::packet(&pool, t + 200, &[0.5, 0.5]));
    let out = h.take::<Samples<f64>>("out");
    assert_eq!(out.len(), 2);
    let d = logit(0.8) - logit(0.5);
    let a = logit(0.3) - logit(0.5);
    let want = posterior(&[a, a, d, d]);
    for (x, y) in out[1].samples().iter().zip(&want) {
        assert!((x - y).abs() < 1e-12);
    }
    // C and D are tied: the first of equals, C, against the cue D.
    assert_eq!(out[1].header.label, Some(2));
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("(cued)", "selected"), Some(1.0));
    assert_eq!(r.value("(right)", "selected"), Some(0.0));
    assert_eq!(r.value("(unmatched)", "selected"), Some(1.0));
    assert_eq!(r.value("(unknown)", "selected"), Some(1.0));
    assert_eq!(r.value("(undecoded)", "selected"), Some(1.0));
    h.close().unwrap();
    let status = h.snapshot().readouts.unwrap().status;
    assert!(status.contains("a selection unfinished"), "{status}");
    assert!(
        status.contains("1 predictions without a flash marker"),
        "{status}"
    );
}

#[test]
fn bad_settings_are_refused_with_the_parameter() {
    let build = |params: &[(&str, serde_json::Value)]| {
        let mut b = Harness::new(neuropipe_stages::bci::accumulate::spec());
        for (k, v) in params {
            b = b.param(k, v.clone());
        }
        b.input::<Samples<f64>>("in", predictions())
            .build()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = build(&[("items", serde_json::json!(["A"]))]);
    assert!(e.contains("items") && e.contains("2 to 128"), "{e}");
    let e = build(&[("items", serde_json::json!(["A", "B", "A"]))]);
    assert!(e.contains("given twice"), "{e}");
    let e = build(&[
        ("items", serde_json::json!(["A", "B"])),
        ("class", "left".into()),
    ]);
    assert!(e.contains("class") && e.contains("\"target\""), "{e}");
    let e = build(&[
        ("items", serde_json::json!(["A", "B"])),
        ("min_repetitions", 5.into()),
        ("max_repetitions", 3.into()),
    ]);
    assert!(e.contains("min_repetitions"), "{e}");
}
