//! `CytonSource` end to end without hardware: a pseudo-terminal pair stands in for the
//! serial port; `CytonSimulator` plays the board on the master side (answers `v` with the
//! reset banner, streams on `b` ten times faster than a real board, with garbage between
//! packets and dropped packets).

mod common;
use common::*;
use neuropipe_core::{EventKind, Outcome, FLAG_LOST_SAMPLES};
use neuropipe_io::cyton::{CytonSimulator, SimulatorConfig};
use neuropipe_io::edf::EdfReader;
use neuropipe_io::edf::PADDING_ANNOTATION;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt, PtyMaster};
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A pseudo-terminal pair: the master (the "board" end) and the slave's path (the "port").
fn open_pty() -> (PtyMaster, String) {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY).expect("posix_openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname_r(&master).expect("ptsname_r");
    (master, name)
}

/// How the simulated board behaves.
struct BoardPlan {
    config: SimulatorConfig,
    /// Samples to stream after `b` (then it goes quiet).
    samples: u64,
    /// Answer `v` with the reset banner.
    answer_reset: bool,
    /// Close the master (unplug) after streaming this many samples.
    hang_up_after: Option<u64>,
}

struct Board {
    quit: Arc<AtomicBool>,
    commands: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
    expected: CytonSimulator,
}

