//! Test stages and helpers shared by the runtime's integration tests.
#![allow(dead_code)]

use neuropipe_core::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// What a `TestSink` saw.
#[derive(Default)]
pub struct Probe {
    pub headers: Mutex<Vec<PacketHeader>>,
    pub first_samples: Mutex<Vec<f32>>,
    pub flushed: AtomicBool,
    pub packets: AtomicU64,
    pub nones: AtomicU64,
}

fn probes() -> &'static Mutex<HashMap<String, Arc<Probe>>> {
    static P: OnceLock<Mutex<HashMap<String, Arc<Probe>>>> = OnceLock::new();
    P.get_or_init(Default::default)
}

/// The probe named `name` (created on first use).
pub fn probe(name: &str) -> Arc<Probe> {
    probes()
        .lock()
        .unwrap()
        .entry(name.to_string())
        .or_default()
        .clone()
}

// ---------------------------------------------------------------- TestSource
struct TestSource {
    pool: MemoryPool<VoltageEegPacket>,
    out: OutputId<VoltageEegPacket>,
    packets: u64,
    frames: usize,
    channels: usize,
    sent: u64,
    fail_at: Option<u64>,
    interval: Option<Duration>,
}

impl DataPlaneStage for TestSource {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        if self.sent == self.packets {
            return Err(StageError::QueueClosed);
        }
        if Some(self.sent) == self.fail_at {
            return Err(StageError::fatal("source failed on purpose"));
        }
        if let Some(iv) = self.interval {
            tokio::time::sleep(iv).await;
        }
        let mut p = self.pool.acquire().await;
        p.set_shape(self.frames, self.channels)?;
        p.header.sequence = self.sent;
        p.header.first_frame = self.sent * self.frames as u64;
        p.header.timestamp = ctx.clock().now_ns();
        let base = (self.sent * self.frames as u64) as f32;
        for (i, s) in p.samples_mut().iter_mut().enumerate() {
            *s = base + (i / self.channels) as f32;
        }
        self.sent += 1;
        ctx.output(self.out).send(p).await
    }
}

fn build_source(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p = b.params();
    let (packets, frames, channels) = (
        p.i64("packets")? as u64,
        p.usize("frames")?,
        p.usize("channels")?,
    );
    let fail_at = p.get("fail_at").and_then(Value::as_u64);
    let interval = p
        .opt_f64("interval_ms")
        .map(|ms| Duration::from_secs_f64(ms / 1e3));
    let info = StreamInfo::new("test", 1000.0, channels, "uV", frames, PayloadKind::F32);
    let info = b.source_stream(info)?;
    let pool = b.pool::<VoltageEegPacket>(frames, channels)?;
    let out = b.output::<VoltageEegPacket>("out", info)?;
    Ok(BoxedStage::new(TestSource {
        pool,
        out,
        packets,
        frames,
        channels,
        sent: 0,
        fail_at,
        interval,
    }))
}

// ---------------------------------------------------------------- TestAdd (in place)
struct TestAdd {
    add: f32,
    input: InputId<VoltageEegPacket>,
    out: OutputId<VoltageEegPacket>,
}

impl DataPlaneStage for TestAdd {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(mut p) = ctx.input(self.input).recv().await? else {
            return Ok(());
        };
        for s in p.samples_mut() {
            *s += self.add;
        }
        ctx.output(self.out).send(p).await
    }
    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        match msg {
            ControlMsg::UpdateParam(k, v) if k == "add" => {
                let x = v.as_f64().unwrap_or(0.0);
                if x == 13.0 {
                    return Err(StageError::bad_param("13 is unlucky"));
                }
                if x == 666.0 {
                    return Err(StageError::fatal("cursed value"));
                }
                self.add = x as f32;
                Ok(Handled::Applied(json!(x)))
            }
            _ => Ok(Handled::Default),
        }
    }
}

fn build_add(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let add = b.params().f64("add")? as f32;
    let info = b.input_stream("in")?.clone();
    let input = b.input("in")?;
    let out = b.output("out", info)?;
    Ok(BoxedStage::new(TestAdd { add, input, out }))
}

// ---------------------------------------------------------------- TestSink
struct TestSink {
    probe: Arc<Probe>,
    input: InputId<VoltageEegPacket>,
    delay: Option<Duration>,
    fail_at: Option<u64>,
    panic_at: Option<u64>,
    mutate: bool,
}

impl DataPlaneStage for TestSink {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(mut p) = ctx.input(self.input).recv().await? else {
            self.probe.nones.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        let n = self.probe.packets.fetch_add(1, Ordering::Relaxed);
        if Some(n) == self.panic_at {
            panic!("sink panicked on purpose");
        }
        if Some(n) == self.fail_at {
            return Err(StageError::fatal("sink failed on purpose"));
        }
        if self.mutate {
            let d = p.make_mut().await;
            for s in d.samples_mut() {
                *s = -1.0;
            }
        }
        self.probe.headers.lock().unwrap().push(p.header);
        self.probe
            .first_samples
            .lock()
            .unwrap()
            .push(p.samples()[0]);
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        Ok(())
    }
    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        self.probe.flushed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn build_sink(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p = b.params();
    let probe = probe(p.str("probe")?);
    let delay = p
        .opt_f64("delay_ms")
        .map(|ms| Duration::from_secs_f64(ms / 1e3));
    let fail_at = p.get("fail_at").and_then(Value::as_u64);
    let panic_at = p.get("panic_at").and_then(Value::as_u64);
    let mutate = p.bool("mutate")?;
    let input = b.input("in")?;
    Ok(BoxedStage::new(TestSink {
        probe,
        input,
        delay,
        fail_at,
        panic_at,
        mutate,
    }))
}

/// A registry with the test stages.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(
        StageSpec::new(
            "TestSource",
            "emits `packets` numbered packets",
            build_source,
        )
        .output(PortSpec::of("out", PayloadKind::F32))
        .with_stream_info()
        .param(ParamSpec::int("packets", 0, 1 << 40).default(10))
        .param(ParamSpec::int("frames", 1, 4096).default(4))
        .param(ParamSpec::int("channels", 1, 256).default(2))
        .param(ParamSpec::int("fail_at", 0, 1 << 40).optional())
        .param(ParamSpec::float("interval_ms", 0.0, 1e6).optional())
        .param(ParamSpec::string("pool").optional()),
    );
    r.register(
        StageSpec::new("TestAdd", "adds `add` in place", build_add)
            .input(PortSpec::of("in", PayloadKind::F32).in_place())
            .output(PortSpec::of("out", PayloadKind::F32))
            .param(ParamSpec::float("add", -1e9, 1e9).default(0.0).live())
            .param(ParamSpec::float("fixed", -1e9, 1e9).default(0.0)),
    );
    r.register(
        StageSpec::new("TestSink", "records headers into a probe", build_sink)
            .input(PortSpec::of("in", PayloadKind::F32))
            .param(ParamSpec::string("probe"))
            .param(ParamSpec::float("delay_ms", 0.0, 1e6).optional())
            .param(ParamSpec::int("fail_at", 0, 1 << 40).optional())
            .param(ParamSpec::int("panic_at", 0, 1 << 40).optional())
            .param(ParamSpec::bool("mutate").default(false)),
    );
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
