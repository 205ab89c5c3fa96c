//! `Gain`: multiplies every sample by a live-adjustable factor, in place (zero-copy).

use crate::util::with_sample_type;
use neuropipe_core::{
    BoxedStage, BuildError, ControlMsg, DataPlaneStage, Handled, InputId, OutputId, ParamSpec,
    Payload, PortSpec, Samples, StageBuilder, StageContext, StageError, StageSpec,
};
use serde_json::Value;

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new("Gain", "Multiplies every sample by `gain`, in place", build)
        .input(PortSpec::any("in").in_place().doc("f32 or f64 samples"))
        .output(PortSpec::any("out").doc("same packets, scaled"))
        .param(
            ParamSpec::float("gain", -1e6, 1e6)
                .default(1.0)
                .live()
                .doc("factor"),
        )
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let gain = b.params().f64("gain")?;
    let kind = b.input_kind("in")?;
    let info = b.input_stream("in")?.clone();
    with_sample_type!(kind, S => {
        let input = b.input::<Samples<S>>("in")?;
        let out = b.output::<Samples<S>>("out", info)?;
        Ok(BoxedStage::new(Gain::<S> { gain, input, out }))
    })
}

/// Sample types `Gain` can scale.
pub trait Scalable: Copy + Send + Sync + 'static {
    /// `self × g`.
    fn scale(self, g: f64) -> Self;
}
impl Scalable for f32 {
    fn scale(self, g: f64) -> Self {
        self * g as f32
    }
}
impl Scalable for f64 {
    fn scale(self, g: f64) -> Self {
        self * g
    }
}
impl Scalable for i32 {
    fn scale(self, g: f64) -> Self {
        (self as f64 * g)
            .round()
            .clamp(i32::MIN as f64, i32::MAX as f64) as i32
    }
}

/// The `Gain` stage.
pub struct Gain<S: 'static> {
    gain: f64,
    input: InputId<Samples<S>>,
    out: OutputId<Samples<S>>,
}

impl<S> DataPlaneStage for Gain<S>
where
    S: neuropipe_core::Sample + Scalable,
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(mut pkt) = ctx.input(self.input).recv().await? else {
            return Ok(());
        };
        let g = self.gain;
        for s in pkt.samples_mut() {
            *s = s.scale(g);
        }
        ctx.output(self.out).send(pkt).await
    }

    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        match msg {
            ControlMsg::UpdateParam(k, v) if k == "gain" => {
                self.gain = v
                    .as_f64()
                    .ok_or_else(|| StageError::bad_param("`gain` must be a number"))?;
                Ok(Handled::Applied(Value::from(self.gain)))
            }
            _ => Ok(Handled::Default),
        }
    }
}
