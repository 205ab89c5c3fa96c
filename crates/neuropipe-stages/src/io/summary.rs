//! `StdoutSummary`: a sink printing one compact line per interval (default: each second of
//! wall-clock time) to stdout: the frame rate and, per channel, the mean and RMS of the
//! samples of that interval in the stream's units. On an epoch stream (from `Epoch` or
//! `Window`) it counts epochs instead of frames, per class.
//!
//! ```text
//! [eeg] t=3.0s 250.0 frames/s mean/rms uV: Fp1 -1.20/20.31 Fp2 0.41/18.02 …
//! [ep] t=3.0s 4 epochs (target 1, nontarget 3) mean/rms uV: Fz 0.12/8.31 …
//! ```
//!
//! Sums are kept in buffers allocated at build time; a line is written straight to the
//! locked stdout. Write errors (e.g. a closed pipe) are ignored: a display never stops the
//! pipeline.

use neuropipe_core::{
    with_sample, BoxedStage, BuildError, DataPlaneStage, Input, Payload, PortSpec, Sample, Samples,
    StageBuilder, StageContext, StageError, StageParams, StageSpec,
};
use std::io::Write;

/// Parameters of `StdoutSummary`.
#[derive(StageParams)]
pub struct StdoutSummaryParams {
    /// seconds of wall-clock time per line
    #[param(default = 1.0, min = 0.05, max = 3600.0)]
    pub interval_s: f64,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "StdoutSummary",
        "Sink printing frames/s and per-channel mean and RMS to stdout, one line per interval",
        build,
    )
    .input(PortSpec::any("in").doc("any samples, continuous or epochs"))
    .params::<StdoutSummaryParams>()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let StdoutSummaryParams { interval_s } = b.parse_params()?;
    let interval_ns = (interval_s * 1e9) as u64;
    let info = b.input_stream("in")?.clone();
    let channels = info.channel_count();
    let units: Vec<&str> = info.channels.iter().map(|c| c.unit.as_str()).collect();
    let common_unit = units
        .first()
        .filter(|u| units.iter().all(|x| x == *u))
        .map(|u| u.to_string());
    let labels = info.labels().iter().map(|s| s.to_string()).collect();
    let kind = b.input_kind("in")?;
    let id = b.id().to_string();
    let classes = info.epochs.as_ref().map(|e| e.classes.clone());
    with_sample!(kind, S => {
        let input = if classes.is_some() {
            b.epochs_input::<Samples<S>>("in")?
        } else {
            b.input::<Samples<S>>("in")?
        };
        Ok(BoxedStage::new(StdoutSummary::<S> {
            input,
            epochs: 0,
            class_counts: vec![0; classes.as_ref().map_or(0, Vec::len)],
            classes,
            id,
            labels,
            units: info.channels.iter().map(|c| c.unit.clone()).collect(),
            common_unit,
            interval_ns,
            rate: if info.sample_rate > 0.0 { info.sample_rate } else { 1.0 },
            sum: vec![0.0; channels],
            sum_sq: vec![0.0; channels],
            frames: 0,
            since: None,
            started: 0,
        }))
    })
}

/// The `StdoutSummary` stage.
pub struct StdoutSummary<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    id: String,
    labels: Vec<String>,
    units: Vec<String>,
    common_unit: Option<String>,
    interval_ns: u64,
    rate: f64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    frames: u64,
    /// On an epoch stream: its classes, and the epochs of this interval (all, per class).
    classes: Option<Vec<String>>,
    epochs: u64,
    class_counts: Vec<u64>,
    /// Clock time the current interval began.
    since: Option<u64>,
    /// Clock time of the first packet.
    started: u64,
}

impl<S: Sample> StdoutSummary<S>
where
    Samples<S>: Payload,
{
    fn print(&mut self, now: u64) {
        let Some(since) = self.since else { return };
        if self.frames == 0 {
            return;
        }
        let secs = (now.saturating_sub(since) as f64 / 1e9).max(1e-9);
        let n = self.frames as f64;
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "[{}] t={:.1}s",
            self.id,
            now.saturating_sub(self.started) as f64 / 1e9
        );
        match &self.classes {
            None => {
                let _ = write!(out, " {:.1} frames/s", n / secs);
            }
            Some(classes) if classes.is_empty() => {
                let _ = write!(out, " {} windows", self.epochs);
            }
            Some(classes) => {
                let _ = write!(out, " {} epochs", self.epochs);
                if !classes.is_empty() {
                    let _ = write!(out, " (");
                    for (i, (c, k)) in classes.iter().zip(&self.class_counts).enumerate() {
                        let sep = if i > 0 { ", " } else { "" };
                        let _ = write!(out, "{sep}{c} {k}");
                    }
                    let _ = write!(out, ")");
                }
            }
        }
        match &self.common_unit {
            Some(u) => {
                let _ = write!(out, " mean/rms {u}:");
            }
            None => {
                let _ = write!(out, " mean/rms:");
            }
        }
        for c in 0..self.labels.len() {
            let mean = self.sum[c] / n;
            let rms = (self.sum_sq[c] / n).sqrt();
            let _ = write!(out, " {} {mean:.2}/{rms:.2}", self.labels[c]);
            if self.common_unit.is_none() {
                let _ = write!(out, " {}", self.units[c]);
            }
        }
        let _ = writeln!(out);
        self.sum.fill(0.0);
        self.sum_sq.fill(0.0);
        self.frames = 0;
        self.epochs = 0;
        self.class_counts.fill(0);
        self.since = Some(now);
    }
}

impl<S: Sample> DataPlaneStage for StdoutSummary<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let now = ctx.clock().now_ns();
        if self.since.is_none() {
            // The first packet's frames were acquired before it arrived.
            let span = (pkt.header.frames() as f64 / self.rate * 1e9) as u64;
            self.since = Some(now.saturating_sub(span));
            self.started = now.saturating_sub(span);
        }
        let ch = pkt.header.channels as usize;
        if ch == self.sum.len() {
            for frame in pkt.samples().chunks_exact(ch) {
                for ((s, q), x) in self.sum.iter_mut().zip(&mut self.sum_sq).zip(frame) {
                    let v = x.to_f64();
                    *s += v;
                    *q += v * v;
                }
            }
            self.frames += pkt.header.frames() as u64;
            self.epochs += 1;
            if let Some(k) = pkt
                .header
                .label
                .and_then(|l| self.class_counts.get_mut(l as usize))
            {
                *k += 1;
            }
        }
        drop(pkt);
        if self
            .since
            .is_some_and(|s| now.saturating_sub(s) >= self.interval_ns)
        {
            self.print(now);
        }
        Ok(())
    }

    async fn finish(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        self.print(ctx.clock().now_ns());
        Ok(())
    }
}
