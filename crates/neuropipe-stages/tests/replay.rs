//! `FileReplay`: files written by edfio and by neuropipe replay to the same samples, EDF+
//! annotations come back as markers at their sample, CSV round-trips exactly, `loop` keeps
//! frame indices increasing, real-time pacing, EDF+D gaps, relative paths.

mod common;
use common::*;
use neuropipe_core::{EventKind, Outcome, Pipeline, PipelineConfig, FLAG_DISCONTINUITY};
use neuropipe_io::edf::{EdfFormat, EdfReader};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

fn replay_to_capture(path: &Path, name: &str, extra: Value) -> Value {
    let mut params = json!({"path": path, "realtime": false, "frames": 10});
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": params},
            {"id": "check", "type": "ContinuityCheck"},
            {"id": "cap", "type": "Capture", "params": {"name": name}}
        ],
        "links": ["replay.out -> check.in", "replay.out -> cap.in"]
    })
}

/// Runs a pipeline to its end and returns the marker texts it published.
async fn run_collecting_markers(v: Value) -> Vec<String> {
    let p = build(v);
    let mut events = p.handle().events();
    let report = p.run().await;
    assert_eq!(report.outcome, Outcome::Finished);
    let mut markers = vec![];
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::Marker {
            markers.push(e.text);
        }
    }
    markers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edfio_files_replay_to_the_same_samples_and_markers() {
    let Some(py) = python() else { return };
    let dir = temp_dir("edfio");
    run_python(
        &py,
        &[&workspace().join("scripts/io/write_reference.py"), &dir],
    );
    for ext in ["edf", "bdf"] {
        let file = dir.join(format!("edfio.{ext}"));
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("edfio.{ext}.json"))).unwrap(),
        )
        .unwrap();

        // The file mixes 256 Hz and 64 Hz signals: one rate at a time.
        let errs = build_errors(replay_to_capture(&file, "unused", json!({})));
        assert_eq!(errs[0].path, "$.stages[0].params.path");
        assert!(
            errs[0].message.contains("different sample rates")
                && errs[0].message.contains("Resp 64 Hz"),
            "{}",
            errs[0].message
        );

        let name = format!("edfio-{ext}");
        let markers = run_collecting_markers(replay_to_capture(
            &file,
            &name,
            json!({"signals": ["EEG Fp1", "EEG O2"]}),
        ))
        .await;
        let want: Vec<&str> = exp["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a[2].as_str().unwrap())
            .collect();
        assert_eq!(
            markers, want,
            "{ext}: annotations replayed as markers, in order"
        );

        let cap = capture(&name);
        let cap = cap.lock().unwrap();
        let info = cap.stream.as_ref().unwrap();
        // EDF+ type prefixes become channel types; labels are bare.
        assert_eq!(info.labels(), ["Fp1", "O2"]);
        assert!(info.channels.iter().all(|c| c.kind == "EEG"));
        assert_eq!(info.sample_rate, 256.0);
        assert!(info.channels.iter().all(|c| c.unit == "uV"));
        for ch in 0..2 {
            let readback = read_f64(&dir.join(exp["readback"][ch].as_str().unwrap()));
            let got: Vec<f64> = cap.samples.iter().skip(ch).step_by(2).copied().collect();
            assert_eq!(got.len(), readback.len(), "{ext} ch {ch}");
            for (k, (g, b)) in got.iter().zip(&readback).enumerate() {
                // f32 output: within f32 rounding of edfio's values.
                assert!(
                    (g - b).abs() <= b.abs() * 1e-7 + 1e-9,
                    "{ext} ch {ch} sample {k}: {g} vs {b}"
                );
            }
        }
        // Packets are cut at annotation onsets (0.5 s, 1.75 s, 3 s at 256 Hz).
        let ends: Vec<u64> = cap
            .headers
            .iter()
            .map(|h| h.first_frame + h.frames() as u64)
            .collect();
        for onset in [128, 448, 768] {
            assert!(
                ends.contains(&onset),
                "{ext}: a packet ends at frame {onset}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_recorded_downstream_keep_their_sample() {
    let dir = temp_dir("markers");
    let src = dir.join("src.bdf");
    let anns = [(0.5, "eyes closed"), (1.25, "blink"), (2.995, "end soon")];
    write_test_edf(&src, EdfFormat::Bdf, 3, 200.0, 3, &anns, None);
    for realtime in [false, true] {
        let out = dir.join(format!("out-{realtime}.edf"));
        run(json!({
            "stages": [
                {"id": "replay", "type": "FileReplay", "params": {"path": src, "realtime": realtime, "frames": 16}},
                {"id": "rec", "type": "EdfRecorder", "params": {"path": out}}
            ],
            "links": ["replay.out -> rec.in"]
        }))
        .await;
        let r = EdfReader::open(&out).unwrap();
        let got: Vec<(f64, &str)> = r
            .annotations()
            .iter()
            .map(|a| (a.onset, a.text.as_str()))
            .collect();
        assert_eq!(got, anns, "realtime = {realtime}");
        assert_eq!(r.labels(), ["EEG 1", "EEG 2", "EEG 3"]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_round_trip_is_exact() {
    let dir = temp_dir("csv");
    let csv = dir.join("rec.csv");
    run(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 5, "sample_rate": 500, "realtime": false, "duration_s": 3.0}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "csv", "type": "CsvRecorder", "params": {"path": csv}},
            {"id": "cap", "type": "Capture", "params": {"name": "csv-sent"}}
        ],
        "links": ["eeg.out -> volts.in", "volts.out -> csv.in", "volts.out -> cap.in"]
    }))
    .await;
    run(replay_to_capture(
        &csv,
        "csv-replayed",
        json!({"frames": 32}),
    ))
    .await;
    {
        let sent = capture("csv-sent");
        let sent = sent.lock().unwrap();
        let back = capture("csv-replayed");
        let back = back.lock().unwrap();
        assert_eq!(back.samples, sent.samples, "every value, bit for bit");
        let info = back.stream.as_ref().unwrap();
        assert_eq!(info.sample_rate, 500.0, "rate from the timestamp column");
        assert_eq!(info.labels(), sent.stream.as_ref().unwrap().labels());
    }

    // A CSV without timestamps needs sample_rate.
    let plain = dir.join("plain.csv");
    std::fs::write(&plain, "a,b\n1,2\n3,4\n5,6\n").unwrap();
    let errs = build_errors(replay_to_capture(&plain, "unused", json!({})));
    assert_eq!(errs[0].path, "$.stages[0].params.sample_rate");
    run(replay_to_capture(
        &plain,
        "plain",
        json!({"sample_rate": 10.0}),
    ))
    .await;
    assert_eq!(
        capture("plain").lock().unwrap().samples,
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_of_many_channels_lands_in_its_place() {
    // Channel counts that leave a partial block in the decoder (it works 16 signals at a
    // time), up to high-density grids; each channel its own frequency, so a sample in the
    // wrong place is far off.
    for channels in [37, 1023] {
        let dir = temp_dir(&format!("wide{channels}"));
        let src = dir.join("wide.bdf");
        write_test_edf(&src, EdfFormat::Bdf, channels, 50.0, 2, &[], None);
        let name = format!("wide{channels}");
        run(replay_to_capture(
            &src,
            &name,
            json!({"frames": 16, "sample_type": "f64"}),
        ))
        .await;
        let mut edf = EdfReader::open(&src).unwrap();
        let want: Vec<Vec<f64>> = (0..channels).map(|c| edf.read_signal(c).unwrap()).collect();
        let cap = capture(&name);
        let cap = cap.lock().unwrap();
        assert_eq!(cap.frames(), 100);
        for (i, &got) in cap.samples.iter().enumerate() {
            let (f, c) = (i / channels, i % channels);
            let w = want[c][f];
            assert!(
                (got - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{channels} ch, frame {f}, channel {c}: {got} vs {w}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_keeps_frame_indices_increasing() {
    let dir = temp_dir("loop");
    let src = dir.join("loop.edf");
    let data = write_test_edf(
        &src,
        EdfFormat::Edf,
        2,
        100.0,
        2,
        &[(1.0, "half way")],
        None,
    );
    let file_frames = data.len() / 2;
    let p = build(replay_to_capture(
        &src,
        "loop",
        json!({"loop": true, "frames": 7}),
    ));
    let h = p.handle();
    let mut events = h.events();
    let run = tokio::spawn(p.run());
    let cap = capture("loop");
    let t0 = Instant::now();
    while cap.lock().unwrap().frames() < 3 * file_frames + 50 {
        assert!(t0.elapsed() < Duration::from_secs(20), "replay too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    h.stop();
    assert_eq!(
        run.await.unwrap().outcome,
        Outcome::Finished,
        "ContinuityCheck saw no gap"
    );
    let cap = cap.lock().unwrap();
    let mut next = 0;
    for h in &cap.headers {
        assert_eq!(
            h.first_frame, next,
            "frame indices keep increasing across loops"
        );
        next += h.frames() as u64;
    }
    let edf = EdfReader::open(&src).unwrap();
    let lsb = edf.signals()[0].lsb();
    for (i, s) in cap.samples.iter().enumerate() {
        let want = data[i % data.len()];
        assert!(
            (s - want).abs() <= 0.5 * lsb + 1e-3,
            "sample {i}: {s} vs {want}"
        );
    }
    let mut markers = 0;
    while let Ok(e) = events.try_recv() {
        markers += usize::from(e.kind == EventKind::Marker && e.text == "half way");
    }
    assert!(
        markers >= 3,
        "the annotation comes back on every pass ({markers})"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_replay_is_paced_by_the_clock() {
    let dir = temp_dir("paced");
    let src = dir.join("paced.bdf");
    write_test_edf(&src, EdfFormat::Bdf, 2, 250.0, 1, &[], None);
    let t0 = Instant::now();
    run(replay_to_capture(
        &src,
        "paced",
        json!({"realtime": true, "frames": 25}),
    ))
    .await;
    let dt = t0.elapsed().as_secs_f64();
    assert!((0.95..1.5).contains(&dt), "1 s of signal took {dt} s");
    let cap = capture("paced");
    let cap = cap.lock().unwrap();
    assert_eq!(cap.frames(), 250);
    let t = &cap.headers;
    let span = (t[9].timestamp - t[0].timestamp) as f64 / 1e9;
    assert!(
        (span - 0.9).abs() < 1e-6,
        "timestamps follow the frame index: {span}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edf_plus_d_gaps_are_flagged() {
    let dir = temp_dir("gaps");
    let src = dir.join("gaps.edf");
    write_test_edf(&src, EdfFormat::Edf, 1, 50.0, 4, &[], Some(1));
    run(replay_to_capture(&src, "gaps", json!({"frames": 16}))).await;
    let cap = capture("gaps");
    let cap = cap.lock().unwrap();
    assert_eq!(cap.frames(), 200);
    let flagged: Vec<u64> = cap
        .headers
        .iter()
        .filter(|h| h.flags & FLAG_DISCONTINUITY != 0)
        .map(|h| h.first_frame)
        .collect();
    assert_eq!(
        flagged,
        [100],
        "the packet after the gap (record 3) is flagged"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn relative_paths_resolve_against_the_pipeline_directory() {
    let dir = temp_dir("relative");
    write_test_edf(&dir.join("rel.edf"), EdfFormat::Edf, 1, 10.0, 1, &[], None);
    let v = replay_to_capture(Path::new("rel.edf"), "rel", json!({}));
    // Read from a file in `dir`: the input resolves there, whatever the working directory.
    let cfg = PipelineConfig::from_value(&v)
        .unwrap()
        .located_at(&dir.join("pipeline.json"));
    let built = Pipeline::build(&cfg, &registry()).unwrap_or_else(|e| panic!("{e}"));
    drop(built);
    // The same recorder path resolves there too (one rule for inputs and outputs).
    let mut with_rec = v.clone();
    with_rec["stages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "rec", "type": "CsvRecorder", "params": {"path": "rel_out.csv"}}));
    with_rec["links"]
        .as_array_mut()
        .unwrap()
        .push(json!("replay -> rec"));
    let cfg = PipelineConfig::from_value(&with_rec)
        .unwrap()
        .located_at(&dir.join("pipeline.json"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(
        Pipeline::build(&cfg, &registry())
            .unwrap_or_else(|e| panic!("{e}"))
            .run(),
    );
    assert_eq!(report.outcome, Outcome::Finished);
    assert!(
        dir.join("rel_out.csv").is_file(),
        "the recording is next to the pipeline file"
    );
    // Built in code (no file): relative to the working directory, where there is no rel.edf.
    let errs = build_errors(v);
    assert_eq!(errs[0].path, "$.stages[0].params.path");
    assert!(
        errs[0].message.contains("cannot open rel.edf"),
        "{}",
        errs[0].message
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A recording of a filtered stream says so in its prefilter field, and replaying it gives
/// the stream's `filters` back: filtering it again shows (two `HP:1Hz LP:40Hz`),
/// and a decoder trained on the unfiltered signal refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_recordings_keep_their_prefilter() {
    let dir = temp_dir("prefilter");
    let rec = dir.join("filtered.edf");
    run(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"realtime": false, "duration_s": 2}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40, "order": 4}},
            {"id": "rec", "type": "EdfRecorder", "params": {"path": rec}}
        ],
        "links": ["eeg -> volts", "volts -> bp", "bp -> rec"]
    }))
    .await;
    run(json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": rec, "realtime": false}},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40, "order": 4}},
            {"id": "cap", "type": "Capture", "params": {"name": "prefilter"}}
        ],
        "links": ["replay -> bp", "bp -> cap"]
    }))
    .await;
    let cap = capture("prefilter");
    let stream = cap.lock().unwrap().stream.clone().unwrap();
    assert_eq!(stream.filters, ["HP:1Hz LP:40Hz", "HP:1Hz LP:40Hz"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes an XDF session: "EEG" (2 ch, 250 Hz, 2 s from t = 50.0), "Accel" (1 ch, 100 Hz,
/// 2 s from t = 50.1) and two markers; returns each stream's values, frame-major.
fn write_session_xdf(path: &Path) -> (Vec<f64>, Vec<f64>) {
    write_session_xdf_with(path, 200)
}

/// [`write_session_xdf`] with `acc_frames` accelerometer frames.
fn write_session_xdf_with(path: &Path, acc_frames: usize) -> (Vec<f64>, Vec<f64>) {
    use neuropipe_io::xdf::{ChannelFormat, ChannelMeta, StreamHeader, XdfWriter};
    let mut w = XdfWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    let eeg = StreamHeader::new("EEG", "EEG", ChannelFormat::Double64, 250.0).channels(vec![
        ChannelMeta::new("Cz", "microvolts", "EEG"),
        ChannelMeta::new("Pz", "microvolts", "EEG"),
    ]);
    let acc = StreamHeader::new("Accel", "Accelerometer", ChannelFormat::Double64, 100.0)
        .channels(vec![ChannelMeta::new("x", "g", "ACC")]);
    w.add_stream(1, &eeg).unwrap();
    w.add_stream(2, &acc).unwrap();
    w.add_stream(
        3,
        &StreamHeader::new("Markers", "Markers", ChannelFormat::String, 0.0),
    )
    .unwrap();
    let eeg_t: Vec<f64> = (0..500).map(|k| 50.0 + k as f64 / 250.0).collect();
    let eeg_v: Vec<f64> = (0..1000).map(|k| (k as f64 * 0.37).sin() * 10.0).collect();
    let acc_t: Vec<f64> = (0..acc_frames).map(|k| 50.1 + k as f64 / 100.0).collect();
    let acc_v: Vec<f64> = (0..acc_frames).map(|k| 1.0 + k as f64 * 1e-3).collect();
    w.write_numeric(1, &eeg_t, &eeg_v).unwrap();
    w.write_numeric(2, &acc_t, &acc_v).unwrap();
    w.write_strings(3, &[50.5, 51.5], &["one", "two"]).unwrap();
    for id in 1..=3 {
        w.footer(id).unwrap();
    }
    (eeg_v, acc_v)
}

/// One `FileReplay` replays two streams of an XDF session, each on its own port with its
/// own rate, channels and the file's time stamps, in real time; a pause moves both streams'
/// time axes by the same time (flagged once on each), so they keep their timing against
/// each other; every value arrives, each marker once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replay_stage_replays_several_xdf_streams_on_their_own_ports() {
    let dir = temp_dir("xdf-streams");
    let src = dir.join("session.xdf");
    let (eeg_v, acc_v) = write_session_xdf(&src);
    let p = build(json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": src, "streams": ["EEG", "Accel"], "frames": 25, "sample_type": "f64"}},
            {"id": "eeg", "type": "Capture", "params": {"name": "streams-eeg"}},
            {"id": "acc", "type": "Capture", "params": {"name": "streams-acc"}}
        ],
        "links": ["replay -> eeg", "replay.out2 -> acc"]
    }));
    let h = p.handle();
    let streams = h.output_streams("replay").unwrap();
    assert_eq!(
        (streams[0].name.as_str(), streams[0].sample_rate),
        ("EEG", 250.0)
    );
    assert_eq!(
        (streams[1].name.as_str(), streams[1].sample_rate),
        ("Accel", 100.0)
    );
    assert_eq!(streams[1].channels[0].unit, "g");
    // The accelerometer's packets last as long as the EEG's (25 frames at 250 Hz).
    assert_eq!(streams[1].frames_per_packet, 10);
    let mut events = h.events();
    let run = tokio::spawn(p.run());
    let eeg = capture("streams-eeg");
    // Pause once 100 EEG frames have arrived (polled a bounded number of times: no clock
    // reading is asserted).
    for _ in 0..6_000 {
        if eeg.lock().unwrap().frames() >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        eeg.lock().unwrap().frames() >= 100,
        "100 EEG frames before the pause"
    );
    h.pause("replay").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.resume("replay").await.unwrap();
    assert_eq!(run.await.unwrap().outcome, Outcome::Finished);
    let acc = capture("streams-acc");
    let (eeg, acc) = (eeg.lock().unwrap(), acc.lock().unwrap());
    assert_eq!(eeg.samples, eeg_v);
    assert_eq!(acc.samples, acc_v);
    // Each packet's stamp minus its first sample's time in the file (from the file's origin,
    // 50.0): 0 before the pause, one shift after it, the same for both streams.
    let shifts = |headers: &[neuropipe_core::PacketHeader], rate: f64, t0: f64| {
        let mut shifts: Vec<f64> = vec![];
        for hd in headers {
            let file_t = t0 + hd.first_frame as f64 / rate;
            let shift = hd.timestamp as f64 / 1e9 - file_t;
            let flagged = hd.flags & FLAG_DISCONTINUITY != 0;
            match shifts.last() {
                None => assert!(shift.abs() < 1e-6, "{shift}"),
                Some(&s) if !flagged => assert!((shift - s).abs() < 1e-6, "{shift} vs {s}"),
                Some(_) => {}
            }
            if shifts.is_empty() || flagged {
                shifts.push(shift);
            }
        }
        shifts
    };
    let (se, sa) = (
        shifts(&eeg.headers, 250.0, 0.0),
        shifts(&acc.headers, 100.0, 0.1),
    );
    assert_eq!(se.len(), 2, "one discontinuity in the EEG: {se:?}");
    assert_eq!(
        sa.len(),
        2,
        "one discontinuity in the accelerometer: {sa:?}"
    );
    assert!((se[1] - sa[1]).abs() < 1e-6, "{se:?} vs {sa:?}");
    // The pause lasted at least 300 ms; the axis moved by that less at most one packet.
    assert!(se[1] > 0.2, "{se:?}");
    let mut markers = vec![];
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::Marker {
            markers.push(e.text);
        }
    }
    assert_eq!(markers, ["one", "two"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stream that ends before the others ends on its own port at once: a `Merge` of a short
/// accelerometer stream (0.8 s, resampled to 250 Hz) with a 2 s EEG stream, both from one
/// `FileReplay`, ends with the accelerometer (174 merged frames). Were the port left open
/// until the stage ends, the `Merge` would go on to the EEG's end with the accelerometer's
/// channel missing (NaN, flagged: 375 frames).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ending_first_ends_on_its_port() {
    let dir = temp_dir("xdf-streams-short");
    let src = dir.join("session.xdf");
    write_session_xdf_with(&src, 80);
    let p = build(json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": src, "streams": ["EEG", "Accel"], "frames": 25, "realtime": false}},
            {"id": "rs", "type": "Resample", "params": {"rate_hz": 250}},
            {"id": "merge", "type": "Merge"},
            {"id": "cap", "type": "Capture", "params": {"name": "streams-short"}}
        ],
        "links": ["replay -> merge.in1", "replay.out2 -> rs", "rs -> merge.in2", "merge -> cap"]
    }));
    let report = tokio::time::timeout(Duration::from_secs(60), p.run())
        .await
        .expect("the pipeline ends with the accelerometer stream");
    assert_eq!(report.outcome, Outcome::Finished);
    let cap = capture("streams-short");
    let frames = cap.lock().unwrap().frames();
    // The merged stream covers (about) the accelerometer's 0.8 s, not the EEG's 2 s.
    assert!((100..=250).contains(&frames), "{frames} merged frames");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `streams` mistakes are named at build: with `stream`, a stream listed twice or missing,
/// a port beyond the streams listed, on a file that is not XDF.
#[test]
fn xdf_streams_mistakes_are_build_errors() {
    let dir = temp_dir("xdf-streams-errors");
    let src = dir.join("session.xdf");
    write_session_xdf(&src);
    let pipeline = |params: Value, links: Value| {
        let mut p = json!({"path": src});
        for (k, v) in params.as_object().unwrap() {
            p[k] = v.clone();
        }
        json!({
            "stages": [
                {"id": "replay", "type": "FileReplay", "params": p},
                {"id": "a", "type": "Capture", "params": {"name": "e1"}},
                {"id": "b", "type": "Capture", "params": {"name": "e2"}}
            ],
            "links": links
        })
    };
    let both = json!(["replay -> a", "replay.out2 -> b"]);
    for (params, links, want) in [
        (
            json!({"stream": "EEG", "streams": ["EEG"]}),
            both.clone(),
            "not both",
        ),
        (
            json!({"streams": ["EEG", "EEG"]}),
            both.clone(),
            "\"EEG\" twice",
        ),
        (
            json!({"streams": ["EEG", "Gyro"]}),
            both.clone(),
            "no numeric stream \"Gyro\" (its numeric streams: EEG, Accel)",
        ),
        (
            json!({"streams": ["EEG"]}),
            both.clone(),
            "`out2` is linked, but this FileReplay replays 1 stream",
        ),
        (
            json!({"streams": ["EEG", "Accel"], "signals": ["Cz"]}),
            both.clone(),
            "with several `streams`",
        ),
        (json!({"streams": []}), both.clone(), "lists no stream"),
    ] {
        let errors = build_errors(pipeline(params.clone(), links));
        let text: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        let text = text.join("\n");
        assert!(text.contains(want), "{params}: {text}");
    }
    let csv = dir.join("x.csv");
    std::fs::write(&csv, "timestamp_s,a\n0,1\n0.01,2\n").unwrap();
    let errors = build_errors(json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": csv, "streams": ["a", "b"]}},
            {"id": "a", "type": "Capture", "params": {"name": "e3"}}
        ],
        "links": ["replay -> a"]
    }));
    assert!(
        format!("{errors:?}").contains("not an XDF file"),
        "{errors:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
