//! `Resample`: rational resampling onto another rate (`rate_hz`, or `up`/`down`) with the
//! filter of `scipy.signal.resample_poly(x, up, down)` (see [`Resampler`]): an accelerometer
//! at 100 Hz onto an EEG's 250 Hz before a `Merge`, a 512 Hz amplifier onto 500 Hz. A
//! transforming stage: output packets come from its own pool.
//!
//! # Headers of the output stream
//!
//! * `sample_rate` is the input rate · `up` / `down`; `frames_per_packet` is
//!   `ceil(input frames_per_packet · up / down)`.
//! * Output frame `m` is `resample_poly`'s output `m` for the input received (the filter's
//!   start-up outputs, [`Resampler::lag`] of them, are not sent: they would stand for times
//!   before the stream began). It is sent once input frame `⌊(m + lag) · down / up⌋` has
//!   arrived: the stage delays the stream by `lag` output frames (`lag = 26` frames, 104 ms, for
//!   100 → 250 Hz), and an input packet that completes no output frame sends nothing.
//! * `timestamp` is the frame's **content time**: the time of input position `m · down / up`
//!   (interpolated at the input rate from the input packets' timestamps), so a resampled stream
//!   lines up with the streams it is merged with (see `Merge`), not with when it was computed.
//! * `first_frame` counts output frames from the input's first `first_frame · up / down`. A gap
//!   in the input frame indices moves it on by the gap in output frames (rounded); if the input
//!   flagged the gap as lost samples, the output flags it too (`lost_frames` in output frames).
//!   Other input flags are carried to the next output packet; a packet with outputs over a
//!   non-finite input sample (NaN: missing) carries `FLAG_NONFINITE`.
//!
//! Start-up: with `steady_state` (default) the filter history is the first frame repeated, so
//! a DC offset gives no start-up ramp; `false` starts from zeros, as `resample_poly`, whose
//! output this stage then sends exactly (up to rounding), but for `resample_poly`'s last `lag`
//! frames, which need input past the end.

use super::rate_change::RateChange;
use neuropipe_core::prelude::*;
use neuropipe_dsp::Resampler;

/// Parameters of `Resample` (and the optional `pool`, see [`StageSpec::with_pool`]).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct ResampleParams {
    /// output rate (Hz); its ratio to the input rate must be up/down with both at most 1000. Or give up and down
    #[param(min = 0.001, max = 1e6)]
    pub rate_hz: Option<f64>,
    /// upsampling factor (with down; instead of rate_hz)
    #[param(min = 1, max = 1000)]
    pub up: Option<usize>,
    /// downsampling factor (with up; instead of rate_hz)
    #[param(min = 1, max = 1000)]
    pub down: Option<usize>,
    /// fill the filter history with the first frame (no start-up ramp from a DC offset); false: zeros, as resample_poly
    #[param(default = true)]
    pub steady_state: bool,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Resample",
        "Rational resampling up/down onto another rate (resample_poly's filter and outputs), f32/f64",
        build,
    )
    .input(PortSpec::any("in").doc("f32 or f64 samples"))
    .output(PortSpec::any("out").doc("resampled samples at rate_hz (input rate x up / down)"))
    .params::<ResampleParams>()
    .with_pool()
}

/// `to / from` as a fraction `up / down` with both at most 1000, if there is one (within
/// 1e-9 relative).
pub fn ratio(from: f64, to: f64) -> Option<(usize, usize)> {
    let r = to / from;
    (1..=1000usize).find_map(|down| {
        let up = (r * down as f64).round();
        ((1.0..=1000.0).contains(&up) && (up / down as f64 - r).abs() <= 1e-9 * r)
            .then_some((up as usize, down))
    })
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let p: ResampleParams = b.parse_params()?;
    let info = b.input_stream("in")?.clone();
    let fs = info.sample_rate;
    let (up, down) = match (p.rate_hz, p.up, p.down) {
        (Some(to), None, None) => ratio(fs, to).ok_or_else(|| {
            BuildError::param(
                "rate_hz",
                format!("{to} Hz / {fs} Hz is not a ratio up/down with up and down at most 1000"),
            )
        })?,
        (None, Some(up), Some(down)) => (up, down),
        _ => {
            return Err(BuildError::stage(
                "give either `rate_hz` (the output rate) or both `up` and `down`",
            ))
        }
    };
    let channels = info.channel_count();
    let probe = Resampler::<f64>::new(up, down, 1).map_err(|e| {
        let param = if p.rate_hz.is_some() { "rate_hz" } else { "up" };
        BuildError::param(param, format!("{e} (input {fs} Hz)"))
    })?;
    let (up, down) = (probe.up(), probe.down());
    let out_cap = (info.frames_per_packet.max(1) * up).div_ceil(down);
    let mut out_info = info.derived();
    out_info.sample_rate = fs * up as f64 / down as f64;
    out_info.frames_per_packet = out_cap;
    out_info.filters.push(format!(
        "resample_poly {up}/{down} ({fs} -> {} Hz)",
        out_info.sample_rate
    ));
    with_float!(kind, S => {
        let r = Resampler::<S>::new(up, down, channels)
            .map_err(|e| BuildError::stage(e.to_string()))?;
        let pool = b.pool::<Samples<S>>(out_cap, channels)?;
        let input = b.input::<Samples<S>>("in")?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(Resample::<S> {
            r,
            out_cap,
            init_pending: p.steady_state,
            skip: probe.lag(),
            anchors: Anchors::new(1e9 / fs),
            pool,
            input,
            out,
            headers: RateChange::new(up, down),
            sequence: 0,
        }))
    })
}

