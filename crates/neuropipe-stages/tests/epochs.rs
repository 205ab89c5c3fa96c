//! `Epoch` and `Window`: the same epochs as `mne.Epochs` on an EDF+ file with annotations
//! (samples, baseline, rejection, windows leaving the data), whatever the packet size;
//! markers before and after their data, late markers, breaks, missing samples and the end
//! of the stream counted and reported; sliding windows on their hop grid; epochs refused by
//! stages that take a continuous stream.

mod common;
use common::*;
use neuropipe_core::testing::Harness;
use neuropipe_core::*;
use serde_json::{json, Value};
use std::path::Path;

fn epoch_pipeline(edf: &Path, capture: &str, frames: usize, sample_type: &str) -> Value {
    json!({
        "stages": [
            {"id": "replay", "type": "FileReplay", "params": {"path": edf, "realtime": false, "frames": frames, "sample_type": sample_type}},
            {"id": "epochs", "type": "Epoch", "params": {
                "markers": ["target", "nontarget"], "tmin": -0.2, "tmax": 0.5,
                "baseline": [-0.2, 0.0], "reject": ["EEG:150", "EOG:250"]}},
            {"id": "cap", "type": "Capture", "params": {"name": capture}}
        ],
        "links": ["replay.out -> epochs.in", "epochs.out -> cap.in"]
    })
}

/// Runs the pipeline; returns its final metrics and the `epoch_dropped` event texts.
async fn run(v: Value) -> (PipelineSnapshot, Vec<String>) {
    let p = build(v);
    let mut events = p.handle().events();
    let report = p.run().await;
    assert_eq!(report.outcome, Outcome::Finished);
    let mut dropped = vec![];
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::EpochDropped {
            dropped.push(e.text);
        }
    }
    (report.snapshot, dropped)
}

fn readout(s: &PipelineSnapshot, stage: &str, row: &str, col: &str) -> f64 {
    let st = s.stages.iter().find(|x| x.id == stage).unwrap();
    st.readouts.as_ref().unwrap().value(row, col).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_match_mne_epochs() {
    let Some(py) = python() else { return };
    let dir = temp_dir("epochs-mne");
    run_python(
        &py,
        &[&workspace().join("scripts/bci/epochs_reference.py"), &dir],
    );
    let edf = dir.join("epochs.edf");
    let exp: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("epochs.json")).unwrap()).unwrap();
    let mne_data = read_f64(&dir.join("epochs.f64"));
    let kept = exp["kept"].as_array().unwrap();
    let times = exp["times"].as_u64().unwrap() as usize;
    let offset = exp["first_offset"].as_i64().unwrap();
    let channels = exp["channels"].as_array().unwrap().len();
    assert_eq!(mne_data.len(), kept.len() * channels * times);
    assert!(kept.len() >= 20, "the reference keeps most epochs");

    let mut reference_bits: Option<Vec<u64>> = None;
    for (frames, sample_type, tol) in [(32, "f64", 1e-9), (7, "f64", 1e-9), (25, "f32", 5e-5)] {
        let name = format!("epochs-mne-{frames}-{sample_type}");
        let (snap, dropped) = run(epoch_pipeline(&edf, &name, frames, sample_type)).await;
        let cap = capture(&name);
        let cap = cap.lock().unwrap();
        let stream = cap.stream.as_ref().unwrap();
        let layout = stream.epochs.as_ref().expect("an epoch stream");
        assert_eq!(layout.times, times);
        assert_eq!(layout.classes, ["target", "nontarget"]);
        assert_eq!(cap.channels, channels);
        assert_eq!(
            cap.headers.len(),
            kept.len(),
            "{frames} frames/packet, {sample_type}"
        );
        let mut worst: f64 = 0.0;
        for (e, ((h, ours), want)) in cap.packets().zip(kept).enumerate() {
            let class = want["class"].as_str().unwrap();
            assert_eq!(
                layout.classes[h.label.unwrap() as usize],
                class,
                "epoch {e}"
            );
            let first = want["sample"].as_i64().unwrap() + offset;
            assert_eq!(
                h.first_frame as i64, first,
                "epoch {e}: same samples as MNE"
            );
            assert_eq!(h.sequence, e as u64);
            assert_eq!(h.frames(), times);
            // MNE: channels x times; ours: frame-major (times x channels).
            for ch in 0..channels {
                for k in 0..times {
                    let m = mne_data[(e * channels + ch) * times + k];
                    let d = (ours[k * channels + ch] - m).abs();
                    worst = worst.max(d);
                    assert!(
                        d <= tol,
                        "epoch {e} ch {ch} t {k}: {} vs MNE {m}",
                        ours[k * channels + ch]
                    );
                }
            }
        }
        println!(
            "{frames} frames/packet {sample_type}: {} epochs, worst |ours - MNE| = {worst:e} uV",
            kept.len()
        );
        // Split invariance: f64 epochs are bit-identical whatever the packet size.
        if sample_type == "f64" {
            let bits: Vec<u64> = cap.samples.iter().map(|x| x.to_bits()).collect();
            match &reference_bits {
                None => reference_bits = Some(bits),
                Some(r) => assert!(*r == bits, "{frames} frames/packet changed the epochs"),
            }
        }
        // Drops: counted per class and reported, as MNE's drop log.
        let sum = |col: &str| {
            readout(&snap, "epochs", "target", col) + readout(&snap, "epochs", "nontarget", col)
        };
        assert_eq!(sum("epochs") as usize, kept.len());
        assert_eq!(sum("rejected") as u64, exp["rejected"].as_u64().unwrap());
        assert_eq!(
            (sum("bad_data") + sum("unfinished")) as u64,
            exp["no_data"].as_u64().unwrap(),
            "windows leaving the data: {dropped:?}"
        );
        assert_eq!(sum("late"), 0.0);
        assert_eq!(
            dropped.len() as u64,
            exp["rejected"].as_u64().unwrap() + exp["no_data"].as_u64().unwrap()
        );
        for chans in exp["rejected_channels"].as_array().unwrap() {
            let ch = chans[0].as_str().unwrap();
            assert!(
                dropped
                    .iter()
                    .any(|t| t.contains(&format!("rejected: {ch} peak-to-peak"))),
                "rejection on {ch} reported: {dropped:?}"
            );
        }
    }
}

