//! `Cca` and `Fbcca` alone and on the simulated SSVEP task: the target whose frequency an
//! epoch carries is predicted, labelled epochs are scored, and bad set-ups are refused with
//! the parameter named.

mod common;
use common::*;
use neuropipe_core::testing::Harness;
use neuropipe_core::*;
use serde_json::json;
use std::f64::consts::TAU;

/// An epoch stream: O1, O2 at 250 Hz, epochs of 500 frames, classes 12Hz and 15Hz.
fn epochs() -> StreamInfo {
    let mut s = StreamInfo::new("t", 250.0, 2, "uV", 500, PayloadKind::F64);
    s.channels[0].label = "O1".into();
    s.channels[1].label = "O2".into();
    s.epochs = Some(EpochLayout {
        tmin_s: 0.15,
        times: 500,
        classes: vec!["12Hz".into(), "15Hz".into()],
    });
    s
}

/// 500 frames of `f` Hz (plus a little of the other channel's noise-like mix).
fn flicker(f: f64) -> Vec<f64> {
    (0..500)
        .flat_map(|k| {
            let t = k as f64 / 250.0;
            let s = (TAU * f * t + 0.4).sin() + 0.3 * (TAU * 2.0 * f * t).sin();
            let n = ((k * 7919) % 101) as f64 / 50.0 - 1.0;
            [s + 0.5 * n, 0.8 * s - 0.5 * n + 3.0]
        })
        .collect()
}

#[test]
fn cca_and_fbcca_pick_the_flicker_and_score_labelled_epochs() {
    for spec in [
        neuropipe_stages::bci::cca::spec(),
        neuropipe_stages::bci::cca::fbcca_spec(),
    ] {
        let name = spec.type_name;
        let mut h = Harness::new(spec)
            .param("frequencies", json!([12.0, 15.0]))
            .input::<Samples<f64>>("in", epochs())
            .build()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let pool = h.pool::<Samples<f64>>(500, 2);
        // Labelled 12Hz, 15Hz, 15Hz (wrong: it carries 12 Hz), and one without a label.
        for (i, (f, label)) in [
            (12.0, Some(0)),
            (15.0, Some(1)),
            (12.0, Some(1)),
            (15.0, None),
        ]
        .into_iter()
        .enumerate()
        {
            let mut p = Harness::packet(&pool, 1000 * i as u64, &flicker(f));
            p.header.label = label;
            h.push("in", p);
        }
        let out = h.take::<Samples<f64>>("out");
        let picked: Vec<Option<u32>> = out.iter().map(|o| o.header.label).collect();
        assert_eq!(picked, [Some(0), Some(1), Some(0), Some(1)], "{name}");
        if name == "Cca" {
            // Correlations: near 1 for the flicker, low for the other target.
            assert!(
                out[0].samples()[0] > 0.9 && out[0].samples()[1] < 0.3,
                "{:?}",
                out[0].samples()
            );
        }
        let r = h.snapshot().readouts.unwrap();
        assert_eq!(r.value("(labelled)", "predicted"), Some(3.0), "{name}");
        assert_eq!(r.value("(right)", "predicted"), Some(2.0), "{name}");
        let events: Vec<String> = h
            .events()
            .into_iter()
            .filter(|e| e.kind == EventKind::Prediction)
            .map(|e| e.text)
            .collect();
        assert_eq!(events.len(), 4);
        assert!(events[0].starts_with("12Hz ("), "{events:?}");
        h.finish().unwrap();
    }
}

#[test]
fn bad_ssvep_setups_are_refused_with_the_parameter_named() {
    let err = |spec: StageSpec, params: serde_json::Value| {
        let mut b = Harness::new(spec).input::<Samples<f64>>("in", epochs());
        for (k, v) in params.as_object().unwrap() {
            b = b.param(k, v.clone());
        }
        b.build().err().map(|e| e.to_string()).unwrap_or_default()
    };
    let cca = neuropipe_stages::bci::cca::spec;
    let e = err(cca(), json!({"frequencies": [40.0, 15.0], "harmonics": 4}));
    assert!(
        e.contains("40 Hz: its harmonic 4 (160 Hz) is not below Nyquist (125 Hz)"),
        "{e}"
    );
    let e = err(cca(), json!({"frequencies": [12.0]}));
    assert!(e.contains("two or more"), "{e}");
    let e = err(cca(), json!({"frequencies": [12.0, 15.0], "labels": ["a"]}));
    assert!(e.contains("1 labels for 2 frequencies"), "{e}");
    let e = err(
        neuropipe_stages::bci::cca::fbcca_spec(),
        json!({"frequencies": [12.0, 15.0], "subbands": 10, "band_step_hz": 10.0}),
    );
    assert!(e.contains("sub-band 10 would be 96-88 Hz"), "{e}");
    // The simulator's task: harmonics above Nyquist, a frequency twice.
    let e = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"task": "ssvep", "ssvep_hz": [12, 50]}},
            {"id": "show", "type": "StdoutSummary"}
        ],
        "links": ["eeg -> show"]
    }));
    assert!(
        e[0].message.contains("50 Hz: its third harmonic (150 Hz)"),
        "{}",
        e[0].message
    );
    let e = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"task": "ssvep", "ssvep_hz": [12, 12]}},
            {"id": "show", "type": "StdoutSummary"}
        ],
        "links": ["eeg -> show"]
    }));
    assert!(e[0].message.contains("given twice"), "{}", e[0].message);
}
