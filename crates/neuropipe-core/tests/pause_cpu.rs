//! A paused pipeline burns no CPU: no spinning, no polling timers.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec; CLOCK_PROCESS_CPUTIME_ID is always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn paused_pipeline_uses_under_one_percent_of_a_core() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // An unpaced source: running, it keeps both cores busy.
        let p = build(json!({
            "stages": [
                {"id": "src", "type": "TestSource", "params": {"packets": 1u64 << 40}},
                {"id": "add", "type": "TestAdd"},
                {"id": "sink", "type": "TestSink", "params": {"probe": "cpu"}}
            ],
            "links": ["src -> add", "add -> sink"]
        }));
        let h = p.handle();
        let run = tokio::spawn(p.run());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let c0 = process_cpu();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let busy = process_cpu() - c0;
        assert!(
            busy > Duration::from_millis(100),
            "running pipeline is busy: {busy:?}"
        );

        h.pause("src").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await; // drain in-flight packets
        let c0 = process_cpu();
        std::thread::sleep(Duration::from_secs(1)); // the test thread itself uses no CPU here
        let paused = process_cpu() - c0;
        assert!(
            paused < Duration::from_millis(10),
            "paused pipeline used {paused:?} of CPU in 1 s"
        );
        h.resume("src").await.unwrap();
        h.stop();
        run.await.unwrap();
    });
    // The probe kept headers of every packet: clear them (memory only).
    probe("cpu").headers.lock().unwrap().clear();
}
