//! The DSP stages run in pipelines built from JSON: outputs equal the `neuropipe-dsp` kernels
//! applied to the whole input in one call (bit-for-bit, whatever the packet size), control
//! messages (bypass, live redesign, coefficients) act at packet boundaries, headers of
//! transforming stages are consistent, and parameter errors carry their JSON paths.

use neuropipe_core::*;
use neuropipe_dsp::design::{butter, firwin, iirnotch, notch_harmonics, Band, Window};
use neuropipe_dsp::{Decimator, FirFilter, SosFilter};
use neuropipe_testkit::stages::{capture, Captured};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::f64::consts::TAU;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;

// ------------------------------------------------------------------ test stages

/// What a `Capture` sink (or a `Gate` source) saw: headers and samples as f64.
fn probe(name: &str) -> Arc<Mutex<Captured>> {
    capture(name)
}

fn packets(name: &str) -> usize {
    probe(name).lock().unwrap().headers.len()
}

fn samples(name: &str) -> Vec<f64> {
    probe(name).lock().unwrap().samples.clone()
}

fn headers(name: &str) -> Vec<PacketHeader> {
    probe(name).lock().unwrap().headers.clone()
}

fn gates() -> &'static Mutex<HashMap<String, Arc<Semaphore>>> {
    static G: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    G.get_or_init(Default::default)
}

fn gate(name: &str) -> Arc<Semaphore> {
    gates()
        .lock()
        .unwrap()
        .entry(name.to_string())
        .or_insert_with(|| Arc::new(Semaphore::new(0)))
        .clone()
}

/// Lets the `Gate` source named `name` send `n` more packets.
fn release(name: &str, n: usize) {
    gate(name).add_permits(n);
}

/// The test signal: a large DC offset, 10 Hz, 50 Hz and a fast component, per channel.
fn signal(frame: u64, ch: usize, rate: f64, sine_hz: f64) -> f64 {
    let t = frame as f64 / rate;
    if sine_hz > 0.0 {
        return 10.0 * (TAU * sine_hz * t).sin();
    }
    let c = ch as f64;
    20_000.0
        + 500.0 * c
        + 30.0 * (TAU * 10.0 * t + c).sin()
        + 10.0 * (TAU * 50.0 * t).sin()
        + 5.0 * (TAU * 0.37 * rate * t + 0.5 * c).sin()
}

/// A source of the test signal: one packet per permit of its gate (or, ungated, `packets`
/// packets as fast as possible). Records what it sends into the probe `<name>.in`.
struct Gate<S: Sample> {
    pool: MemoryPool<Samples<S>>,
    out: Output<Samples<S>>,
    gate: Option<Arc<Semaphore>>,
    probe: Arc<Mutex<Captured>>,
    frames: usize,
    channels: usize,
    rate: f64,
    sine_hz: f64,
    limit: u64,
    sent: u64,
}

impl<S: FloatSample> DataPlaneStage for Gate<S> {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        if self.limit > 0 && self.sent == self.limit {
            return Err(StageError::QueueClosed);
        }
        if let Some(g) = &self.gate {
            g.acquire().await.expect("gate open").forget();
        }
        let mut p = self.pool.acquire().await;
        p.set_shape(self.frames, self.channels)?;
        let first = self.sent * self.frames as u64;
        p.header.sequence = self.sent;
        p.header.first_frame = first;
        p.header.timestamp = (first as f64 * 1e9 / self.rate) as u64;
        for (f, frame) in p.samples_mut().chunks_exact_mut(self.channels).enumerate() {
            for (ch, s) in frame.iter_mut().enumerate() {
                *s = S::from_f64(signal(first + f as u64, ch, self.rate, self.sine_hz));
            }
        }
        {
            let mut probe = self.probe.lock().unwrap();
            probe.headers.push(p.header);
            probe
                .samples
                .extend(p.samples().iter().map(|s| Sample::to_f64(*s)));
        }
        self.sent += 1;
        self.out.send(p).await
    }
}

/// Parameters of the `Gate` test source.
#[derive(StageParams)]
struct GateParams {
    /// name of the gate (and of the probe `<name>.in` of what it sends)
    name: String,
    /// channels
    #[param(default = 3, min = 1, max = 256)]
    channels: usize,
    /// frames per packet
    #[param(default = 10, min = 1, max = 4096)]
    frames: usize,
    /// sample rate (Hz)
    #[param(default = 250.0, min = 1.0, max = 1e6)]
    rate: f64,
    /// a pure sine of this frequency instead of the test signal (0: the test signal)
    #[param(default = 0.0, min = 0.0, max = 1e6)]
    sine_hz: f64,
    /// packets to send when not gated (0: unlimited)
    #[param(default = 0)]
    packets: u64,
    /// one packet per permit of the gate
    #[param(default = true)]
    gated: bool,
    /// sample type sent
    #[param(default = "f64")]
    payload: FloatKind,
}

/// f32 → f64, a transforming stage (for bit-exact f64 checks behind RawToVoltage).
struct ToF64 {
    pool: MemoryPool<VoltageEegPacket64>,
    input: Input<VoltageEegPacket>,
    out: Output<VoltageEegPacket64>,
}

impl DataPlaneStage for ToF64 {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(p) = self.input.recv().await? else {
            return Ok(());
        };
        let mut o = self.pool.acquire().await;
        o.header = p.header;
        o.set_shape(p.header.frames(), p.header.channels as usize)?;
        for (d, s) in o.samples_mut().iter_mut().zip(p.samples()) {
            *d = *s as f64;
        }
        drop(p);
        self.out.send(o).await
    }
}

