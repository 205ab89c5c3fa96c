//! Several streams in one pipeline: `Resample` sends `resample_poly`'s outputs (checked against
//! SciPy 1.17.1 on the stage's own output) stamped with their content time, and `Merge` lines
//! streams up on their timestamps — an accelerometer at 100 Hz resampled onto an EEG's 250 Hz
//! merges frame for frame with zero skew; a stream that starts late, skips in time or runs
//! ahead is counted (lead-in, missing as NaN, dropped), never silently moved. Mismatched rates
//! and two links into one input are build errors naming both streams and what to insert.

use neuropipe_core::*;
use neuropipe_stages::io::push::{building, PushHost};
use serde_json::json;
use std::sync::Arc;

fn registry() -> Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_testkit::stages::register(&mut r);
    r
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const T0: u64 = 1_000_000_000;

/// EEG-like values of channel `c` at frame `k` of a stream at `fs` Hz.
fn wave(c: usize, k: usize, fs: f64) -> f64 {
    let t = k as f64 / fs;
    10.0 * (2.0 * std::f64::consts::PI * (3.0 + c as f64) * t).sin()
        + 5.0 * c as f64
        + (k % 7) as f64
}

/// What one push source is fed: its rate and blocks of `(frames, first timestamp)`.
struct Feed {
    stage: &'static str,
    fs: f64,
    blocks: Vec<(usize, u64)>,
}

