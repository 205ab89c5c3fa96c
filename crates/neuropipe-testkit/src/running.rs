//! Counting a running pipeline's allocations: [`allocations_while_running`].

use neuropipe_core::{Outcome, Pipeline, PipelineHandle, RunReport};
use std::time::{Duration, Instant};

/// What [`allocations_while_running`] saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counted {
    /// Allocations (every thread) while the progress was measured.
    pub allocations: u64,
    /// Progress made meanwhile, in the caller's unit.
    pub progress: f64,
    /// Wall-clock windows of 250 ms the count took.
    pub windows: u64,
}

/// Frames that have reached the stage named `check` (the usual progress measure for
/// [`allocations_while_running`]: a `ContinuityCheck` sink with that id); 0 before it runs.
pub fn check_frames(h: &PipelineHandle) -> f64 {
    h.snapshot()
        .stages
        .iter()
        .find(|s| s.id == "check")
        .map_or(0.0, |s| s.frames_in as f64)
}

/// Runs `pipeline` on a two-worker runtime; once `progress` has reached `warm_up` (every
/// task, queue and timer in its steady state), counts allocations in windows of 250 ms until
/// `progress` has advanced by `enough` (or 60 s have passed), then stops the pipeline and
/// checks it finished. Only the sleeps are counted: reading the progress between windows
/// allocates. Needs [`CountingAllocator`](crate::CountingAllocator) as the global allocator.
///
/// # Panics
/// If the pipeline does not reach `warm_up` within 60 s or does not finish cleanly.
pub fn allocations_while_running(
    pipeline: Pipeline,
    progress: impl Fn(&PipelineHandle) -> f64,
    warm_up: f64,
    enough: f64,
) -> Counted {
    let handle = pipeline.handle();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("test runtime: {e}"));
    let run = rt.spawn(pipeline.run());
    let t0 = Instant::now();
    while progress(&handle) < warm_up {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "pipeline too slow to warm up"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut counted = Counted {
        allocations: 0,
        progress: 0.0,
        windows: 0,
    };
    let t1 = Instant::now();
    while counted.progress < enough && t1.elapsed() < Duration::from_secs(60) {
        let before = progress(&handle);
        let a0 = crate::total_allocations();
        std::thread::sleep(Duration::from_millis(250));
        counted.allocations += crate::total_allocations() - a0;
        counted.progress += progress(&handle) - before;
        counted.windows += 1;
    }
    handle.stop();
    let report = rt
        .block_on(run)
        .unwrap_or_else(|e| panic!("pipeline task: {e}"));
    assert_eq!(report.outcome, Outcome::Finished);
    counted
}

/// Asserts that stage `id` was busy for less than half of the run: a source waiting on its
/// device thread must count that time as waiting
/// ([`StageContext::waiting`](neuropipe_core::StageContext::waiting)), or `/metrics` and
/// `neuropipe top` show an idle source as loaded. A ratio within one run, not a wall-clock
/// threshold.
///
/// # Panics
/// If the stage is not in the report, or was busy half the run or more.
pub fn assert_mostly_waiting(report: &RunReport, id: &str) {
    let stage = report
        .snapshot
        .stages
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no stage `{id}` in the report"));
    let elapsed_ns = report.snapshot.elapsed_s * 1e9;
    assert!(
        (stage.busy_ns as f64) < elapsed_ns / 2.0,
        "`{id}` busy {} ns of {elapsed_ns} ns",
        stage.busy_ns
    );
}