fn registry() -> Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_testkit::stages::register(&mut r);
    r.register(
        StageSpec::new("Gate", "test source", |b| {
            let p: GateParams = b.parse_params()?;
            let (frames, channels, rate) = (p.frames, p.channels, p.rate);
            let info = StreamInfo::new("gate", rate, channels, "uV", frames, PayloadKind::F64);
            let probe = probe(&format!("{}.in", p.name));
            let gate = p.gated.then(|| gate(&p.name));
            let (sine_hz, limit) = (p.sine_hz, p.packets);
            with_float!(p.payload, S => Ok(BoxedStage::new(Gate::<S> {
                pool: b.pool(frames, channels)?,
                out: b.output("out", info)?,
                gate,
                probe,
                frames,
                channels,
                rate,
                sine_hz,
                limit,
                sent: 0,
            })))
        })
        .output(PortSpec::any("out"))
        .params::<GateParams>(),
    );
    r.register(
        StageSpec::new("ToF64", "test converter", |b| {
            let info = b.input_stream("in")?.clone();
            let pool = b.pool(info.frames_per_packet, info.channel_count())?;
            let input = b.input("in")?;
            let out = b.output("out", info)?;
            Ok(BoxedStage::new(ToF64 { pool, input, out }))
        })
        .input(PortSpec::of("in", PayloadKind::F32))
        .output(PortSpec::of("out", PayloadKind::F64)),
    );
    r
}

// ------------------------------------------------------------------ helpers

fn build(v: Value) -> Pipeline {
    let cfg = PipelineConfig::from_value(&v).expect("valid JSON pipeline");
    match Pipeline::build(&cfg, &registry()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// The problems `Pipeline::build` reports, one `path: message` string each.
fn build_errors(v: Value) -> Vec<String> {
    let cfg = PipelineConfig::from_value(&v).expect("valid JSON pipeline");
    match Pipeline::build(&cfg, &registry()) {
        Ok(_) => panic!("pipeline built but should not have"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

/// Runs a pipeline whose sources end by themselves, to completion.
async fn run_to_end(p: Pipeline) -> RunReport {
    tokio::time::timeout(Duration::from_secs(60), p.run())
        .await
        .expect("pipeline ended in time")
}

/// Waits until the probe `name` has seen `n` packets.
async fn wait_packets(name: &str, n: usize) {
    let t0 = std::time::Instant::now();
    while packets(name) < n {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "probe {name}: {} of {n} packets",
            packets(name)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `data` filtered in one call by `sos`, from the steady state of its first frame.
fn sosfilt<S: FloatSample>(sos: &neuropipe_dsp::Sos, channels: usize, data: &[S]) -> Vec<S> {
    let mut f = SosFilter::<S>::new(sos, channels).unwrap();
    f.init_steady_state(&data[..channels]);
    let mut out = data.to_vec();
    f.process(&mut out);
    out
}

fn as_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

// ------------------------------------------------------------------ (1) bandpass = sosfilt

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandpass_output_equals_sosfilt_in_one_call_whatever_the_packet_size() {
    let sos = butter(4, Band::Bandpass(1.0, 40.0), 250.0).unwrap();
    for frames in [1, 7, 16, 100] {
        let n = |s: &str| format!("bp{frames}.{s}");
        let p = build(json!({
            "stages": [
                {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 4, "sample_rate": 250, "frames": frames, "realtime": false, "duration_s": 4, "dc_offset_uv": 30000}},
                {"id": "volts", "type": "RawToVoltage"},
                {"id": "f64", "type": "ToF64"},
                {"id": "bp", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40, "order": 4}},
                {"id": "bp32", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}},
                {"id": "raw", "type": "Capture", "params": {"name": n("raw")}},
                {"id": "raw32", "type": "Capture", "params": {"name": n("raw32")}},
                {"id": "out", "type": "Capture", "params": {"name": n("out")}},
                {"id": "out32", "type": "Capture", "params": {"name": n("out32")}}
            ],
            "links": ["eeg -> volts", "volts -> f64", "f64 -> bp", "bp -> out", "f64 -> raw",
                      "volts -> bp32", "bp32 -> out32", "volts -> raw32"]
        }));
        let report = run_to_end(p).await;
        assert_eq!(report.outcome, Outcome::Finished);
        let raw = samples(&n("raw"));
        assert_eq!(raw.len(), 1000 * 4);
        // f64: bit-identical to one sosfilt call over the whole input.
        assert_eq!(
            samples(&n("out")),
            sosfilt(&sos, 4, &raw),
            "f64, {frames} frames"
        );
        // f32 too (the kernel's output does not depend on the split in either type).
        let raw32 = as_f32(&samples(&n("raw32")));
        assert_eq!(
            samples(&n("out32")),
            widen(&sosfilt(&sos, 4, &raw32)),
            "f32, {frames} frames"
        );
        // In place: headers untouched.
        let (hi, ho) = (headers(&n("raw")), headers(&n("out")));
        assert_eq!(hi.len(), ho.len());
        assert!(hi.iter().zip(&ho).all(|(a, b)| (
            a.sequence,
            a.first_frame,
            a.timestamp,
            a.batch_size
        ) == (
            b.sequence,
            b.first_frame,
            b.timestamp,
            b.batch_size
        )));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn highpass_lowpass_bandstop_and_zero_initial_state() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "Gate", "params": {"name": "hlb", "gated": false, "packets": 50, "frames": 13}},
            {"id": "hp", "type": "Highpass", "params": {"cutoff_hz": 0.5, "order": 2}},
            {"id": "lp", "type": "Lowpass", "params": {"cutoff_hz": 30, "order": 5, "steady_state": false}},
            {"id": "bs", "type": "Bandstop", "params": {"low_hz": 45, "high_hz": 55, "order": 3}},
            {"id": "out", "type": "Capture", "params": {"name": "hlb.out"}}
        ],
        "links": ["src -> hp", "hp -> lp", "lp -> bs", "bs -> out"]
    }));
    assert_eq!(run_to_end(p).await.outcome, Outcome::Finished);
    let x = samples("hlb.in");
    let y = sosfilt(&butter(2, Band::Highpass(0.5), 250.0).unwrap(), 3, &x);
    let mut lp = SosFilter::<f64>::new(&butter(5, Band::Lowpass(30.0), 250.0).unwrap(), 3).unwrap();
    let mut y2 = y.clone();
    lp.process(&mut y2); // zero initial state: sosfilt without zi
    let y3 = sosfilt(
        &butter(3, Band::Bandstop(45.0, 55.0), 250.0).unwrap(),
        3,
        &y2,
    );
    assert_eq!(samples("hlb.out"), y3);
}

