//! Nothing lost, nothing wrong, nothing silent: end-to-end checks of the data-integrity rules
//! (issue 9) through real pipelines — SciPy-exact filter chains in f32 and f64 from a replayed
//! CSV, non-finite samples, marker floods, configuration mistakes that would scale or zero the
//! signal, files that are not what they seem, and what MNE reads from our EDF headers.

mod common;
use common::*;
use neuropipe_io::edf::{EdfFormat, EdfReader, EdfSpec, EdfWriter, SignalSpec};
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// A CSV of `channels` EEG-like channels at `rate` Hz riding on ±20 mV electrode offsets,
/// deterministic; with `nonfinite`, a few NaN / inf / overflowing cells on channel 1.
fn write_csv(path: &Path, channels: usize, rate: f64, seconds: f64, nonfinite: bool) {
    let frames = (rate * seconds) as usize;
    let mut s = String::from("timestamp_s");
    for c in 0..channels {
        write!(s, ",Ch{}", c + 1).unwrap();
    }
    s.push('\n');
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    for f in 0..frames {
        let t = f as f64 / rate;
        write!(s, "{}", f as f64 / rate).unwrap();
        for c in 0..channels {
            let offset = (c as f64 * 7919.0) % 40_000.0 - 20_000.0;
            let v = offset
                + 40.0 * (std::f64::consts::TAU * 0.03 * t + c as f64).sin()
                + 12.0 * (std::f64::consts::TAU * 10.0 * t + 0.5 * c as f64).sin()
                + 8.0 * noise();
            let cell = match (nonfinite, c, f) {
                (true, 1, 1000) => "nan".to_string(),
                (true, 1, 1001) => "inf".to_string(),
                (true, 1, 2500) => "1e400".to_string(),
                _ => format!("{v}"),
            };
            write!(s, ",{cell}").unwrap();
        }
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

fn chain_stages(sample_type: &str, input: &Path, output: &Path) -> serde_json::Value {
    json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": input, "realtime": false, "frames": 37, "sample_type": sample_type}},
            {"id": "hp", "type": "Highpass", "params": {"cutoff_hz": 0.1, "order": 4}},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40, "order": 4}},
            {"id": "notch", "type": "Notch", "params": {"freq_hz": 50, "q": 30}},
            {"id": "rec", "type": "CsvRecorder", "params": {"path": output}}
        ],
        "links": ["replay -> hp", "hp -> bp", "bp -> notch", "notch -> rec"]
    })
}

