//! `LogVariance`: each epoch as the log of each channel's variance over it — band power in
//! the band the signal was filtered to, the classic feature of motor-imagery decoding (after
//! a band-pass to the mu/beta band, or CSP).
//!
//! One frame of `channels` features per epoch, labelled `<channel>_logvar`:
//! `ln(var(x))` with the variance about the epoch's mean, divided by the number of frames
//! (`numpy.log(numpy.var(x, axis=-1))` on a `(channels, times)` epoch). A channel with zero
//! variance over an epoch (railed, disconnected) would give `ln(0) = −∞`: that epoch is
//! dropped, counted in the readouts (`dropped_flat`) and published as an `epoch_dropped` event
//! naming the channel, rather than passed to a decoder. The epoch's label, timestamp and frame
//! index are kept.

use neuropipe_core::prelude::*;

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "LogVariance",
        "Each epoch as the log-variance of each channel (band power after a band-pass): one feature per channel",
        build,
    )
    .input(PortSpec::any("in").doc("epochs (from Epoch or Window)"))
    .output(PortSpec::any("out").epochs().doc("one frame of channels log-variances per epoch"))
    .with_pool()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (kind, info, layout) = super::epoch_input_stream(b)?;
    let features = info
        .channels
        .iter()
        .map(|c| ChannelInfo {
            label: format!("{}_logvar", c.label),
            unit: format!("ln({}^2)", c.unit),
            kind: c.kind.clone(),
            range: None,
        })
        .collect();
    let out_info = super::feature_stream(&info, &layout, layout.tmin_s, features);
    let channels = info.channel_count();
    let labels = info.channels.iter().map(|c| c.label.clone()).collect();
    let readouts = b.readouts(
        &[ReadoutColumn::number(
            "dropped_flat",
            "",
            "epochs dropped because a channel was flat over them (log-variance -inf)",
        )],
        vec!["epochs".to_string()],
    );
    readouts.set(0, 0, 0.0);
    readouts.publish();
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        let pool = b.pool::<Samples<S>>(1, channels)?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(LogVariance::<S> {
            input,
            out,
            pool,
            channels,
            times: layout.times,
            labels,
            readouts,
            dropped: 0,
        }))
    })
}

/// The `LogVariance` stage.
pub struct LogVariance<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
    pool: MemoryPool<Samples<S>>,
    channels: usize,
    times: usize,
    labels: Vec<String>,
    readouts: Readouts,
    /// Epochs dropped for a flat channel.
    dropped: u64,
}

impl<S: FloatSample> DataPlaneStage for LogVariance<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(epoch) = self.input.recv().await? else {
            return Ok(());
        };
        let mut v = self.pool.acquire().await;
        v.set_shape(1, self.channels)?;
        let (c, n) = (self.channels, self.times as f64);
        let x = epoch.samples();
        for ch in 0..c {
            let mean = x
                .iter()
                .skip(ch)
                .step_by(c)
                .map(|s| s.to_f64())
                .sum::<f64>()
                / n;
            let var = x
                .iter()
                .skip(ch)
                .step_by(c)
                .map(|s| (s.to_f64() - mean).powi(2))
                .sum::<f64>()
                / n;
            if var <= 0.0 || !var.is_finite() {
                // ln(0) = −∞ would poison a decoder: the epoch is dropped, counted, reported.
                self.dropped += 1;
                self.readouts.set(0, 0, self.dropped as f64);
                self.readouts.publish();
                ctx.emit_event_at(
                    epoch.header.timestamp,
                    EventKind::EpochDropped,
                    format!(
                        "epoch dropped: channel {} is flat over it (variance 0), its log-variance would be -inf (a railed or disconnected electrode? SelectChannels can leave it out)",
                        self.labels[ch]
                    ),
                );
                return Ok(());
            }
            v.samples_mut()[ch] = S::from_f64(var.ln());
        }
        v.header = PacketHeader {
            batch_size: 1,
            channels: c as u32,
            ..epoch.header
        };
        drop(epoch);
        self.out.send(v).await
    }
}