/// Builds `v` with its push sources, feeds them and
/// runs it to the end; returns the capture `capture` and the merge's readouts.
fn run_pushed(
    capture: &str,
    v: serde_json::Value,
    pushes: &[Feed],
) -> (neuropipe_testkit::stages::Captured, Option<ReadoutSnapshot>) {
    let cfg = PipelineConfig::from_value(&v).unwrap();
    let host = Arc::new(PushHost::default());
    let pipeline = building(&host, || Pipeline::build(&cfg, &registry())).unwrap();
    let handle = pipeline.handle();
    let rt = runtime();
    let run = rt.spawn(pipeline.run());
    let mut threads = vec![];
    for Feed { stage, fs, blocks } in pushes {
        let feed = host.feed(stage).unwrap();
        let (fs, blocks) = (*fs, blocks.clone());
        threads.push(std::thread::spawn(move || {
            let mut k0 = 0;
            for (n, t0) in blocks {
                let pushed = feed
                    .push(n, Some(t0), |c, k| wave(c, k0 + k, fs), || Ok::<(), ()>(()))
                    .unwrap();
                assert_eq!(pushed, n);
                k0 += n;
            }
            feed.close();
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let report = rt.block_on(run).unwrap();
    assert_eq!(report.outcome, Outcome::Finished, "{:?}", handle.failure());
    let readouts = report
        .snapshot
        .stages
        .iter()
        .find(|s| s.id == "merge")
        .and_then(|s| s.readouts.clone());
    let cap = neuropipe_testkit::stages::capture(capture);
    let c = std::mem::take(&mut *cap.lock().unwrap());
    (c, readouts)
}

fn push_source(id: &str, channels: usize, fs: f64, frames: usize) -> serde_json::Value {
    json!({"id": id, "type": "PushSource", "params": {"channels": channels, "sample_rate": fs, "frames": frames, "buffer": 100_000, "sample_type": "f64"}})
}

fn cell(r: &ReadoutSnapshot, row: usize, col: &str) -> f64 {
    let c = r.columns.iter().position(|x| x.name == col).unwrap();
    r.values[row][c].unwrap_or(f64::NAN)
}

/// SciPy's `resample_poly(x, up, down)` of the rows of `x` (frames × channels).
fn scipy_resample(x: &[Vec<f64>], up: usize, down: usize) -> Option<Vec<Vec<f64>>> {
    let py = neuropipe_testkit::python()?;
    let dir = std::env::temp_dir().join(format!("np-ms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("x.csv");
    let text: Vec<String> = x
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| format!("{v:.17e}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    std::fs::write(&input, text.join("\n")).unwrap();
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(format!(
            "import numpy as np, scipy.signal as s, sys\n\
             x = np.loadtxt(sys.argv[1], delimiter=',', ndmin=2)\n\
             np.savetxt(sys.stdout, s.resample_poly(x, {up}, {down}, axis=0), fmt='%.17e', delimiter=',')"
        ))
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect(),
    )
}

#[test]
fn an_accelerometer_resampled_onto_the_eeg_rate_merges_frame_for_frame_as_scipy_resamples_it() {
    let (eeg_n, acc_n) = (2000, 800);
    let v = json!({
        "stages": [
            push_source("eeg", 4, 250.0, 25),
            push_source("acc", 3, 100.0, 10),
            {"id": "rs", "type": "Resample", "params": {"rate_hz": 250, "steady_state": false}},
            {"id": "merge", "type": "Merge"},
            {"id": "cap", "type": "Capture", "params": {"name": "ms-resampled"}}
        ],
        "links": ["eeg -> merge.in1", "acc -> rs", "rs -> merge.in2", "merge -> cap"]
    });
    let (cap, r) = run_pushed(
        "ms-resampled",
        v,
        &[
            Feed {
                stage: "eeg",
                fs: 250.0,
                blocks: vec![(eeg_n, T0)],
            },
            Feed {
                stage: "acc",
                fs: 100.0,
                blocks: vec![(acc_n, T0)],
            },
        ],
    );
    let r = r.unwrap();
    let s = cap.stream.as_ref().unwrap();
    assert_eq!(s.channel_count(), 7);
    assert_eq!(s.sample_rate, 250.0);
    // resample_poly(acc, 5, 2) has 2000 frames; the last 26 (the filter's lag) need input
    // past the end, so 1974 arrive, each with its EEG frame.
    let lag = 26;
    let n = cap.frames();
    assert_eq!(n, 2000 - lag, "merged frames");
    let acc: Vec<Vec<f64>> = (0..acc_n)
        .map(|k| (0..3).map(|c| wave(c, k, 100.0)).collect())
        .collect();
    for (k, frame) in cap.samples.chunks(7).enumerate() {
        for (c, &v) in frame[..4].iter().enumerate() {
            assert_eq!(v, wave(c, k, 250.0), "EEG frame {k} ch {c} untouched");
        }
    }
    if let Some(want) = scipy_resample(&acc, 5, 2) {
        let mut worst = 0.0f64;
        for (k, frame) in cap.samples.chunks(7).enumerate() {
            for c in 0..3 {
                let (g, w) = (frame[4 + c], want[k][c]);
                worst = worst.max((g - w).abs() / w.abs().max(1.0));
            }
        }
        assert!(
            worst < 1e-10,
            "resampled channels vs SciPy: relative error {worst:e}"
        );
    }
    // Stamped with their content time: zero skew, nothing dropped or missing.
    for (row, name) in [(0, "in1"), (1, "in2")] {
        assert_eq!(cell(&r, row, "skew"), 0.0, "{name} skew");
        assert_eq!(cell(&r, row, "dropped"), 0.0, "{name} dropped");
        assert_eq!(cell(&r, row, "missing"), 0.0, "{name} missing");
        assert_eq!(cell(&r, row, "lead_in"), 0.0, "{name} lead-in");
    }
    let mut next = 0;
    for h in &cap.headers {
        assert_eq!(h.first_frame, next);
        assert_eq!(
            h.timestamp,
            T0 + next * 4_000_000,
            "frame {next} at its EEG time"
        );
        assert_eq!(h.flags, 0);
        next += h.frames() as u64;
    }
}

#[test]
fn a_late_start_a_gap_and_a_skew_are_counted_and_never_moved() {
    let ms = 1_000_000;
    // `b` starts 10 frames (40 ms) after `a`, 1 ms late against `a`'s grid, and skips 5 frames
    // of time after its 100th frame.
    let v = json!({
        "stages": [
            push_source("a", 2, 250.0, 20),
            push_source("b", 1, 250.0, 20),
            {"id": "merge", "type": "Merge"},
            {"id": "cap", "type": "Capture", "params": {"name": "ms-gap"}}
        ],
        "links": ["a -> merge.in1", "b -> merge.in2", "merge -> cap"]
    });
    let b0 = T0 + 40 * ms + ms;
    let (cap, r) = run_pushed(
        "ms-gap",
        v,
        &[
            Feed {
                stage: "a",
                fs: 250.0,
                blocks: vec![(400, T0)],
            },
            Feed {
                stage: "b",
                fs: 250.0,
                blocks: vec![(100, b0), (200, b0 + 105 * 4 * ms)],
            },
        ],
    );
    let r = r.unwrap();
    assert_eq!(cell(&r, 0, "lead_in"), 10.0, "a's frames before b began");
    assert_eq!(cell(&r, 1, "missing"), 5.0, "b's 5-frame hole");
    assert_eq!(cell(&r, 1, "dropped"), 0.0);
    assert_eq!(cell(&r, 1, "skew"), 1.0, "b is 1 ms behind a");
    assert_eq!(cell(&r, 1, "max_skew"), 1.0);
    // a's frames 10.. with b's beside them; b's hole is NaN in exactly 5 frames, flagged.
    let frames: Vec<&[f64]> = cap.samples.chunks(3).collect();
    assert_eq!(frames.len(), 305, "until b ends");
    let nan: Vec<usize> = (0..frames.len())
        .filter(|&k| frames[k][2].is_nan())
        .collect();
    assert_eq!(nan, (100..105).collect::<Vec<_>>());
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(f[0], wave(0, k + 10, 250.0), "a's frame {}", k + 10);
        if !(100..105).contains(&k) {
            let kb = if k < 100 { k } else { k - 5 };
            assert_eq!(f[2], wave(0, kb, 250.0), "b's frame {kb}");
        }
    }
    let flagged: u64 = cap
        .headers
        .iter()
        .filter(|h| h.flags & FLAG_NONFINITE != 0)
        .map(|h| h.frames() as u64)
        .sum();
    assert!(flagged >= 5, "the packets holding the hole are flagged");
    assert_eq!(
        cap.headers[0].timestamp,
        T0 + 40 * ms,
        "stamped with a's times"
    );
}

#[test]
fn streams_that_do_not_fit_are_build_errors_naming_both_and_what_to_insert() {
    let err = |v: serde_json::Value| {
        let cfg = PipelineConfig::from_value(&v).map_err(|e| e.to_string());
        let host = Arc::new(PushHost::default());
        match cfg {
            Err(e) => e,
            Ok(cfg) => building(&host, || Pipeline::build(&cfg, &registry()))
                .err()
                .expect("an error")
                .to_string(),
        }
    };
    let e = err(json!({
        "stages": [
            push_source("eeg", 4, 250.0, 25),
            push_source("acc", 3, 100.0, 10),
            {"id": "merge", "type": "Merge"},
            {"id": "check", "type": "ContinuityCheck"}
        ],
        "links": ["eeg -> merge.in1", "acc -> merge.in2", "merge -> check"]
    }));
    assert!(
        e.contains("`in1`") && e.contains("250 Hz") && e.contains("`in2`") && e.contains("100 Hz"),
        "{e}"
    );
    assert!(
        e.contains("Resample") && e.contains("\"rate_hz\": 250"),
        "{e}"
    );
    let e = err(json!({
        "stages": [
            push_source("eeg", 4, 250.0, 25),
            push_source("emg", 2, 250.0, 25),
            {"id": "check", "type": "ContinuityCheck"}
        ],
        "links": ["eeg -> check", "emg -> check"]
    }));
    assert!(
        e.contains("eeg.out") && e.contains("emg.out") && e.contains("Merge"),
        "{e}"
    );
}

#[test]
fn a_stream_that_stalls_is_nan_filled_after_max_wait_and_the_reference_goes_on() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            push_source("a", 2, 250.0, 20),
            push_source("b", 1, 250.0, 20),
            {"id": "merge", "type": "Merge", "params": {"max_wait_s": 1.0}},
            {"id": "cap", "type": "Capture", "params": {"name": "ms-stall"}}
        ],
        "links": ["a -> merge.in1", "b -> merge.in2", "merge -> cap"]
    }))
    .unwrap();
    let host = Arc::new(PushHost::default());
    let pipeline = building(&host, || Pipeline::build(&cfg, &registry())).unwrap();
    let handle = pipeline.handle();
    let rt = runtime();
    let run = rt.spawn(pipeline.run());
    let (fa, fb) = (host.feed("a").unwrap(), host.feed("b").unwrap());
    // `b` sends its first 100 frames, then nothing (stalled, not ended); `a` sends 500.
    let t0 = fa.now_ns();
    let ok = || Ok::<(), ()>(());
    assert_eq!(
        fb.push(100, Some(t0), |c, k| wave(c, k, 250.0), ok)
            .unwrap(),
        100
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        fa.push(500, Some(t0), |c, k| wave(c, k, 250.0), ok)
            .unwrap(),
        500
    );
    let merged = |h: &PipelineHandle| {
        h.snapshot()
            .stages
            .iter()
            .find(|s| s.id == "cap")
            .map_or(0, |s| s.frames_in)
    };
    let start = std::time::Instant::now();
    while merged(&handle) < 500 && start.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    fa.close();
    fb.close();
    let report = rt.block_on(run).unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    let r = report
        .snapshot
        .stages
        .iter()
        .find(|s| s.id == "merge")
        .and_then(|s| s.readouts.clone())
        .unwrap();
    let cap = neuropipe_testkit::stages::capture("ms-stall");
    let cap = std::mem::take(&mut *cap.lock().unwrap());
    // Every frame of the reference, `b` beside its 100 and NaN after (counted, flagged).
    assert_eq!(cap.frames(), 500, "the reference went on without b");
    for (k, f) in cap.samples.chunks(3).enumerate() {
        assert_eq!(f[0], wave(0, k, 250.0));
        if k < 100 {
            assert_eq!(f[2], wave(0, k, 250.0), "b's frame {k}");
        } else {
            assert!(f[2].is_nan(), "frame {k}: b stalled");
        }
    }
    assert_eq!(cell(&r, 1, "missing"), 400.0);
    assert_eq!(cell(&r, 1, "dropped"), 0.0);
    let nan_flagged: usize = cap
        .headers
        .iter()
        .filter(|h| h.flags & FLAG_NONFINITE != 0)
        .map(|h| h.frames())
        .sum();
    assert!(
        nan_flagged >= 400,
        "{nan_flagged} frames in flagged packets"
    );
}

