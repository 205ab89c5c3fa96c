//! Recording from the console: `run --record TEMPLATE --record-idle --serve`, then
//! `ctl record start|stop|status` and `POST /api/recording`: a new, valid file each time,
//! a marker set just before a stop inside the file, exit 0 on SIGINT.

mod common;
use common::*;
use neuropipe_io::edf::EdfReader;
use std::process::Output;
use std::time::Duration;

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Polls `ctl record` until `ok` holds for the first recorder; gives up after 600 polls (a
/// hang guard, not a latency check: each poll is a whole `ctl` process).
fn wait_status(
    addr: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..600 {
        let v = json(&ctl(addr, &["record"]));
        let r = v["recorders"][0].clone();
        if ok(&r) {
            return r;
        }
        last = v;
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: never reached; last status {last}");
}

#[test]
fn recordings_start_and_stop_from_the_console_into_new_files() {
    let dir = std::env::temp_dir().join(format!("neuropipe-console-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("sess_{n}.bdf");
    let addr = format!("127.0.0.1:{}", free_port());
    let (mut child, lines) = serve(
        &[
            "--record",
            template.to_str().unwrap(),
            "--record-idle",
            "--serve",
            &addr,
        ],
        &[],
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("serving")),
        "{lines:?}"
    );

    // Idle: no file yet.
    let r = wait_status(&addr, "idle", |r| r["recording"] == false);
    assert_eq!(r["files"], 0.0);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);

    let v = json(&ctl(&addr, &["record", "start"]));
    let first = dir.join("sess_1.bdf");
    assert_eq!(
        v["recorders"][0]["applied"]["file"],
        first.to_str().unwrap()
    );
    let r = wait_status(&addr, "recording 1 s", |r| {
        r["recording"] == true && r["duration_s"].as_f64().unwrap_or(0.0) >= 1.0
    });
    assert_eq!(r["file"], first.to_str().unwrap());
    assert!(r["size_bytes"].as_f64().unwrap() > 0.0, "{r}");

    // A marker, then a stop a moment later (one client, back to back): the marker's sample
    // is captured before the stop, so it is in the file.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let m = neuropipe_server::client::request(
            &addr,
            "POST",
            "/api/markers",
            None,
            Some(r#"{"text":"last marker"}"#),
        )
        .await
        .unwrap();
        assert_eq!(m.status, 200, "{}", m.body);
        let s = neuropipe_server::client::request(
            &addr,
            "POST",
            "/api/recording",
            None,
            Some(r#"{"recording":false}"#),
        )
        .await
        .unwrap();
        assert_eq!(s.status, 200, "{}", s.body);
    });
    wait_status(&addr, "stopped", |r| r["recording"] == false);

    // Start again: a new file; the first one is complete.
    let v = json(&ctl(&addr, &["record", "start", "--stage", "record"]));
    let second = dir.join("sess_2.bdf");
    assert_eq!(
        v["recorders"][0]["applied"]["file"],
        second.to_str().unwrap()
    );
    wait_status(&addr, "second file", |r| {
        r["duration_s"].as_f64().unwrap_or(0.0) >= 0.5
    });
    let bad = ctl(&addr, &["record", "start", "--stage", "quality"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a recorder"));

    // SAFETY: kill(2) with a valid signal on our own child's pid touches no memory.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status}");

    let r1 = EdfReader::open(&first).unwrap();
    let secs = r1.num_samples(0) as f64 / r1.sample_rate(0);
    assert!(secs >= 1.0, "{secs} s");
    let anns = r1.annotations();
    let mark = anns
        .iter()
        .find(|a| a.text == "last marker")
        .unwrap_or_else(|| panic!("{anns:?}"));
    // Inside the recorded signal (before the padding that completes the last record).
    let pad = anns
        .iter()
        .find(|a| a.text.starts_with("BAD_padding"))
        .map_or(secs, |a| a.onset);
    assert!(
        mark.onset < pad,
        "marker at {} s, data end at {pad} s",
        mark.onset
    );
    assert!(
        anns.iter().any(|a| a.text == "record: recording = false"),
        "{anns:?}"
    );
    let r2 = EdfReader::open(&second).unwrap();
    assert!(r2.num_samples(0) > 0);
    assert!(r2.annotations().iter().all(|a| a.text != "last marker"));
    let _ = std::fs::remove_dir_all(&dir);
}
