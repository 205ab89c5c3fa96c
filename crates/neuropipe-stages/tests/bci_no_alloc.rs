//! `Epoch` and `Window` allocate nothing per packet after start-up: a counting global
//! allocator watches (1) a running pipeline SimulatedEeg (64 channels, 1 kHz, not paced) →
//! RawToVoltage → Window and → Bandpass → Epoch, each into a StdoutSummary: nothing at all;
//! and (2) the simulated oddball task's markers into `Epoch`, cutting, baseline-correcting,
//! checking and sending 64-channel epochs: nothing beyond the markers' own texts.
//!
//! A marker costs its event: the two `String`s (stage id, text) its source creates, and the
//! copy a stage reads from the event bus (the bus carries owned strings, as for the
//! recorders' annotations): four allocations, none per packet or per epoch.
//! (Its own test binary: the allocator counts every thread.)

use neuropipe_core::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

fn frames_in(h: &PipelineHandle, id: &str) -> u64 {
    h.snapshot()
        .stages
        .iter()
        .find(|s| s.id == id)
        .map_or(0, |s| s.frames_in)
}

fn running_pipeline_allocates_nothing_per_packet() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "realtime": false}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "win", "type": "Window", "params": {"length_s": 0.5, "hop_s": 0.1}},
            {"id": "wshow", "type": "StdoutSummary", "params": {"interval_s": 3600}},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 0.5, "high_hz": 20, "order": 4}},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["target"], "baseline": [-0.2, 0]}},
            {"id": "eshow", "type": "StdoutSummary", "params": {"interval_s": 3600}}
        ],
        "links": ["eeg -> volts", "volts -> win", "win -> wshow", "volts -> bp", "bp -> ep", "ep -> eshow"]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let handle = pipeline.handle();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let run = rt.spawn(pipeline.run());
    let t0 = Instant::now();
    while frames_in(&handle, "wshow") < 200_000 {
        assert!(t0.elapsed() < Duration::from_secs(60), "pipeline too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mut allocs, mut windows) = (0, 0);
    let mut last = frames_in(&handle, "wshow");
    let t1 = Instant::now();
    while windows < 200 * 500 && t1.elapsed() < Duration::from_secs(60) {
        let a0 = neuropipe_testkit::total_allocations();
        std::thread::sleep(Duration::from_millis(250));
        allocs += neuropipe_testkit::total_allocations() - a0;
        let now = frames_in(&handle, "wshow");
        windows += now - last;
        last = now;
    }
    handle.stop();
    let report = rt.block_on(run).unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    assert!(
        windows >= 200 * 500,
        "made progress: {} windows",
        windows / 500
    );
    assert_eq!(
        allocs,
        0,
        "allocations while {} windows flowed",
        windows / 500
    );
}

fn epochs_sent(h: &PipelineHandle) -> f64 {
    let s = h.snapshot();
    let r = s
        .stages
        .iter()
        .find(|s| s.id == "ep")
        .and_then(|s| s.readouts.clone());
    r.map_or(0.0, |r| {
        r.value("target", "epochs").unwrap_or(0.0) + r.value("nontarget", "epochs").unwrap_or(0.0)
    })
}

/// With the oddball task on, markers flow: each costs its event (two strings, created by the
/// source and copied once by `Epoch` from the bus) and nothing else; cutting, baseline,
/// rejection and sending cost nothing.
fn cutting_epochs_costs_nothing_beyond_the_markers() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "realtime": false, "task": "p300"}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["target", "nontarget"], "tmin": -0.2, "tmax": 0.8, "baseline": [-0.2, 0], "reject": ["EEG:1e6"]}},
            {"id": "eshow", "type": "StdoutSummary", "params": {"interval_s": 3600}}
        ],
        "links": ["eeg -> volts", "volts -> ep", "ep -> eshow"]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let handle = pipeline.handle();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let run = rt.spawn(pipeline.run());
    let t0 = Instant::now();
    while epochs_sent(&handle) < 200.0 {
        assert!(t0.elapsed() < Duration::from_secs(60), "pipeline too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mut allocs, mut epochs) = (0, 0.0);
    let t1 = Instant::now();
    while epochs < 200.0 && t1.elapsed() < Duration::from_secs(60) {
        let before = epochs_sent(&handle);
        let a0 = neuropipe_testkit::total_allocations();
        std::thread::sleep(Duration::from_millis(250));
        allocs += neuropipe_testkit::total_allocations() - a0;
        epochs += epochs_sent(&handle) - before;
    }
    handle.stop();
    let report = rt.block_on(run).unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    assert!(epochs >= 200.0, "made progress: {epochs} epochs");
    // Markers in a window: its epochs, plus those whose windows were still open at either
    // end (a stimulus every 0.25 s, epochs of 1 s: at most 5 open, per 250 ms window).
    let windows = (t1.elapsed().as_millis() / 250 + 1) as f64;
    let markers = epochs + 2.0 * 6.0 * windows;
    assert!(
        allocs as f64 <= 4.0 * markers,
        "{allocs} allocations for {epochs} epochs (at most 4 per marker: its event's two strings, and the copy read from the bus)"
    );
    println!("{allocs} allocations while {epochs} epochs of 64 channels x 1001 frames were cut");
}

#[test]
fn epoch_and_window_allocate_nothing_per_packet() {
    running_pipeline_allocates_nothing_per_packet();
    cutting_epochs_costs_nothing_beyond_the_markers();
}
