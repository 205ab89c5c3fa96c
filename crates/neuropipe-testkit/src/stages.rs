//! Test stages shared by the runtime's and the stage library's tests: [`registry`] holds
//! `TestSource` (numbered `f32` packets), `TestAdd` (adds a live value in place),
//! `TestSink` (records what it saw into a named [`Probe`]) and `Capture` (keeps every packet
//! of any sample type, as f64, in a named [`Captured`]).

use neuropipe_core::prelude::*;
use neuropipe_core::{Pipeline, PipelineConfig};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// What a `TestSink` saw.
#[derive(Default)]
pub struct Probe {
    /// Headers of the packets, in arrival order.
    pub headers: Mutex<Vec<PacketHeader>>,
    /// First sample of each packet.
    pub first_samples: Mutex<Vec<f32>>,
    /// Whether `finish` ran.
    pub flushed: AtomicBool,
    /// Packets received.
    pub packets: AtomicU64,
    /// Wake-ups without a packet (control messages).
    pub nones: AtomicU64,
}

fn probes() -> &'static Mutex<HashMap<String, Arc<Probe>>> {
    static P: OnceLock<Mutex<HashMap<String, Arc<Probe>>>> = OnceLock::new();
    P.get_or_init(Default::default)
}

/// The probe named `name` (created on first use; shared by every sink naming it).
pub fn probe(name: &str) -> Arc<Probe> {
    probes()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_string())
        .or_default()
        .clone()
}

/// Parameters of `TestSource`.
#[derive(StageParams)]
pub struct TestSourceParams {
    /// packets to send
    #[param(default = 10, min = 0, max = 1u64 << 40)]
    pub packets: u64,
    /// frames per packet
    #[param(default = 4, min = 1, max = 4096)]
    pub frames: usize,
    /// channels
    #[param(default = 2, min = 1, max = 256)]
    pub channels: usize,
    /// fail (Fatal) before sending this packet
    #[param(min = 0, max = 1u64 << 40)]
    pub fail_at: Option<u64>,
    /// wait between packets (ms)
    #[param(min = 0.0, max = 1e6)]
    pub interval_ms: Option<f64>,
}

struct TestSource {
    pool: MemoryPool<VoltageEegPacket>,
    out: Output<VoltageEegPacket>,
    p: TestSourceParams,
    sent: u64,
}

impl DataPlaneStage for TestSource {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let (frames, channels) = (self.p.frames, self.p.channels);
        if self.sent == self.p.packets {
            return Err(StageError::QueueClosed);
        }
        if Some(self.sent) == self.p.fail_at {
            return Err(StageError::fatal("source failed on purpose"));
        }
        if let Some(ms) = self.p.interval_ms {
            tokio::time::sleep(Duration::from_secs_f64(ms / 1e3)).await;
        }
        let mut p = self.pool.acquire().await;
        p.set_shape(frames, channels)?;
        p.header.sequence = self.sent;
        p.header.first_frame = self.sent * frames as u64;
        p.header.timestamp = ctx.clock().now_ns();
        let base = (self.sent * frames as u64) as f32;
        for (i, s) in p.samples_mut().iter_mut().enumerate() {
            *s = base + (i / channels) as f32;
        }
        self.sent += 1;
        self.out.send(p).await
    }
}

fn build_source(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: TestSourceParams = b.parse_params()?;
    let info = StreamInfo::new("test", 1000.0, p.channels, "uV", p.frames, PayloadKind::F32);
    let info = b.source_stream(info)?;
    let pool = b.pool::<VoltageEegPacket>(p.frames, p.channels)?;
    let out = b.output::<VoltageEegPacket>("out", info)?;
    Ok(BoxedStage::new(TestSource {
        pool,
        out,
        p,
        sent: 0,
    }))
}

/// Parameters of `TestAdd`.
#[derive(StageParams)]
pub struct TestAddParams {
    /// value added to every sample (13 is rejected, 666 is fatal)
    #[param(default = 0.0, min = -1e9, max = 1e9, live)]
    pub add: f64,
    /// a parameter that cannot change while running
    #[param(default = 0.0, min = -1e9, max = 1e9)]
    pub fixed: f64,
}