#[test]
fn a_clock_running_fast_has_its_extra_frames_dropped_counted_and_flagged() {
    // `b`'s stamps run 1 ms further ahead every 50 frames (a device clock faster than the
    // host's): once it is more than half a period (2 ms) ahead, one of its frames is dropped.
    let ms = 1_000_000;
    let v = json!({
        "stages": [
            push_source("a", 1, 250.0, 20),
            push_source("b", 1, 250.0, 20),
            {"id": "merge", "type": "Merge"},
            {"id": "cap", "type": "Capture", "params": {"name": "ms-drift"}}
        ],
        "links": ["a -> merge.in1", "b -> merge.in2", "merge -> cap"]
    });
    let blocks = (0..8u64)
        .map(|k| (50, T0 + k * 50 * 4 * ms - k * ms))
        .collect();
    let (cap, r) = run_pushed(
        "ms-drift",
        v,
        &[
            Feed {
                stage: "a",
                fs: 250.0,
                blocks: vec![(400, T0)],
            },
            Feed {
                stage: "b",
                fs: 250.0,
                blocks,
            },
        ],
    );
    let r = r.unwrap();
    assert_eq!(cell(&r, 1, "dropped"), 2.0);
    assert_eq!(cell(&r, 1, "missing"), 0.0);
    // b's frames 150 and 350 are the ones dropped: b's frame beside a's frame k is k, then
    // k + 1, then k + 2; b ends first (its frame 399 is beside a's 397).
    let frames: Vec<&[f64]> = cap.samples.chunks(2).collect();
    assert_eq!(frames.len(), 398);
    for (k, f) in frames.iter().enumerate() {
        let kb = k + usize::from(k >= 150) + usize::from(k >= 349);
        assert_eq!(f[0], wave(0, k, 250.0), "a's frame {k}");
        assert_eq!(f[1], wave(0, kb, 250.0), "b's frame {kb} beside a's {k}");
    }
    // The packets holding the frames after each drop are flagged.
    let flagged: Vec<(u64, usize)> = cap
        .headers
        .iter()
        .filter(|h| h.flags & FLAG_DISCONTINUITY != 0)
        .map(|h| (h.first_frame, h.frames()))
        .collect();
    for k in [150u64, 349] {
        assert!(
            flagged.iter().any(|&(f, n)| f <= k && k < f + n as u64),
            "frame {k} in a flagged packet: {flagged:?}"
        );
    }
    assert_eq!(flagged.len(), 2, "{flagged:?}");
}