// ------------------------------------------------------------------ (2) pause bypasses

fn gated(name: &str, stage: Value) -> Pipeline {
    build(json!({
        "stages": [
            {"id": "src", "type": "Gate", "params": {"name": name, "channels": 3, "frames": 10}},
            stage,
            {"id": "out", "type": "Capture", "params": {"name": format!("{name}.out")}}
        ],
        "links": ["src -> f", "f -> out"]
    }))
}

/// Frames `from..to` (3 channels) of `v`.
fn frames(v: &[f64], from: usize, to: usize) -> &[f64] {
    &v[from * 3..to * 3]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_bypasses_the_filter_and_resume_filters_again() {
    let p = gated(
        "pause",
        json!({"id": "f", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}}),
    );
    let h = p.handle();
    let run = tokio::spawn(p.run());
    release("pause", 5);
    wait_packets("pause.out", 5).await;
    assert_eq!(h.pause("f").await, Ok(json!("bypassed")));
    release("pause", 3);
    wait_packets("pause.out", 8).await;
    let state = |s: &PipelineSnapshot| s.stages.iter().find(|x| x.id == "f").map(|x| x.state);
    assert_eq!(
        state(&h.snapshot()),
        Some(StageState::Running),
        "a bypassed filter is not suspended"
    );
    assert_eq!(h.resume("f").await, Ok(json!("filtering")));
    release("pause", 5);
    wait_packets("pause.out", 13).await;
    assert_eq!(
        h.set_param("f", "enabled", json!(false)).await,
        Ok(json!(false))
    );
    release("pause", 2);
    wait_packets("pause.out", 15).await;
    assert_eq!(
        h.set_param("f", "enabled", json!(true)).await,
        Ok(json!(true))
    );
    release("pause", 2);
    wait_packets("pause.out", 17).await;
    h.stop();
    assert_eq!(run.await.unwrap().outcome, Outcome::Finished);

    let sos = butter(4, Band::Bandpass(1.0, 40.0), 250.0).unwrap();
    let (x, y) = (samples("pause.in"), samples("pause.out"));
    assert_eq!(y.len(), 170 * 3);
    assert_eq!(frames(&y, 0, 50), sosfilt(&sos, 3, frames(&x, 0, 50)));
    assert_eq!(
        frames(&y, 50, 80),
        frames(&x, 50, 80),
        "bypassed: output == input"
    );
    // Filtering again from the steady state of the first packet after Resume.
    assert_eq!(frames(&y, 80, 130), sosfilt(&sos, 3, frames(&x, 80, 130)));
    assert_eq!(frames(&y, 130, 150), frames(&x, 130, 150));
    assert_eq!(frames(&y, 150, 170), sosfilt(&sos, 3, frames(&x, 150, 170)));
}

