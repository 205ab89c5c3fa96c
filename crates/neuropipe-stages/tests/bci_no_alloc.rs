//! `Epoch` and `Window` allocate nothing per packet after start-up: a counting global
//! allocator watches (1) a running pipeline SimulatedEeg (64 channels, 1 kHz, not paced) →
//! RawToVoltage → Window and → Bandpass → Epoch, each into a StdoutSummary: nothing at all;
//! and (2) the simulated oddball task's markers into `Epoch` → `Vectorize` → `Lda` (a model
//! fitted first, as `neuropipe train` does), cutting, baseline-correcting, checking,
//! vectorising and decoding 64-channel epochs: nothing beyond the markers' own texts.
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

/// The oddball pipeline, 64 channels at 1 kHz, up to `decoder` (a stage JSON).
fn oddball(seconds: Option<f64>, decoder: serde_json::Value) -> PipelineConfig {
    let mut v = json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "realtime": false, "task": "p300", "p300_uv": 15}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["target", "nontarget"], "tmin": -0.2, "tmax": 0.8, "baseline": [-0.2, 0], "reject": ["EEG:1e6"]}},
            {"id": "feat", "type": "Vectorize", "params": {"tmin": 0, "decimate": 100}},
            decoder,
        ],
        "links": ["eeg -> volts", "volts -> ep", "ep -> feat", "feat -> dec"]
    });
    if let Some(s) = seconds {
        v["stages"][0]["params"]["duration_s"] = s.into();
    }
    PipelineConfig::from_value(&v).unwrap()
}

/// Fits an LDA on 60 s of the oddball (as `neuropipe train` does) and writes its model file.
fn trained_model() -> std::path::PathBuf {
    use neuropipe_stages::bci::{collect, model};
    let mut reg = neuropipe_stages::registry();
    reg.register(collect::spec());
    let cfg = oddball(
        Some(60.0),
        json!({"id": "dec", "type": "TrainingSet", "params": {"name": "no-alloc"}}),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(Pipeline::build(&cfg, &reg).unwrap().run());
    assert_eq!(report.outcome, Outcome::Finished);
    let set = collect::training_set("no-alloc");
    let set = set.lock().unwrap();
    let sig = model::Signature::of(set.stream.as_ref().unwrap());
    let m = neuropipe_dsp::decode::LdaModel::fit(&set.x, sig.features.len(), &set.y, 2).unwrap();
    let t = model::Training {
        data: vec![],
        epochs: vec![],
        folds: 0,
        accuracy: 0.0,
        balanced_accuracy: 0.0,
        auc: None,
        confusion: vec![],
        trained_at: String::new(),
    };
    let path = std::env::temp_dir().join(format!("neuropipe-no-alloc-{}.json", std::process::id()));
    std::fs::write(
        &path,
        serde_json::to_string(&model::ModelFile::lda(&m, sig, t)).unwrap(),
    )
    .unwrap();
    path
}

/// With the oddball task on, markers flow: each costs its event (two strings, created by the
/// source and copied once by `Epoch` from the bus) and nothing else; cutting, baseline,
/// rejection, vectorising, decoding and sending cost nothing.
fn decoding_epochs_costs_nothing_beyond_the_markers() {
    let model = trained_model();
    let mut cfg = oddball(
        None,
        json!({"id": "dec", "type": "Lda", "params": {"model": model, "events": false}}),
    );
    cfg.stages.push(neuropipe_core::StageConfig {
        id: "eshow".into(),
        kind: "StdoutSummary".into(),
        params: json!({"interval_s": 3600}).as_object().unwrap().clone(),
        stream: None,
    });
    cfg.links.push(LinkConfig::new("dec", "eshow").unwrap());
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
    let decoded = handle
        .snapshot()
        .stages
        .iter()
        .find(|s| s.id == "dec")
        .map_or(0, |s| s.packets_out);
    assert!(decoded as f64 >= epochs, "every epoch decoded: {decoded}");
    println!("{allocs} allocations while {epochs} epochs of 64 channels x 1001 frames were cut and decoded");
}

#[test]
fn epoch_and_window_allocate_nothing_per_packet() {
    running_pipeline_allocates_nothing_per_packet();
    decoding_epochs_costs_nothing_beyond_the_markers();
}
