//! `Window`: sliding windows of a continuous stream, for continuous decoding (motor imagery,
//! SSVEP, neurofeedback).
//!
//! Every `hop_s` the stage sends the last `length_s` of signal as one packet of an epoch
//! stream ([`EpochLayout`], unlabelled): the first once `length_s` has arrived. A window
//! never spans a break in the stream (a pause, lost samples): after one, windows restart from
//! the break, and those that would have spanned it are counted as `skipped`. A window
//! holding non-finite (missing) samples is not sent and is counted as `bad_data`. Counts are
//! the stage's readouts.
//!
//! Each packet's `timestamp` and `first_frame` are those of its first frame; the window's
//! event (its `tmin_s` reference) is its last frame, the moment a decision on it can be made.

use super::frames::FrameRing;
use neuropipe_core::prelude::*;

/// Parameters of `Window`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct WindowParams {
    /// window length (s), a whole number of frames
    #[param(default = 1.0, min = 0.0001, max = 600.0)]
    pub length_s: f64,
    /// time between windows (s), a whole number of frames
    #[param(default = 0.25, min = 0.0001, max = 600.0)]
    pub hop_s: f64,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Window",
        "Sliding windows (length_s every hop_s) of a continuous stream, one packet each, for continuous decoding",
        build,
    )
    .input(PortSpec::any("in").doc("continuous f32 or f64 samples"))
    .output(PortSpec::any("out").epochs().doc("windows: one packet of times x channels per hop"))
    .params::<WindowParams>()
    .with_pool()
}

const COLUMNS: [ReadoutColumn; 3] = [
    ReadoutColumn::number("windows", "", "windows sent"),
    ReadoutColumn::number(
        "bad_data",
        "",
        "windows not sent: non-finite (missing) samples",
    ),
    ReadoutColumn::number(
        "skipped",
        "",
        "windows not cut because they would span a break in the stream (pause, lost samples)",
    ),
];

/// `seconds · fs` as whole frames, or an error naming the two nearest valid values.
fn whole_frames(param: &str, seconds: f64, fs: f64) -> Result<usize, BuildError> {
    let frames = seconds * fs;
    let n = frames.round();
    if n < 1.0 {
        return Err(BuildError::param(
            param,
            format!("{seconds} s is shorter than one frame at {fs} Hz"),
        ));
    }
    if (frames - n).abs() > 1e-6 * frames {
        let (lo, hi) = (frames.floor().max(1.0), frames.ceil());
        return Err(BuildError::param(
            param,
            format!(
                "{seconds} s is {frames} frames at {fs} Hz; use whole frames: {} s ({lo} frames) or {} s ({hi} frames)",
                lo / fs,
                hi / fs
            ),
        ));
    }
    Ok(n as usize)
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?.clone();
    let p: WindowParams = b.parse_params()?;
    let fs = info.sample_rate;
    let length = whole_frames("length_s", p.length_s, fs)?;
    let hop = whole_frames("hop_s", p.hop_s, fs)?;
    let channels = info.channel_count();
    let mut out_info = info.derived();
    out_info.frames_per_packet = length;
    out_info.epochs = Some(EpochLayout {
        tmin_s: -((length - 1) as f64) / fs,
        times: length,
        classes: vec![],
    });
    let readouts = b.readouts(&COLUMNS, vec!["windows".to_string()]);
    // Counts start at zero (a cell never set reads "not measured").
    for col in 0..COLUMNS.len() {
        readouts.set(0, col, 0.0);
    }
    readouts.publish();
    let ring_frames = length + info.frames_per_packet.max(1);
    with_float!(kind, S => {
        let input = b.input::<Samples<S>>("in")?;
        let pool = b.pool::<Samples<S>>(length, channels)?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(Window::<S> {
            input,
            out,
            pool,
            length: length as u64,
            hop: hop as u64,
            ring: FrameRing::new(ring_frames, channels),
            next_end: None,
            times: Vec::with_capacity(ring_frames.min(1 << 16)),
            counts: [0; 3],
            readouts,
            sequence: 0,
            channels,
            period_ns: 1e9 / fs,
        }))
    })
}