#[test]
fn resampled_frames_keep_their_content_time_across_a_gap_and_their_nan_flags() {
    // 100 Hz pushed in two blocks 10 s apart in time (frame indices contiguous), with a missing
    // (NaN) sample at frame 50, resampled onto 250 Hz.
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            push_source("acc", 1, 100.0, 10),
            {"id": "rs", "type": "Resample", "params": {"rate_hz": 250}},
            {"id": "cap", "type": "Capture", "params": {"name": "ms-rs-gap"}}
        ],
        "links": ["acc -> rs", "rs -> cap"]
    }))
    .unwrap();
    let host = Arc::new(PushHost::default());
    let pipeline = building(&host, || Pipeline::build(&cfg, &registry())).unwrap();
    let rt = runtime();
    let run = rt.spawn(pipeline.run());
    let feed = host.feed("acc").unwrap();
    let ok = || Ok::<(), ()>(());
    let value = |k: usize| if k == 50 { f64::NAN } else { wave(0, k, 100.0) };
    let gap_t0 = T0 + 10_000_000_000;
    feed.push(200, Some(T0), |_, k| value(k), ok).unwrap();
    feed.push(200, Some(gap_t0), |_, k| value(200 + k), ok)
        .unwrap();
    feed.close();
    assert_eq!(rt.block_on(run).unwrap().outcome, Outcome::Finished);
    let cap = neuropipe_testkit::stages::capture("ms-rs-gap");
    let cap = std::mem::take(&mut *cap.lock().unwrap());
    // Output frame m stands for input position m · 2/5: before the gap (positions < 200) its
    // time is T0 + m · 4 ms, after it gap_t0 + (m − 500) · 4 ms, whichever packet carried it.
    for (h, _) in cap.packets() {
        let m = h.first_frame;
        let want = if m < 500 {
            T0 + m * 4_000_000
        } else {
            gap_t0 + (m - 500) * 4_000_000
        };
        assert_eq!(h.timestamp, want, "output frame {m}");
    }
    // Every packet holding a NaN output (the sample at input 50 is in the filter for ~50
    // outputs, over several packets) is flagged; no other is.
    for (h, s) in cap.packets() {
        let has_nan = s.iter().any(|v| v.is_nan());
        assert_eq!(
            h.flags & FLAG_NONFINITE != 0,
            has_nan,
            "packet at frame {}",
            h.first_frame
        );
    }
    assert!(cap.samples.iter().filter(|v| v.is_nan()).count() > 20);
}
