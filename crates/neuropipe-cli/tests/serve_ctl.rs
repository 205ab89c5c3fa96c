//! `neuropipe run --serve` and `neuropipe ctl` against it, as processes.

mod common;
use common::{bin, ctl, free_port, serve};
use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// A pipeline of stages that exist in every build (the default pipeline changes).
fn pipeline_file() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("neuropipe-serve-ctl-{}.json", std::process::id()));
    std::fs::write(
        &p,
        r#"{"name": "ctl-test",
            "stages": [
              {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 8, "sample_rate": 250, "frames": 10}},
              {"id": "volts", "type": "RawToVoltage"},
              {"id": "gain", "type": "Gain"},
              {"id": "check", "type": "ContinuityCheck"}],
            "links": ["eeg.out -> volts.in", "volts.out -> gain.in", "gain.out -> check.in"]}"#,
    )
    .unwrap();
    p
}

fn out(o: &Output) -> (serde_json::Value, String) {
    (
        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn ctl_controls_a_served_pipeline() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = bin()
        .arg("run")
        .arg(pipeline_file())
        .args(["--quiet", "--serve", &addr])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), format!("serving http://{addr}"));
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });

    let (v, e) = out(&ctl(&addr, &["get", "--json"]));
    assert_eq!(v["name"], "ctl-test", "{e}");
    assert_eq!(v["state"], "running");

    let o = ctl(&addr, &["pause", "eeg"]);
    assert!(o.status.success());
    assert_eq!(
        out(&o).0,
        serde_json::json!({"stage": "eeg", "applied": "paused"})
    );
    let o = ctl(&addr, &["resume", "eeg"]);
    assert_eq!(
        out(&o).0,
        serde_json::json!({"stage": "eeg", "applied": "running"})
    );

    let o = ctl(&addr, &["set", "gain", "gain", "2"]);
    assert_eq!(
        out(&o).0,
        serde_json::json!({"stage": "gain", "key": "gain", "applied": 2.0})
    );
    let t0 = Instant::now();
    loop {
        let (v, _) = out(&ctl(&addr, &["get", "--json"]));
        if v["stages"][2]["params"]["gain"] == 2.0 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(3));
    }
    // Without --json, `get` is a table for people: state, stages with live values, links.
    let o = ctl(&addr, &["get"]);
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(table.starts_with("ctl-test: running\n"), "{table}");
    let gain_row = table
        .lines()
        .find(|l| l.starts_with("gain "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        gain_row.contains("Gain") && gain_row.contains("running"),
        "{gain_row}"
    );
    assert!(gain_row.ends_with("gain=2.0"), "{gain_row}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("volts.out -> gain.in") && l.contains("block")),
        "{table}"
    );

    // Errors: message on stderr, exit 1, nothing on stdout.
    let o = ctl(&addr, &["set", "gain", "gain", "loud"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        out(&o).1.trim(),
        "error (422): `gain` must be a number in -1000000..=1000000, got string \"loud\""
    );
    let o = ctl(&addr, &["pause", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        out(&o).1.trim(),
        "error (404): unknown stage `nope` (stages: eeg, volts, gain, check)"
    );

    let top = bin()
        .args(["top", "--addr", &addr, "--count", "2", "--interval", "0.3"])
        .output()
        .unwrap();
    assert!(top.status.success());
    let view = String::from_utf8_lossy(&top.stdout);
    assert!(
        view.contains(&format!("neuropipe top — {addr} — running")),
        "{view}"
    );
    let last = view.rsplit("neuropipe top").next().unwrap();
    let eeg = last.lines().find(|l| l.starts_with("eeg ")).unwrap();
    let rate: f64 = eeg.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!((150.0..350.0).contains(&rate), "eeg rate {rate} in {view}");

    let (m, _) = out(&ctl(&addr, &["metrics"]));
    assert!(m["stages"][0]["frames_out"].as_u64().unwrap() > 0);

    let o = ctl(&addr, &["stop"]);
    assert!(o.status.success());
    assert_eq!(out(&o).0["stopping"], true);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "run did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{}", rest.join().unwrap());

    // Nobody serving any more.
    let o = ctl(&addr, &["get", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o)
            .1
            .contains(&format!("error: cannot reach neuropipe at {addr}: ")),
        "{}",
        out(&o).1
    );
}

#[test]
fn serve_errors_exit_2() {
    let o = bin()
        .args(["run", "--serve", "nowhere:xx"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("--serve: bad address `nowhere:xx`"));

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let o = bin()
        .args(["run", "--quiet", "--duration", "5", "--serve", &addr])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.starts_with(&format!("--serve: cannot listen on {addr}: ")),
        "{e}"
    );
}

#[test]
fn token_for_ctl() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = bin()
        .args([
            "run",
            "--quiet",
            "--duration",
            "20",
            "--serve",
            &addr,
            "--token",
            "tok",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.contains("--token is visible to every local user"),
        "a token on the command line is warned about: {line}"
    );
    line.clear();
    err.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), format!("serving http://{addr}"));
    let o = ctl(&addr, &["get", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let err = out(&o).1;
    assert!(
        err.starts_with("error (401): this server requires a token"),
        "{err}"
    );
    assert!(
        err.contains("hint: give the server's token with --token-file FILE"),
        "{err}"
    );
    let o = bin()
        .args(["ctl", "--addr", &addr, "get", "--json"])
        .env("NEUROPIPE_TOKEN", "tok")
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = ctl(&addr, &["--token", "tok", "stop"]);
    assert!(o.status.success(), "{}", out(&o).1);
    assert!(child.wait().unwrap().success());
}

/// The threads of process `pid`: (name, nice value), from `/proc`.
#[cfg(target_os = "linux")]
fn threads(pid: u32) -> Vec<(String, i64)> {
    let mut out = vec![];
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, nice field 19.
        let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let nice = after
            .split_whitespace()
            .nth(16)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        out.push((comm.trim().to_string(), nice));
    }
    out
}

/// Observing never slows the data plane: the HTTP server runs on threads of its own (not the
/// pipeline runtime's workers) at a lower scheduling priority than every pipeline thread.
#[cfg(target_os = "linux")]
#[test]
fn the_server_runs_apart_from_the_pipeline_at_lower_priority() {
    let addr = format!("127.0.0.1:{}", free_port());
    let file = pipeline_file();
    let (mut child, lines) = serve(&[file.to_str().unwrap(), "--serve", &addr], &[]);
    assert_eq!(lines, [format!("serving http://{addr}")]);
    // A request makes sure the server's runtime has started its worker.
    let (v, e) = out(&ctl(&addr, &["get", "--json"]));
    assert_eq!(v["state"], "running", "{e}");
    let t = threads(child.id());
    let _ = ctl(&addr, &["stop"]);
    let _ = child.wait();

    let server: Vec<_> = t.iter().filter(|(n, _)| n == "neuropipe-http").collect();
    let pipeline: Vec<_> = t.iter().filter(|(n, _)| n == "neuropipe").collect();
    assert!(!server.is_empty(), "no server thread among {t:?}");
    assert!(!pipeline.is_empty(), "no pipeline worker among {t:?}");
    let lowest_pipeline = pipeline.iter().map(|(_, n)| *n).max().unwrap_or(0);
    for (_, nice) in &server {
        assert!(
            *nice > lowest_pipeline,
            "server threads must run below the pipeline's priority: {t:?}"
        );
    }
}