// ------------------------------------------------------------------ (3) live redesign

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_cutoff_change_applies_at_a_packet_boundary_and_bad_values_are_rejected() {
    let p = gated(
        "live",
        json!({"id": "f", "type": "Bandpass", "params": {"low_hz": 1, "high_hz": 40}}),
    );
    let h = p.handle();
    let run = tokio::spawn(p.run());
    release("live", 5);
    wait_packets("live.out", 5).await;
    assert_eq!(
        h.set_param("f", "high_hz", json!(30.0)).await,
        Ok(json!(30.0))
    );
    release("live", 5);
    wait_packets("live.out", 10).await;
    // At or above Nyquist: the design error, and the filter keeps running unchanged.
    assert_eq!(
        h.set_param("f", "high_hz", json!(200.0)).await,
        Err(ControlError::Rejected(
            "`high_hz` = 200.0: high 200 Hz must be > 0 and < Nyquist (125 Hz)".into()
        ))
    );
    assert_eq!(
        h.set_param("f", "low_hz", json!(35)).await,
        Err(ControlError::Rejected(
            "`low_hz` = 35: band edges must satisfy low < high, got low 35 Hz and high 30 Hz"
                .into()
        ))
    );
    // Out of the spec's range: rejected by the runtime before the stage sees it.
    assert!(matches!(
        h.set_param("f", "order", json!(11)).await,
        Err(ControlError::Rejected(m)) if m.contains("out of range 1..=10")
    ));
    release("live", 5);
    wait_packets("live.out", 15).await;
    // A new section count: state reset to the steady state of the next packet.
    assert_eq!(h.set_param("f", "order", json!(2)).await, Ok(json!(2)));
    release("live", 5);
    wait_packets("live.out", 20).await;
    h.stop();
    assert_eq!(run.await.unwrap().outcome, Outcome::Finished);

    let (x, y) = (samples("live.in"), samples("live.out"));
    let mut f =
        SosFilter::<f64>::new(&butter(4, Band::Bandpass(1.0, 40.0), 250.0).unwrap(), 3).unwrap();
    f.init_steady_state(&x[..3]);
    let mut expect = frames(&x, 0, 150).to_vec();
    f.process(&mut expect[..50 * 3]);
    // Same section count: the state carries over (no click).
    f.set_sos(&butter(4, Band::Bandpass(1.0, 30.0), 250.0).unwrap())
        .unwrap();
    f.process(&mut expect[50 * 3..]);
    assert_eq!(frames(&y, 0, 150), expect);
    let order2 = butter(2, Band::Bandpass(1.0, 30.0), 250.0).unwrap();
    assert_eq!(
        frames(&y, 150, 200),
        sosfilt(&order2, 3, frames(&x, 150, 200))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notch_with_harmonics_and_live_changes() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "Gate", "params": {"name": "notch", "channels": 3, "frames": 10, "rate": 500}},
            {"id": "f", "type": "Notch", "params": {"freq_hz": 50, "q": 30, "harmonics": true}},
            {"id": "out", "type": "Capture", "params": {"name": "notch.out"}}
        ],
        "links": ["src -> f", "f -> out"]
    }));
    let h = p.handle();
    let run = tokio::spawn(p.run());
    release("notch", 10);
    wait_packets("notch.out", 10).await;
    assert_eq!(
        h.set_param("f", "harmonics", json!(false)).await,
        Ok(json!(false))
    );
    release("notch", 10);
    wait_packets("notch.out", 20).await;
    assert_eq!(h.set_param("f", "q", json!(10.0)).await, Ok(json!(10.0)));
    release("notch", 10);
    wait_packets("notch.out", 30).await;
    assert!(matches!(
        h.set_param("f", "freq_hz", json!(250.0)).await,
        Err(ControlError::Rejected(m)) if m == "`freq_hz` = 250.0: w0 250 Hz must be > 0 and < Nyquist (250 Hz)"
    ));
    h.stop();
    assert_eq!(run.await.unwrap().outcome, Outcome::Finished);

    let (x, y) = (samples("notch.in"), samples("notch.out"));
    let harmonics = notch_harmonics(50.0, 30.0, 500.0).unwrap();
    assert_eq!(harmonics.len(), 4);
    assert_eq!(
        frames(&y, 0, 100),
        sosfilt(&harmonics, 3, frames(&x, 0, 100))
    );
    // 4 sections -> 1: reset from the next packet; then Q changes with the state kept.
    let mut f = SosFilter::<f64>::new(&iirnotch(50.0, 30.0, 500.0).unwrap(), 3).unwrap();
    f.init_steady_state(frames(&x, 100, 101));
    let mut expect = frames(&x, 100, 300).to_vec();
    f.process(&mut expect[..100 * 3]);
    f.set_sos(&iirnotch(50.0, 10.0, 500.0).unwrap()).unwrap();
    f.process(&mut expect[100 * 3..]);
    assert_eq!(frames(&y, 100, 300), expect);
}

// ------------------------------------------------------------------ (4) FIR coefficients

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fir_coefficients_update_live_and_empty_taps_fail_the_pipeline() {
    let p = gated(
        "fir",
        json!({"id": "f", "type": "Fir", "params": {"numtaps": 31, "cutoff_hz": [30]}}),
    );
    let h = p.handle();
    let run = tokio::spawn(p.run());
    release("fir", 3);
    wait_packets("fir.out", 3).await;
    assert_eq!(
        h.control(
            "f",
            ControlMsg::UpdateCoefficients(Arc::from([0.25, 0.5, 0.25]))
        )
        .await,
        Ok(json!(3))
    );
    release("fir", 3);
    wait_packets("fir.out", 6).await;
    assert_eq!(
        h.control(
            "f",
            ControlMsg::UpdateCoefficients(Arc::from([1.0, f64::NAN]))
        )
        .await,
        Err(ControlError::Rejected(
            "coefficients rejected: coefficient taps[1] = NaN is invalid: must be finite".into()
        ))
    );
    // A live design parameter redesigns with firwin.
    assert_eq!(h.set_param("f", "numtaps", json!(11)).await, Ok(json!(11)));
    release("fir", 3);
    wait_packets("fir.out", 9).await;
    let fatal = h
        .control("f", ControlMsg::UpdateCoefficients(Arc::from([])))
        .await;
    assert!(
        matches!(&fatal, Err(ControlError::Fatal(m)) if m.contains("no taps")),
        "{fatal:?}"
    );
    let report = run.await.unwrap();
    match report.outcome {
        Outcome::Failed { stage, message } => {
            assert_eq!(stage, "f");
            assert!(
                message.contains("UpdateCoefficients with no taps"),
                "{message}"
            );
        }
        o => panic!("expected a failure, got {o:?}"),
    }

    let (x, y) = (samples("fir.in"), samples("fir.out"));
    let taps = firwin(31, &[30.0], Window::Hamming, true, 250.0).unwrap();
    let mut f = FirFilter::<f64>::new(&taps, 3).unwrap();
    f.init_steady_state(&x[..3]);
    let mut expect = frames(&x, 0, 90).to_vec();
    f.process(&mut expect[..30 * 3]);
    f.set_taps(&[0.25, 0.5, 0.25]).unwrap();
    f.process(&mut expect[30 * 3..60 * 3]);
    f.set_taps(&firwin(11, &[30.0], Window::Hamming, true, 250.0).unwrap())
        .unwrap();
    f.process(&mut expect[60 * 3..]);
    assert_eq!(frames(&y, 0, 90), expect);
}

