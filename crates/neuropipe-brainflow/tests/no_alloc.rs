//! A running `BrainFlowSource` allocates nothing per packet, on either side: the thread
//! taking samples from BrainFlow and the stage unpacking them into packets (counting global
//! allocator, after start-up; its own test binary because the allocator counts every thread;
//! BrainFlow's C++ allocates through its own allocator, which this does not count).

mod common;

use common::*;
use neuropipe_core::*;
use serde_json::json;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

#[test]
fn streaming_a_board_allocates_nothing_per_packet() {
    let Some(lib) = library() else { return };
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "board", "type": "BrainFlowSource", "params": {"board_id": -1, "library": lib, "frames": 5}},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}},
            {"id": "check", "type": "ContinuityCheck"},
            {"id": "auxcheck", "type": "ContinuityCheck"}
        ],
        "links": ["board.out -> bp", "bp -> check", "board.aux -> auxcheck"]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &registry()).unwrap();
    // 250 Hz: warm up for 1 s, then count over 2 s (100 packets of 5 frames).
    let c = neuropipe_testkit::allocations_while_running(
        pipeline,
        |h| frames_in(h, "check") as f64,
        250.0,
        500.0,
    );
    assert!(c.progress >= 500.0, "{} frames flowed", c.progress);
    assert_eq!(
        c.allocations, 0,
        "allocations while {} frames flowed",
        c.progress
    );
}
