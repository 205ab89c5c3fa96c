//! `Merge`: two to eight streams of the same rate, aligned on their timestamps, into one
//! multi-channel stream (EEG from one amplifier and EMG from another, two amplifiers of one
//! cap, an accelerometer after a `Resample`).
//!
//! * **Inputs** `in1` … `in8` (`in1`, `in2` required): continuous f32 or f64 streams of the
//!   same rate and sample type. A mismatch is a build error naming both streams and what to
//!   insert (`Resample` with the rate to use).
//! * **Output**: the channels of `in1`, then `in2`, …, with their labels, units and types (a
//!   label that repeats an earlier one gets its stream's name in front); rate, frames per
//!   packet and frame indices of `in1`, the **reference**.
//! * **Alignment**: each output frame takes the reference's next frame (time `t`, its
//!   timestamp) and from every other stream the frame whose timestamp is within half a sample
//!   period of `t`. The merge starts when every stream has begun: frames before the latest
//!   first frame are dropped (counted as `lead-in`). After that a stream whose next frame is
//!   more than half a period early has that frame dropped (`dropped`, the output packet flagged
//!   `FLAG_DISCONTINUITY`); one with no frame within half a period of `t` (a gap, lost
//!   samples, a clock running slow) contributes NaN for that frame (`missing`, flagged
//!   `FLAG_NONFINITE`). Nothing is moved or filled silently: every drop and fill is counted in
//!   the readouts and logged once per stream.
//! * **Skew**: per stream, the last and the largest timestamp difference to the reference
//!   (ms), in the readouts. Streams of one clock show a constant skew; two devices' clocks
//!   drift apart, and once the skew passes half a period a frame is dropped or filled.
//! * **A stream that stalls** (a device unplugged, an LSL stream gone) does not stop the
//!   others: once the reference's frame is `max_wait_s` old on the pipeline clock with nothing
//!   from that stream, its channels are NaN (`missing`, flagged) until it sends again — then its
//!   late frames are `dropped` (counted) until it is back in step. A stream that has not begun
//!   within `max_wait_s` of the reference is left out the same way. `max_wait_s` must exceed the
//!   delay of the slowest stream (a `Resample`'s lag, network latency). Only the reference is
//!   waited for indefinitely: its frames are the output's.
//! * Packets leave as soon as the streams allow (up to `in1`'s frames per packet); the stream
//!   ends when any input ends.

use neuropipe_core::prelude::*;
use std::time::Duration;

/// Parameters of `Merge`.
#[derive(StageParams)]
pub struct MergeParams {
    /// seconds (pipeline clock) a stream may lag the reference with no data before its channels are NaN-filled (counted as missing) so the others go on
    #[param(default = 1.0, min = 0.001, max = 3600.0)]
    pub max_wait_s: f64,
}

/// Inputs a merge takes at most.
pub const MAX_INPUTS: usize = 8;
const PORTS: [&str; MAX_INPUTS] = ["in1", "in2", "in3", "in4", "in5", "in6", "in7", "in8"];

/// Stage type specification.
pub fn spec() -> StageSpec {
    let mut s = StageSpec::new(
        "Merge",
        "2-8 streams of one rate aligned on their timestamps into one multi-channel stream (skew reported, gaps NaN-filled and counted)",
        build,
    );
    for (i, port) in PORTS.iter().enumerate() {
        let p = PortSpec::any(port).doc(if i == 0 {
            "the reference stream: its rate, packet size and frame indices"
        } else {
            "a stream of the same rate and sample type"
        });
        s = s.input(if i < 2 { p } else { p.optional() });
    }
    s.output(PortSpec::any("out").doc("every input's channels, in port order"))
        .params::<MergeParams>()
        .with_pool()
}

const COLUMNS: [ReadoutColumn; 5] = [
    ReadoutColumn::number(
        "skew",
        "ms",
        "timestamp of the stream's last merged frame minus the reference's",
    ),
    ReadoutColumn::number("max_skew", "ms", "largest |skew| so far"),
    ReadoutColumn::number(
        "dropped",
        "",
        "frames dropped: more than half a period ahead of their reference frame",
    ),
    ReadoutColumn::number(
        "missing",
        "",
        "output frames with no frame of this stream (NaN)",
    ),
    ReadoutColumn::number(
        "lead_in",
        "",
        "frames dropped before every stream had begun",
    ),
];

