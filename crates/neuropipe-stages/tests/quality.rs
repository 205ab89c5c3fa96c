//! SignalQuality on simulated channels with known faults: each gets its verdict, the healthy
//! ones are good, and the figures reach the metrics snapshot as readouts.

use neuropipe_core::*;
use serde_json::json;

/// The build error of pipeline `v`, as text.
fn build_error(v: serde_json::Value) -> String {
    let cfg = PipelineConfig::from_value(&v).unwrap();
    Pipeline::build(&cfg, &neuropipe_stages::registry())
        .err()
        .expect("a build error")
        .to_string()
}

/// Runs pipeline `v` to its end; the readouts of its stage `q`.
fn run_to_end(v: serde_json::Value) -> ReadoutSnapshot {
    let cfg = PipelineConfig::from_value(&v).unwrap();
    let p = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let report = tokio::runtime::Runtime::new().unwrap().block_on(p.run());
    assert_eq!(report.outcome, Outcome::Finished);
    let q = report.snapshot.stages.iter().find(|s| s.id == "q").unwrap();
    q.readouts
        .clone()
        .expect("SignalQuality publishes readouts")
}

/// Runs 10 s of 8-channel simulated EEG with `faults` through `RawToVoltage` into
/// `SignalQuality` (params `quality`), as fast as possible; returns the quality stage's readouts.
fn run(faults: serde_json::Value, quality: serde_json::Value) -> ReadoutSnapshot {
    run_to_end(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 8, "realtime": false, "duration_s": 10, "dc_offset_uv": 20000, "faults": faults}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "q", "type": "SignalQuality", "params": quality}
        ],
        "links": ["eeg -> volts", "volts -> q"]
    }))
}

fn problems(r: &ReadoutSnapshot, ch: &str) -> Vec<&'static str> {
    let col = r.columns.iter().find(|c| c.name == "problems").unwrap();
    col.flag_names(r.value(ch, "problems").expect("a verdict"))
}

#[test]
fn simulated_faults_get_their_verdicts() {
    let r = run(
        json!(["O1:flat", "C4:railed", "P7:line_noise", "Fp2:noisy"]),
        json!({}),
    );
    // Estimates every 0.5 s once the 2 s window is full: (10 − 2) / 0.5 + 1.
    assert_eq!(r.updates, 17);
    assert_eq!(r.rows, ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]);
    assert_eq!(problems(&r, "O1"), ["flat"]);
    assert_eq!(problems(&r, "C4"), ["railed"]);
    assert_eq!(problems(&r, "P7"), ["line_noise"]);
    assert_eq!(problems(&r, "Fp2"), ["noisy"]);
    for ch in ["Fp1", "C3", "P8", "O2"] {
        assert!(problems(&r, ch).is_empty(), "{ch}: {:?}", problems(&r, ch));
    }
    // The railed channel sits at the ADC's limit; a healthy one uses ~10 % of ±187.5 mV
    // (its ±20 mV offset).
    assert!(r.value("C4", "range_used").unwrap() > 99.9);
    assert!(r.value("C3", "range_used").unwrap() < 12.0);
    // A healthy channel's EEG-band RMS is EEG-sized; the flat one's is zero.
    let rms = r.value("O2", "rms").unwrap();
    assert!((5.0..60.0).contains(&rms), "O2 rms {rms}");
    assert_eq!(r.value("O1", "sd"), Some(0.0));
    // No lead-off figure unless asked for.
    assert_eq!(r.value("O2", "impedance"), None);
}

#[test]
fn thresholds_are_parameters() {
    // With a 1 µV RMS limit every working channel is noisy; the flat one is still flat only.
    let r = run(json!(["O1:flat"]), json!({"max_rms_uv": 1.0}));
    assert_eq!(problems(&r, "O1"), ["flat"]);
    assert_eq!(problems(&r, "O2"), ["noisy"]);
}

#[test]
fn filtered_streams_have_no_range_to_rail_against() {
    let r = run_to_end(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 2, "realtime": false, "duration_s": 3, "faults": ["Fp1:railed"]}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "hp", "type": "Highpass", "params": {"cutoff_hz": 1}},
            {"id": "q", "type": "SignalQuality"}
        ],
        "links": ["eeg -> volts", "volts -> hp", "hp -> q"]
    }));
    assert_eq!(r.value("Fp1", "range_used"), None);
    assert_eq!(r.value("Fp2", "range_used"), None);
}

#[test]
fn non_voltage_input_is_a_located_build_error() {
    let err = build_error(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg"},
            {"id": "bp", "type": "BandPower"},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "q", "type": "SignalQuality"}
        ],
        "links": ["eeg -> volts", "volts -> bp", "bp -> q"]
    }));
    assert!(
        err.contains("stages[3]") && err.contains("not a voltage"),
        "{err}"
    );
}

#[test]
fn unknown_fault_names_the_entry() {
    let err = build_error(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"faults": ["O1:flta"]}},
            {"id": "check", "type": "ContinuityCheck"}
        ],
        "links": ["eeg -> check"]
    }));
    assert!(
        err.contains("faults") && err.contains("did you mean \"flat\""),
        "{err}"
    );
}
