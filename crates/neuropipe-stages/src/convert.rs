//! `RawToVoltage`: raw ADC counts (i32) to voltages (µV, f32 or f64 by `sample_type`):
//! `µV = count × scale + offset`, per channel. A transforming stage: each output packet comes
//! from its own pool.
//!
//! The gain follows the source: sources of raw counts (`SimulatedEeg`, `CytonSource`) declare
//! the amplifier gain they record with, and `gain` defaults to it. A `gain` that disagrees with
//! the source's is a build error (it would scale every sample wrongly, e.g. 3× at 8 vs 24).

use crate::util::ads1299_uv_per_count;
use neuropipe_core::prelude::*;

/// Parameters of `RawToVoltage`.
#[derive(StageParams)]
pub struct RawToVoltageParams {
    /// ADS1299 PGA gain; scale = vref / (2^23 − 1) / gain × 1e6 µV per count (default: the gain the source declares, else 24; a different value is an error)
    #[param(min = 1.0, max = 24.0)]
    pub gain: Option<f64>,
    /// ADC reference voltage (V)
    #[param(default = 4.5, min = 0.1, max = 10.0)]
    pub vref: f64,
    /// µV per count, one value or one per channel (overrides gain/vref)
    #[param(min = -1e9, max = 1e9)]
    pub scale: Option<PerChannel>,
    /// µV added after scaling, one value or one per channel
    #[param(default = 0.0, min = -1e9, max = 1e9)]
    pub offset: PerChannel,
    /// sample type of the output packets: f32, or f64 for an end-to-end double-precision pipeline
    #[param(default = "f32")]
    pub sample_type: FloatKind,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "RawToVoltage",
        "Raw ADC counts (i32) to µV (f32): count × scale + offset, per channel",
        build,
    )
    .input(PortSpec::of("in", PayloadKind::I32).doc("raw counts"))
    .output(PortSpec::any("out").doc("voltages in µV (f32, or f64 with sample_type)"))
    .params::<RawToVoltageParams>()
    .with_pool()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: RawToVoltageParams = b.parse_params()?;
    let input = b.input::<RawEegPacket>("in")?;
    let input_info = input.stream().clone();
    let channels = input_info.channel_count();
    let gain = match (p.gain, input_info.adc_gain) {
        (Some(g), Some(src)) if (g - src).abs() > 1e-9 => {
            return Err(BuildError::param(
                "gain",
                format!(
                    "{g} differs from the gain the source records with ({src}): every sample would be scaled {:.3}× wrong; leave `gain` out (it follows the source) or make them equal",
                    src / g
                ),
            ))
        }
        (Some(g), _) => g,
        (None, Some(src)) => src,
        (None, None) => 24.0,
    };
    let scale: Vec<f64> = match &p.scale {
        Some(s) => s.resolve("scale", channels)?,
        None => vec![ads1299_uv_per_count(p.vref, gain); channels],
    };
    let offset: Vec<f64> = p.offset.resolve("offset", channels)?;
    let payload = PayloadKind::from(p.sample_type);
    let mut out_info = input_info.with_payload(payload, "uV");
    out_info.adc_gain = None;
    // The ADC's range in counts (declared by the source) is the range in µV.
    for (c, (s, o)) in out_info.channels.iter_mut().zip(scale.iter().zip(&offset)) {
        c.range = c.range.map(|[lo, hi]| {
            let (a, b) = (lo * s + o, hi * s + o);
            [a.min(b), a.max(b)]
        });
    }
    with_float!(p.sample_type, S => {
        let pool = b.pool::<Samples<S>>(input_info.frames_per_packet, channels)?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(RawToVoltage::<S> {
            scale: scale.iter().map(|&x| <S as Sample>::from_f64(x)).collect(),
            offset: offset.iter().map(|&x| <S as Sample>::from_f64(x)).collect(),
            pool,
            input,
            out,
        }))
    })
}

/// The `RawToVoltage` stage, producing samples of type `S`.
pub struct RawToVoltage<S: FloatSample>
where
    Samples<S>: Payload,
{
    scale: Vec<S>,
    offset: Vec<S>,
    pool: MemoryPool<Samples<S>>,
    input: Input<RawEegPacket>,
    out: Output<Samples<S>>,
}

impl<S: FloatSample> DataPlaneStage for RawToVoltage<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(raw) = self.input.recv().await? else {
            return Ok(());
        };
        let mut volts = self.pool.acquire().await;
        volts.header = raw.header;
        let ch = raw.header.channels as usize;
        volts.set_shape(raw.header.frames(), ch)?;
        for (dst, src) in volts
            .samples_mut()
            .chunks_exact_mut(ch)
            .zip(raw.samples().chunks_exact(ch))
        {
            for (((d, &s), &k), &o) in dst.iter_mut().zip(src).zip(&self.scale).zip(&self.offset) {
                *d = S::from_f64(f64::from(s)) * k + o;
            }
        }
        drop(raw); // back to its pool before we wait on the output
        self.out.send(volts).await
    }
}