/// The `Window` stage.
pub struct Window<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
    pool: MemoryPool<Samples<S>>,
    length: u64,
    hop: u64,
    ring: FrameRing<S>,
    /// End (exclusive frame index) of the next window; `None` before the first packet.
    next_end: Option<u64>,
    /// Timestamps of the packets held: (first frame, timestamp).
    times: Vec<(u64, u64)>,
    counts: [u64; 3],
    readouts: Readouts,
    sequence: u64,
    channels: usize,
    period_ns: f64,
}

impl<S: FloatSample> Window<S>
where
    Samples<S>: Payload,
{
    fn count(&mut self, col: usize, n: u64) {
        self.counts[col] += n;
        self.readouts.set(0, col, self.counts[col] as f64);
        self.readouts.publish();
    }

    /// Timestamp of frame `f` from the newest packet starting at or before it.
    fn time_of(&self, f: u64) -> u64 {
        let (first, ts) = self
            .times
            .iter()
            .rev()
            .find(|(first, _)| *first <= f)
            .or(self.times.first())
            .copied()
            .unwrap_or_default();
        ts + ((f.saturating_sub(first)) as f64 * self.period_ns).round() as u64
    }
}

impl<S: FloatSample> DataPlaneStage for Window<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let h = pkt.header;
        let gap = h.flags & (FLAG_DISCONTINUITY | FLAG_LOST_SAMPLES) != 0 || h.lost_frames > 0;
        let contiguous = self.ring.push(h.first_frame, pkt.samples());
        drop(pkt);
        let restart = self.next_end.is_none() || gap || !contiguous;
        if restart {
            if let Some(end) = self.next_end {
                // Windows on the old grid ending before the new run can fill one.
                let new_end = h.first_frame + self.length;
                if end < new_end {
                    self.count(2, (new_end - end).div_ceil(self.hop));
                }
            }
            self.next_end = Some(h.first_frame + self.length);
            self.times.clear();
        }
        // Timestamps of the packets the ring still holds.
        let oldest = self.ring.oldest();
        let keep_from = self
            .times
            .iter()
            .rposition(|(f, _)| *f <= oldest)
            .unwrap_or(0);
        self.times.drain(..keep_from);
        if self.times.len() < self.times.capacity() {
            self.times.push((h.first_frame, h.timestamp));
        }
        while let Some(end) = self.next_end.filter(|&e| e <= self.ring.end()) {
            self.next_end = Some(end + self.hop);
            let first = end - self.length;
            if first < self.ring.oldest() {
                // Only after a restart within a packet larger than the ring: not possible
                // with the ring sized from frames_per_packet, but never read stale frames.
                self.count(2, 1);
                continue;
            }
            let mut w = self.pool.acquire().await;
            w.set_shape(self.length as usize, self.channels)?;
            self.ring.copy_to(first, w.samples_mut());
            if !w.samples().iter().all(|x| x.is_finite()) {
                self.count(1, 1);
                continue;
            }
            w.header.sequence = self.sequence;
            w.header.first_frame = first;
            w.header.timestamp = self.time_of(first);
            // The packet completing the window: sinks measure latency from its emission.
            w.header.emitted = h.emitted;
            self.sequence += 1;
            self.count(0, 1);
            self.out.send(w).await?;
        }
        Ok(())
    }

    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let [sent, bad, skipped] = self.counts;
        self.readouts.set_status(&format!(
            "{sent} windows sent; not sent: {bad} with missing samples, {skipped} across breaks"
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_be_whole_frames() {
        assert_eq!(whole_frames("hop_s", 0.2, 250.0).unwrap(), 50);
        assert!(whole_frames("hop_s", 0.25, 250.0).is_err()); // 62.5 frames
        let e = whole_frames("hop_s", 0.1, 256.0).unwrap_err().to_string();
        assert!(
            e.contains("25.6 frames") && e.contains("0.09765625 s"),
            "{e}"
        );
        assert!(whole_frames("length_s", 0.001, 250.0).is_err());
    }
}
