//! After start-up, a running pipeline allocates nothing per packet: a counting global
//! allocator watches a pipeline with a transforming stage, an in-place stage, fan-out to a
//! read-only sink and an in-place consumer (copy-on-write from the pool), and a leaky link.

use neuropipe_core::*;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

static SUNK: AtomicU64 = AtomicU64::new(0);

struct Src {
    pool: MemoryPool<RawEegPacket>,
    out: Output<RawEegPacket>,
    n: u64,
}
impl DataPlaneStage for Src {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let mut p = self.pool.acquire().await;
        p.header.sequence = self.n;
        p.header.first_frame = self.n * 32;
        p.header.timestamp = ctx.clock().now_ns();
        for (i, s) in p.samples_mut().iter_mut().enumerate() {
            *s = i as i32;
        }
        self.n += 1;
        self.out.send(p).await
    }
}

struct ToF32 {
    pool: MemoryPool<VoltageEegPacket>,
    input: Input<RawEegPacket>,
    out: Output<VoltageEegPacket>,
}
impl DataPlaneStage for ToF32 {
    async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(raw) = self.input.recv().await? else {
            return Ok(());
        };
        let mut v = self.pool.acquire().await;
        v.header = raw.header;
        for (d, s) in v.samples_mut().iter_mut().zip(raw.samples()) {
            *d = *s as f32 * 0.5;
        }
        drop(raw);
        self.out.send(v).await
    }
}

struct Scale {
    input: Input<VoltageEegPacket>,
    out: Option<Output<VoltageEegPacket>>,
}
impl DataPlaneStage for Scale {
    async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(mut p) = self.input.recv().await? else {
            return Ok(());
        };
        for s in p.samples_mut() {
            *s *= 2.0;
        }
        match &mut self.out {
            Some(o) => o.send(p).await,
            None => {
                SUNK.fetch_add(1, Relaxed);
                Ok(())
            }
        }
    }
}

struct Sink {
    input: Input<VoltageEegPacket>,
}
impl DataPlaneStage for Sink {
    async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        if let Some(p) = self.input.recv().await? {
            std::hint::black_box(p.samples()[0]);
        }
        Ok(())
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(
        StageSpec::new("Src", "", |b| {
            let info = StreamInfo::new("t", 1000.0, 64, "counts", 32, PayloadKind::I32);
            let pool = b.pool(32, 64)?;
            let out = b.output("out", info)?;
            Ok(BoxedStage::new(Src { pool, out, n: 0 }))
        })
        .output(PortSpec::of("out", PayloadKind::I32)),
    );
    r.register(
        StageSpec::new("ToF32", "", |b| {
            let info = b.input_stream("in")?.with_payload(PayloadKind::F32, "uV");
            let pool = b.pool(32, 64)?;
            let input = b.input("in")?;
            let out = b.output("out", info)?;
            Ok(BoxedStage::new(ToF32 { pool, input, out }))
        })
        .input(PortSpec::of("in", PayloadKind::I32))
        .output(PortSpec::of("out", PayloadKind::F32)),
    );
    r.register(
        StageSpec::new("Scale", "", |b| {
            let info = b.input_stream("in")?.clone();
            let input = b.input("in")?;
            let out = if b.params().bool("sink")? {
                None
            } else {
                Some(b.output("out", info)?)
            };
            Ok(BoxedStage::new(Scale { input, out }))
        })
        .input(PortSpec::of("in", PayloadKind::F32).in_place())
        .output(PortSpec::of("out", PayloadKind::F32).optional())
        .param(ParamSpec::bool("sink").default(false)),
    );
    r.register(
        StageSpec::new("Sink", "", |b| {
            Ok(BoxedStage::new(Sink {
                input: b.input("in")?,
            }))
        })
        .input(PortSpec::of("in", PayloadKind::F32)),
    );
    r
}

#[test]
fn running_pipeline_allocates_nothing_per_packet() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "src", "type": "Src"},
            {"id": "conv", "type": "ToF32"},
            {"id": "scale", "type": "Scale"},
            {"id": "rec", "type": "Sink"},
            {"id": "display", "type": "Sink"},
            {"id": "cow", "type": "Scale", "params": {"sink": true}}
        ],
        "links": [
            "src -> conv", "conv -> scale",
            "scale.out -> rec.in",
            {"from": "scale.out", "to": "display.in", "capacity": 2, "policy": "drop-oldest"},
            "scale.out -> cow.in"
        ]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &registry()).unwrap();
    let handle = pipeline.handle();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let run = rt.spawn(pipeline.run());
    // Start-up: let every task, queue and timer reach its steady state.
    while SUNK.load(Relaxed) < 20_000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (a0, p0) = (neuropipe_testkit::total_allocations(), SUNK.load(Relaxed));
    std::thread::sleep(Duration::from_millis(500));
    let (a1, p1) = (neuropipe_testkit::total_allocations(), SUNK.load(Relaxed));
    handle.stop();
    let report = rt.block_on(run).unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    let packets = p1 - p0;
    assert!(
        packets > 10_000,
        "pipeline made progress: {packets} packets"
    );
    assert_eq!(a1 - a0, 0, "allocations while {packets} packets flowed");
}