/// A replayed CSV through high-pass 0.1 Hz → band-pass → notch at 1 kHz with ±20 mV offsets
/// agrees with SciPy in f64: ≤ 1e-5 relative RMS for f32 packets, ≤ 1e-10 for f64 packets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_csv_through_a_filter_chain_matches_scipy_in_f32_and_f64() {
    let Some(py) = python() else { return };
    let dir = temp_dir("scipy-chain");
    let input = dir.join("in.csv");
    write_csv(&input, 6, 1000.0, 10.0, false);
    let chain = dir.join("chain.json");
    std::fs::write(
        &chain,
        json!({"fs": 1000, "steady_state": true, "filters": [
            {"type": "highpass", "order": 4, "cutoff_hz": 0.1},
            {"type": "bandpass", "order": 4, "low_hz": 1, "high_hz": 40},
            {"type": "notch", "freq_hz": 50, "q": 30}
        ]})
        .to_string(),
    )
    .unwrap();
    for ty in ["f32", "f64"] {
        let output = dir.join(format!("out-{ty}.csv"));
        let report = run(chain_stages(ty, &input, &output)).await;
        let rec = report
            .snapshot
            .stages
            .iter()
            .find(|s| s.id == "rec")
            .unwrap();
        assert_eq!(rec.frames_in, 10_000);
        let script = workspace().join("scripts/dsp/check_chain.py");
        let out = run_python(
            &py,
            &[
                &script,
                Path::new("--input"),
                &input,
                Path::new("--output"),
                &output,
                Path::new("--chain"),
                &chain,
                Path::new("--dtype"),
                Path::new(ty),
            ],
        );
        assert!(out.contains("\"ok\": true"), "{ty}: {out}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// NaN, inf and 1e400 cells: flagged and counted at the source, kept out of the filter state
/// (the channel is not a flat line afterwards), written as 0 in the EDF with a `BAD_nonfinite`
/// annotation on their span, and as NaN in CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_samples_never_poison_a_channel() {
    let dir = temp_dir("nonfinite");
    let input = dir.join("in.csv");
    write_csv(&input, 3, 250.0, 20.0, true);
    let edf = dir.join("out.edf");
    let csv = dir.join("out.csv");
    let report = run(json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": input, "realtime": false, "frames": 25}},
            {"id": "hp", "type": "Highpass", "params": {"cutoff_hz": 0.5, "order": 2}},
            {"id": "edf", "type": "EdfRecorder", "params": {"path": edf}},
            {"id": "csv", "type": "CsvRecorder", "params": {"path": csv}},
            {"id": "cap", "type": "Capture", "params": {"name": "nonfinite"}}
        ],
        "links": ["replay -> hp", "hp -> edf", "hp -> csv", "hp -> cap"]
    }))
    .await;
    let stage = |id: &str| {
        report
            .snapshot
            .stages
            .iter()
            .find(|s| s.id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        stage("replay").nonfinite_samples,
        3,
        "counted at the source"
    );
    assert_eq!(
        stage("edf").nonfinite_samples,
        3,
        "and where they were recorded"
    );

    let cap = capture("nonfinite");
    let cap = cap.lock().unwrap();
    let ch1: Vec<f64> = cap.samples.iter().skip(1).step_by(3).copied().collect();
    let bad: Vec<usize> = (0..ch1.len()).filter(|&i| !ch1[i].is_finite()).collect();
    assert_eq!(bad, [1000, 1001, 2500], "only the bad samples are missing");
    assert!(
        cap.headers
            .iter()
            .filter(|h| h.flags & neuropipe_core::FLAG_NONFINITE != 0)
            .count()
            >= 2
    );
    // After each bad sample the high-passed channel goes on like the others (no flat line,
    // no ringing from the 20 mV offset).
    let tail = &ch1[2600..];
    let rms = (tail.iter().map(|v| v * v).sum::<f64>() / tail.len() as f64).sqrt();
    assert!(
        rms > 3.0 && rms < 100.0,
        "channel 1 after the NaNs: RMS {rms} µV"
    );

    let mut r = EdfReader::open(&edf).unwrap();
    let anns: Vec<_> = r
        .annotations()
        .iter()
        .filter(|a| a.text.starts_with("BAD_nonfinite"))
        .map(|a| ((a.onset * 250.0).round() as usize, a.duration))
        .collect();
    assert_eq!(anns.len(), 2, "{anns:?}");
    assert_eq!(anns[0].0, 1000);
    assert_eq!(anns[1].0, 2500);
    let data = r.read_signal(1).unwrap();
    assert!(
        data[1000].abs() < 1e-9,
        "written as the digital value of 0 µV: {}",
        data[1000]
    );
    assert!(data[2600..].iter().any(|&v| v != data[2600]));

    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        text.matches("NaN").count(),
        3,
        "CSV writes NaN for missing samples"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// 200 markers/s for 60 s replayed from an EDF+ file into a recorder with default settings:
/// every marker is in the recording, on its sample.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_flood_loses_nothing() {
    let dir = temp_dir("flood");
    let src = dir.join("flood.edf");
    let rate = 250.0;
    let signals = (1..=4)
        .map(|c| SignalSpec::new(format!("Ch{c}"), rate, -3276.8, 3276.7))
        .collect();
    let start = neuropipe_io::datetime::DateTime::new(2025, 1, 1, 0, 0, 0).unwrap();
    let mut spec = EdfSpec::new(EdfFormat::Edf, start, signals);
    spec.annotation_bytes_per_record = 8000;
    let mut w = EdfWriter::create(&src, &spec).unwrap();
    let frames = (60.0 * rate) as usize;
    let data: Vec<f64> = (0..frames * 4).map(|i| (i % 97) as f64).collect();
    let markers: Vec<(usize, String)> = (0..12_000)
        .map(|k| ((k * frames) / 12_000, format!("stim {k}")))
        .collect();
    for (frame, text) in &markers {
        w.annotate(*frame as f64 / rate, None, text).unwrap();
    }
    w.write_frames(&data, 4).unwrap();
    w.finish().unwrap();

    let out = dir.join("out.edf");
    run(json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": src, "realtime": false, "frames": 32}},
            {"id": "rec", "type": "EdfRecorder", "params": {"path": out}}
        ],
        "links": ["replay -> rec"]
    }))
    .await;
    let r = EdfReader::open(&out).unwrap();
    let got: std::collections::HashMap<&str, f64> = r
        .annotations()
        .iter()
        .map(|a| (a.text.as_str(), a.onset))
        .collect();
    for (frame, text) in &markers {
        let onset = got
            .get(text.as_str())
            .unwrap_or_else(|| panic!("{text} lost"));
        assert_eq!((onset * rate).round() as usize, *frame, "{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Mistakes that would silently scale or zero the signal are build errors.
#[test]
fn configuration_mistakes_that_corrupt_amplitudes_are_errors() {
    // Source records at gain 8, the converter assumes 24: a 3x amplitude error.
    let errs = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"gain": 8}},
            {"id": "volts", "type": "RawToVoltage", "params": {"gain": 24}},
            {"id": "cap", "type": "Capture", "params": {"name": "x"}}
        ],
        "links": ["eeg -> volts", "volts -> cap"]
    }));
    assert_eq!(errs[0].path, "$.stages[1].params.gain");
    assert!(
        errs[0]
            .message
            .contains("differs from the gain the source records with (8)"),
        "{}",
        errs[0].message
    );
    // Left out, the gain follows the source.
    build(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"gain": 8}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "cap", "type": "Capture", "params": {"name": "x"}}
        ],
        "links": ["eeg -> volts", "volts -> cap"]
    }));

    let band_power = |params: serde_json::Value| {
        build_errors(json!({
            "stages": [
                {"id": "eeg", "type": "SimulatedEeg", "params": {"sample_rate": 256}},
                {"id": "volts", "type": "RawToVoltage"},
                {"id": "bp", "type": "BandPower", "params": params},
                {"id": "cap", "type": "Capture", "params": {"name": "x"}}
            ],
            "links": ["eeg -> volts", "volts -> bp", "bp -> cap"]
        }))
    };
    // 10.2-10.8 Hz holds no bin at 1 Hz resolution: it would always read 0.
    let errs = band_power(json!({"bands": ["narrow:10.2-10.8"]}));
    assert_eq!(errs[0].path, "$.stages[2].params.bands");
    assert!(
        errs[0].message.contains("holds no bin"),
        "{}",
        errs[0].message
    );
    // 0.1 s at 256 Hz is 25.6 frames.
    let errs = band_power(json!({"hop_s": 0.1}));
    assert_eq!(errs[0].path, "$.stages[2].params.hop_s");
    assert!(
        errs[0].message.contains("25.6 frames"),
        "{}",
        errs[0].message
    );
}