// ---- One stage in the harness: markers, breaks, missing samples, the end of the stream ----

const RATE: f64 = 1000.0; // Harness::packet stamps frame n at n ms.

fn stream(channels: usize) -> StreamInfo {
    StreamInfo::new("t", RATE, channels, "uV", 10, PayloadKind::F64)
}

fn marker(h: &mut Harness, t_ms: f64, text: &str) {
    h.publish(PipelineEvent {
        time_ns: (t_ms * 1e6) as u64,
        stage: "source".into(),
        kind: EventKind::Marker,
        text: text.into(),
        on_sample: true,
    });
}

/// Packets of 10 frames of a ramp (each sample = its frame index), from `from` to `to`,
/// stamped `shift_ms` later than `Harness::packet` does; the first flagged `flags`.
fn push_ramp(
    h: &mut Harness,
    pool: &MemoryPool<Samples<f64>>,
    from: u64,
    to: u64,
    shift_ms: u64,
    flags: u32,
) {
    for f in (from..to).step_by(10) {
        let data: Vec<f64> = (f..f + 10).map(|x| x as f64).collect();
        let mut p = Harness::packet(pool, f, &data);
        p.header.timestamp += shift_ms * 1_000_000;
        if f == from {
            p.header.flags |= flags;
        }
        h.push("in", p);
    }
}

fn epoch_harness(extra: Value) -> Harness {
    let mut b = Harness::new(neuropipe_stages::bci::epoch::spec())
        .param("markers", json!(["a", "b"]))
        .param("tmin", -0.005)
        .param("tmax", 0.010)
        .param("max_delay_s", 0.02);
    for (k, v) in extra.as_object().unwrap() {
        b = b.param(k, v.clone());
    }
    b.input::<Samples<f64>>("in", stream(1)).build().unwrap()
}

#[test]
fn markers_are_cut_sample_exact_whenever_they_arrive() {
    let mut h = epoch_harness(json!({}));
    let pool = h.pool::<Samples<f64>>(10, 1);
    // Before its data (the usual case), between two samples (nearest: frame 100), a text of
    // another class, and one matching no class.
    marker(&mut h, 100.4, "a");
    marker(&mut h, 50.6, "b");
    marker(&mut h, 70.0, "zzz");
    push_ramp(&mut h, &pool, 0, 130, 0, 0);
    // After its data, within max_delay_s (20 frames): still cut.
    marker(&mut h, 110.0, "a");
    push_ramp(&mut h, &pool, 130, 140, 0, 0);
    let out = h.take::<Samples<f64>>("out");
    let got: Vec<(u32, u64, u64, Vec<f64>)> = out
        .iter()
        .map(|p| {
            (
                p.header.label.unwrap(),
                p.header.first_frame,
                p.header.timestamp,
                p.samples().to_vec(),
            )
        })
        .collect();
    let ramp = |f: u64| (f..f + 16).map(|x| x as f64).collect::<Vec<f64>>();
    // Sent when their windows complete: "b" (frame 51) first.
    assert_eq!(
        got,
        vec![
            (1, 46, 46_000_000, ramp(46)),
            (0, 95, 95_000_000, ramp(95)),
            (0, 105, 105_000_000, ramp(105)),
        ]
    );
    assert_eq!(
        h.snapshot().readouts.unwrap().value("a", "epochs"),
        Some(2.0)
    );
    assert!(h.finish().is_ok());
}

