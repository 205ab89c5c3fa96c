//! A running `PushSource` allocates nothing per packet, on either side: the host thread
//! pushing frames and the stage cutting them into packets (counting global allocator, after
//! start-up; its own test binary because the allocator counts every thread).

use neuropipe_core::*;
use neuropipe_stages::io::push::{building, PushError, PushHost};
use serde_json::json;
use std::sync::Arc;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

#[test]
fn pushing_and_sending_allocate_nothing_per_packet() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "src", "type": "PushSource", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "buffer": 4096}},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}},
            {"id": "check", "type": "ContinuityCheck"}
        ],
        "links": ["src -> bp", "bp -> check"]
    }))
    .unwrap();
    let host = Arc::new(PushHost::default());
    let pipeline = building(&host, || {
        Pipeline::build(&cfg, &neuropipe_stages::registry())
    })
    .unwrap();
    let feed = host
        .feed("src")
        .expect("the PushSource registered its feed");
    // The host: pushes 100-frame blocks (not a multiple of the packet size) until the stage
    // has finished, with backpressure.
    let pusher = std::thread::spawn(move || {
        let mut pushes = 0u64;
        loop {
            let v = pushes as f64;
            match feed.push(
                100,
                None,
                |c, k| v + (c * 1000 + k) as f64 * 1e-3,
                || Ok::<(), ()>(()),
            ) {
                Ok(n) => assert_eq!(n, 100),
                Err(PushError::Finished) => return pushes,
                Err(e) => panic!("push failed: {e:?}"),
            }
            pushes += 1;
        }
    });
    let c = neuropipe_testkit::allocations_while_running(
        pipeline,
        neuropipe_testkit::check_frames,
        20_000.0,
        20_000.0,
    );
    let pushes = pusher.join().unwrap();
    assert!(pushes >= 400, "the host pushed {pushes} blocks");
    assert!(c.progress >= 20_000.0, "{} frames flowed", c.progress);
    assert_eq!(
        c.allocations, 0,
        "allocations while {} frames flowed",
        c.progress
    );
}