/// Files that are not what they seem get a clear error, not a hang, an unbounded read or a
/// lost first frame.
#[test]
fn replay_refuses_special_files_and_headerless_csv() {
    let dir = temp_dir("special");
    let replay = |path: &Path| {
        build_errors(json!({
            "stages": [
                {"id": "replay", "type": "FileReplay", "params": {"path": path, "sample_rate": 250}},
                {"id": "cap", "type": "Capture", "params": {"name": "x"}}
            ],
            "links": ["replay -> cap"]
        }))
    };
    let errs = replay(Path::new("/dev/zero"));
    assert!(
        errs[0].message.contains("not a regular file"),
        "{}",
        errs[0].message
    );
    let fifo = dir.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let errs = replay(&fifo);
    assert!(
        errs[0].message.contains("not a regular file"),
        "{}",
        errs[0].message
    );

    let headerless = dir.join("headerless.csv");
    std::fs::write(&headerless, "1.5,2,3\n4,5,6\n").unwrap();
    let errs = replay(&headerless);
    assert_eq!(errs[0].path, "$.stages[0].params.path");
    assert!(
        errs[0]
            .message
            .contains("is numeric: the file has no header row"),
        "{}",
        errs[0].message
    );

    let long = dir.join("long.csv");
    std::fs::write(&long, "a,b\n".to_string() + &"1".repeat(2 << 20)).unwrap();
    let cfg = json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": long, "sample_rate": 250, "realtime": false}},
            {"id": "cap", "type": "Capture", "params": {"name": "x"}}
        ],
        "links": ["replay -> cap"]
    });
    let report = futures_block_on(build(cfg).run());
    match report.outcome {
        neuropipe_core::Outcome::Failed { message, .. } => {
            assert!(message.contains("longer than 1048576 bytes"), "{message}")
        }
        o => panic!("expected a failure, got {o:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A jump in a CSV's time column is a marked discontinuity, not contiguous data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_time_gaps_are_marked() {
    let dir = temp_dir("gap");
    let input = dir.join("gap.csv");
    let mut s = String::from("timestamp_s,A\n");
    for f in 0..500 {
        let t = f as f64 / 250.0 + if f >= 250 { 1.0 } else { 0.0 };
        writeln!(s, "{t},{f}").unwrap();
    }
    std::fs::write(&input, s).unwrap();
    let edf = dir.join("gap.edf");
    run(json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": input, "realtime": false, "frames": 16}},
            {"id": "edf", "type": "EdfRecorder", "params": {"path": edf}},
            {"id": "cap", "type": "Capture", "params": {"name": "gap"}}
        ],
        "links": ["replay -> edf", "replay -> cap"]
    }))
    .await;
    let cap = capture("gap");
    let cap = cap.lock().unwrap();
    let flagged: Vec<u64> = cap
        .headers
        .iter()
        .filter(|h| h.flags & neuropipe_core::FLAG_DISCONTINUITY != 0)
        .map(|h| h.first_frame)
        .collect();
    assert_eq!(
        flagged,
        [250],
        "the packet after the gap starts at it and is flagged"
    );
    let r = EdfReader::open(&edf).unwrap();
    let gap = r
        .annotations()
        .iter()
        .find(|a| a.text.contains("1.000 s gap"))
        .unwrap_or_else(|| panic!("{:?}", r.annotations()))
        .clone();
    assert_eq!((gap.onset * 250.0).round(), 250.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What MNE reads from our EDF header: the filter chain, units, typed labels and the subject,
/// with 0.1 µV resolution by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mne_reads_filters_units_types_and_subject_from_the_header() {
    let Some(py) = python() else { return };
    let dir = temp_dir("header");
    let edf = dir.join("header.edf");
    run(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 2, "realtime": false, "duration_s": 3}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "hp", "type": "Highpass", "params": {"cutoff_hz": 0.5, "order": 2}},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}},
            {"id": "notch", "type": "Notch", "params": {"freq_hz": 50}},
            {"id": "edf", "type": "EdfRecorder", "params": {"path": edf, "subject": "S01", "session": "ses-1", "technician": "AB"}}
        ],
        "links": ["eeg -> volts", "volts -> hp", "hp -> bp", "bp -> notch", "notch -> edf"]
    }))
    .await;
    let r = EdfReader::open(&edf).unwrap();
    let s = &r.signals()[0];
    assert_eq!(s.prefilter, "HP:1Hz LP:40Hz N:50Hz");
    assert_eq!(s.physical_dimension, "uV");
    assert!(
        (s.lsb() - 0.1).abs() < 1e-9,
        "0.1 µV per step, got {}",
        s.lsb()
    );
    let script = dir.join("check.py");
    std::fs::write(
        &script,
        format!(
            r#"
import mne, warnings
warnings.simplefilter("ignore")
raw = mne.io.read_raw_edf({edf:?}, infer_types=True, verbose="error")
assert raw.info["highpass"] == 1.0, raw.info["highpass"]
assert raw.info["lowpass"] == 40.0, raw.info["lowpass"]
assert raw.ch_names == ["Fp1", "Fp2"], raw.ch_names
assert raw.get_channel_types() == ["eeg", "eeg"], raw.get_channel_types()
assert raw._orig_units == {{"Fp1": "µV", "Fp2": "µV"}} or set(raw._orig_units.values()) <= {{"uV", "µV"}}, raw._orig_units
assert raw.info["subject_info"]["his_id"] == "S01", raw.info["subject_info"]
data = raw.get_data()
assert abs(data).max() < 1e-3, "volts: µV were read as µV, not V"
print("mne ok", raw.info["highpass"], raw.info["lowpass"], raw.ch_names)
"#,
            edf = edf.display().to_string()
        ),
    )
    .unwrap();
    let out = run_python(&py, &[&script]);
    assert!(out.contains("mne ok"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Samples at the ends of the physical range a replayed EDF declares (a railed amplifier, or
/// values its writer clipped) are counted, flagged, and annotated where they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_samples_at_the_range_limits_are_flagged() {
    let dir = temp_dir("railed");
    let src = dir.join("railed.edf");
    let rate = 100.0;
    let signals = (1..=2)
        .map(|c| SignalSpec::new(format!("Ch{c}"), rate, -100.0, 100.0))
        .collect();
    let start = neuropipe_io::datetime::DateTime::new(2025, 1, 1, 0, 0, 0).unwrap();
    let mut w = EdfWriter::create(&src, &EdfSpec::new(EdfFormat::Edf, start, signals)).unwrap();
    let mut data = vec![1.0; 300 * 2];
    data[150 * 2 + 1] = 5000.0; // clipped to the top of the range by the writer
    w.write_frames(&data, 2).unwrap();
    w.finish().unwrap();

    let out = dir.join("out.edf");
    let report = run(json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": src, "realtime": false, "frames": 10}},
            {"id": "rec", "type": "EdfRecorder", "params": {"path": out}}
        ],
        "links": ["replay -> rec"]
    }))
    .await;
    let replay = report
        .snapshot
        .stages
        .iter()
        .find(|s| s.id == "replay")
        .unwrap();
    assert_eq!(replay.clipped_samples, 1);
    let r = EdfReader::open(&out).unwrap();
    let anns: Vec<f64> = r
        .annotations()
        .iter()
        .filter(|a| a.text.starts_with("BAD_out_of_range"))
        .map(|a| a.onset)
        .collect();
    assert_eq!(anns, [1.5], "on the packet holding frame 150");
    std::fs::remove_dir_all(&dir).unwrap();
}