/// `unlabelled` markers (a free-spelling speller's flashes) start epochs without a label,
/// counted in their own readout row; the stream's classes stay the labelled ones.
#[test]
fn unlabelled_markers_start_epochs_without_a_class() {
    let mut h = epoch_harness(json!({"unlabelled": ["flash:*"]}));
    assert_eq!(h.snapshot().readouts.unwrap().rows, ["a", "b", "flash:*"]);
    let pool = h.pool::<Samples<f64>>(10, 1);
    marker(&mut h, 30.0, "flash:C");
    marker(&mut h, 60.0, "b");
    marker(&mut h, 90.0, "flash:A");
    push_ramp(&mut h, &pool, 0, 120, 0, 0);
    let out = h.take::<Samples<f64>>("out");
    let got: Vec<(Option<u32>, u64)> = out
        .iter()
        .map(|p| (p.header.label, p.header.first_frame))
        .collect();
    assert_eq!(got, [(None, 25), (Some(1), 55), (None, 85)]);
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("flash:*", "epochs"), Some(2.0));
    assert_eq!(r.value("b", "epochs"), Some(1.0));
    assert!(h.finish().is_ok());
    // A pattern in both lists is refused, naming the list.
    let errs = Harness::new(neuropipe_stages::bci::epoch::spec())
        .param("markers", json!(["a", "b"]))
        .param("unlabelled", json!(["b"]))
        .input::<Samples<f64>>("in", stream(1))
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        errs.contains("unlabelled") && errs.contains("listed twice"),
        "{errs}"
    );
}

#[test]
fn every_dropped_epoch_is_counted_and_reported() {
    let mut h = epoch_harness(json!({}));
    let pool = h.pool::<Samples<f64>>(10, 1);
    push_ramp(&mut h, &pool, 0, 300, 0, 0);
    // Late: frame 150's window ended at 160, 140 frames ago (> max_delay_s).
    marker(&mut h, 150.0, "a");
    // A pause before frame 300: data resumes 1 s later on the clock.
    marker(&mut h, 297.0, "b"); // window 292..=307 spans the break
    marker(&mut h, 800.0, "a"); // in the pause: no sample there
    push_ramp(&mut h, &pool, 300, 400, 1000, FLAG_DISCONTINUITY);
    // Missing samples in a window.
    let mut nan: Vec<f64> = (400..410).map(|x| x as f64).collect();
    nan[3] = f64::NAN;
    h.push(
        "in",
        Harness::packet(&pool, 400, &nan).tap_mut(|p| p.header.timestamp += 1_000_000_000),
    );
    marker(&mut h, 1405.0, "b");
    push_ramp(&mut h, &pool, 410, 500, 1000, 0);
    // A window starting before the stream, and one the stream ends inside.
    marker(&mut h, 2.0, "a");
    marker(&mut h, 1495.0, "b");
    h.close().unwrap();
    assert!(
        h.take::<Samples<f64>>("out").is_empty(),
        "no epoch survives"
    );
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("a", "late"), Some(1.0));
    assert_eq!(r.value("a", "bad_data"), Some(2.0)); // in the pause; before the stream
    assert_eq!(r.value("b", "bad_data"), Some(2.0)); // across the break; NaN
    assert_eq!(r.value("b", "unfinished"), Some(1.0));
    let texts: Vec<String> = h
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::EpochDropped)
        .map(|e| e.text)
        .collect();
    assert_eq!(texts.len(), 6, "{texts:#?}");
    for why in [
        "raise max_delay_s",
        "break in the stream",
        "falls in a break",
        "non-finite",
        "before the stream",
        "stream ended",
    ] {
        assert!(texts.iter().any(|t| t.contains(why)), "{why}: {texts:#?}");
    }
}

