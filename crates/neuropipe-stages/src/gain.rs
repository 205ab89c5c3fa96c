//! `Gain`: multiplies every sample by a live-adjustable factor, in place (zero-copy).

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
    with_sample!(b.input_kind("in")?, S => {
        let input = b.input::<Samples<S>>("in")?;
        let out = b.output::<Samples<S>>("out", input.stream().derived())?;
        Ok(BoxedStage::new(Gain::<S> { gain, input, out }))
    })
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
    S: Sample,
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(mut pkt) = self.input.recv().await? else {
            return Ok(());
        };
        // Through f64 (exact for every sample type); i32 counts round to nearest and
        // saturate at their range.
        let g = self.gain;
        for s in pkt.samples_mut() {
            *s = S::from_f64(s.to_f64() * g);
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