impl Board {
    /// Plays the board on `master` in a thread: 10 samples every 4 ms (2500 Hz).
    fn start(mut master: PtyMaster, plan: BoardPlan) -> Board {
        let quit = Arc::new(AtomicBool::new(false));
        let commands = Arc::new(Mutex::new(Vec::new()));
        let expected = CytonSimulator::new(plan.config.clone());
        let (q, cmds) = (quit.clone(), commands.clone());
        let thread = std::thread::spawn(move || {
            let mut sim = CytonSimulator::new(plan.config);
            let mut buf = [0u8; 256];
            let mut out = Vec::new();
            let tick = Duration::from_millis(4);
            let mut next = Instant::now();
            while !q.load(Ordering::Relaxed) {
                let mut fds = [PollFd::new(master.as_raw_fd(), PollFlags::POLLIN)];
                let readable = poll(&mut fds, 1).unwrap_or(0) > 0
                    && fds[0]
                        .revents()
                        .is_some_and(|r| r.contains(PollFlags::POLLIN));
                if readable {
                    match master.read(&mut buf) {
                        Ok(n) => {
                            for &b in &buf[..n] {
                                cmds.lock().unwrap().push(b);
                                out.clear();
                                sim.handle_command(b, &mut out);
                                if plan.answer_reset && !out.is_empty() {
                                    let _ = master.write_all(&out);
                                }
                            }
                        }
                        // EIO while no one has the port open.
                        Err(_) => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
                let done = sim.samples_generated();
                if let Some(limit) = plan.hang_up_after {
                    if done >= limit {
                        return; // drops the master: the port is gone
                    }
                }
                if sim.is_streaming() && done < plan.samples && Instant::now() >= next {
                    out.clear();
                    sim.generate(10.min((plan.samples - done) as usize), &mut out);
                    let _ = master.write_all(&out);
                    next += tick;
                }
            }
        });
        Board {
            quit,
            commands,
            thread: Some(thread),
            expected,
        }
    }

    fn commands(&self) -> Vec<u8> {
        self.commands.lock().unwrap().clone()
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn cyton_pipeline(port: &str, name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut params = json!({"port": port, "frames": 10});
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    json!({
        "stages": [
            {"id": "cyton", "type": "CytonSource", "params": params},
            {"id": "check", "type": "ContinuityCheck", "params": {"fail_on_gap": true}},
            {"id": "cap", "type": "Capture", "params": {"name": name}}
        ],
        "links": ["cyton.out -> check.in", "cyton.out -> cap.in"]
    })
}

/// Waits until the capture holds `frames` frames (or `secs` pass).
async fn wait_for_frames(name: &str, frames: usize, secs: u64) {
    let cap = capture(name);
    let t0 = Instant::now();
    while cap.lock().unwrap().frames() < frames && t0.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_arrives_with_lost_packets_counted_and_garbage_skipped() {
    let (master, port) = open_pty();
    let config = SimulatorConfig {
        garbage_every: 50,
        garbage_len: 7,
        drop_every: 97,
        ..SimulatorConfig::default()
    };
    let total = 1000u64;
    let dropped: Vec<u64> = (0..total).filter(|n| (n + 1) % 97 == 0).collect();
    let dir = temp_dir("cyton");
    let bdf = dir.join("cyton.bdf");
    let mut v = cyton_pipeline(&port, "cyton", json!({"gain": 8, "leadoff": true}));
    v["stages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "rec", "type": "BdfRecorder", "params": {"path": bdf}}));
    v["links"]
        .as_array_mut()
        .unwrap()
        .push(json!("cyton.out -> rec.in"));
    let p = build(v);
    let board = Board::start(
        master,
        BoardPlan {
            config,
            samples: total,
            answer_reset: true,
            hang_up_after: None,
        },
    );
    let h = p.handle();
    let mut events = h.events();
    let run = tokio::spawn(p.run());
    wait_for_frames("cyton", (total as usize) - dropped.len(), 20).await;
    h.stop();
    let report = run.await.unwrap();
    assert_eq!(
        report.outcome,
        Outcome::Finished,
        "ContinuityCheck accounted for every loss"
    );
    // The source waits on its device thread most of the time: waiting, not busy.
    neuropipe_testkit::assert_mostly_waiting(&report, "cyton");

    let cap = capture("cyton");
    let cap = cap.lock().unwrap();
    let mut seen = vec![];
    for (k, h) in cap.headers.iter().enumerate() {
        for f in 0..h.frames() {
            let n = h.first_frame + f as u64;
            let row = &cap.samples[(seen.len()) * 8..(seen.len() + 1) * 8];
            let want = board.expected.expected_counts(n);
            let got: Vec<i32> = row.iter().map(|&x| x as i32).collect();
            assert_eq!(got, want, "packet {k} frame {n}");
            seen.push(n);
        }
    }
    let want: Vec<u64> = (0..total).filter(|n| !dropped.contains(n)).collect();
    assert_eq!(
        seen, want,
        "every sample once, dropped ones never filled in"
    );
    let lost: Vec<(u64, u32)> = cap
        .headers
        .iter()
        .filter(|h| h.flags & FLAG_LOST_SAMPLES != 0)
        .map(|h| (h.first_frame, h.lost_frames))
        .collect();
    let want_lost: Vec<(u64, u32)> = dropped.iter().map(|&n| (n + 1, 1)).collect();
    assert_eq!(lost, want_lost, "the packet after each loss says so");
    let mut lost_events = 0;
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::LostSamples {
            assert_eq!(e.text, "lost 1 samples");
            lost_events += 1;
        }
    }
    assert_eq!(lost_events, dropped.len());

    // The recording: raw counts, losses annotated where they happened.
    let mut r = EdfReader::open(&bdf).unwrap();
    let anns: Vec<(f64, &str)> = r
        .annotations()
        .iter()
        .map(|a| (a.onset, a.text.as_str()))
        .filter(|a| a.1 != "stop requested" && a.1 != PADDING_ANNOTATION)
        .collect();
    let want_anns: Vec<(f64, &str)> = dropped
        .iter()
        .enumerate()
        .map(|(i, &n)| ((n - i as u64) as f64 / 250.0, "lost 1 samples"))
        .collect();
    assert_eq!(anns, want_anns);
    assert_eq!(r.read_digital(0).unwrap()[..want.len()].len(), want.len());

    // The conversation: reset, 8 channel settings (gain 8 = code 4), lead-off on each P input,
    // start; stop at the end.
    let t0 = Instant::now();
    while board.commands().last() != Some(&b's') && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5)); // the board reads `s` on its own time
    }
    let cmds = board.commands();
    let mut expect = vec![b'v'];
    for ch in 1..=8u8 {
        expect.extend_from_slice(&[b'x', b'0' + ch, b'0', b'4', b'0', b'1', b'1', b'0', b'X']);
    }
    for ch in 1..=8u8 {
        expect.extend_from_slice(&[b'z', b'0' + ch, b'1', b'0', b'Z']);
    }
    expect.push(b'b');
    assert_eq!(
        &cmds[..expect.len()],
        &expect[..],
        "{:?}",
        String::from_utf8_lossy(&cmds)
    );
    assert_eq!(cmds.last(), Some(&b's'), "the board is stopped at the end");
    drop(board);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_port_is_a_validation_error() {
    let errs = build_errors(cyton_pipeline(
        "/dev/neuropipe-no-such-port",
        "unused",
        json!({}),
    ));
    assert_eq!(errs[0].path, "$.stages[0].params.port");
    assert!(
        errs[0]
            .message
            .contains("cannot open serial port /dev/neuropipe-no-such-port: "),
        "{}",
        errs[0].message
    );
    let errs = build_errors(cyton_pipeline("/dev/null", "unused", json!({"gain": 3})));
    assert_eq!(errs[0].path, "$.stages[0].params.gain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_that_does_not_answer_the_reset_is_fatal() {
    let (master, port) = open_pty();
    let p = build(cyton_pipeline(
        &port,
        "silent",
        json!({"reset_timeout_s": 0.3}),
    ));
    let _board = Board::start(
        master,
        BoardPlan {
            config: SimulatorConfig::default(),
            samples: 0,
            answer_reset: false,
            hang_up_after: None,
        },
    );
    let report = tokio::time::timeout(Duration::from_secs(10), p.run())
        .await
        .expect("the pipeline ends");
    match report.outcome {
        Outcome::Failed { stage, message } => {
            assert_eq!(stage, "cyton");
            assert!(
                message.contains("no answer to the reset command"),
                "{message}"
            );
        }
        o => panic!("{o:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_port_is_fatal_after_the_data_read_so_far() {
    let (master, port) = open_pty();
    let p = build(cyton_pipeline(&port, "unplugged", json!({})));
    let _board = Board::start(
        master,
        BoardPlan {
            config: SimulatorConfig::default(),
            samples: 10_000,
            answer_reset: true,
            hang_up_after: Some(300),
        },
    );
    let report = tokio::time::timeout(Duration::from_secs(10), p.run())
        .await
        .expect("the pipeline ends");
    match report.outcome {
        Outcome::Failed { stage, message } => {
            assert_eq!(stage, "cyton");
            assert!(
                message.contains(&format!("serial port {port}")),
                "{message}"
            );
        }
        o => panic!("{o:?}"),
    }
    let frames = capture("unplugged").lock().unwrap().frames();
    assert!(
        frames >= 250,
        "data before the failure arrived ({frames} frames)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_discards_and_resume_continues_frame_indices_with_a_discontinuity() {
    let (master, port) = open_pty();
    let total = 3000u64; // 1.2 s at 2500 Hz
    let p = build(cyton_pipeline(&port, "paused", json!({})));
    let board = Board::start(
        master,
        BoardPlan {
            config: SimulatorConfig::default(),
            samples: total,
            answer_reset: true,
            hang_up_after: None,
        },
    );
    let h = p.handle();
    let run = tokio::spawn(p.run());
    wait_for_frames("paused", 500, 20).await;
    h.pause("cyton").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.resume("cyton").await.unwrap();
    // Wait for the stream to end (no more frames for 300 ms).
    let cap = capture("paused");
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let n = cap.lock().unwrap().frames();
        if n == last {
            break;
        }
        last = n;
    }
    h.stop();
    let report = run.await.unwrap();
    assert_eq!(
        report.outcome,
        Outcome::Finished,
        "frame indices stayed continuous"
    );
    let cap = cap.lock().unwrap();
    let flagged: Vec<usize> = cap
        .headers
        .iter()
        .enumerate()
        .filter(|(_, h)| h.flags & neuropipe_core::FLAG_DISCONTINUITY != 0)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(flagged.len(), 1, "one discontinuity, after the resume");
    assert!(
        cap.headers.iter().all(|h| h.flags & FLAG_LOST_SAMPLES == 0),
        "a pause is not a loss"
    );
    let k = flagged[0];
    let gap = cap.headers[k].timestamp - cap.headers[k - 1].timestamp;
    assert!(gap > 200_000_000, "timestamps show the pause ({gap} ns)");
    // Before the pause frame n is sample n; what the board sent during it was discarded.
    let before: usize = cap.headers[..k].iter().map(|h| h.frames()).sum();
    for n in 0..before {
        let got: Vec<i32> = cap.samples[n * 8..(n + 1) * 8]
            .iter()
            .map(|&x| x as i32)
            .collect();
        assert_eq!(got, board.expected.expected_counts(n as u64), "frame {n}");
    }
    assert!(
        (cap.frames() as u64) < total - 300,
        "{} frames kept",
        cap.frames()
    );
}
