//! Blocking file I/O never runs on the runtime's worker threads: a recorder whose disk stalls
//! leaves every other stage running, on a runtime with a single thread.
//!
//! The recorder's file format here stalls its writes until the test opens a gate. The source
//! fans out to the recorder and to a sink, with backpressure. If a write blocked the runtime's
//! only thread, the sink could never get more packets than fit in the recorder's input queue
//! (2) plus the one the recorder holds; with the writer thread it gets as many as the writer's
//! job queue absorbs on top. The test waits for that many at the sink, then opens the gate.

use neuropipe_core::{
    BoxedStage, BuildError, Outcome, Pipeline, PipelineConfig, PortSpec, Registry, StageBuilder,
    StageSpec,
};
use neuropipe_stages::io::recorder::{build_recorder, RecordError, RecordFile, RecorderParams};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Packets the sink must reach while every write is stalled: more than the 3 a blocked
/// runtime would allow, fewer than the 2 + 1 + 16 (writer jobs) the writer thread allows.
const AHEAD: u64 = 12;
/// Packets sent.
const PACKETS: u64 = 60;

/// A gate the stalled writes wait at.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    writes: AtomicU64,
}

/// The gate of this test (stage factories are plain functions).
fn the_gate() -> Arc<Gate> {
    static GATE: OnceLock<Arc<Gate>> = OnceLock::new();
    GATE.get_or_init(Default::default).clone()
}

/// A record format whose writes wait for the gate (a disk that stalls).
struct StalledFile {
    gate: Arc<Gate>,
}

impl RecordFile for StalledFile {
    const CONTIGUOUS: bool = false;
    fn create(&mut self) -> Result<(), RecordError> {
        Ok(())
    }
    fn write(&mut self, _: &[f64], _: usize, _: u64) -> Result<(), RecordError> {
        let fail = |m: &str| RecordError::Other(m.into());
        let open = self.gate.open.lock().map_err(|_| fail("gate poisoned"))?;
        let (open, timeout) = self
            .gate
            .opened
            .wait_timeout_while(open, Duration::from_secs(300), |o| !*o)
            .map_err(|_| fail("gate poisoned"))?;
        if timeout.timed_out() && !*open {
            return Err(fail("the gate never opened"));
        }
        self.gate.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn annotate(&mut self, _: f64, _: Option<f64>, _: &str) -> Result<(), RecordError> {
        Ok(())
    }
    fn finish(&mut self) -> Result<String, RecordError> {
        Ok(String::new())
    }
}

fn build_stalled(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    build_recorder(b, |_, _| Ok(StalledFile { gate: the_gate() }))
}

#[test]
fn a_stalled_disk_never_stalls_the_other_stages() {
    let gate = the_gate();
    let mut registry = Registry::new();
    neuropipe_testkit::stages::register(&mut registry);
    registry.register(
        StageSpec::new(
            "StalledRecorder",
            "records onto a stalled disk",
            build_stalled,
        )
        .input(PortSpec::any("in"))
        .params::<RecorderParams>(),
    );
    let dir = std::env::temp_dir().join(format!("neuropipe-stall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": PACKETS, "frames": 4}},
            {"id": "rec", "type": "StalledRecorder", "params": {"path": dir.join("stalled.rec"), "overwrite": true}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "stalled-disk-flow"}}
        ],
        "links": [{"from": "src.out", "to": "rec.in", "capacity": 2}, "src.out -> sink.in"]
    }))
    .expect("config");
    let pipeline = Pipeline::build(&cfg, &registry).expect("pipeline");
    let flow = neuropipe_testkit::stages::probe("stalled-disk-flow");

    let runner = std::thread::spawn(move || {
        // One thread: a stage that blocked it would stop every other stage.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(pipeline.run())
    });
    // A generous bound that only matters when the property is broken (the test then fails
    // instead of hanging); the assertion is on counts, not on time.
    let deadline = Instant::now() + Duration::from_secs(120);
    while flow.packets.load(Ordering::SeqCst) < AHEAD && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let reached = flow.packets.load(Ordering::SeqCst);
    let written_while_stalled = gate.writes.load(Ordering::SeqCst);
    *gate.open.lock().expect("gate") = true;
    gate.opened.notify_all();
    let report = runner.join().expect("pipeline thread");

    assert_eq!(written_while_stalled, 0, "every write waited at the gate");
    assert!(
        reached >= AHEAD,
        "the sink got only {reached} packets while the recorder's disk stalled: the recorder blocks the runtime"
    );
    assert_eq!(report.outcome, Outcome::Finished, "{:?}", report.outcome);
    assert_eq!(flow.packets.load(Ordering::SeqCst), PACKETS);
    assert_eq!(
        gate.writes.load(Ordering::SeqCst),
        PACKETS,
        "every packet written once"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
