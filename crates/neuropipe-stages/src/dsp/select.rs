//! `SelectChannels`: keeps the channels named by `channels`, in that order (a subset, a
//! reordering, or both). A transforming stage: output packets come from its own pool, sized
//! for the selected channels. Works on any sample type (raw counts too).

use super::channel_indices;
use neuropipe_core::prelude::*;

/// Parameters of `SelectChannels` (and the optional `pool`, see [`StageSpec::with_pool`]).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct SelectChannelsParams {
    /// labels of the channels to keep, in output order (no duplicates)
    pub channels: Vec<String>,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "SelectChannels",
        "Keeps the channels named in `channels`, in that order (any sample type)",
        build,
    )
    .input(PortSpec::any("in").doc("any samples"))
    .output(PortSpec::any("out").doc("the selected channels, same sample type"))
    .params::<SelectChannelsParams>()
    .with_pool()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let info = b.input_stream("in")?.clone();
    let SelectChannelsParams { channels: labels } = b.parse_params()?;
    if labels.is_empty() {
        return Err(BuildError::param(
            "channels",
            format!(
                "selects no channel: list at least one label (input channels: {})",
                info.labels().join(", ")
            ),
        ));
    }
    let picks = channel_indices(&info, "channels", &labels)?;
    let mut out_info = info.clone();
    out_info.channels = picks.iter().map(|&i| info.channels[i].clone()).collect();
    let frames = info.frames_per_packet.max(1);
    with_sample!(info.payload, S => {
        let pool = b.pool::<Samples<S>>(frames, picks.len())?;
        let input = b.input::<Samples<S>>("in")?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(SelectChannels::<S> {
            picks,
            in_channels: info.channel_count(),
            pool,
            input,
            out,
        }))
    })
}

/// The `SelectChannels` stage.
pub struct SelectChannels<S: Sample> {
    /// Input channel of each output channel.
    picks: Vec<usize>,
    in_channels: usize,
    pool: MemoryPool<Samples<S>>,
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
}

impl<S> DataPlaneStage for SelectChannels<S>
where
    S: Sample,
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let (c, n) = (self.in_channels, pkt.header.frames());
        if n > 0 && pkt.header.channels as usize != c {
            return Err(StageError::fatal(format!(
                "packet {} has {} channels but the stream has {c}",
                pkt.header.sequence, pkt.header.channels
            )));
        }
        let mut o = self.pool.acquire().await;
        o.header = pkt.header;
        o.set_shape(n, self.picks.len())?;
        for (dst, src) in o
            .samples_mut()
            .chunks_exact_mut(self.picks.len())
            .zip(pkt.samples().chunks_exact(c))
        {
            for (d, &i) in dst.iter_mut().zip(&self.picks) {
                *d = src[i];
            }
        }
        drop(pkt); // back to its pool before we wait on the output
        self.out.send(o).await
    }
}
