//! Shared by the BrainFlow tests: finding BrainFlow (the pinned `brainflow` wheel in the
//! workspace's venv), one board session at a time, running a pipeline.

#![allow(dead_code)]

use neuropipe_core::*;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// BrainFlow refuses two sessions of the same board with the same parameters: the tests of a
/// binary take turns.
pub fn one_board() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Python with the pinned `brainflow` (None: skipped outside CI).
pub fn python() -> Option<PathBuf> {
    neuropipe_testkit::python()
}

/// `libBoardController` of the pinned `brainflow` package.
pub fn library() -> Option<String> {
    static LIB: OnceLock<Option<String>> = OnceLock::new();
    LIB.get_or_init(|| {
        let py = python()?;
        let out = std::process::Command::new(&py)
            .args([
                "-c",
                "import os, brainflow; print(os.path.join(os.path.dirname(brainflow.__file__), 'lib'))",
            ])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{} has no brainflow: {}",
            py.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
    .clone()
}

/// The test kit's stages and `BrainFlowSource`.
pub fn registry() -> Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_brainflow::register(&mut r);
    neuropipe_testkit::stages::register(&mut r);
    r
}

/// A two-worker runtime.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Frames a stage has received so far.
pub fn frames_in(h: &PipelineHandle, stage: &str) -> u64 {
    h.snapshot()
        .stages
        .iter()
        .find(|s| s.id == stage)
        .map_or(0, |s| s.frames_in)
}

/// The readout `col` of `stage`'s first row.
pub fn readout(h: &PipelineHandle, stage: &str, col: &str) -> f64 {
    let snap = h.snapshot();
    let s = snap.stages.iter().find(|s| s.id == stage).unwrap();
    let r = s.readouts.as_ref().unwrap();
    let c = r.columns.iter().position(|c| c.name == col).unwrap();
    r.values[0][c].unwrap_or(f64::NAN)
}

/// Waits (up to `limit`) until `done` holds; returns whether it did.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while !done() {
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
