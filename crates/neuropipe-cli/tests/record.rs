//! Recordings made by the real binary survive however the run ends: Ctrl-C (exit 0, the
//! last partial record written), `kill -9` (every completed record kept), a failing stage
//! (exit 1, the recording still complete and valid). Files are checked by parsing their
//! header here and, when the Python venv is there, by opening them in MNE (and pyedflib).

mod common;
use common::{bin, record_default, signal};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neuropipe-record-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

use neuropipe_testkit::python;

/// What the header says, checked against the file length: (signals without annotations,
/// complete records, record duration, trailing bytes after the last complete record).
fn edf_header(path: &Path) -> (usize, u64, f64, u64) {
    let b = std::fs::read(path).unwrap();
    assert!(b.len() >= 256, "{} bytes", b.len());
    let field = |r: std::ops::Range<usize>| String::from_utf8_lossy(&b[r]).trim().to_string();
    let records: i64 = field(236..244).parse().unwrap();
    let duration: f64 = field(244..252).parse().unwrap();
    let ns: usize = field(252..256).parse().unwrap();
    let bps = if b[0] == 0xFF { 3 } else { 2 };
    let labels: Vec<String> = (0..ns)
        .map(|i| field(256 + 16 * i..256 + 16 * (i + 1)))
        .collect();
    let spr_at = 256 + ns * 216;
    let record_bytes: usize = (0..ns)
        .map(|i| {
            field(spr_at + 8 * i..spr_at + 8 * (i + 1))
                .parse::<usize>()
                .unwrap()
                * bps
        })
        .sum();
    let header = 256 * (ns + 1);
    assert!(
        records >= 0,
        "the record count is written after every record"
    );
    let data = (b.len() - header) as u64;
    let complete = data / record_bytes as u64;
    assert_eq!(
        records as u64, complete,
        "header count = complete records in the file"
    );
    let ordinary = labels
        .iter()
        .filter(|l| !l.ends_with("Annotations"))
        .count();
    (
        ordinary,
        records as u64,
        duration,
        data % record_bytes as u64,
    )
}

