//! SimulatedEeg: deterministic, realistic content, drift-free real-time pacing, pause gaps.

use neuropipe_core::*;
use neuropipe_stages::simulated::{default_labels, Generator, SignalModel};
use neuropipe_testkit::stages::capture;
use serde_json::json;
use std::time::{Duration, Instant};

/// The stage library plus the test kit's `Capture` sink.
fn registry() -> Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_testkit::stages::register(&mut r);
    r
}

/// What the `Capture` named `name` received: each packet's header and its raw counts.
fn seen(name: &str) -> Vec<(PacketHeader, Vec<i32>)> {
    let cap = capture(name);
    let c = cap.lock().unwrap();
    c.packets()
        .map(|(h, s)| (h, s.iter().map(|&x| x as i32).collect()))
        .collect()
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn run_sim(
    params: serde_json::Value,
    stop_after: Option<Duration>,
) -> (RunReport, Vec<(PacketHeader, Vec<i32>)>) {
    let name = format!(
        "run{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let reg = registry();
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [{"id": "eeg", "type": "SimulatedEeg", "params": params}, {"id": "c", "type": "Capture", "params": {"name": name}}],
        "links": ["eeg -> c"]
    }))
    .unwrap();
    let p = Pipeline::build(&cfg, &reg).unwrap();
    let h = p.handle();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(async move {
        if let Some(d) = stop_after {
            let h = h.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                h.stop();
            });
        }
        p.run().await
    });
    (report, seen(&name))
}

fn concat(v: &[(PacketHeader, Vec<i32>)]) -> Vec<i32> {
    v.iter().flat_map(|(_, s)| s.iter().copied()).collect()
}

#[test]
fn same_seed_same_signal_whatever_the_packet_size() {
    let (_, a) = run_sim(
        json!({"realtime": false, "duration_s": 4, "frames": 7, "seed": 3}),
        None,
    );
    let (_, b) = run_sim(
        json!({"realtime": false, "duration_s": 4, "frames": 32, "seed": 3}),
        None,
    );
    let (_, c) = run_sim(
        json!({"realtime": false, "duration_s": 4, "frames": 32, "seed": 4}),
        None,
    );
    assert_eq!(concat(&a).len(), 1000 * 8);
    assert_eq!(concat(&a), concat(&b));
    assert_ne!(concat(&a), concat(&c));
    // Frame indices are continuous and the last packet is short (1000 = 142*7 + 6).
    let mut next = 0;
    for (h, s) in &a {
        assert_eq!(h.first_frame, next);
        assert_eq!(s.len(), h.batch_size as usize * 8);
        next += h.batch_size as u64;
    }
    assert_eq!(next, 1000);
}

/// Power of `x` at frequency `f` (Hz) by a direct DFT bin.
fn power_at(x: &[f64], fs: f64, f: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (n, v) in x.iter().enumerate() {
        let ph = std::f64::consts::TAU * f * n as f64 / fs;
        re += v * ph.cos();
        im -= v * ph.sin();
    }
    (re * re + im * im) / x.len() as f64
}

#[test]
fn content_has_alpha_over_occipital_sites_and_mains() {
    let model = SignalModel {
        rate: 250.0,
        alpha_uv: 20.0,
        alpha_hz: 10.0,
        line_hz: 50.0,
        line_uv: 10.0,
        noise_uv: 8.0,
        drift_uv: 30.0,
        blink_interval_s: 0.0,
        blink_uv: 0.0,
        dc_offset_uv: 0.0,
    };
    let labels = default_labels(8);
    assert_eq!(labels, ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]);
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let mut g = Generator::new(model, &refs, 1);
    let n = 2500;
    let mut frame = vec![0.0; 8];
    let mut fp1 = vec![];
    let mut o1 = vec![];
    for i in 0..n {
        g.frame(i, &mut frame);
        fp1.push(frame[0]);
        o1.push(frame[6]);
    }
    let alpha_o1 = power_at(&o1, 250.0, 10.0);
    let alpha_fp1 = power_at(&fp1, 250.0, 10.0);
    assert!(
        alpha_o1 > 4.0 * alpha_fp1,
        "alpha stronger at O1 ({alpha_o1}) than Fp1 ({alpha_fp1})"
    );
    assert!(
        alpha_o1 > 20.0 * power_at(&o1, 250.0, 17.3),
        "alpha peak stands out of the background"
    );
    assert!(
        power_at(&o1, 250.0, 50.0) > 20.0 * power_at(&o1, 250.0, 43.1),
        "mains line at 50 Hz"
    );
    // 1/f background: more power at 2 Hz than at 30 Hz.
    assert!(power_at(&o1, 250.0, 2.0) > power_at(&o1, 250.0, 30.0));
}

#[test]
fn real_time_pacing_follows_the_clock_without_drift() {
    // 1000 packets/s: an implementation that accumulated sleeps would fall behind by the
    // scheduling overshoot of every packet (typically 50 µs+ each, 150 ms+ over 3 s).
    let t0 = Instant::now();
    let (report, seen) = run_sim(
        json!({"sample_rate": 16000, "frames": 16, "channels": 4, "line_hz": 50}),
        Some(Duration::from_secs(3)),
    );
    let elapsed = t0.elapsed().as_secs_f64();
    assert_eq!(report.outcome, Outcome::Finished);
    let frames: u64 = seen.iter().map(|(h, _)| h.batch_size as u64).sum();
    let expected = 16000.0 * 3.0;
    assert!(
        // A packet goes out when its last frame's time has come: at most `frames` ahead.
        (frames as f64) > expected - 16000.0 * 0.02 && (frames as f64) <= 16000.0 * elapsed + 16.0,
        "{frames} frames in {elapsed:.3} s at 16 kHz"
    );
    // Timestamps are frame_index / rate after the anchor, exactly.
    let (h0, _) = seen[0];
    for (h, _) in &seen {
        let expect =
            h0.timestamp + ((h.first_frame - h0.first_frame) as f64 * 1e9 / 16000.0) as u64;
        assert!(
            h.timestamp.abs_diff(expect) <= 1,
            "timestamp of frame {}",
            h.first_frame
        );
    }
}

#[test]
fn pause_shows_as_a_time_gap_not_an_index_gap() {
    let reg = registry();
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [{"id": "eeg", "type": "SimulatedEeg", "params": {"sample_rate": 1000, "frames": 10}},
                   {"id": "c", "type": "Capture", "params": {"name": "pause"}}],
        "links": ["eeg -> c"]
    }))
    .unwrap();
    let p = Pipeline::build(&cfg, &reg).unwrap();
    let h = p.handle();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let run = tokio::spawn(p.run());
        tokio::time::sleep(Duration::from_millis(200)).await;
        h.pause("eeg").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        h.resume("eeg").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        h.stop();
        run.await.unwrap();
    });
    let v = seen("pause");
    let mut gap = None;
    for w in v.windows(2) {
        let (a, b) = (&w[0].0, &w[1].0);
        assert_eq!(
            b.first_frame,
            a.first_frame + a.batch_size as u64,
            "indices continuous"
        );
        let dt = b.timestamp - a.timestamp;
        if b.flags & FLAG_DISCONTINUITY != 0 {
            gap = Some(dt);
        } else {
            assert_eq!(dt, 10_000_000, "10 frames at 1 kHz = 10 ms");
        }
    }
    let gap = gap.expect("the packet after resume is flagged");
    assert!(
        gap >= 290_000_000,
        "the pause shows in timestamps: {gap} ns"
    );
}
