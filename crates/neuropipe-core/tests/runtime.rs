//! Semantics of the runtime: end of stream, backpressure, leaky links, fan-out, control
//! messages, Fatal errors and panics, stop.

mod common;
use common::*;
use neuropipe_core::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn chain(probe: &str, packets: u64, extra_sink: serde_json::Value) -> serde_json::Value {
    json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": packets, "frames": 4, "channels": 2}},
            {"id": "add", "type": "TestAdd", "params": {"add": 1.0}},
            {"id": "sink", "type": "TestSink", "params": extra_sink.as_object().cloned().unwrap_or_default().into_iter()
                .chain([("probe".to_string(), json!(probe))]).collect::<serde_json::Map<_, _>>()}
        ],
        "links": ["src.out -> add.in", "add.out -> sink.in"]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_stream_propagates_and_every_frame_arrives_once() {
    let p = build(chain("eos", 500, json!({})));
    let report = p.run().await;
    assert_eq!(report.outcome, Outcome::Finished);
    let probe = probe("eos");
    assert_continuous(&probe.headers.lock().unwrap(), 500, 4);
    // in-place stage added 1.0 to every sample: first sample of packet k is 4k + 1
    let firsts = probe.first_samples.lock().unwrap();
    assert!(firsts
        .iter()
        .enumerate()
        .all(|(k, &v)| v == (4 * k) as f32 + 1.0));
    assert!(probe.flushed.load(Ordering::SeqCst), "sink finish() ran");
    for s in &report.snapshot.stages {
        assert_eq!(s.state, StageState::Finished, "{}", s.id);
    }
    // Every buffer went back to its pool.
    for pool in &report.snapshot.pools {
        assert_eq!(pool.in_use, 0, "pool {}", pool.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_slow_sink_throttles_source_and_memory_stays_bounded() {
    let p = build(json!({
        "pools": [{"name": "small", "payload": "f32", "frames": 4, "channels": 2, "count": 8}],
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 40, "pool": "small"}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "bp", "delay_ms": 5.0}}
        ],
        "links": [{"from": "src.out", "to": "sink.in", "capacity": 2}]
    }));
    let h = p.handle();
    let t0 = std::time::Instant::now();
    let report = p.run().await;
    assert_eq!(report.outcome, Outcome::Finished);
    // 40 packets at >= 5 ms each: the source could not run ahead of the sink.
    assert!(t0.elapsed() >= Duration::from_millis(40 * 5));
    let link = &report.snapshot.links[0];
    assert!(link.send_waits > 0, "source waited for room: {link:?}");
    assert!(link.high_water <= 2);
    assert_eq!(link.dropped, 0);
    let pool = &report.snapshot.pools[0];
    assert!(pool.high_water <= 8, "memory bounded by the pool: {pool:?}");
    assert_continuous(&probe("bp").headers.lock().unwrap(), 40, 4);
    drop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaky_links_count_every_drop() {
    for (policy, name) in [("drop-newest", "leak-new"), ("drop-oldest", "leak-old")] {
        let p = build(json!({
            "stages": [
                {"id": "src", "type": "TestSource", "params": {"packets": 200}},
                {"id": "sink", "type": "TestSink", "params": {"probe": name, "delay_ms": 2.0}}
            ],
            "links": [{"from": "src.out", "to": "sink.in", "capacity": 2, "policy": policy}]
        }));
        let report = p.run().await;
        assert_eq!(report.outcome, Outcome::Finished);
        let link = &report.snapshot.links[0];
        let got = probe(name).packets.load(Ordering::Relaxed);
        assert!(link.dropped > 0, "{policy}: something was dropped");
        assert_eq!(
            got + link.dropped,
            200,
            "{policy}: received + dropped = sent"
        );
        let headers = probe(name).headers.lock().unwrap().clone();
        assert!(
            headers.windows(2).all(|w| w[0].sequence < w[1].sequence),
            "{policy}: order kept"
        );
        if policy == "drop-oldest" {
            assert_eq!(
                headers.last().unwrap().sequence,
                199,
                "newest packet survives"
            );
        } else {
            assert_eq!(headers[0].sequence, 0, "oldest packet survives");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_shares_with_readers_and_copies_for_in_place_consumers() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 100}},
            {"id": "a", "type": "TestSink", "params": {"probe": "fan-a"}},
            {"id": "b", "type": "TestSink", "params": {"probe": "fan-b", "mutate": true}},
            {"id": "add", "type": "TestAdd", "params": {"add": 1000.0}},
            {"id": "c", "type": "TestSink", "params": {"probe": "fan-c"}}
        ],
        "links": ["src.out -> a.in", "src.out -> b.in", "src.out -> add.in", "add.out -> c.in"]
    }));
    let report = p.run().await;
    assert_eq!(report.outcome, Outcome::Finished);
    let a = probe("fan-a");
    let b = probe("fan-b");
    let c = probe("fan-c");
    assert_continuous(&a.headers.lock().unwrap(), 100, 4);
    assert_continuous(&b.headers.lock().unwrap(), 100, 4);
    assert_continuous(&c.headers.lock().unwrap(), 100, 4);
    // a saw the original values: neither b's copy-on-write nor add's in-place change leaked.
    let fa = a.first_samples.lock().unwrap();
    assert!(fa.iter().enumerate().all(|(k, &v)| v == (4 * k) as f32));
    assert!(b.first_samples.lock().unwrap().iter().all(|&v| v == -1.0));
    let fc = c.first_samples.lock().unwrap();
    assert!(fc
        .iter()
        .enumerate()
        .all(|(k, &v)| v == (4 * k) as f32 + 1000.0));
    for pool in &report.snapshot.pools {
        assert_eq!(pool.in_use, 0, "pool {}", pool.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_param_update_applies_and_bad_param_keeps_stage_running() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 1000000, "interval_ms": 1.0}},
            {"id": "add", "type": "TestAdd", "params": {"add": 0.0}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "ctl"}}
        ],
        "links": ["src -> add", "add -> sink"]
    }));
    let h = p.handle();
    let run = tokio::spawn(p.run());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(h.set_param("add", "add", json!(5.0)).await, Ok(json!(5.0)));
    // Rejected by the stage itself: the message comes back, the stage runs on.
    assert_eq!(
        h.set_param("add", "add", json!(13.0)).await,
        Err(ControlError::Rejected("13 is unlucky".into()))
    );
    // Rejected by the runtime's parameter checks.
    assert_eq!(
        h.set_param("add", "ad", json!(1.0)).await,
        Err(ControlError::Rejected(
            "stage `add` (TestAdd) has no parameter `ad` (did you mean \"add\"?) (live parameters: add)".into()
        ))
    );
    assert_eq!(
        h.set_param("add", "fixed", json!(1.0)).await,
        Err(ControlError::Rejected(
            "parameter `fixed` of stage `add` cannot be changed while running (live parameters: add)".into()
        ))
    );
    assert_eq!(
        h.set_param("add", "add", json!("x")).await,
        Err(ControlError::Rejected(
            "`add` must be a number in -1e9..=1e9, got string \"x\"".into()
        ))
    );
    let err = h.set_param("nope", "add", json!(1.0)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown stage `nope` (stages: src, add, sink)"
    );
    let before = probe("ctl").packets.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        probe("ctl").packets.load(Ordering::Relaxed) > before,
        "still running"
    );
    let last = *probe("ctl").first_samples.lock().unwrap().last().unwrap();
    let last_header = *probe("ctl").headers.lock().unwrap().last().unwrap();
    assert_eq!(
        last,
        last_header.first_frame as f32 + 5.0,
        "new value in effect"
    );
    h.stop();
    let report = run.await.unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    let add = report
        .snapshot
        .stages
        .iter()
        .find(|s| s.id == "add")
        .unwrap();
    assert_eq!(add.bad_params, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_the_source_locks_the_pipeline_and_resume_continues() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 1000000, "interval_ms": 1.0}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "pause-src"}}
        ],
        "links": ["src -> sink"]
    }));
    let h = p.handle();
    let run = tokio::spawn(p.run());
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(h.pause("src").await, Ok(json!("paused")));
    tokio::time::sleep(Duration::from_millis(20)).await; // let in-flight packets land
    let n = probe("pause-src").packets.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        probe("pause-src").packets.load(Ordering::Relaxed),
        n,
        "nothing flows while paused"
    );
    assert_eq!(h.snapshot().stages[0].state, StageState::Paused);
    assert_eq!(h.resume("src").await, Ok(json!("running")));
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(probe("pause-src").packets.load(Ordering::Relaxed) > n);
    h.stop();
    run.await.unwrap();
    let headers = probe("pause-src").headers.lock().unwrap().clone();
    assert_continuous(&headers, headers.len() as u64, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_a_middle_stage_holds_data_until_resume_then_nothing_is_lost() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 60}},
            {"id": "add", "type": "TestAdd", "params": {"add": 0.0}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "pause-mid"}}
        ],
        "links": [{"from": "src.out", "to": "add.in", "capacity": 4}, "add -> sink"]
    }));
    let h = p.handle();
    // Sent before the pipeline runs: the request waits in the stage's queue.
    let hp = h.clone();
    let pause = tokio::spawn(async move { hp.pause("add").await });
    let run = tokio::spawn(p.run());
    pause.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let held = probe("pause-mid").packets.load(Ordering::Relaxed);
    assert!(held < 60, "middle stage paused: sink starved ({held})");
    assert_eq!(h.resume("add").await, Ok(json!("running")));
    let report = run.await.unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    assert_continuous(&probe("pause-mid").headers.lock().unwrap(), 60, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_in_middle_stage_drains_flushes_and_reports() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 1000000}},
            {"id": "add", "type": "TestAdd", "params": {"add": 0.0}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "fatal-mid"}}
        ],
        "links": ["src -> add", "add -> sink"]
    }));
    let h = p.handle();
    let run = tokio::spawn(p.run());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        h.set_param("add", "add", json!(666.0)).await,
        Err(ControlError::Fatal("cursed value".into()))
    );
    let report = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        report.outcome,
        Outcome::Failed {
            stage: "add".into(),
            message: "cursed value".into()
        }
    );
    let probe = probe("fatal-mid");
    assert!(probe.flushed.load(Ordering::SeqCst), "sink flushed");
    // What reached the sink is continuous: drained, not cut mid-way.
    let headers = probe.headers.lock().unwrap().clone();
    assert_continuous(&headers, headers.len() as u64, 4);
    for pool in &report.snapshot.pools {
        assert_eq!(pool.in_use, 0, "pool {} returned everything", pool.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_in_source_stops_cleanly_with_everything_sent_delivered() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 100, "fail_at": 30}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "fatal-src", "delay_ms": 1.0}}
        ],
        "links": ["src -> sink"]
    }));
    let report = p.run().await;
    assert_eq!(
        report.outcome,
        Outcome::Failed {
            stage: "src".into(),
            message: "source failed on purpose".into()
        }
    );
    assert_continuous(&probe("fatal-src").headers.lock().unwrap(), 30, 4);
    assert!(probe("fatal-src").flushed.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_a_stage_is_fatal_and_buffers_return() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 1000}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "panic", "panic_at": 5}}
        ],
        "links": ["src -> sink"]
    }));
    let report = p.run().await;
    assert_eq!(
        report.outcome,
        Outcome::Failed {
            stage: "sink".into(),
            message: "panicked: sink panicked on purpose".into()
        }
    );
    assert!(
        probe("panic").flushed.load(Ordering::SeqCst),
        "finish() ran after the panic"
    );
    assert_eq!(
        report.snapshot.pools[0].in_use, 0,
        "packet held during the panic returned"
    );
    assert_eq!(report.snapshot.stages[1].state, StageState::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_drains_in_flight_packets_to_the_sink() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 1000000}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "stop", "delay_ms": 1.0}}
        ],
        "links": [{"from": "src.out", "to": "sink.in", "capacity": 16}]
    }));
    let h = p.handle();
    let run = tokio::spawn(p.run());
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.stop();
    let report = run.await.unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    let sent = report.snapshot.stages[0].packets_out;
    let got = probe("stop").packets.load(Ordering::Relaxed);
    assert_eq!(
        sent, got,
        "every packet sent before the stop reached the sink"
    );
    assert_eq!(report.snapshot.links[0].depth, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recv_returns_none_for_control_and_err_when_closed() {
    // An idle sink (source sends nothing for a while) woken by a control message sees Ok(None).
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 3, "interval_ms": 100.0}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "none"}}
        ],
        "links": ["src -> sink"]
    }));
    let h = p.handle();
    let run = tokio::spawn(p.run());
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The idle sink is woken (Ok(None)) to handle the pause, then resumed.
    assert_eq!(h.pause("sink").await, Ok(json!("paused")));
    assert!(probe("none").nones.load(Ordering::Relaxed) >= 1);
    assert_eq!(h.resume("sink").await, Ok(json!("running")));
    let report = run.await.unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(probe("none").packets.load(Ordering::Relaxed), 3);
    // After the end, control requests are answered, not hung.
    assert_eq!(
        h.pause("sink").await,
        Err(ControlError::NotRunning("sink".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_recorded_at_sinks() {
    let p = build(chain("lat", 200, json!({})));
    let report = p.run().await;
    let sink = report
        .snapshot
        .stages
        .iter()
        .find(|s| s.id == "sink")
        .unwrap();
    assert_eq!(sink.latency_count, 200);
    assert!(sink.latency_p50_ns.unwrap() <= sink.latency_p99_ns.unwrap());
    assert!(sink.latency_p99_ns.unwrap() <= sink.latency_max_ns.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taps_copy_what_an_output_sends_and_a_stuck_observer_costs_nothing() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 300, "interval_ms": 0.5}},
            {"id": "add", "type": "TestAdd", "params": {"add": 1.0}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "tap"}}
        ],
        "links": ["src -> add", "add -> sink"]
    }));
    let h = p.handle();
    assert_eq!(
        h.outputs(),
        vec!["src.out".to_string(), "add.out".to_string()]
    );
    let mut live = h.tap("add").unwrap();
    assert_eq!(
        h.tap("add.out").err().unwrap().to_string(),
        "output `add.out` is already tapped"
    );
    assert!(matches!(
        h.tap("nope"),
        Err(TapError::UnknownOutput { ref outputs, .. }) if outputs.len() == 2
    ));
    let _stuck = h.tap("src.out").unwrap(); // never read
    let run = tokio::spawn(p.run());
    let first = live.next().await.unwrap();
    assert_eq!(first.samples.len(), 8);
    // Tap packets show the values after the in-place stage ran, like the sink sees them.
    assert_eq!(first.samples[0], first.header.first_frame as f64 + 1.0);
    let mut seen = 1;
    while let Some(pkt) = live.next().await {
        assert_eq!(pkt.samples[0], pkt.header.first_frame as f64 + 1.0);
        seen += 1;
    }
    let report = run.await.unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    assert!(seen > 100, "tap saw the stream ({seen} packets)");
    assert_continuous(&probe("tap").headers.lock().unwrap(), 300, 4);
    assert!(
        _stuck.dropped() > 0,
        "the stuck tap dropped, the pipeline did not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossless_tap_sees_every_packet_of_a_flat_out_run_and_closing_it_releases_the_output() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "TestSource", "params": {"packets": 400, "interval_ms": 0}},
            {"id": "add", "type": "TestAdd", "params": {"add": 1.0}},
            {"id": "sink", "type": "TestSink", "params": {"probe": "lossless"}}
        ],
        "links": ["src -> add", "add -> sink"]
    }));
    let h = p.handle();
    let mut all = h.tap_lossless("add").unwrap();
    assert!(all.is_lossless());
    // Abandoned after 5 packets: dropping it must let the source run to its end.
    let mut abandoned = h.tap_lossless("src").unwrap();
    let run = tokio::spawn(p.run());
    for _ in 0..5 {
        abandoned.next().await.unwrap();
    }
    drop(abandoned);
    let mut next_frame = 0;
    let mut packets = 0;
    while let Some(pkt) = all.next().await {
        assert_eq!(pkt.header.first_frame, next_frame, "in order, none missing");
        assert_eq!(pkt.samples[0], pkt.header.first_frame as f64 + 1.0);
        next_frame += u64::from(pkt.header.batch_size);
        packets += 1;
        if packets % 50 == 0 {
            // A slow observer: the pipeline waits for it.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
    assert_eq!(packets, 400);
    assert_eq!(all.dropped(), 0);
    let report = run.await.unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    assert_continuous(&probe("lossless").headers.lock().unwrap(), 400, 4);
}
