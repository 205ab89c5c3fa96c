//! `Vectorize`: an epoch as one feature vector, for the linear decoders of ERPs (P300).
//!
//! Each epoch (`times × channels`) becomes one frame of `channels × bins` features: the mean
//! of each channel over consecutive bins of `decimate` frames (averaging is the
//! anti-aliasing of this down-sampling), optionally within `tmin`..`tmax` (s, relative to the
//! event; frames of a last incomplete bin are left out). Features are channel-major (all bins
//! of the first channel, then the next), as `mne.decoding.Vectorizer` orders a
//! `(channels, times)` epoch, and labelled `<channel>@<ms>ms` with the bin's start time. The
//! epoch's label is kept; its timestamp and frame index become those of the first frame used.

use neuropipe_core::prelude::*;

/// Parameters of `Vectorize`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct VectorizeParams {
    /// frames averaged into each feature (1: every frame is a feature)
    #[param(default = 1, min = 1, max = 100_000)]
    pub decimate: usize,
    /// first time used (s, relative to the event); default the epoch's start
    #[param(min = -60.0, max = 60.0)]
    pub tmin: Option<f64>,
    /// last time used (s, relative to the event, included); default the epoch's end
    #[param(min = -60.0, max = 60.0)]
    pub tmax: Option<f64>,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Vectorize",
        "Each epoch as one feature vector: channel means over bins of `decimate` frames within tmin..tmax",
        build,
    )
    .input(PortSpec::any("in").doc("epochs (from Epoch or Window)"))
    .output(PortSpec::any("out").epochs().doc("one frame of channels x bins features per epoch"))
    .params::<VectorizeParams>()
    .with_pool()
}

/// Which frames of an epoch `Vectorize` averages: `bins` bins of `decimate` frames from frame
/// `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bins {
    /// First frame used.
    pub first: usize,
    /// Number of bins per channel.
    pub bins: usize,
    /// Frames per bin.
    pub decimate: usize,
}

impl Bins {
    /// The bins `p` asks for on epoch stream `info`, and the feature stream they give (also
    /// what `neuropipe train` fits a decoder after `Xdawn → Vectorize` on).
    pub fn plan(p: &VectorizeParams, info: &StreamInfo) -> Result<(Bins, StreamInfo), BuildError> {
        let layout = info
            .epochs
            .clone()
            .ok_or_else(|| BuildError::stage("input is not an epoch stream"))?;
        let fs = info.sample_rate;
        let t = |k: usize| layout.tmin_s + k as f64 / fs;
        // Half a frame of slack: times given in round milliseconds at rates like 256 Hz.
        let half = 0.5 / fs;
        let first = match p.tmin {
            None => 0,
            Some(a) => (0..layout.times)
                .find(|&k| t(k) >= a - half)
                .ok_or_else(|| {
                    BuildError::param(
                        "tmin",
                        format!("{a} s is after the epoch's end ({} s)", t(layout.times - 1)),
                    )
                })?,
        };
        let last = match p.tmax {
            None => layout.times - 1,
            Some(z) => (0..layout.times)
                .rev()
                .find(|&k| t(k) <= z + half)
                .ok_or_else(|| {
                    BuildError::param(
                        "tmax",
                        format!("{z} s is before the epoch's start ({} s)", t(0)),
                    )
                })?,
        };
        let span = (last + 1).saturating_sub(first);
        let bins = span / p.decimate;
        if bins == 0 {
            return Err(BuildError::param(
                "decimate",
                format!(
                    "{} frames per bin, but tmin..tmax holds {span} frames of the epoch",
                    p.decimate
                ),
            ));
        }
        let features = info
            .channels
            .iter()
            .flat_map(|c| {
                (0..bins).map(move |bin| ChannelInfo {
                    label: format!("{}@{:.0}ms", c.label, t(first + bin * p.decimate) * 1000.0),
                    unit: c.unit.clone(),
                    kind: c.kind.clone(),
                    range: None,
                })
            })
            .collect();
        let out = super::feature_stream(info, &layout, t(first), features);
        let bins = Bins {
            first,
            bins,
            decimate: p.decimate,
        };
        Ok((bins, out))
    }

    /// Epoch `x` (`times × channels`) as `channels × bins` features into `out`.
    pub fn apply<S: FloatSample>(&self, x: &[S], channels: usize, out: &mut [S]) {
        let d = self.decimate;
        for ch in 0..channels {
            for bin in 0..self.bins {
                let k0 = self.first + bin * d;
                let sum: f64 = (k0..k0 + d).map(|k| x[k * channels + ch].to_f64()).sum();
                out[ch * self.bins + bin] = S::from_f64(sum / d as f64);
            }
        }
    }
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (kind, info, _) = super::epoch_input_stream(b)?;
    let p: VectorizeParams = b.parse_params()?;
    let (bins, out_info) = Bins::plan(&p, &info)?;
    let channels = info.channel_count();
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        let pool = b.pool::<Samples<S>>(1, channels * bins.bins)?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(Vectorize::<S> {
            input,
            out,
            pool,
            bins,
            channels,
            offset_ns: (bins.first as f64 * 1e9 / info.sample_rate).round() as u64,
        }))
    })
}

/// The `Vectorize` stage.
pub struct Vectorize<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
    pool: MemoryPool<Samples<S>>,
    bins: Bins,
    channels: usize,
    /// Time from the epoch's first frame to the first one used.
    offset_ns: u64,
}

impl<S: FloatSample> DataPlaneStage for Vectorize<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(epoch) = self.input.recv().await? else {
            return Ok(());
        };
        let mut v = self.pool.acquire().await;
        v.set_shape(1, self.channels * self.bins.bins)?;
        self.bins
            .apply(epoch.samples(), self.channels, v.samples_mut());
        let h = epoch.header;
        v.header.sequence = h.sequence;
        // The vector's "first frame" is the first one used: event time = timestamp − tmin_s.
        v.header.first_frame = h.first_frame + self.bins.first as u64;
        v.header.timestamp = h.timestamp + self.offset_ns;
        v.header.emitted = h.emitted;
        v.header.label = h.label;
        v.header.flags = h.flags;
        drop(epoch);
        self.out.send(v).await
    }
}