fn describe(port: &str, s: &StreamInfo) -> String {
    format!(
        "`{port}` (stream \"{}\", {} Hz, {} ch, {})",
        s.name,
        s.sample_rate,
        s.channel_count(),
        s.payload
    )
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let MergeParams { max_wait_s } = b.parse_params()?;
    let ports: Vec<&str> = PORTS
        .iter()
        .copied()
        .filter(|p| b.is_input_linked(p))
        .collect();
    let streams: Vec<StreamInfo> = ports
        .iter()
        .map(|p| b.input_stream(p).cloned())
        .collect::<Result<_, _>>()?;
    let reference = &streams[0];
    let kind = b.float_input(ports[0])?;
    for (port, s) in ports.iter().zip(&streams).skip(1) {
        let rate = reference.sample_rate;
        if (s.sample_rate - rate).abs() > 1e-9 * rate {
            return Err(BuildError::stage(format!(
                "{} and {} have different rates: insert a `Resample` with {{\"rate_hz\": {rate}}} before `{port}`",
                describe(ports[0], reference),
                describe(port, s)
            )));
        }
        let k = b.float_input(port)?;
        if k != kind {
            return Err(BuildError::stage(format!(
                "{} and {} have different sample types: give their sources the same `sample_type` ({kind})",
                describe(ports[0], reference),
                describe(port, s)
            )));
        }
    }
    let mut out_info = reference.derived();
    out_info.name = streams
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(" + ");
    out_info.channels.clear();
    for s in &streams {
        for c in &s.channels {
            let mut c = c.clone();
            if out_info.channels.iter().any(|o| o.label == c.label) {
                c.label = format!("{}:{}", s.name, c.label);
            }
            c.range = None;
            out_info.channels.push(c);
        }
    }
    let total = out_info.channels.len();
    let frames = reference.frames_per_packet.max(1);
    let rows = ports
        .iter()
        .zip(&streams)
        .map(|(p, s)| format!("{p} {}", s.name))
        .collect();
    let readouts = b.readouts(&COLUMNS, rows);
    for r in 0..ports.len() {
        for c in 2..COLUMNS.len() {
            readouts.set(r, c, 0.0);
        }
    }
    readouts.publish();
    let period_ns = 1e9 / reference.sample_rate;
    with_float!(kind, S => {
        let mut lanes = Vec::with_capacity(ports.len());
        for (port, s) in ports.iter().zip(&streams) {
            lanes.push(Lane {
                input: b.input::<Samples<S>>(port)?,
                port: port.to_string(),
                channels: s.channel_count(),
                pkt: None,
                pos: 0,
                stalled: false,
                counts: LaneCounts::default(),
            });
        }
        let pool = b.pool::<Samples<S>>(frames, total)?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(Merge::<S> {
            lanes,
            pool,
            out,
            frames,
            total,
            half_ns: period_ns / 2.0,
            period_ns,
            max_wait_ns: (max_wait_s * 1e9) as u64,
            clock: b.clock(),
            started: false,
            discontinuity: false,
            cur: None,
            filled: 0,
            next_ref: None,
            next_out: 0,
            sequence: 0,
            readouts,
        }))
    })
}

#[derive(Default)]
struct LaneCounts {
    /// Times the stream stalled (waits that ran out).
    stalls: u64,
    dropped: u64,
    missing: u64,
    lead_in: u64,
    max_skew_ns: f64,
}

/// One input and the packet it is being read from.
struct Lane<S: FloatSample> {
    input: Input<Samples<S>>,
    port: String,
    channels: usize,
    pkt: Option<Packet<Samples<S>>>,
    /// Next frame of `pkt`.
    pos: usize,
    /// Nothing came within `max_wait_s`: the merge goes on without this stream until it sends.
    stalled: bool,
    counts: LaneCounts,
}

impl<S: FloatSample> Lane<S> {
    /// Timestamp and index of the next frame, if the lane holds one.
    fn head(&self, period_ns: f64) -> Option<(u64, u64)> {
        let p = self.pkt.as_ref()?;
        (self.pos < p.header.frames()).then(|| {
            (
                p.header.timestamp + (self.pos as f64 * period_ns).round() as u64,
                p.header.first_frame + self.pos as u64,
            )
        })
    }
}

/// The `Merge` stage.
pub struct Merge<S: FloatSample> {
    lanes: Vec<Lane<S>>,
    pool: MemoryPool<Samples<S>>,
    out: Output<Samples<S>>,
    frames: usize,
    total: usize,
    half_ns: f64,
    period_ns: f64,
    max_wait_ns: u64,
    clock: Clock,
    /// Every stream has begun and the first frames are aligned.
    started: bool,
    /// A frame was dropped: the packet holding the next output frame is flagged.
    discontinuity: bool,
    cur: Option<Packet<Samples<S>>>,
    filled: usize,
    /// Reference frame index the next output frame should have.
    next_ref: Option<u64>,
    next_out: u64,
    sequence: u64,
    readouts: Readouts,
}

