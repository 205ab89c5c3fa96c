//! Runtime benchmarks: pool lease, one queue hop, a 5-stage pipeline at 64 ch × 32 frames.
//!
//! `cargo bench -p neuropipe-core --bench runtime` runs the criterion groups (throughput) and
//! then prints end-to-end latency percentiles for paced traffic (the realistic case: every
//! packet wakes an idle stage), measured by the runtime's own sink histogram.

use criterion::{criterion_group, Criterion, Throughput};
use neuropipe_core::*;
use serde_json::json;
use std::time::Duration;

const CH: usize = 64;
const FR: usize = 32;

struct Src {
    pool: MemoryPool<VoltageEegPacket>,
    out: Output<VoltageEegPacket>,
    n: u64,
    limit: u64,
    interval: Option<Duration>,
}
impl DataPlaneStage for Src {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        if self.n == self.limit {
            return Err(StageError::QueueClosed);
        }
        if let Some(iv) = self.interval {
            let due = ctx.clock().instant_at(0) + iv * (self.n as u32 + 1);
            if !ctx.sleep_until(due).await {
                return Ok(());
            }
        }
        let mut p = self.pool.acquire().await;
        p.header.sequence = self.n;
        p.header.first_frame = self.n * FR as u64;
        p.samples_mut()[0] = self.n as f32;
        self.n += 1;
        self.out.send(p).await
    }
}

struct Pass {
    input: Input<VoltageEegPacket>,
    out: Option<Output<VoltageEegPacket>>,
}
impl DataPlaneStage for Pass {
    async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(mut p) = self.input.recv().await? else {
            return Ok(());
        };
        for s in p.samples_mut() {
            *s = *s * 0.999 + 0.001;
        }
        match &mut self.out {
            Some(o) => o.send(p).await,
            None => Ok(()),
        }
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(
        StageSpec::new("Src", "", |b| {
            let limit = b.params().i64("packets")? as u64;
            let interval = b
                .params()
                .opt_f64("interval_us")
                .map(|u| Duration::from_nanos((u * 1e3) as u64));
            let info = StreamInfo::new("b", 1000.0, CH, "uV", FR, PayloadKind::F32);
            let pool = b.pool(FR, CH)?;
            let out = b.output("out", info)?;
            Ok(BoxedStage::new(Src {
                pool,
                out,
                n: 0,
                limit,
                interval,
            }))
        })
        .output(PortSpec::of("out", PayloadKind::F32))
        .param(ParamSpec::int("packets", 0, i64::MAX))
        .param(ParamSpec::float("interval_us", 0.0, 1e9).optional()),
    );
    r.register(
        StageSpec::new("Pass", "", |b| {
            let info = b.input_stream("in")?.clone();
            let input = b.input("in")?;
            let out = if b.params().bool("sink")? {
                None
            } else {
                Some(b.output("out", info)?)
            };
            Ok(BoxedStage::new(Pass { input, out }))
        })
        .input(PortSpec::of("in", PayloadKind::F32).in_place())
        .output(PortSpec::of("out", PayloadKind::F32).optional())
        .param(ParamSpec::bool("sink").default(false)),
    );
    r
}

/// A chain of `stages` stages (source, stages-2 in-place, sink).
fn chain(stages: usize, packets: u64, interval_us: Option<f64>) -> Pipeline {
    let mut st = vec![
        json!({"id": "s0", "type": "Src", "params": {"packets": packets, "interval_us": interval_us}}),
    ];
    if interval_us.is_none() {
        st[0]["params"]
            .as_object_mut()
            .unwrap()
            .remove("interval_us");
    }
    let mut links = vec![];
    for i in 1..stages {
        let sink = i == stages - 1;
        st.push(json!({"id": format!("s{i}"), "type": "Pass", "params": {"sink": sink}}));
        links.push(json!(format!("s{} -> s{i}", i - 1)));
    }
    let cfg = PipelineConfig::from_value(&json!({"stages": st, "links": links})).unwrap();
    Pipeline::build(&cfg, &registry()).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    build_runtime(Some(2)).unwrap()
}

fn bench_pool(c: &mut Criterion) {
    let pool = MemoryPool::<VoltageEegPacket>::new("p", 64, FR, CH);
    let mut g = c.benchmark_group("pool");
    g.throughput(Throughput::Elements(1));
    g.bench_function("try_acquire+release", |b| {
        b.iter(|| drop(std::hint::black_box(pool.try_acquire())))
    });
    g.finish();
}

fn bench_pipelines(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("pipeline_64ch_32fr");
    g.sample_size(10);
    const N: u64 = 20_000;
    g.throughput(Throughput::Elements(N));
    for stages in [2, 5] {
        g.bench_function(format!("{stages}_stages_per_packet"), |b| {
            b.iter(|| rt.block_on(chain(stages, N, None).run()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_pool, bench_pipelines);

/// Latency of paced traffic: one packet every `interval` through `stages` stages, on
/// `threads` worker threads.
fn latency(stages: usize, interval_us: f64, packets: u64, threads: usize) -> (u64, u64, u64) {
    let rt = build_runtime(Some(threads)).unwrap();
    let report = rt.block_on(chain(stages, packets, Some(interval_us)).run());
    let sink = report.snapshot.stages.last().unwrap();
    (
        sink.latency_p50_ns.unwrap(),
        sink.latency_p99_ns.unwrap(),
        sink.latency_max_ns.unwrap(),
    )
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    println!("\nend-to-end latency, paced (source emit -> sink recv), 64 ch x 32 frames");
    println!(
        "{:<34} {:>10} {:>10} {:>10}",
        "case", "p50 µs", "p99 µs", "max µs"
    );
    for (name, stages, iv, threads) in [
        ("one hop, 1 packet/ms", 2, 1000.0, 2),
        ("5 stages (4 hops), 1 packet/ms", 5, 1000.0, 2),
        ("one hop, 1 packet/4 ms", 2, 4000.0, 2),
        ("one hop, 1 packet/ms, 1 thread", 2, 1000.0, 1),
        ("5 stages, 1 packet/ms, 1 thread", 5, 1000.0, 1),
    ] {
        let n = (3.0e6 / iv) as u64;
        let (p50, p99, max) = latency(stages, iv, n, threads);
        println!(
            "{name:<34} {:>10.1} {:>10.1} {:>10.1}",
            p50 as f64 / 1e3,
            p99 as f64 / 1e3,
            max as f64 / 1e3
        );
    }
}
