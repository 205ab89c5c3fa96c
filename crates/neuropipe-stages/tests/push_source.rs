//! `PushSource`: frames pushed by the host arrive exactly, in packets that never span two
//! pushes, stamped as pushed; the `neuropipe` command (no host) refuses to build it.

use neuropipe_core::*;
use neuropipe_stages::io::push::{building, PushError, PushHost};
use serde_json::json;
use std::sync::Arc;

fn registry() -> Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_testkit::stages::register(&mut r);
    r
}

fn config(capture: &str, on_full: &str) -> PipelineConfig {
    PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "src", "type": "PushSource", "params": {"channels": 2, "sample_rate": 250, "frames": 16, "buffer": 64, "on_full": on_full, "sample_type": "f64"}},
            {"id": "cap", "type": "Capture", "params": {"name": capture}}
        ],
        "links": ["src -> cap"]
    }))
    .unwrap()
}

#[test]
fn pushed_frames_arrive_exactly_stamped_and_cut_at_push_boundaries() {
    let host = Arc::new(PushHost::default());
    let pipeline = building(&host, || {
        Pipeline::build(&config("push-exact", "block"), &registry())
    })
    .unwrap();
    let feed = host.feed("src").unwrap();
    assert_eq!((feed.channels(), feed.sample_rate()), (2, 250.0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let run = rt.spawn(pipeline.run());
    let value = |c: usize, k: usize| (k * 10 + c) as f64;
    // 40 frames from 1 s, then 200 more (more than the 64-frame buffer: push waits) after.
    assert_eq!(
        feed.push(40, Some(1_000_000_000), value, || Ok::<(), ()>(()))
            .unwrap(),
        40
    );
    assert_eq!(
        feed.push(200, None, |c, k| value(c, k + 40), || Ok::<(), ()>(()))
            .unwrap(),
        200
    );
    assert!(matches!(
        feed.push(1, Some(1_000_000_000), value, || Ok::<(), ()>(())),
        Err(PushError::OutOfOrder { .. })
    ));
    feed.close();
    let report = rt.block_on(run).unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    let cap = neuropipe_testkit::stages::capture("push-exact");
    let cap = cap.lock().unwrap();
    assert_eq!(cap.frames(), 240);
    let expected: Vec<f64> = (0..240).flat_map(|k| [value(0, k), value(1, k)]).collect();
    assert_eq!(cap.samples, expected);
    let sizes: Vec<usize> = cap.headers.iter().map(|h| h.frames()).collect();
    // 40 = 16 + 16 + 8 (cut at the push boundary), then 200 = 12 × 16 + 8.
    assert_eq!(&sizes[..3], &[16, 16, 8]);
    assert_eq!(sizes.iter().sum::<usize>(), 240);
    for h in &cap.headers {
        let expect_ns = 1_000_000_000 + (h.first_frame as f64 / 250.0 * 1e9).round() as u64;
        assert_eq!(
            h.timestamp, expect_ns,
            "frame {} stamped at its nominal time",
            h.first_frame
        );
    }
}

#[test]
fn a_dropping_source_flags_and_counts_the_frames_it_lost() {
    let host = Arc::new(PushHost::default());
    let pipeline = building(&host, || {
        Pipeline::build(&config("push-drop", "drop"), &registry())
    })
    .unwrap();
    let feed = host.feed("src").unwrap();
    // Before the pipeline runs nothing is taken: 64 frames fit, 36 are dropped.
    assert_eq!(
        feed.push(100, None, |_, _| 1.0, || Ok::<(), ()>(()))
            .unwrap(),
        64
    );
    assert_eq!(feed.dropped(), 36);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handle = pipeline.handle();
    let mut events = handle.events();
    let run = rt.spawn(pipeline.run());
    // Wait until the 64 buffered frames were taken, then push more after the gap.
    while rt
        .block_on(async { handle.snapshot() })
        .stages
        .iter()
        .find(|s| s.id == "cap")
        .map_or(0, |s| s.frames_in)
        < 64
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(
        feed.push(10, None, |_, _| 2.0, || Ok::<(), ()>(()))
            .unwrap(),
        10
    );
    feed.close();
    assert_eq!(rt.block_on(run).unwrap().outcome, Outcome::Finished);
    let cap = neuropipe_testkit::stages::capture("push-drop");
    let cap = cap.lock().unwrap();
    assert_eq!(cap.frames(), 74);
    let after = cap.headers.iter().find(|h| h.first_frame >= 64).unwrap();
    assert_eq!(
        after.first_frame, 100,
        "the frame index counts the dropped frames"
    );
    assert_eq!(after.lost_frames, 36);
    assert_ne!(after.flags & FLAG_LOST_SAMPLES, 0);
    let lost: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| e.kind == EventKind::LostSamples)
        .collect();
    assert_eq!(lost.len(), 1);
    assert!(
        lost[0].text.contains("36 frames dropped"),
        "{}",
        lost[0].text
    );
}

#[test]
fn without_a_host_the_stage_is_refused_with_what_to_use_instead() {
    let cfg = config("push-none", "block");
    neuropipe_core::validate(&cfg, &registry()).expect("the file itself is valid");
    let err = Pipeline::build(&cfg, &registry())
        .err()
        .expect("no host: refused")
        .to_string();
    assert!(
        err.contains("$.stages[0]") && err.contains("Pipeline.push"),
        "{err}"
    );
}

#[test]
fn frames_pushed_before_a_stop_all_arrive() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "src", "type": "PushSource", "params": {"channels": 2, "sample_rate": 250, "frames": 8, "buffer": 4096}},
            {"id": "cap", "type": "Capture", "params": {"name": "push-stop"}}
        ],
        // A short queue: most frames are still in the ring when the stop comes.
        "links": [{"from": "src.out", "to": "cap.in", "capacity": 2}]
    }))
    .unwrap();
    let host = Arc::new(PushHost::default());
    let pipeline = building(&host, || Pipeline::build(&cfg, &registry())).unwrap();
    let feed = host.feed("src").unwrap();
    assert_eq!(
        feed.push(4000, None, |c, k| (k * 2 + c) as f64, || Ok::<(), ()>(()))
            .unwrap(),
        4000
    );
    let handle = pipeline.handle();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let run = rt.spawn(pipeline.run());
    handle.stop();
    assert_eq!(rt.block_on(run).unwrap().outcome, Outcome::Finished);
    let cap = neuropipe_testkit::stages::capture("push-stop");
    let cap = cap.lock().unwrap();
    assert_eq!(
        cap.frames(),
        4000,
        "every frame pushed before the stop was sent"
    );
    assert!(matches!(
        feed.push(1, None, |_, _| 0.0, || Ok::<(), ()>(())),
        Err(PushError::Finished)
    ));
}