struct TestAdd {
    add: f32,
    input: Input<VoltageEegPacket>,
    out: Output<VoltageEegPacket>,
}

impl DataPlaneStage for TestAdd {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(mut p) = self.input.recv().await? else {
            return Ok(());
        };
        for s in p.samples_mut() {
            *s += self.add;
        }
        self.out.send(p).await
    }
    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        let Some(u) = msg.update::<TestAddParams>()? else {
            return Ok(Handled::Default);
        };
        let TestAddParamsUpdate::Add(x) = u;
        if x == 13.0 {
            return Err(StageError::bad_param("13 is unlucky"));
        }
        if x == 666.0 {
            return Err(StageError::fatal("cursed value"));
        }
        self.add = x as f32;
        Ok(Handled::update::<TestAddParams>(&u))
    }
}

fn build_add(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: TestAddParams = b.parse_params()?;
    let input = b.input::<VoltageEegPacket>("in")?;
    let out = b.output("out", input.stream().clone())?;
    Ok(BoxedStage::new(TestAdd {
        add: p.add as f32,
        input,
        out,
    }))
}

/// Parameters of `TestSink`.
#[derive(StageParams)]
pub struct TestSinkParams {
    /// name of the probe that records what arrives
    pub probe: String,
    /// time spent per packet (ms)
    #[param(min = 0.0, max = 1e6)]
    pub delay_ms: Option<f64>,
    /// fail (Fatal) on this packet
    #[param(min = 0, max = 1u64 << 40)]
    pub fail_at: Option<u64>,
    /// panic on this packet
    #[param(min = 0, max = 1u64 << 40)]
    pub panic_at: Option<u64>,
    /// overwrite every sample with -1 (copy-on-write of a shared packet)
    #[param(default = false)]
    pub mutate: bool,
}

struct TestSink {
    probe: Arc<Probe>,
    input: Input<VoltageEegPacket>,
    p: TestSinkParams,
}

impl DataPlaneStage for TestSink {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(mut p) = self.input.recv().await? else {
            self.probe.nones.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        let n = self.probe.packets.fetch_add(1, Ordering::Relaxed);
        if Some(n) == self.p.panic_at {
            panic!("sink panicked on purpose");
        }
        if Some(n) == self.p.fail_at {
            return Err(StageError::fatal("sink failed on purpose"));
        }
        if self.p.mutate {
            let d = p.make_mut().await;
            for s in d.samples_mut() {
                *s = -1.0;
            }
        }
        let lock = |m: &'static str| StageError::fatal(format!("probe {m} lock poisoned"));
        self.probe
            .headers
            .lock()
            .map_err(|_| lock("headers"))?
            .push(p.header);
        self.probe
            .first_samples
            .lock()
            .map_err(|_| lock("samples"))?
            .push(p.samples()[0]);
        if let Some(ms) = self.p.delay_ms {
            tokio::time::sleep(Duration::from_secs_f64(ms / 1e3)).await;
        }
        Ok(())
    }
    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        self.probe.flushed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn build_sink(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: TestSinkParams = b.parse_params()?;
    Ok(BoxedStage::new(TestSink {
        probe: probe(&p.probe),
        input: b.input("in")?,
        p,
    }))
}

/// What a `Capture` sink received.
#[derive(Default)]
pub struct Captured {
    /// Headers, in arrival order.
    pub headers: Vec<PacketHeader>,
    /// Every sample, frame-major, as f64.
    pub samples: Vec<f64>,
    /// Channels of the stream.
    pub channels: usize,
    /// The stream arriving on the input.
    pub stream: Option<StreamInfo>,
}

impl Captured {
    /// Frames received.
    pub fn frames(&self) -> usize {
        self.headers.iter().map(|h| h.frames()).sum()
    }

    /// Each packet's header with its samples (frame-major), in arrival order.
    pub fn packets(&self) -> impl Iterator<Item = (PacketHeader, &[f64])> + '_ {
        let mut at = 0;
        self.headers.iter().map(move |h| {
            let n = h.frames() * self.channels;
            let s = &self.samples[at..at + n];
            at += n;
            (*h, s)
        })
    }
}

