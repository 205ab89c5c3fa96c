//! `Rereference`: changes the EEG reference in place, frame by frame.
//!
//! * `mode: "average"` — common average reference (CAR): every channel minus the mean of all
//!   channels of the frame, except the `exclude`d ones.
//! * `mode: "channels"` — every channel minus the mean of the `reference` channels (one label
//!   for a single reference such as `Cz`, two for linked mastoids `["M1", "M2"]`).
//!
//! Channels listed in `exclude` (non-EEG channels such as EOG/AUX, or a bad electrode) are left
//! unchanged and never contribute to the mean. Labels are checked against the input stream
//! when the pipeline is built. The mean is computed in `f64`.

use super::channel_indices;
use neuropipe_core::prelude::*;

/// Parameters of `Rereference`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct RereferenceParams {
    /// "average": subtract the mean of all (non-excluded) channels; "channels": subtract the mean of `reference`
    #[param(default = "average", choices = ["average", "channels"])]
    pub mode: String,
    /// labels of the reference channels (mode "channels" only), e.g. ["M1", "M2"]
    pub reference: Option<Vec<String>>,
    /// labels left unchanged and not part of the average (EOG, AUX, bad channels)
    pub exclude: Option<Vec<String>>,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Rereference",
        "Re-reference in place: common average (CAR) or the mean of chosen channels, f32/f64",
        build,
    )
    .input(
        PortSpec::any("in")
            .in_place()
            .doc("f32 or f64 samples (raw i32 counts need a RawToVoltage first)"),
    )
    .output(PortSpec::any("out").doc("the same packets, re-referenced in place"))
    .params::<RereferenceParams>()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?.derived();
    let p: RereferenceParams = b.parse_params()?;
    let channels = info.channel_count();
    let mut modified = vec![true; channels];
    let exclude = p.exclude.as_deref().unwrap_or_default();
    for i in channel_indices(&info, "exclude", exclude)? {
        modified[i] = false;
    }
    let reference: Vec<usize> = match (p.mode.as_str(), p.reference.as_deref()) {
        ("average", Some(_)) => {
            return Err(BuildError::param(
                "reference",
                "is only used with mode \"channels\" (mode \"average\" subtracts the mean of all channels; use `exclude` to leave some out)",
            ))
        }
        ("average", None) => (0..channels).filter(|&i| modified[i]).collect(),
        (_, None) => {
            return Err(BuildError::param(
                "reference",
                "mode \"channels\" needs `reference`: the labels of the reference channels, e.g. [\"Cz\"]",
            ))
        }
        (_, Some([])) => {
            return Err(BuildError::param(
                "reference",
                "names no channel: give at least one label",
            ))
        }
        (_, Some(labels)) => channel_indices(&info, "reference", labels)?,
    };
    if reference.is_empty() {
        return Err(BuildError::param(
            "exclude",
            "excludes every channel: nothing is left to average",
        ));
    }
    let modified: Vec<usize> = (0..channels).filter(|&i| modified[i]).collect();
    with_float!(kind, S => {
        let input = b.input::<Samples<S>>("in")?;
        let out = b.output::<Samples<S>>("out", info)?;
        Ok(BoxedStage::new(Rereference::<S> {
            channels,
            reference,
            modified,
            input,
            out,
        }))
    })
}

/// The `Rereference` stage.
pub struct Rereference<S: FloatSample> {
    channels: usize,
    /// Channels whose mean is the reference.
    reference: Vec<usize>,
    /// Channels the reference is subtracted from.
    modified: Vec<usize>,
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
}

impl<S: FloatSample> DataPlaneStage for Rereference<S> {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(mut pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let c = self.channels;
        if !pkt.header.is_empty() && pkt.header.channels as usize != c {
            return Err(StageError::fatal(format!(
                "packet {} has {} channels but the stream has {c}",
                pkt.header.sequence, pkt.header.channels
            )));
        }
        let scale = 1.0 / self.reference.len() as f64;
        for frame in pkt.samples_mut().chunks_exact_mut(c) {
            let sum: f64 = self.reference.iter().map(|&i| frame[i].to_f64()).sum();
            let mean = sum * scale;
            for &i in &self.modified {
                let x = frame[i].to_f64();
                frame[i] = S::from_f64(x - mean);
            }
        }
        self.out.send(pkt).await
    }
}