/// What aligning the heads found.
enum Step {
    /// A lane needs its next packet.
    Need(usize),
    /// An output frame was written.
    Wrote,
    /// A reference frame from before every stream had begun was dropped.
    LeadIn,
    /// The packet being filled must go first (the reference skipped frames).
    Flush,
    /// A stalled lane's input ended.
    Ended(usize),
}

impl<S: FloatSample> Merge<S> {
    /// Aligns the lanes' next frames and writes one output frame, or says what is missing.
    async fn step(&mut self, ctx: &StageContext) -> Result<Step, StageError> {
        let period = self.period_ns;
        let Some((t, ref_index)) = self.lanes[0].head(period) else {
            return Ok(Step::Need(0));
        };
        // Every other lane's frame for `t`: drop frames too early, note the missing.
        let mut latest_start = t;
        for i in 1..self.lanes.len() {
            loop {
                let Some((ts, _)) = self.lanes[i].head(period) else {
                    let lane = &mut self.lanes[i];
                    if !lane.stalled {
                        return Ok(Step::Need(i));
                    }
                    // A stalled stream: take what it sent meanwhile, or go on without it.
                    match lane.input.try_recv() {
                        Ok(Some(p)) => {
                            let h = &p.header;
                            if h.frames() > 0 && h.channels as usize != lane.channels {
                                return Err(StageError::fatal(format!(
                                    "`{}`: packet {} has {} channels but the stream has {}",
                                    lane.port, h.sequence, h.channels, lane.channels
                                )));
                            }
                            lane.pkt = Some(p);
                            lane.pos = 0;
                            lane.stalled = false;
                            continue;
                        }
                        Ok(None) => break,
                        Err(StageError::QueueClosed) => return Ok(Step::Ended(i)),
                        Err(e) => return Err(e),
                    }
                };
                if (ts as f64) < t as f64 - self.half_ns {
                    let lane = &mut self.lanes[i];
                    lane.pos += 1;
                    if self.started {
                        lane.counts.dropped += 1;
                        if lane.counts.dropped == 1 {
                            tracing::warn!(stage = ctx.id(), port = %lane.port, "dropped a frame more than half a period ahead of the reference (clock drift or skew); counted in the readouts");
                        }
                        self.discontinuity = true;
                    } else {
                        lane.counts.lead_in += 1;
                    }
                    continue;
                }
                latest_start = latest_start.max(ts);
                break;
            }
        }
        if !self.started {
            if latest_start as f64 > t as f64 + self.half_ns {
                // Another stream has not begun yet: the reference's frame is lead-in.
                self.lanes[0].pos += 1;
                self.lanes[0].counts.lead_in += 1;
                return Ok(Step::LeadIn);
            }
            self.started = true;
            let lead: u64 = self.lanes.iter().map(|l| l.counts.lead_in).sum();
            if lead > 0 {
                tracing::info!(
                    stage = ctx.id(),
                    frames = lead,
                    "merge aligned: frames before every stream had begun were dropped"
                );
            }
        }
        // The reference skipped frames: the packet being filled ends here.
        let gap = self.next_ref.map_or(0, |e| ref_index.saturating_sub(e));
        if gap > 0 && self.filled > 0 {
            return Ok(Step::Flush);
        }
        if self.cur.is_none() {
            let mut p = self.pool.acquire().await;
            p.set_shape(self.frames, self.total)?;
            let h = &mut p.header;
            h.flags = 0;
            h.lost_frames = 0;
            h.timestamp = t;
            self.next_out += gap;
            if gap > 0 {
                h.flags |= FLAG_LOST_SAMPLES;
                h.lost_frames = u32::try_from(gap).unwrap_or(u32::MAX);
            }
            h.first_frame = self.next_out;
            self.cur = Some(p);
        }
        let Some(out) = self.cur.as_mut() else {
            return Err(StageError::fatal("merge: no packet to fill"));
        };
        let f = self.filled;
        let row = &mut out.samples_mut()[f * self.total..(f + 1) * self.total];
        let mut at = 0;
        let mut nan = false;
        let mut carried = 0;
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            let c = lane.channels;
            let dst = &mut row[at..at + c];
            at += c;
            let matched = match lane.head(period) {
                Some((ts, _)) if (ts as f64) <= t as f64 + self.half_ns => Some(ts),
                _ => None,
            };
            match (matched, &lane.pkt) {
                (Some(ts), Some(p)) => {
                    dst.copy_from_slice(&p.samples()[lane.pos * c..(lane.pos + 1) * c]);
                    // The input's own marks travel on: a discontinuity or clipping (once per
                    // input packet), a missing (NaN) sample.
                    if lane.pos == 0 {
                        carried |= p.header.flags & (FLAG_DISCONTINUITY | FLAG_OUT_OF_RANGE);
                    }
                    nan |= dst.iter().any(|v| !v.to_f64().is_finite());
                    lane.pos += 1;
                    let skew = ts as f64 - t as f64;
                    lane.counts.max_skew_ns = lane.counts.max_skew_ns.max(skew.abs());
                    self.readouts.set(i, 0, skew / 1e6);
                    self.readouts.set(i, 1, lane.counts.max_skew_ns / 1e6);
                }
                _ => {
                    dst.iter_mut().for_each(|v| *v = S::from_f64(f64::NAN));
                    nan = true;
                    lane.counts.missing += 1;
                    if lane.counts.missing == 1 {
                        tracing::warn!(stage = ctx.id(), port = %lane.port, "no frame within half a period of the reference (a gap or a slow clock): NaN, counted in the readouts");
                    }
                }
            }
            self.readouts.set(i, 2, lane.counts.dropped as f64);
            self.readouts.set(i, 3, lane.counts.missing as f64);
            self.readouts.set(i, 4, lane.counts.lead_in as f64);
        }
        if nan {
            out.header.flags |= FLAG_NONFINITE;
        }
        if std::mem::take(&mut self.discontinuity) {
            out.header.flags |= FLAG_DISCONTINUITY;
        }
        out.header.flags |= carried;
        self.filled += 1;
        self.next_out += 1;
        self.next_ref = Some(ref_index + 1);
        Ok(Step::Wrote)
    }

    /// Sends the packet being filled, if it holds frames.
    async fn flush(&mut self) -> Result<(), StageError> {
        let Some(mut p) = self.cur.take() else {
            return Ok(());
        };
        let n = std::mem::take(&mut self.filled);
        if n == 0 {
            return Ok(());
        }
        p.set_shape(n, self.total)?;
        p.header.sequence = self.sequence;
        self.sequence += 1;
        self.readouts.publish();
        self.out.send(p).await
    }
}