#[test]
fn baseline_is_subtracted_and_thresholds_reject() {
    let mut h = epoch_harness(json!({"baseline": [-0.005, 0.0], "reject": ["EEG:14"]}));
    let pool = h.pool::<Samples<f64>>(10, 1);
    marker(&mut h, 100.0, "a");
    push_ramp(&mut h, &pool, 0, 120, 0, 0);
    let out = h.take::<Samples<f64>>("out");
    // Baseline frames 95..=100: mean 97.5; the ramp's peak-to-peak over 16 frames is 15.
    assert!(out.is_empty(), "p-p 15 > 14: rejected");
    let mut h = epoch_harness(json!({"baseline": [-0.005, 0.0], "reject": ["EEG:15"]}));
    marker(&mut h, 100.0, "a");
    push_ramp(&mut h, &pool, 0, 120, 0, 0);
    let out = h.take::<Samples<f64>>("out");
    let want: Vec<f64> = (95..111).map(|x| x as f64 - 97.5).collect();
    assert_eq!(out[0].samples(), &want[..]);
}

#[test]
fn windows_slide_on_their_hop_and_restart_after_a_break() {
    let mut h = Harness::new(neuropipe_stages::bci::window::spec())
        .param("length_s", 0.05)
        .param("hop_s", 0.02)
        .input::<Samples<f64>>("in", stream(2))
        .build()
        .unwrap();
    let pool = h.pool::<Samples<f64>>(10, 2);
    let push = |h: &mut Harness, from: u64, to: u64, flags: u32| {
        for f in (from..to).step_by(10) {
            let data: Vec<f64> = (f..f + 10).flat_map(|x| [x as f64, -(x as f64)]).collect();
            let mut p = Harness::packet(&pool, f, &data);
            if f == from {
                p.header.flags |= flags;
            }
            h.push("in", p);
        }
    };
    push(&mut h, 0, 200, 0);
    push(&mut h, 200, 300, FLAG_DISCONTINUITY);
    let out = h.take::<Samples<f64>>("out");
    let firsts: Vec<u64> = out.iter().map(|p| p.header.first_frame).collect();
    // Ends 50, 70 … 190; the two ending at 210 and 230 would span the break at 200; then
    // 250, 270, 290 from the break.
    assert_eq!(firsts, [0, 20, 40, 60, 80, 100, 120, 140, 200, 220, 240]);
    assert!(out
        .iter()
        .all(|p| p.header.label.is_none() && p.header.frames() == 50));
    let w = &out[3];
    assert_eq!(w.header.timestamp, 60_000_000);
    assert_eq!(&w.samples()[..4], &[60.0, -60.0, 61.0, -61.0]);
    assert_eq!(w.samples()[99], -109.0);
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("windows", "windows"), Some(11.0));
    assert_eq!(r.value("windows", "skipped"), Some(2.0));
    assert!(h.finish().is_ok());
}

#[test]
fn epoch_streams_and_continuous_streams_do_not_mix() {
    let errs = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg"},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["target"]}},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}},
            {"id": "check", "type": "ContinuityCheck"}
        ],
        "links": ["eeg -> volts", "volts -> ep", "ep -> bp", "bp -> check"]
    }));
    assert_eq!(errs[0].path, "$.links[2]", "{}", errs[0].message);
    assert!(
        errs[0].message.contains("`ep` sends epochs"),
        "{}",
        errs[0].message
    );

    let raw = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg"},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["target"]}},
            {"id": "show", "type": "StdoutSummary"}
        ],
        "links": ["eeg -> ep", "ep -> show"]
    }));
    assert!(
        raw[0].message.contains("RawToVoltage"),
        "{}",
        raw[0].message
    );

    for (params, path, want) in [
        (json!({"markers": []}), "markers", "is empty"),
        (json!({"markers": ["*"]}), "markers", "every marker"),
        (json!({"markers": ["a", "a"]}), "markers", "listed twice"),
        (
            json!({"markers": ["a"], "tmin": 0.5, "tmax": 0.1}),
            "tmax",
            "before tmin",
        ),
        (
            json!({"markers": ["a"], "baseline": [-1.0, 0.0]}),
            "baseline",
            "outside the epoch",
        ),
        (
            json!({"markers": ["a"], "reject": ["EMG:100"]}),
            "reject",
            "no channel has type `EMG`",
        ),
    ] {
        let errs = build_errors(json!({
            "stages": [
                {"id": "eeg", "type": "SimulatedEeg"},
                {"id": "volts", "type": "RawToVoltage"},
                {"id": "ep", "type": "Epoch", "params": params},
                {"id": "show", "type": "StdoutSummary"}
            ],
            "links": ["eeg -> volts", "volts -> ep", "ep -> show"]
        }));
        assert_eq!(
            errs[0].path,
            format!("$.stages[2].params.{path}"),
            "{}",
            errs[0].message
        );
        assert!(errs[0].message.contains(want), "{}", errs[0].message);
    }
}

