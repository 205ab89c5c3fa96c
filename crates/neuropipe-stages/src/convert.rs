//! `RawToVoltage`: raw ADC counts (i32) to voltages (f32, µV): `µV = count × scale + offset`,
//! per channel. A transforming stage: each output packet comes from its own pool.

use crate::util::ads1299_uv_per_count;
use neuropipe_core::{
    BoxedStage, BuildError, DataPlaneStage, InputId, MemoryPool, OutputId, ParamSpec, PayloadKind,
    PortSpec, RawEegPacket, StageBuilder, StageContext, StageError, StageSpec, VoltageEegPacket,
};

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "RawToVoltage",
        "Raw ADC counts (i32) to µV (f32): count × scale + offset, per channel",
        build,
    )
    .input(PortSpec::of("in", PayloadKind::I32).doc("raw counts"))
    .output(PortSpec::of("out", PayloadKind::F32).doc("voltages in µV"))
    .param(
        ParamSpec::float("gain", 1.0, 24.0)
            .default(24.0)
            .doc("ADS1299 PGA gain; scale = vref / (2^23 − 1) / gain × 1e6 µV per count"),
    )
    .param(
        ParamSpec::float("vref", 0.1, 10.0)
            .default(4.5)
            .doc("ADC reference voltage (V)"),
    )
    .param(
        ParamSpec::float_or_list("scale", -1e9, 1e9)
            .optional()
            .doc("µV per count, one value or one per channel (overrides gain/vref)"),
    )
    .param(
        ParamSpec::float_or_list("offset", -1e9, 1e9)
            .default(0.0)
            .doc("µV added after scaling, one value or one per channel"),
    )
    .param(
        ParamSpec::string("pool")
            .optional()
            .doc("memory pool for output packets (default: a private pool)"),
    )
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let input_info = b.input_stream("in")?.clone();
    let channels = input_info.channel_count();
    let p = b.params();
    let scale: Vec<f32> = match p.get("scale") {
        Some(_) => p.per_channel("scale", channels)?,
        None => vec![ads1299_uv_per_count(p.f64("vref")?, p.f64("gain")?); channels],
    }
    .into_iter()
    .map(|x| x as f32)
    .collect();
    let offset: Vec<f32> = p
        .per_channel("offset", channels)?
        .into_iter()
        .map(|x| x as f32)
        .collect();
    let pool = b.pool::<VoltageEegPacket>(input_info.frames_per_packet, channels)?;
    let input = b.input::<RawEegPacket>("in")?;
    let out =
        b.output::<VoltageEegPacket>("out", input_info.with_payload(PayloadKind::F32, "uV"))?;
    Ok(BoxedStage::new(RawToVoltage {
        scale,
        offset,
        pool,
        input,
        out,
    }))
}

/// The `RawToVoltage` stage.
pub struct RawToVoltage {
    scale: Vec<f32>,
    offset: Vec<f32>,
    pool: MemoryPool<VoltageEegPacket>,
    input: InputId<RawEegPacket>,
    out: OutputId<VoltageEegPacket>,
}

impl DataPlaneStage for RawToVoltage {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(raw) = ctx.input(self.input).recv().await? else {
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
                *d = s as f32 * k + o;
            }
        }
        drop(raw); // back to its pool before we wait on the output
        ctx.output(self.out).send(volts).await
    }
}
