//! A custom stage, registered next to the built-in ones and run from JSON.
//!
//! `DcBlock` removes each channel's slowly varying offset in place (a one-pole high-pass,
//! `y = x − m`, `m += α (x − m)`), with `alpha` changeable while running.
//!
//! Run: `cargo run --release --example custom_stage`

use neuropipe_core::prelude::*;
use neuropipe_core::{Outcome, Pipeline, PipelineConfig};
use serde_json::{json, Value};

// --- the stage (this block is the README's "Writing a stage" example) ---
#[derive(StageParams)]
struct DcBlockParams {
    /// Smoothing factor per frame.
    #[param(default = 0.001, min = 0.0, max = 1.0, live)]
    alpha: f64,
    /// Offset assumed before the first sample, in µV.
    #[param(default = 0.0)]
    initial_uv: f64,
}

struct DcBlock {
    p: DcBlockParams,
    mean: Vec<f32>, // per channel, allocated once when built
    input: Input<VoltageEegPacket>,
    output: Output<VoltageEegPacket>,
}

impl DataPlaneStage for DcBlock {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(mut pkt) = self.input.recv().await? else {
            return Ok(()); // woken for a control message: the runtime delivers it
        };
        let (ch, alpha) = (pkt.header.channels as usize, self.p.alpha as f32);
        for frame in pkt.samples_mut().chunks_exact_mut(ch) {
            for (x, m) in frame.iter_mut().zip(&mut self.mean) {
                *m += alpha * (*x - *m);
                *x -= *m;
            }
        }
        self.output.send(pkt).await // waits while downstream is full
    }
    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        msg.apply(&mut self.p) // `alpha` arrives typed; pause/resume: the runtime's default
    }
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: DcBlockParams = b.parse_params()?;
    let input = b.input::<VoltageEegPacket>("in")?;
    let mean = vec![p.initial_uv as f32; input.stream().channel_count()];
    let output = b.output("out", input.stream().clone())?;
    Ok(BoxedStage::new(DcBlock {
        p,
        mean,
        input,
        output,
    }))
}
// --- end of the stage ---

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reg = neuropipe_stages::registry();
    reg.register(
        StageSpec::new("DcBlock", "Removes per-channel DC offset", build)
            .input(PortSpec::of("in", PayloadKind::F32).in_place())
            .output(PortSpec::of("out", PayloadKind::F32))
            .params::<DcBlockParams>(),
    );
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