/// The last input packets' first frames (counting frames received) and timestamps, to time an
/// output frame from the packet its content comes from. A fixed ring: no allocation.
struct Anchors {
    start: [u64; ANCHORS],
    stamp: [u64; ANCHORS],
    len: usize,
    next: usize,
    ns_per_frame: f64,
}

/// Input packets remembered: more than the filter's lag spans for any packet size worth using.
const ANCHORS: usize = 64;

impl Anchors {
    fn new(ns_per_frame: f64) -> Self {
        Anchors {
            start: [0; ANCHORS],
            stamp: [0; ANCHORS],
            len: 0,
            next: 0,
            ns_per_frame,
        }
    }

    fn push(&mut self, start: u64, stamp: u64) {
        self.start[self.next] = start;
        self.stamp[self.next] = stamp;
        self.next = (self.next + 1) % ANCHORS;
        self.len = (self.len + 1).min(ANCHORS);
    }

    /// The time of input position `pos` (frames received, fractional): from the latest packet
    /// starting at or before it (the oldest remembered if it is older still).
    fn time_of(&self, pos: f64) -> u64 {
        let mut best = None;
        for k in 1..=self.len {
            let i = (self.next + ANCHORS - k) % ANCHORS;
            best = Some(i);
            if self.start[i] as f64 <= pos {
                break;
            }
        }
        let Some(i) = best else { return 0 };
        let t = self.stamp[i] as f64 + (pos - self.start[i] as f64) * self.ns_per_frame;
        t.round().max(0.0) as u64
    }
}

/// The `Resample` stage.
pub struct Resample<S: FloatSample> {
    r: Resampler<S>,
    /// Frames per output packet (the pool's size).
    out_cap: usize,
    init_pending: bool,
    /// Start-up outputs still to discard.
    skip: usize,
    /// Where recent input packets start and their timestamps.
    anchors: Anchors,
    pool: MemoryPool<Samples<S>>,
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
    headers: RateChange,
    sequence: u64,
}

impl<S: FloatSample> DataPlaneStage for Resample<S> {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let h = pkt.header;
        let (c, n) = (self.r.channels(), h.frames());
        let (up, down) = (self.r.up() as u64, self.r.down() as u64);
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
            self.r.init_steady_state(&data[..c]);
        }
        // Input chunks small enough that their outputs fit one pooled packet.
        let per_chunk = ((self.out_cap as u64 * down) / up).max(1) as usize;
        // The resampler has consumed every earlier packet: its input count is where this one starts.
        self.anchors.push(self.r.input_count(), h.timestamp);
        for chunk in data.chunks(per_chunk * c) {
            let frames = chunk.len() / c;
            let out_frames = self.r.output_frames(frames);
            if out_frames == 0 {
                self.r.process(chunk, &mut []);
                continue;
            }
            let mut o = self.pool.acquire().await;
            o.header = h;
            o.set_shape(out_frames, c)?;
            let written = self.r.process(chunk, o.samples_mut());
            debug_assert_eq!(written, out_frames);
            // The filter's start-up outputs are not sent.
            let skip = self.skip.min(written);
            self.skip -= skip;
            if skip == written {
                continue;
            }
            o.samples_mut().copy_within(skip * c..written * c, 0);
            let sent = written - skip;
            o.set_shape(sent, c)?;
            // Content time of the first frame sent: input position m · down / up, timed from
            // the input packet that holds it (an earlier one, across a gap in time).
            let m = self.r.output_count() - sent as u64 - self.r.lag() as u64;
            let timestamp = self.anchors.time_of((m * down) as f64 / up as f64);
            // Outputs over a missing input sample are NaN for as long as it is in the filter
            // (several packets): the packet is flagged when it holds one.
            self.r.take_resets();
            let nonfinite = o.samples().iter().any(|v| !v.to_f64().is_finite());
            let oh = &mut o.header;
            oh.sequence = self.sequence;
            oh.timestamp = timestamp;
            self.headers.output(oh, sent, nonfinite);
            self.sequence += 1;
            self.out.send(o).await?;
        }
        Ok(())
    }
}