fn captures() -> &'static Mutex<HashMap<String, Arc<Mutex<Captured>>>> {
    static C: OnceLock<Mutex<HashMap<String, Arc<Mutex<Captured>>>>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// The capture named `name` (created empty on first use; a `Capture` stage resets it when
/// built).
pub fn capture(name: &str) -> Arc<Mutex<Captured>> {
    captures()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_string())
        .or_default()
        .clone()
}

/// Parameters of `Capture`.
#[derive(StageParams)]
pub struct CaptureParams {
    /// name of the capture to fill
    pub name: String,
}

struct Capture<S: Sample>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    into: Arc<Mutex<Captured>>,
}

impl<S: Sample> DataPlaneStage for Capture<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(p) = self.input.recv().await? else {
            return Ok(());
        };
        let mut c = self
            .into
            .lock()
            .map_err(|_| StageError::fatal("capture lock poisoned"))?;
        c.headers.push(p.header);
        c.samples.extend(p.samples().iter().map(|s| s.to_f64()));
        Ok(())
    }
}

fn build_capture(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: CaptureParams = b.parse_params()?;
    let info = b.input_stream("in")?.clone();
    let epochs = info.epochs.is_some();
    let into = capture(&p.name);
    *into.lock().unwrap_or_else(|e| e.into_inner()) = Captured {
        channels: info.channel_count(),
        stream: Some(info),
        ..Default::default()
    };
    with_sample!(b.input_kind("in")?, S => {
        // Captures continuous streams and epoch streams alike.
        let input = if epochs {
            b.epochs_input::<Samples<S>>("in")?
        } else {
            b.input::<Samples<S>>("in")?
        };
        Ok(BoxedStage::new(Capture::<S> { input, into }))
    })
}

/// `TestSource`, `TestAdd`, `TestSink` and `Capture` added to `r`.
pub fn register(r: &mut Registry) -> &mut Registry {
    r.register(
        StageSpec::new(
            "TestSource",
            "emits `packets` numbered packets",
            build_source,
        )
        .output(PortSpec::of("out", PayloadKind::F32))
        .with_stream_info()
        .params::<TestSourceParams>()
        .with_pool(),
    )
    .register(
        StageSpec::new("TestAdd", "adds `add` in place", build_add)
            .input(PortSpec::of("in", PayloadKind::F32).in_place())
            .output(PortSpec::of("out", PayloadKind::F32))
            .params::<TestAddParams>(),
    )
    .register(
        StageSpec::new("TestSink", "records headers into a probe", build_sink)
            .input(PortSpec::of("in", PayloadKind::F32))
            .params::<TestSinkParams>(),
    )
    .register(
        StageSpec::new("Capture", "test sink keeping everything", build_capture)
            .input(PortSpec::any("in"))
            .params::<CaptureParams>(),
    )
}

/// A registry with only the test stages.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    register(&mut r);
    r
}

/// Builds a pipeline from JSON with the test registry (panics with the errors if invalid).
pub fn build(v: Value) -> Pipeline {
    let cfg = PipelineConfig::from_value(&v).unwrap_or_else(|e| panic!("{e}"));
    Pipeline::build(&cfg, &registry()).unwrap_or_else(|e| panic!("{e}"))
}

/// Validation errors of a pipeline, as `path: message` lines.
pub fn errors(text: &str) -> Vec<String> {
    let cfg = match PipelineConfig::parse(text) {
        Ok(c) => c,
        Err(e) => return e.0.iter().map(|e| e.to_string()).collect(),
    };
    match Pipeline::build(&cfg, &registry()) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

/// Checks frames arrived exactly once, in order.
pub fn assert_continuous(headers: &[PacketHeader], packets: u64, frames: u64) {
    assert_eq!(headers.len() as u64, packets, "packet count");
    for (i, h) in headers.iter().enumerate() {
        assert_eq!(h.sequence, i as u64, "sequence of packet {i}");
        assert_eq!(
            h.first_frame,
            i as u64 * frames,
            "first_frame of packet {i}"
        );
    }
}
