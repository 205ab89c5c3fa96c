//! A running DSP pipeline allocates nothing per packet: a counting global allocator watches
//! SimulatedEeg (64 channels, not paced) → RawToVoltage → Bandpass → Notch (with harmonics) →
//! Decimate → ContinuityCheck, with a SignalQuality branch on the voltages, after start-up.
//!
//! (Its own test binary: the global allocator counts every thread of the process.)

use neuropipe_core::*;
use serde_json::json;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

/// Frames the sink has received so far.
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
    let c = neuropipe_testkit::allocations_while_running(
        pipeline,
        neuropipe_testkit::check_frames,
        20_000.0,
        4_000.0,
    );
    assert!(
        c.progress >= 4_000.0,
        "pipeline made progress: {} output frames",
        c.progress
    );
    assert_eq!(
        c.allocations, 0,
        "allocations while {} output frames flowed",
        c.progress
    );
}