// ------------------------------------------------------------------ (5) decimate

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimate_headers_are_consistent_and_output_equals_one_decimator_call() {
    for frames in [3usize, 10, 64] {
        let n = |s: &str| format!("dec{frames}.{s}");
        let p = build(json!({
            "stages": [
                {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 4, "sample_rate": 1000, "frames": frames, "realtime": false, "duration_s": 2, "dc_offset_uv": 20000}},
                {"id": "volts", "type": "RawToVoltage"},
                {"id": "f64", "type": "ToF64"},
                {"id": "dec", "type": "Decimate", "params": {"factor": 4}},
                {"id": "check", "type": "ContinuityCheck", "params": {"expect_frames": 500}},
                {"id": "raw", "type": "Capture", "params": {"name": n("raw")}},
                {"id": "out", "type": "Capture", "params": {"name": n("out")}}
            ],
            "links": ["eeg -> volts", "volts -> f64", "f64 -> dec", "dec -> out", "dec -> check", "f64 -> raw"]
        }));
        let info = p.handle().output_streams("dec").unwrap()[0].clone();
        assert_eq!(info.sample_rate, 250.0);
        assert_eq!(info.frames_per_packet, frames.div_ceil(4));
        assert_eq!(info.payload, PayloadKind::F64);
        let report = run_to_end(p).await;
        assert_eq!(report.outcome, Outcome::Finished, "{frames} frames");

        let raw = samples(&n("raw"));
        let mut d = Decimator::<f64>::new(4, 4).unwrap();
        d.init_steady_state(&raw[..4]);
        let mut expect = vec![0.0; 500 * 4];
        assert_eq!(d.process(&raw, &mut expect), 500);
        assert_eq!(samples(&n("out")), expect, "{frames} frames");

        let hs = headers(&n("out"));
        let mut next = 0;
        for (i, h) in hs.iter().enumerate() {
            assert_eq!(h.sequence, i as u64);
            assert_eq!(h.first_frame, next);
            assert!(h.batch_size > 0, "no empty packets");
            assert!(h.batch_size as usize <= info.frames_per_packet);
            // Output frame m is computed on input frame 4m: SimulatedEeg (not real-time)
            // stamps frame f at f ms.
            assert_eq!(h.timestamp, h.first_frame * 4 * 1_000_000);
            next += h.batch_size as u64;
        }
        assert_eq!(next, 500);
    }
}

// ------------------------------------------------------------------ (6) channels