/// Opens the file in MNE (and, unless `lenient`, pyedflib); returns (channels, seconds,
/// annotation texts) as MNE sees them.
fn open_in_python(path: &Path, lenient: bool) -> Option<(usize, f64, Vec<String>)> {
    let py = python()?;
    let script = r#"
import json, sys, warnings
import mne
path, lenient = sys.argv[1], sys.argv[2] == "1"
read = mne.io.read_raw_bdf if path.endswith(".bdf") else mne.io.read_raw_edf
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    raw = read(path, preload=True, verbose="error")
if not lenient:
    import pyedflib
    f = pyedflib.EdfReader(path)
    assert f.signals_in_file == raw.info["nchan"], (f.signals_in_file, raw.info["nchan"])
    f.close()
print(json.dumps({"nchan": raw.info["nchan"], "seconds": raw.n_times / raw.info["sfreq"],
                  "annotations": [a["description"] for a in raw.annotations]}))
"#;
    let out = Command::new(py)
        .args(["-c", script])
        .arg(path)
        .arg(if lenient { "1" } else { "0" })
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python could not open {}: {}{}",
        path.display(),
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    Some((
        v["nchan"].as_u64().unwrap() as usize,
        v["seconds"].as_f64().unwrap(),
        v["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect(),
    ))
}

#[test]
fn ctrl_c_finishes_the_recording_and_exits_0() {
    let dir = tmp_dir("sigint");
    for name in ["x.bdf", "x.edf"] {
        let path = dir.join(name);
        let child = record_default(&path);
        std::thread::sleep(Duration::from_millis(2200));
        signal(&child, libc::SIGINT);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let (channels, records, duration, trailing) = edf_header(&path);
        assert_eq!((channels, duration, trailing), (8, 1.0, 0));
        assert!(records >= 2, "{records} records after ~2 s");
        if let Some((nchan, seconds, anns)) = open_in_python(&path, false) {
            assert_eq!(nchan, 8);
            assert!(seconds >= 1.0, "{seconds} s");
            assert!(anns.iter().any(|a| a == "stop requested"), "{anns:?}");
        }
    }
    let csv = dir.join("x.csv");
    let mut child = record_default(&csv);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, libc::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp_s,Fp1,Fp2,C3,C4,P7,P8,O1,O2"));
    assert!(lines.count() >= 250, "at least a second of rows");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kill_9_keeps_every_completed_record() {
    let dir = tmp_dir("sigkill");
    let path = dir.join("killed.bdf");
    let mut child = record_default(&path);
    std::thread::sleep(Duration::from_millis(2600));
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    let (channels, records, _, _) = edf_header(&path);
    assert_eq!(channels, 8);
    assert!(records >= 2, "{records} records after ~2.6 s");
    if let Some((nchan, seconds, _)) = open_in_python(&path, true) {
        assert_eq!(nchan, 8);
        assert!(seconds >= 1.0, "{seconds} s");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_stage_exits_1_and_the_recording_is_still_valid() {
    let dir = tmp_dir("failing");
    let pipeline = dir.join("failing.json");
    std::fs::File::create(&pipeline)
        .unwrap()
        .write_all(
            br#"{
  "stages": [
    { "id": "eeg", "type": "SimulatedEeg", "params": { "channels": 4, "duration_s": 2.2 } },
    { "id": "volts", "type": "RawToVoltage" },
    { "id": "check", "type": "ContinuityCheck", "params": { "expect_frames": 12345 } }
  ],
  "links": [ "eeg.out -> volts.in", "volts.out -> check.in" ]
}"#,
        )
        .unwrap();
    let path = dir.join("failing.edf");
    let out = bin()
        .args(["run", "--quiet"])
        .arg(&pipeline)
        .arg("--record")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stage `check` failed"), "{stderr}");
    let (channels, records, _, trailing) = edf_header(&path);
    assert_eq!(
        (channels, records, trailing),
        (4, 3, 0),
        "2.2 s: 3 records, the last padded"
    );
    if let Some((nchan, seconds, _)) = open_in_python(&path, false) {
        assert_eq!((nchan, seconds), (4, 3.0));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stdout_summary_prints_a_line_per_second() {
    let dir = tmp_dir("summary");
    let pipeline = dir.join("summary.json");
    std::fs::write(
        &pipeline,
        r#"{
  "stages": [
    { "id": "eeg", "type": "SimulatedEeg", "params": { "channels": 3 } },
    { "id": "volts", "type": "RawToVoltage" },
    { "id": "show", "type": "StdoutSummary" }
  ],
  "links": [ "eeg.out -> volts.in", "volts.out -> show.in" ]
}"#,
    )
    .unwrap();
    let out = bin()
        .args(["run", "--quiet", "--duration", "2.5"])
        .arg(&pipeline)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("[show]")).collect();
    assert!(lines.len() >= 2, "{stdout}");
    assert!(
        lines[0].contains("frames/s mean/rms uV: Fp1 "),
        "{}",
        lines[0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn recordings_are_never_replaced_unless_asked() {
    let dir = tmp_dir("overwrite");
    let path = dir.join("session.bdf");
    std::fs::write(&path, b"last week's session").unwrap();
    let run = |extra: &[&str], path: &Path| {
        bin()
            .args(["run", "--quiet", "--duration", "1.2", "--record"])
            .arg(path)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[], &path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("exists and would be replaced"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), b"last week's session");

    let out = run(&["--overwrite"], &path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(&std::fs::read(&path).unwrap()[..8], b"\xFFBIOSEMI");

    // A name template gives every session its own file.
    let template = dir.join("sub-01_{date}_{n}.bdf");
    for _ in 0..2 {
        let out = run(&[], &template);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut made: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sub-01_"))
        .collect();
    made.sort();
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(
        made[0].ends_with("_1.bdf") && made[1].ends_with("_2.bdf"),
        "{made:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
