//! A custom stage in a few dozen lines: registered next to the built-in ones and run from JSON.
//!
//! `DcBlock` removes each channel's slowly varying offset in place (a one-pole high-pass,
//! `y = x − m`, `m += α (x − m)`), with `alpha` changeable while running.
//!
//! Run: `cargo run --release --example custom_stage`

use neuropipe_core::*;
use neuropipe_stages::registry;
use serde_json::{json, Value};

struct DcBlock {
    alpha: f32,
    mean: Vec<f32>, // per channel, allocated once at build time
    input: InputId<VoltageEegPacket>,
    output: OutputId<VoltageEegPacket>,
}

impl DataPlaneStage for DcBlock {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(mut pkt) = ctx.input(self.input).recv().await? else {
            return Ok(()); // woken for a control message
        };
        let ch = pkt.header.channels as usize;
        for frame in pkt.samples_mut().chunks_exact_mut(ch) {
            for (x, m) in frame.iter_mut().zip(&mut self.mean) {
                *m += self.alpha * (*x - *m);
                *x -= *m;
            }
        }
        ctx.output(self.output).send(pkt).await
    }

    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        match msg {
            // Range and type were checked against the ParamSpec before we see the value.
            ControlMsg::UpdateParam(k, v) if k == "alpha" => {
                self.alpha = v.as_f64().unwrap_or(0.0) as f32;
                Ok(Handled::Applied(v.clone()))
            }
            _ => Ok(Handled::Default), // Pause/Resume: the runtime's default
        }
    }
}

fn dc_block_spec() -> StageSpec {
    StageSpec::new(
        "DcBlock",
        "Removes per-channel DC offset (one-pole high-pass)",
        |b| {
            let info = b.input_stream("in")?.clone();
            let stage = DcBlock {
                alpha: b.params().f64("alpha")? as f32,
                mean: vec![0.0; info.channel_count()],
                input: b.input("in")?,
                output: b.output("out", info)?,
            };
            Ok(BoxedStage::new(stage))
        },
    )
    .input(PortSpec::of("in", PayloadKind::F32).in_place())
    .output(PortSpec::of("out", PayloadKind::F32))
    .param(
        ParamSpec::float("alpha", 0.0, 1.0)
            .default(0.001)
            .live()
            .doc("smoothing factor per frame"),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reg = registry();
    reg.register(dc_block_spec());
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"realtime": false, "duration_s": 60, "dc_offset_uv": 20000}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "dc", "type": "DcBlock", "params": {"alpha": 0.01}},
            {"id": "check", "type": "ContinuityCheck", "params": {"expect_frames": 15000}}
        ],
        "links": ["eeg -> volts", "volts -> dc", "dc -> check"]
    }))?;
    let pipeline = Pipeline::build(&cfg, &reg)?;
    let handle = pipeline.handle();
    let rt = tokio::runtime::Runtime::new()?;
    let report = rt.block_on(async {
        let run = tokio::spawn(pipeline.run());
        let applied = handle.set_param("dc", "alpha", Value::from(0.02)).await;
        println!("set dc.alpha = 0.02: {applied:?}");
        run.await
    })?;
    for s in &report.snapshot.stages {
        println!(
            "{:<6} {:<16} frames in {:>6} out {:>6}",
            s.id, s.kind, s.frames_in, s.frames_out
        );
    }
    match report.outcome {
        Outcome::Finished => Ok(()),
        Outcome::Failed { stage, message } => Err(format!("{stage}: {message}").into()),
    }
}