fn eeg8(rest: Vec<Value>, links: Vec<&str>) -> Value {
    let mut stages = vec![
        json!({"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 8, "realtime": false, "duration_s": 1, "frames": 10}}),
        json!({"id": "volts", "type": "RawToVoltage"}),
    ];
    stages.extend(rest);
    let mut l = vec!["eeg -> volts"];
    l.extend(links);
    json!({"stages": stages, "links": l})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_channels_picks_and_orders_by_label() {
    let p = build(eeg8(
        vec![
            json!({"id": "sel", "type": "SelectChannels", "params": {"channels": ["O2", "C3", "Fp1"]}}),
            json!({"id": "rawsel", "type": "SelectChannels", "params": {"channels": ["P8"]}}),
            json!({"id": "out", "type": "Capture", "params": {"name": "sel.out"}}),
            json!({"id": "rawout", "type": "Capture", "params": {"name": "sel.rawout"}}),
            json!({"id": "counts", "type": "Capture", "params": {"name": "sel.counts"}}),
            json!({"id": "in", "type": "Capture", "params": {"name": "sel.in"}}),
        ],
        vec![
            "volts -> sel",
            "sel -> out",
            "volts -> in",
            "eeg -> rawsel",
            "rawsel -> rawout",
            "eeg -> counts",
        ],
    ));
    let info = &p.handle().output_streams("sel").unwrap()[0];
    assert_eq!(info.labels(), ["O2", "C3", "Fp1"]);
    assert_eq!(info.payload, PayloadKind::F32);
    assert_eq!(
        p.handle().output_streams("rawsel").unwrap()[0].payload,
        PayloadKind::I32
    );
    assert_eq!(run_to_end(p).await.outcome, Outcome::Finished);
    let x = samples("sel.in");
    let expect: Vec<f64> = x.chunks_exact(8).flat_map(|f| [f[7], f[2], f[0]]).collect();
    assert_eq!(samples("sel.out"), expect);
    let counts = samples("sel.counts");
    let expect: Vec<f64> = counts.chunks_exact(8).map(|f| f[5]).collect();
    assert_eq!(samples("sel.rawout"), expect);
    assert_eq!(headers("sel.out").len(), 25);
    assert!(headers("sel.out").iter().all(|h| h.channels == 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rereference_average_and_channels() {
    let p = build(eeg8(
        vec![
            json!({"id": "f64", "type": "ToF64"}),
            json!({"id": "car", "type": "Rereference", "params": {"exclude": ["Fp1", "Fp2"]}}),
            json!({"id": "ref", "type": "Rereference", "params": {"mode": "channels", "reference": ["C3", "C4"]}}),
            json!({"id": "in", "type": "Capture", "params": {"name": "reref.in"}}),
            json!({"id": "car_out", "type": "Capture", "params": {"name": "reref.car"}}),
            json!({"id": "ref_out", "type": "Capture", "params": {"name": "reref.ref"}}),
        ],
        vec![
            "volts -> f64",
            "f64 -> in",
            "f64 -> car",
            "car -> car_out",
            "f64 -> ref",
            "ref -> ref_out",
        ],
    ));
    assert_eq!(run_to_end(p).await.outcome, Outcome::Finished);
    let x = samples("reref.in");
    let (car, rf) = (samples("reref.car"), samples("reref.ref"));
    assert_eq!(car.len(), x.len());
    for ((f, c), r) in x
        .chunks_exact(8)
        .zip(car.chunks_exact(8))
        .zip(rf.chunks_exact(8))
    {
        let mean = f[2..].iter().sum::<f64>() / 6.0;
        assert_eq!(&c[..2], &f[..2], "excluded channels unchanged");
        for i in 2..8 {
            assert!((c[i] - (f[i] - mean)).abs() < 1e-9);
        }
        assert!(c[2..].iter().sum::<f64>().abs() < 1e-9, "average reference");
        let m = (f[2] + f[3]) / 2.0;
        for i in 0..8 {
            assert!((r[i] - (f[i] - m)).abs() < 1e-9);
        }
    }
}

const LABELS: &str = "Fp1, Fp2, C3, C4, P7, P8, O1, O2";

#[test]
fn channel_label_errors_name_the_valid_labels() {
    let sel = |channels: Value| {
        build_errors(eeg8(
            vec![
                json!({"id": "sel", "type": "SelectChannels", "params": {"channels": channels}}),
                json!({"id": "out", "type": "Capture", "params": {"name": "x"}}),
            ],
            vec!["volts -> sel", "sel -> out"],
        ))
    };
    assert_eq!(
        sel(json!(["O2", "Fpz1"])),
        [format!("$.stages[2].params.channels: stage `sel` (SelectChannels): unknown channel `Fpz1` (did you mean \"Fp1\"?) (input channels: {LABELS})")]
    );
    assert_eq!(
        sel(json!(["O2", "C3", "O2"])),
        ["$.stages[2].params.channels: stage `sel` (SelectChannels): channel `O2` is listed twice"]
    );
    assert_eq!(
        sel(json!([])),
        [format!("$.stages[2].params.channels: stage `sel` (SelectChannels): selects no channel: list at least one label (input channels: {LABELS})")]
    );
    let reref = |params: Value| {
        build_errors(eeg8(
            vec![
                json!({"id": "re", "type": "Rereference", "params": params}),
                json!({"id": "out", "type": "Capture", "params": {"name": "x"}}),
            ],
            vec!["volts -> re", "re -> out"],
        ))
    };
    assert_eq!(
        reref(json!({"mode": "channels", "reference": ["M1", "M2"]})),
        [format!("$.stages[2].params.reference: stage `re` (Rereference): unknown channel `M1` (input channels: {LABELS})")]
    );
    assert_eq!(
        reref(json!({"mode": "channels"})),
        ["$.stages[2].params.reference: stage `re` (Rereference): mode \"channels\" needs `reference`: the labels of the reference channels, e.g. [\"Cz\"]"]
    );
    assert_eq!(
        reref(json!({"exclude": ["Fp1", "C3z"]})),
        [format!("$.stages[2].params.exclude: stage `re` (Rereference): unknown channel `C3z` (did you mean \"C3\"?) (input channels: {LABELS})")]
    );
}

#[test]
fn design_errors_point_at_the_parameter_and_raw_counts_need_conversion() {
    let bp = |params: Value| {
        build_errors(eeg8(
            vec![
                json!({"id": "bp", "type": "Bandpass", "params": params}),
                json!({"id": "out", "type": "Capture", "params": {"name": "x"}}),
            ],
            vec!["volts -> bp", "bp -> out"],
        ))
    };
    assert_eq!(
        bp(json!({"high_hz": 200})),
        ["$.stages[2].params.high_hz: stage `bp` (Bandpass): high 200 Hz must be > 0 and < Nyquist (125 Hz)"]
    );
    assert_eq!(
        bp(json!({"low_hz": 40, "high_hz": 30})),
        ["$.stages[2].params.low_hz: stage `bp` (Bandpass): band edges must satisfy low < high, got low 40 Hz and high 30 Hz"]
    );
    assert_eq!(
        bp(json!({"order": 11})),
        ["$.stages[2].params.order: `order` = 11 is out of range 1..=10"]
    );
    let errors = build_errors(json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg"},
            {"id": "bp", "type": "Bandpass"},
            {"id": "out", "type": "Capture", "params": {"name": "x"}}
        ],
        "links": ["eeg -> bp", "bp -> out"]
    }));
    assert_eq!(
        errors,
        ["$.stages[1]: stage `bp` (Bandpass): input `in` receives raw i32 counts, which cannot be processed as a signal: put a RawToVoltage stage before `bp` (it converts counts to µV as f32)"]
    );
    let fir = |params: Value| {
        build_errors(eeg8(
            vec![
                json!({"id": "fir", "type": "Fir", "params": params}),
                json!({"id": "out", "type": "Capture", "params": {"name": "x"}}),
            ],
            vec!["volts -> fir", "fir -> out"],
        ))
    };
    assert_eq!(
        fir(json!({"numtaps": 100, "pass_zero": false})),
        ["$.stages[2].params.numtaps: stage `fir` (Fir): numtaps 100 is invalid: must be odd when the passband includes Nyquist (highpass, bandstop)"]
    );
    assert_eq!(
        fir(json!({"taps": []})),
        ["$.stages[2].params.taps: stage `fir` (Fir): must hold at least one coefficient"]
    );
    let notch = build_errors(eeg8(
        vec![
            json!({"id": "n", "type": "Notch", "params": {"freq_hz": 130}}),
            json!({"id": "out", "type": "Capture", "params": {"name": "x"}}),
        ],
        vec!["volts -> n", "n -> out"],
    ));
    assert_eq!(
        notch,
        ["$.stages[2].params.freq_hz: stage `n` (Notch): w0 130 Hz must be > 0 and < Nyquist (125 Hz)"]
    );
}

// ------------------------------------------------------------------ (7) band power

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandpower_of_a_10_hz_sine_is_mostly_alpha() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "Gate", "params": {"name": "bp", "gated": false, "packets": 160, "frames": 32, "rate": 256, "sine_hz": 10, "channels": 2}},
            {"id": "pow", "type": "BandPower"},
            {"id": "out", "type": "Capture", "params": {"name": "bp.out"}}
        ],
        "links": ["src -> pow", "pow -> out"]
    }));
    let info = p.handle().output_streams("pow").unwrap()[0].clone();
    assert_eq!(info.sample_rate, 4.0);
    assert_eq!(info.payload, PayloadKind::F32);
    assert_eq!(info.channel_count(), 10);
    assert_eq!(info.channels[0].label, "Ch1_delta");
    assert_eq!(info.channels[7].label, "Ch2_alpha");
    assert_eq!(info.channels[0].unit, "uV^2");
    assert_eq!(run_to_end(p).await.outcome, Outcome::Finished);

    let y = samples("bp.out");
    // 160 × 32 = 5120 frames: the first estimate after 512 (2 s), then every 64.
    let estimates = (5120 - 512) / 64 + 1;
    assert_eq!(y.len(), estimates * 10);
    for frame in y.chunks_exact(10) {
        for ch in frame.chunks_exact(5) {
            let total: f64 = ch.iter().sum();
            let alpha = ch[2];
            assert!(alpha > 0.95 * total, "alpha {alpha} of {total}");
            // A sinusoid of amplitude 10 has power 50.
            assert!((alpha - 50.0).abs() < 2.5, "alpha power {alpha}");
        }
    }
    let hs = headers("bp.out");
    let mut next = 0;
    for (i, h) in hs.iter().enumerate() {
        assert_eq!(h.sequence, i as u64);
        assert_eq!(h.first_frame, next);
        // The window of estimate m ends on input frame 511 + 64 m (256 Hz).
        assert_eq!(h.timestamp, (511 + 64 * h.first_frame) * 3_906_250);
        next += h.batch_size as u64;
    }
    assert_eq!(next as usize, estimates);
}

