//! `Decimate`: integer down-sampling by `factor` with the anti-alias filter of
//! `scipy.signal.resample_poly(x, 1, factor)` (see [`Decimator`]). A transforming stage:
//! output packets come from its own pool.
//!
//! # Headers of the output stream
//!
//! * `sample_rate` is the input rate / `factor`; `frames_per_packet` is
//!   `ceil(input frames_per_packet / factor)`.
//! * Output frame `m` is computed on input frame `m · factor` (counting the input frames this
//!   stage has received). An input packet that completes no output frame (fewer than `factor`
//!   frames) sends nothing.
//! * `first_frame` counts output frames; the first output packet starts at the input's first
//!   `first_frame / factor`. A gap in the input frame indices moves it on by
//!   `round(gap / factor)`; if the input flagged the gap as lost samples
//!   (`FLAG_LOST_SAMPLES`), the output flags it too with `lost_frames` in output frames.
//!   Other input flags (e.g. `FLAG_DISCONTINUITY`) are carried to the next output packet.
//! * `sequence` numbers output packets from 0.
//! * `timestamp` is the time of the **input frame on which the first output frame was
//!   computed** (when that sample became available). The filter is causal and linear-phase:
//!   the signal content of an output frame is centred [`Decimator::delay`] `= 10 · factor`
//!   input frames (10 output frames) earlier. Subtract `10 / output sample_rate` seconds for
//!   content-aligned time.
//!
//! Start-up: with `steady_state` (default) the filter history is filled with the first frame,
//! so a DC offset produces no start-up ramp; `false` starts from zeros, exactly like
//! `resample_poly` (whose output equals this stage's output 10 frames later).

use super::rate_change::RateChange;
use neuropipe_core::prelude::*;
use neuropipe_dsp::Decimator;

/// Parameters of `Decimate` (and the optional `pool`, see [`StageSpec::with_pool`]).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct DecimateParams {
    /// decimation factor q: output rate = input rate / q (anti-alias cutoff at the new Nyquist)
    #[param(default = 4, min = 2, max = 64)]
    pub factor: usize,
    /// fill the filter history with the first frame (no start-up ramp from a DC offset); false: zeros, as resample_poly
    #[param(default = true)]
    pub steady_state: bool,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Decimate",
        "Anti-alias filter + keep every factor-th frame (resample_poly's filter), f32/f64",
        build,
    )
    .input(PortSpec::any("in").doc("f32 or f64 samples (raw i32 counts need a RawToVoltage first)"))
    .output(PortSpec::any("out").doc("decimated samples, sample_rate / factor"))
    .params::<DecimateParams>()
    .with_pool()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let DecimateParams {
        factor,
        steady_state,
    } = b.parse_params()?;
    let info = b.input_stream("in")?.clone();
    let channels = info.channel_count();
    let out_cap = info.frames_per_packet.max(1).div_ceil(factor);
    let mut out_info = info.derived();
    out_info.sample_rate = info.sample_rate / factor as f64;
    out_info.frames_per_packet = out_cap;
    with_float!(kind, S => {
        let dec = Decimator::<S>::new(factor, channels)
            .map_err(|e| BuildError::stage(e.to_string()))?;
        let pool = b.pool::<Samples<S>>(out_cap, channels)?;
        let input = b.input::<Samples<S>>("in")?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(Decimate::<S> {
            dec,
            factor,
            channels,
            out_cap,
            ns_per_in_frame: 1e9 / info.sample_rate,
            init_pending: steady_state,
            pool,
            input,
            out,
            in_count: 0,
            headers: RateChange::new(1, factor),
            sequence: 0,
        }))
    })
}

/// The `Decimate` stage.
pub struct Decimate<S: FloatSample> {
    dec: Decimator<S>,
    factor: usize,
    channels: usize,
    /// Frames per output packet (the pool's size).
    out_cap: usize,
    ns_per_in_frame: f64,
    init_pending: bool,
    pool: MemoryPool<Samples<S>>,
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
    /// Input frames consumed by the decimator (its phase is `in_count % factor`).
    in_count: u64,
    headers: RateChange,
    sequence: u64,
}

impl<S: FloatSample> DataPlaneStage for Decimate<S> {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let h = pkt.header;
        let (c, q, n) = (self.channels, self.factor, h.frames());
        if n > 0 && h.channels as usize != c {
            return Err(StageError::fatal(format!(
                "packet {} has {} channels but the stream has {c}",
                h.sequence, h.channels
            )));
        }
        self.headers.input(&h);
        if n == 0 {
            return Ok(());
        }
        let data = pkt.samples();
        if std::mem::take(&mut self.init_pending) {
            self.dec.init_steady_state(&data[..c]);
        }
        // One output packet per `out_cap · q` input frames at most (one, for packets within
        // the stream's frames_per_packet).
        let mut done = 0;
        for chunk in data.chunks(self.out_cap * q * c) {
            let frames = chunk.len() / c;
            // Offset in this chunk of the first input frame that yields an output frame.
            let first_offset = (q - (self.in_count % q as u64) as usize) % q;
            let start = done;
            let out_frames = self.dec.output_frames(frames);
            self.in_count += frames as u64;
            done += frames;
            if out_frames == 0 {
                self.dec.process(chunk, &mut []);
                continue;
            }
            let mut o = self.pool.acquire().await;
            o.header = h;
            o.set_shape(out_frames, c)?;
            let written = self.dec.process(chunk, o.samples_mut());
            debug_assert_eq!(written, out_frames);
            let oh = &mut o.header;
            oh.sequence = self.sequence;
            oh.timestamp =
                h.timestamp + ((start + first_offset) as f64 * self.ns_per_in_frame).round() as u64;
            let nonfinite = self.dec.take_resets() > 0;
            self.headers.output(oh, out_frames, nonfinite);
            self.sequence += 1;
            self.out.send(o).await?;
        }
        Ok(())
    }
}
