//! A running multi-stream pipeline allocates nothing per packet: a counting global allocator
//! watches two simulated amplifiers (64 channels at 1 kHz, 8 channels at 250 Hz, not paced),
//! the second resampled onto 1 kHz (`Resample`) and merged with the first (`Merge`), after
//! start-up. (Its own test binary: the global allocator counts every thread of the process.)

use neuropipe_core::*;
use serde_json::json;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

#[test]
fn resampling_and_merging_allocate_nothing_per_packet() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "a", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "realtime": false}},
            {"id": "b", "type": "SimulatedEeg", "params": {"channels": 8, "sample_rate": 250, "frames": 8, "realtime": false, "seed": 7}},
            {"id": "va", "type": "RawToVoltage"},
            {"id": "vb", "type": "RawToVoltage"},
            {"id": "rs", "type": "Resample", "params": {"rate_hz": 1000}},
            {"id": "merge", "type": "Merge"},
            {"id": "check", "type": "ContinuityCheck", "params": {"fail_on_gap": false}}
        ],
        "links": ["a -> va", "b -> vb", "vb -> rs", "va -> merge.in1", "rs -> merge.in2", "merge -> check"]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let c = neuropipe_testkit::allocations_while_running(
        pipeline,
        neuropipe_testkit::check_frames,
        20_000.0,
        4_000.0,
    );
    assert!(c.progress >= 4_000.0, "{} merged frames", c.progress);
    assert_eq!(
        c.allocations, 0,
        "allocations while {} merged frames flowed",
        c.progress
    );
}
