//! `Gain`: multiplies every sample by a live-adjustable factor, in place (zero-copy).

use crate::util::with_sample_type;
use neuropipe_core::prelude::*;

/// Parameters of `Gain`.
#[derive(StageParams)]
pub struct GainParams {
    /// factor
    #[param(default = 1.0, min = -1e6, max = 1e6, live)]
    pub gain: f64,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new("Gain", "Multiplies every sample by `gain`, in place", build)
        .input(PortSpec::any("in").in_place().doc("f32 or f64 samples"))
        .output(PortSpec::any("out").doc("same packets, scaled"))
        .params::<GainParams>()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let GainParams { gain } = b.parse_params()?;
    with_sample_type!(b.input_kind("in")?, S => {
        let input = b.input::<Samples<S>>("in")?;
        let out = b.output::<Samples<S>>("out", input.stream().clone())?;
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
pub struct Gain<S: 'static>
where
    Samples<S>: Payload,
{
    gain: f64,
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
}

impl<S> DataPlaneStage for Gain<S>
where
    S: Sample + Scalable,
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(mut pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let g = self.gain;
        for s in pkt.samples_mut() {
            *s = s.scale(g);
        }
        self.out.send(pkt).await
    }

    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        let Some(u) = msg.update::<GainParams>()? else {
            return Ok(Handled::Default);
        };
        match u {
            GainParamsUpdate::Gain(g) => self.gain = g,
        }
        Ok(Handled::update::<GainParams>(&u))
    }
}
