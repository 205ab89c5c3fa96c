//! Built-in stages run alone under `neuropipe_core::testing::Harness`: given packets and
//! control messages in, what they send and reply out — no JSON pipeline around them.

use neuropipe_core::prelude::*;
use neuropipe_core::testing::Harness;
use neuropipe_core::ControlError;
use neuropipe_dsp::design::{butter, Band};
use neuropipe_dsp::SosFilter;
use serde_json::json;

fn stream(channels: usize, frames: usize) -> StreamInfo {
    StreamInfo::new("test", 250.0, channels, "uV", frames, PayloadKind::F32)
}

#[test]
fn gain_applies_a_typed_live_change_at_the_next_packet() {
    let mut h = Harness::new(neuropipe_stages::gain::spec())
        .param("gain", 2.0)
        .input::<VoltageEegPacket>("in", stream(2, 2))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<VoltageEegPacket>(2, 2);
    h.push("in", Harness::packet(&pool, 0, &[1.0, 2.0, 3.0, 4.0]));
    // The runtime checks the spec first: range, then the stage applies it.
    assert!(matches!(
        h.control(ControlMsg::UpdateParam("gain".into(), json!(1e9))),
        Err(ControlError::Rejected(_))
    ));
    assert_eq!(
        h.control(ControlMsg::UpdateParam("gain".into(), json!(-1.0))),
        Ok(json!(-1.0))
    );
    h.push("in", Harness::packet(&pool, 2, &[1.0, 2.0, 3.0, 4.0]));
    let out = h.take::<VoltageEegPacket>("out");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].samples(), &[2.0, 4.0, 6.0, 8.0]);
    assert_eq!(out[1].samples(), &[-1.0, -2.0, -3.0, -4.0]);
    assert_eq!(out[1].header.first_frame, 2, "headers pass through");
    drop(out);
    assert_eq!(h.snapshot().packets_in, 2);
    assert!(h.finish().is_ok());
}

#[test]
fn bandpass_pause_bypasses_and_reports_enabled_false() {
    let mut h = Harness::new(neuropipe_stages::dsp::butter::bandpass_spec())
        .param("low_hz", 1.0)
        .param("high_hz", 40.0)
        .param("steady_state", false)
        .input::<VoltageEegPacket>("in", stream(1, 4))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<VoltageEegPacket>(4, 1);
    let x = [1.0f32, 0.0, 0.0, 0.0];
    h.push("in", Harness::packet(&pool, 0, &x));
    assert_eq!(h.control(ControlMsg::Pause), Ok(json!("bypassed")));
    h.push("in", Harness::packet(&pool, 4, &x));
    assert_eq!(h.control(ControlMsg::Resume), Ok(json!("filtering")));
    let out = h.take::<VoltageEegPacket>("out");
    assert_eq!(out.len(), 2);
    // Filtered like the kernel in one call (zero state) …
    let sos = butter(4, Band::Bandpass(1.0, 40.0), 250.0).unwrap();
    let mut f = SosFilter::<f32>::new(&sos, 1).unwrap();
    let mut want = x;
    f.process(&mut want);
    assert_eq!(out[0].samples(), &want);
    // … then passed through untouched while bypassed.
    assert_eq!(out[1].samples(), &x);
    drop(out);
    assert!(h.finish().is_ok());
}

#[test]
fn continuity_check_fails_on_a_gap_and_the_harness_reports_it() {
    let mut h = Harness::new(neuropipe_stages::check::spec())
        .input::<VoltageEegPacket>("in", stream(1, 2))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = h.pool::<VoltageEegPacket>(2, 1);
    h.push("in", Harness::packet(&pool, 0, &[0.0, 0.0]));
    h.push("in", Harness::packet(&pool, 5, &[0.0, 0.0])); // frames 2..5 missing
    let err = h.finish().expect_err("a gap is fatal by default");
    assert!(err.contains("frames lost"), "{err}");
}

#[test]
fn a_bad_parameter_is_reported_with_its_json_path() {
    let err = Harness::new(neuropipe_stages::dsp::butter::bandpass_spec())
        .param("low_hz", 50.0)
        .param("high_hz", 40.0)
        .input::<VoltageEegPacket>("in", stream(1, 4))
        .build()
        .err()
        .expect("low above high is invalid");
    assert!(
        err.0[0].path.starts_with("$.stages[0]"),
        "{}",
        err.0[0].path
    );
}

/// A FIR the stage could not run in real time is refused, at build time and live; the
/// running filter is kept and keeps filtering.
#[test]
fn fir_refuses_designs_beyond_its_real_time_budget() {
    // 8 channels × 250 Hz: the budget allows 100,000 taps.
    let err = Harness::new(neuropipe_stages::dsp::fir::spec())
        .param("numtaps", 100_001)
        .param("cutoff_hz", json!([40.0]))
        .input::<VoltageEegPacket>("in", stream(8, 10))
        .build()
        .err()
        .expect("refused at build time");
    let text = err.to_string();
    assert!(text.contains("$.stages[0].params.numtaps"), "{text}");
    assert!(text.contains("at most 100000 taps"), "{text}");

    let mut h = Harness::new(neuropipe_stages::dsp::fir::spec())
        .param("numtaps", 5)
        .param("cutoff_hz", json!([40.0]))
        .param("steady_state", false)
        .input::<VoltageEegPacket>("in", stream(8, 10))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = h.control(ControlMsg::UpdateParam("numtaps".into(), json!(1_048_575)));
    match reply {
        Err(ControlError::Rejected(m)) => assert!(m.contains("real-time budget"), "{m}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let reply = h.control(ControlMsg::UpdateCoefficients(vec![0.001; 100_001].into()));
    match reply {
        Err(ControlError::Rejected(m)) => assert!(m.contains("real-time budget"), "{m}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Still the 5-tap filter: an impulse comes out as its 5 taps, then zeros.
    let pool = h.pool::<VoltageEegPacket>(10, 8);
    let mut x = vec![0.0f32; 80];
    x[0] = 1.0;
    h.push("in", Harness::packet(&pool, 0, &x));
    let out = h.take::<VoltageEegPacket>("out");
    let ch0: Vec<f32> = out[0].samples().iter().step_by(8).copied().collect();
    assert!(ch0[..5].iter().all(|&v| v != 0.0), "{ch0:?}");
    assert!(ch0[5..].iter().all(|&v| v == 0.0), "{ch0:?}");
    drop(out);
    assert!(h.finish().is_ok());
}
