//! Recorders allocate nothing per packet: a counting global allocator compares a run of
//! 10 s of signal with a run of 60 s (5 times more packets and records) through EDF, BDF,
//! CSV and XDF (float32 and raw int32, and one file taking a further 100 Hz f64 stream on
//! `in2`) recorders; the extra packets must not bring extra allocations.

mod common;
use common::*;
use serde_json::json;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

/// Allocations made while running (not building) a pipeline recording `seconds` of signal.
fn allocations_while_recording(seconds: f64, dir: &std::path::Path) -> u64 {
    let p = build(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 8, "frames": 16, "realtime": false, "duration_s": seconds}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "edf", "type": "EdfRecorder", "params": {"overwrite": true, "path": dir.join("a.edf")}},
            {"id": "bdf", "type": "BdfRecorder", "params": {"overwrite": true, "path": dir.join("a.bdf"), "record_duration_s": 0.5}},
            {"id": "raw", "type": "BdfRecorder", "params": {"overwrite": true, "path": dir.join("raw.bdf")}},
            {"id": "csv", "type": "CsvRecorder", "params": {"overwrite": true, "path": dir.join("a.csv")}},
            {"id": "xdf", "type": "XdfRecorder", "params": {"overwrite": true, "path": dir.join("a.xdf")}},
            {"id": "rawxdf", "type": "XdfRecorder", "params": {"overwrite": true, "path": dir.join("raw.xdf")}},
            {"id": "acc", "type": "SimulatedEeg", "params": {"channels": 3, "sample_rate": 100, "frames": 10, "realtime": false, "duration_s": seconds, "line_hz": 20}},
            {"id": "acc_volts", "type": "RawToVoltage", "params": {"sample_type": "f64"}}
        ],
        "links": ["eeg.out -> volts.in", "eeg.out -> raw.in", "volts.out -> edf.in",
                  "volts.out -> bdf.in", "volts.out -> csv.in", "volts.out -> xdf.in",
                  "eeg.out -> rawxdf.in", "acc -> acc_volts", "acc_volts -> xdf.in2"]
    }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let before = neuropipe_testkit::total_allocations();
    let report = rt.block_on(p.run());
    let n = neuropipe_testkit::total_allocations() - before;
    assert_eq!(report.outcome, neuropipe_core::Outcome::Finished);
    n
}

#[test]
fn recorders_allocate_nothing_per_packet() {
    let dir = temp_dir("no-alloc");
    let _warm_up = allocations_while_recording(2.0, &dir);
    let short = allocations_while_recording(10.0, &dir);
    let long = allocations_while_recording(60.0, &dir);
    // 50 s more: 782 more packets per link, 100+ more records per file.
    println!("allocations while running: 10 s {short}, 60 s {long}");
    assert!(
        long <= short + 20,
        "allocations grow with packets: {short} for 10 s, {long} for 60 s"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