#[test]
fn bandpower_bands_are_parsed_and_checked() {
    let pow = |params: Value| {
        build_errors(eeg8(
            vec![
                json!({"id": "pow", "type": "BandPower", "params": params}),
                json!({"id": "out", "type": "Capture", "params": {"name": "x"}}),
            ],
            vec!["volts -> pow", "pow -> out"],
        ))
    };
    assert_eq!(
        pow(json!({"bands": ["alpha:8-13", "beta13-30"]})),
        ["$.stages[2].params.bands: stage `pow` (BandPower): [1]: \"beta13-30\" is not \"name:lo-hi\" (Hz, e.g. \"alpha:8-13\")"]
    );
    assert_eq!(
        pow(json!({"bands": ["hi:100-200"]})),
        ["$.stages[2].params.bands: stage `pow` (BandPower): band hi [100, 200) Hz must satisfy 0 <= lo < hi <= Nyquist (125 Hz)"]
    );
    assert_eq!(
        pow(json!({"nperseg": 1000})),
        ["$.stages[2].params.nperseg: stage `pow` (BandPower): 1000 frames is longer than the window (500 frames = window_s x sample_rate)"]
    );
    let cfg = PipelineConfig::from_value(&eeg8(
        vec![
            json!({"id": "pow", "type": "BandPower", "params": {"bands": ["alpha:8-13", "sigma:11.5-16"], "hop_s": 0.5}}),
            json!({"id": "out", "type": "Capture", "params": {"name": "x"}}),
        ],
        vec!["volts -> pow", "pow -> out"],
    ))
    .unwrap();
    let p = Pipeline::build(&cfg, &registry()).unwrap();
    let info = &p.handle().output_streams("pow").unwrap()[0];
    assert_eq!(info.channel_count(), 16);
    assert_eq!(info.channels[1].label, "Fp1_sigma");
    assert_eq!(info.sample_rate, 2.0);
}

#[test]
fn every_dsp_stage_is_registered_with_documented_params() {
    let r = neuropipe_stages::registry();
    for name in [
        "Bandpass",
        "Highpass",
        "Lowpass",
        "Bandstop",
        "Notch",
        "Fir",
        "Decimate",
        "Rereference",
        "SelectChannels",
        "BandPower",
    ] {
        let spec = r.get(name).unwrap_or_else(|| panic!("{name} registered"));
        assert!(!spec.summary.is_empty());
        assert!(spec.params.iter().all(|p| !p.doc.is_empty()), "{name}");
    }
    let bp = r.get("Bandpass").unwrap();
    for live in ["order", "low_hz", "high_hz", "enabled"] {
        assert!(bp.param_spec(live).unwrap().live, "{live} is live");
    }
    assert!(!bp.param_spec("steady_state").unwrap().live);
}