impl<S: FloatSample> DataPlaneStage for Merge<S> {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        loop {
            match self.step(ctx).await? {
                Step::Wrote => {
                    if self.filled == self.frames {
                        return self.flush().await;
                    }
                }
                Step::Flush => return self.flush().await,
                Step::LeadIn => {}
                Step::Ended(i) => {
                    let port = &self.lanes[i].port;
                    tracing::info!(stage = ctx.id(), port = %port, "input ended: the merged stream ends");
                    self.flush().await?;
                    return Err(StageError::QueueClosed);
                }
                Step::Need(i) => {
                    // Send what is ready before waiting (no added latency).
                    if self.filled > 0 {
                        return self.flush().await;
                    }
                    // Another stream is waited for until the reference's frame is
                    // `max_wait_s` old; the reference, for as long as it takes.
                    let wait = match (i, self.lanes[0].head(self.period_ns)) {
                        (0, _) | (_, None) => None,
                        (_, Some((t, _))) => Some(Duration::from_nanos(
                            (t + self.max_wait_ns).saturating_sub(self.clock.now_ns()),
                        )),
                    };
                    let lane = &mut self.lanes[i];
                    lane.pkt = None;
                    lane.pos = 0;
                    let got = match wait {
                        None => lane.input.recv().await,
                        Some(d) => match tokio::time::timeout(d, lane.input.recv()).await {
                            Ok(r) => r,
                            Err(_) => {
                                lane.stalled = true;
                                lane.counts.stalls += 1;
                                if lane.counts.stalls == 1 {
                                    tracing::warn!(stage = ctx.id(), port = %lane.port, "no data within max_wait_s of the reference: merging without this stream (NaN, counted as missing) until it sends again");
                                }
                                if !self.started {
                                    // It has not begun: the merge starts without it.
                                    self.started = true;
                                }
                                continue;
                            }
                        },
                    };
                    match got {
                        Ok(Some(p)) => {
                            let h = &p.header;
                            if h.frames() > 0 && h.channels as usize != lane.channels {
                                return Err(StageError::fatal(format!(
                                    "`{}`: packet {} has {} channels but the stream has {}",
                                    lane.port, h.sequence, h.channels, lane.channels
                                )));
                            }
                            lane.pkt = Some(p);
                        }
                        Ok(None) => return Ok(()), // a control message
                        Err(StageError::QueueClosed) => {
                            tracing::info!(stage = ctx.id(), port = %lane.port, "input ended: the merged stream ends");
                            self.flush().await?;
                            return Err(StageError::QueueClosed);
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
}