trait TapMut: Sized {
    fn tap_mut(self, f: impl FnOnce(&mut Self)) -> Self;
}
impl<T> TapMut for T {
    fn tap_mut(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

/// Mean over 250–350 ms after the marker at channel `ch` of the target epochs minus that of
/// the non-target epochs, and the epoch counts; from a simulated oddball run.
async fn p300_effect(p300_uv: f64, capture: &str) -> (f64, usize, usize) {
    let (_, dropped) = run(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {
                "task": "p300", "p300_uv": p300_uv, "realtime": false, "duration_s": 240,
                "seed": 3, "alpha_uv": 10, "frames": 10}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 0.5, "high_hz": 20, "order": 4}},
            {"id": "ep", "type": "Epoch", "params": {
                "markers": ["target", "nontarget"], "tmin": -0.2, "tmax": 0.8, "baseline": [-0.2, 0]}},
            {"id": "cap", "type": "Capture", "params": {"name": capture}}
        ],
        "links": ["eeg -> volts", "volts -> bp", "bp -> ep", "ep -> cap"]
    }))
    .await;
    let cap = capture_of(capture);
    let cap = cap.lock().unwrap();
    let c = cap.channels;
    let p7 = cap
        .stream
        .as_ref()
        .unwrap()
        .labels()
        .iter()
        .position(|l| *l == "P7")
        .unwrap();
    let (mut sum, mut n) = ([0.0; 2], [0usize; 2]);
    for (h, data) in cap.packets() {
        // Sample-exact: the marker is on the stimulus frame, 1 s + k × 0.25 s.
        let onset = h.first_frame + 50;
        let k = ((onset as f64 - 250.0) / 62.5).round();
        assert_eq!((250.0 + 62.5 * k).round(), onset as f64, "onset {onset}");
        let class = h.label.unwrap() as usize;
        // 250..=350 ms after the marker: frames 50 + 62 ..= 50 + 87.
        let m: f64 = (112..=137).map(|k| data[k * c + p7]).sum::<f64>() / 26.0;
        sum[class] += m;
        n[class] += 1;
    }
    // The last three stimuli's windows (from 239.25 s) run past the end of the stream.
    assert_eq!(dropped.len(), 3, "{dropped:?}");
    assert!(
        dropped.iter().all(|t| t.contains("stream ended")),
        "{dropped:?}"
    );
    (sum[0] / n[0] as f64 - sum[1] / n[1] as f64, n[0], n[1])
}

fn capture_of(name: &str) -> std::sync::Arc<std::sync::Mutex<Captured>> {
    capture(name)
}

#[test]
fn simultaneous_stimuli_are_refused() {
    let errs = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"task": "p300", "sample_rate": 10, "line_hz": 0, "stimulus_interval_s": 0.05}},
            {"id": "show", "type": "StdoutSummary"}
        ],
        "links": ["eeg -> show"]
    }));
    assert_eq!(errs[0].path, "$.stages[0].params.stimulus_interval_s");
    assert!(
        errs[0].message.contains("less than one frame at 10 Hz"),
        "{}",
        errs[0].message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_oddball_evokes_a_p300_in_target_epochs_only() {
    let (on, targets, nontargets) = p300_effect(15.0, "p300-on").await;
    let (off, ..) = p300_effect(0.0, "p300-off").await;
    println!("target - nontarget at P7, 250-350 ms: {on:.2} uV with a 15 uV P300, {off:.2} uV without ({targets} targets, {nontargets} non-targets)");
    assert_eq!(
        targets + nontargets,
        953,
        "a stimulus every 0.25 s from 1 s to 239 s"
    );
    assert!(
        (150..240).contains(&targets),
        "{targets} targets at p = 0.2"
    );
    // Band-passed and baseline-corrected (overlapping responses), ~half the amplitude
    // remains; the background's standard error here is ~1.5 µV. Deterministic (seeded).
    assert!(on > 5.0, "P300 visible in the average: {on}");
    assert!(off.abs() < 3.0, "no effect without it: {off}");
}
