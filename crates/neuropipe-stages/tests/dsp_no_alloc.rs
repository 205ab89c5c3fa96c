//! A running DSP pipeline allocates nothing per packet: a counting global allocator watches
//! SimulatedEeg (64 channels, not paced) → RawToVoltage → Bandpass → Notch (with harmonics) →
//! Decimate → ContinuityCheck, with a SignalQuality branch on the voltages, after start-up.
//!
//! (Its own test binary: the global allocator counts every thread of the process.)

use neuropipe_core::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

/// Frames the sink has received so far.
fn sink_frames(h: &PipelineHandle) -> u64 {
    h.snapshot()
        .stages
        .iter()
        .find(|s| s.id == "check")
        .map_or(0, |s| s.frames_in)
}

#[test]
fn running_dsp_pipeline_allocates_nothing_per_packet() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "realtime": false}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40, "order": 4}},
            {"id": "notch", "type": "Notch", "params": {"freq_hz": 50, "q": 30, "harmonics": true}},
            {"id": "dec", "type": "Decimate", "params": {"factor": 4}},
            {"id": "check", "type": "ContinuityCheck", "params": {"fail_on_gap": false}},
            {"id": "quality", "type": "SignalQuality"}
        ],
        "links": ["eeg -> volts", "volts -> bp", "bp -> notch", "notch -> dec", "dec -> check", "volts -> quality"]
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
    // Start-up: let every task, queue and timer reach its steady state.
    let t0 = Instant::now();
    while sink_frames(&handle) < 20_000 {
        assert!(t0.elapsed() < Duration::from_secs(60), "pipeline too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Count allocations only inside the sleeps (reading the sink's progress allocates), until
    // enough output has flowed whatever the machine's speed.
    let (mut allocs, mut frames) = (0, 0);
    let mut last = sink_frames(&handle);
    let t1 = Instant::now();
    while frames < 4_000 && t1.elapsed() < Duration::from_secs(60) {
        let a0 = neuropipe_testkit::total_allocations();
        std::thread::sleep(Duration::from_millis(250));
        allocs += neuropipe_testkit::total_allocations() - a0;
        let now = sink_frames(&handle);
        frames += now - last;
        last = now;
    }
    handle.stop();
    let report = rt.block_on(run).unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    assert!(
        frames >= 4_000,
        "pipeline made progress: {frames} output frames"
    );
    assert_eq!(allocs, 0, "allocations while {frames} output frames flowed");
}
