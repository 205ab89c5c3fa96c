//! A session survives its LSL stream going away (as LabRecorder's does): with the default
//! `on_lost: "wait"`, the pipeline keeps running when pylsl's outlet disappears for 3 s, the
//! loss and the return are pipeline events (recorders annotate them), the first packet after
//! the return is flagged as a discontinuity, and every sample sent before and after arrives,
//! in order (`scripts/lsl/vanish.py`, on loopback in a private network namespace).

mod common;

use neuropipe_core::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn registry() -> Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_lsl::register(&mut r);
    neuropipe_testkit::stages::register(&mut r);
    r
}

fn value(frame: usize, ch: usize) -> f32 {
    (frame as f64 * 0.5 + ch as f64 * 1000.0 + 0.25) as f32
}

#[test]
fn a_stream_that_disappears_and_comes_back_keeps_the_session_running() {
    if !common::enter_netns("a_stream_that_disappears_and_comes_back_keeps_the_session_running") {
        return;
    }
    let python =
        common::python().expect("Python with pylsl: set NEUROPIPE_PYTHON or run scripts/venv.sh");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = Command::new(python)
        .arg(root.join("scripts/lsl/vanish.py"))
        .args(["--name", "vanishing", "--seconds", "2", "--gap", "3"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start vanish.py");
    // The default on_lost ("wait"): nothing in the file says what to do on a loss.
    let cfg = PipelineConfig::from_value(&serde_json::json!({
        "stages": [
            { "id": "lsl", "type": "LslInlet",
              "params": { "name": "vanishing", "timeout_s": 20, "lost_timeout_s": 1.0 } },
            { "id": "got", "type": "Capture", "params": { "name": "survive" } }
        ],
        "links": [ "lsl -> got" ]
    }))
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (report, events) = rt.block_on(async {
        let reg = registry();
        let p = tokio::task::spawn_blocking(move || Pipeline::build(&cfg, &reg))
            .await
            .unwrap()
            .expect("resolves the stream");
        let h = p.handle();
        let mut ev = h.events();
        let task = tokio::spawn(p.run());
        let events = tokio::spawn(async move {
            let mut got = vec![];
            while let Ok(e) = ev.recv().await {
                if e.kind == EventKind::Discontinuity {
                    got.push(e.text.clone());
                }
                if e.kind == EventKind::Stopping {
                    break;
                }
            }
            got
        });
        // Until pylsl has sent both halves (it waits for the inlet to come back), then stop.
        tokio::task::spawn_blocking(move || py.wait_with_output())
            .await
            .unwrap()
            .map(|o| assert!(o.status.success(), "vanish.py failed"))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        h.stop();
        let report = task.await.unwrap();
        (report, events.await.unwrap())
    });
    assert_eq!(report.outcome, Outcome::Finished, "{report:?}");
    // The source waits on its device thread most of the time: waiting, not busy.
    neuropipe_testkit::assert_mostly_waiting(&report, "lsl");
    let cap = neuropipe_testkit::stages::capture("survive");
    let cap = cap.lock().unwrap();
    // Every sample of both halves, in order, none invented.
    let frames = cap.frames();
    assert_eq!(frames, 1000, "500 frames before the loss, 500 after");
    for (k, f) in cap.samples.chunks(2).enumerate() {
        assert_eq!(f[0] as f32, value(k, 0), "frame {k}");
        assert_eq!(f[1] as f32, value(k, 1), "frame {k}");
    }
    // The return is flagged on the first packet after it, and only there.
    let flagged: Vec<u64> = cap
        .headers
        .iter()
        .filter(|h| h.flags & FLAG_DISCONTINUITY != 0)
        .map(|h| h.first_frame)
        .collect();
    assert_eq!(flagged, vec![500], "{:?}", events);
    // The loss and the return, as events recorders annotate (and, if the stop came more than
    // a second after pylsl closed for good, that last loss too).
    assert!((2..=3).contains(&events.len()), "{events:?}");
    assert!(
        events[0].contains("lost") && events[0].contains("vanishing"),
        "{events:?}"
    );
    assert!(events[1].contains("back after"), "{events:?}");
    assert!(events[2..].iter().all(|e| e.contains("lost")), "{events:?}");
    // The time gap shows in the stamps: ≥ 3 s between the halves.
    let before = cap
        .headers
        .iter()
        .rev()
        .find(|h| h.first_frame < 500)
        .unwrap();
    let after = cap.headers.iter().find(|h| h.first_frame == 500).unwrap();
    assert!(after.timestamp - before.timestamp >= 3_000_000_000);
}
