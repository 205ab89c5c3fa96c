//! A running `FileReplay` of several XDF streams (one stage, a port each) allocates nothing
//! per packet: a counting global allocator watches a 64-channel 1 kHz stream and a 3-channel
//! 100 Hz stream replayed in real time into two sinks, after start-up, the reader threads
//! included. (Its own test binary: the global allocator counts every thread of the process.)

use neuropipe_core::*;
use neuropipe_io::xdf::{ChannelFormat, ChannelMeta, StreamHeader, XdfWriter};
use serde_json::json;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

/// 30 s of a 64-channel 1 kHz float32 stream and a 3-channel 100 Hz double64 stream, written
/// in chunks of 100 ms as a recorder would.
fn write_session(path: &std::path::Path) {
    let mut w = XdfWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    let chans = |n: usize, unit: &str| {
        (0..n)
            .map(|c| ChannelMeta::new(&format!("C{c}"), unit, "EEG"))
            .collect::<Vec<_>>()
    };
    w.add_stream(
        1,
        &StreamHeader::new("EEG", "EEG", ChannelFormat::Float32, 1000.0)
            .channels(chans(64, "microvolts")),
    )
    .unwrap();
    w.add_stream(
        2,
        &StreamHeader::new("Accel", "Accelerometer", ChannelFormat::Double64, 100.0)
            .channels(chans(3, "g")),
    )
    .unwrap();
    for chunk in 0..300 {
        let t0 = chunk as f64 * 0.1;
        let eeg_t: Vec<f64> = (0..100).map(|k| t0 + k as f64 / 1000.0).collect();
        let eeg: Vec<f64> = (0..100 * 64).map(|k| (k % 97) as f64).collect();
        w.write_numeric(1, &eeg_t, &eeg).unwrap();
        let acc_t: Vec<f64> = (0..10).map(|k| t0 + k as f64 / 100.0).collect();
        w.write_numeric(2, &acc_t, &[0.5; 30]).unwrap();
    }
    w.footer(1).unwrap();
    w.footer(2).unwrap();
}

#[test]
fn replaying_several_xdf_streams_allocates_nothing_per_packet() {
    let dir =
        std::env::temp_dir().join(format!("neuropipe-replay-no-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("session.xdf");
    write_session(&src);
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": src, "streams": ["EEG", "Accel"], "frames": 20}},
            {"id": "check", "type": "ContinuityCheck"},
            {"id": "check2", "type": "ContinuityCheck"}
        ],
        "links": ["replay -> check", "replay.out2 -> check2"]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let c = neuropipe_testkit::allocations_while_running(
        pipeline,
        neuropipe_testkit::check_frames,
        1_000.0,
        3_000.0,
    );
    assert!(c.progress >= 3_000.0, "{} frames", c.progress);
    assert_eq!(
        c.allocations, 0,
        "allocations while {} frames of the first stream flowed",
        c.progress
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