// ------------------------------------------------------------------ example pipelines

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_pipelines_with_dsp_stages_run() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines");
    for (file, stages, links) in [
        ("default.json", 6, 5),
        ("filters.json", 10, 9),
        ("fir.json", 5, 4),
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let cfg = PipelineConfig::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (cfg.stages.len(), cfg.links.len()),
            (stages, links),
            "{file}"
        );
        let p = Pipeline::build(&cfg, &neuropipe_stages::registry())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let h = p.handle();
        let run = tokio::spawn(p.run());
        tokio::time::sleep(Duration::from_millis(1200)).await;
        h.stop();
        let report = run.await.unwrap();
        assert_eq!(report.outcome, Outcome::Finished, "{file}");
        let frames_in = |id: &str| {
            report
                .snapshot
                .stages
                .iter()
                .find(|s| s.id == id)
                .map_or(0, |s| s.frames_in)
        };
        assert!(frames_in("check") > 0, "{file}: frames reached the sink");
    }
}

/// `ratios`: one more feature per channel, the quotient of two bands' powers as sent (the
/// neurofeedback figure); unknown band names are located errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandpower_ratios_divide_the_bands_powers() {
    let p = build(json!({
        "stages": [
            {"id": "src", "type": "Gate", "params": {"name": "ratio", "gated": false, "packets": 64, "frames": 32, "rate": 256, "sine_hz": 10, "channels": 2}},
            {"id": "pow", "type": "BandPower", "params": {"bands": ["theta:4-8", "alpha:8-13"], "ratios": ["alpha/theta", "theta/alpha"]}},
            {"id": "out", "type": "Capture", "params": {"name": "ratio.out"}}
        ],
        "links": ["src -> pow", "pow -> out"]
    }));
    let info = p.handle().output_streams("pow").unwrap()[0].clone();
    let labels: Vec<&str> = info.channels.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Ch1_theta",
            "Ch1_alpha",
            "Ch1_alpha/theta",
            "Ch1_theta/alpha",
            "Ch2_theta",
            "Ch2_alpha",
            "Ch2_alpha/theta",
            "Ch2_theta/alpha"
        ]
    );
    assert_eq!(run_to_end(p).await.outcome, Outcome::Finished);
    let y = samples("ratio.out");
    assert!(!y.is_empty());
    for ch in y.chunks_exact(4) {
        let (theta, alpha) = (ch[0], ch[1]);
        // 10 Hz: alpha dominates; the ratio is the quotient of the powers (f32 rounding apart).
        assert!(ch[2] > 10.0, "{ch:?}");
        assert!((ch[2] - alpha / theta).abs() <= 1e-5 * ch[2], "{ch:?}");
        assert!((ch[3] * ch[2] - 1.0).abs() < 1e-5, "{ch:?}");
    }
    let errs = build_errors(eeg8(
        vec![
            json!({"id": "pow", "type": "BandPower", "params": {"ratios": ["alpha/mu"]}}),
            json!({"id": "out", "type": "Capture", "params": {"name": "x"}}),
        ],
        vec!["volts -> pow", "pow -> out"],
    ));
    assert_eq!(
        errs,
        ["$.stages[2].params.ratios: stage `pow` (BandPower): [0]: no band named \"mu\" (bands: delta, theta, alpha, beta, gamma)"]
    );
}

/// A ratio whose denominator band has no power (a flat channel) is sent as 0, never NaN or
/// infinity, and counted in the readouts.
#[test]
fn an_undefined_band_ratio_is_zero_and_counted() {
    use neuropipe_core::testing::Harness;
    let info = StreamInfo::new("t", 250.0, 2, "uV", 25, PayloadKind::F64);
    let mut h = Harness::new(neuropipe_stages::dsp::bandpower::spec())
        .param("bands", json!(["theta:4-8", "alpha:8-13"]))
        .param("ratios", json!(["alpha/theta"]))
        .input::<Samples<f64>>("in", info)
        .build()
        .unwrap();
    let pool = h.pool::<Samples<f64>>(25, 2);
    for k in 0..24u64 {
        // Channel 1: 10 Hz; channel 2: flat.
        let data: Vec<f64> = (0..25)
            .flat_map(|i| {
                let t = (k * 25 + i) as f64 / 250.0;
                [10.0 * (std::f64::consts::TAU * 10.0 * t).sin(), 0.0]
            })
            .collect();
        h.push("in", Harness::packet(&pool, k * 25, &data));
    }
    let out = h.take::<VoltageEegPacket>("out");
    let frames: Vec<&[f32]> = out
        .iter()
        .flat_map(|o| o.samples().chunks_exact(6))
        .collect();
    assert!(!frames.is_empty());
    for f in &frames {
        assert!(f.iter().all(|v| v.is_finite()), "{f:?}");
        assert!(f[2] > 1.0, "channel 1's alpha/theta {f:?}");
        assert_eq!(f[5], 0.0, "channel 2's undefined ratio");
    }
    let r = h.snapshot().readouts.unwrap();
    assert_eq!(r.value("ratios", "undefined"), Some(frames.len() as f64));
}
