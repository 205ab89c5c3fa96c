//! `Xdawn`: each epoch through xDAWN spatial filters fitted on labelled epochs, as
//! pyRiemann's `Xdawn(nfilter)`: `filters` virtual channels per class (`target-xd1`, …,
//! then the next class's), each the combination of channels that best separates that
//! class's average response from the signal — the classic P300 front end, for `Vectorize`
//! and an `Lda` after it.
//!
//! The filters are fitted by `neuropipe train` together with the decoder (inside every
//! cross-validation fold) and stored in the decoder's model file; `model` names that file.
//! Epochs keep their layout (times, label, timestamp); values are `f64`. Allocates nothing
//! per epoch.

use super::model::Transform;
use super::riemann::load_model;
use neuropipe_core::prelude::*;
use neuropipe_dsp::decode::XdawnModel;

/// Parameters of `Xdawn`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct XdawnParams {
    /// model file written by `neuropipe train` for the decoder this stage feeds (relative to the pipeline file)
    pub model: String,
    /// spatial filters kept per class, the most discriminative first
    #[param(default = 4, min = 1, max = 1024)]
    pub filters: usize,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Xdawn",
        "Each epoch through xDAWN spatial filters (as pyRiemann's Xdawn): `filters` virtual channels per class carrying its evoked response",
        build,
    )
    .input(PortSpec::any("in").doc("epochs (from Epoch)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("the epochs through the filters: classes x `filters` channels"),
    )
    .params::<XdawnParams>()
    .with_pool()
}

/// The epoch stream `Xdawn` sends for epochs `info` with `filters` filters per class (also
/// what `neuropipe train` fits the stages after it on).
pub fn output_stream(info: &StreamInfo, filters: usize) -> StreamInfo {
    let mut out = info.derived();
    let units: Vec<&str> = info.channels.iter().map(|c| c.unit.as_str()).collect();
    // A filter has unit norm: its output is in the channels' unit if they share one.
    let unit = match units.first() {
        Some(u) if units.iter().all(|v| v == u) => u.to_string(),
        _ => String::new(),
    };
    let classes = info
        .epochs
        .as_ref()
        .map(|e| e.classes.clone())
        .unwrap_or_default();
    out.channels = classes
        .iter()
        .flat_map(|c| {
            let unit = unit.clone();
            (1..=filters).map(move |k| ChannelInfo {
                label: format!("{c}-xd{k}"),
                unit: unit.clone(),
                kind: "Xdawn".to_string(),
                range: None,
            })
        })
        .collect();
    out
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (kind, info, layout) = super::epoch_input_stream(b)?;
    let p: XdawnParams = b.parse_params()?;
    let n = info.channel_count();
    if p.filters > n {
        return Err(BuildError::param(
            "filters",
            format!("{} filters from {n} channels: at most {n}", p.filters),
        ));
    }
    if layout.classes.len() < 2 {
        return Err(BuildError::stage(
            "its input's epochs have fewer than two classes: xDAWN is fitted on an Epoch stage's `markers` (two or more)",
        ));
    }
    let file = load_model(b, &p.model, &info, |f| {
        f.transform("Xdawn").map(Transform::input)
    })?;
    let Ok(Transform::Xdawn { filters, .. }) = file.transform("Xdawn") else {
        return Err(BuildError::param("model", "no xDAWN filters"));
    };
    let model = XdawnModel::new(n, filters.clone())
        .map_err(|e| BuildError::param("model", e.to_string()))?;
    let want = p.filters * layout.classes.len();
    if model.outputs() != want {
        return Err(BuildError::param(
            "filters",
            format!(
                "the model holds {} xDAWN filters, not {} ({} per class): train it again with this setting",
                model.outputs(),
                want,
                p.filters
            ),
        ));
    }
    let times = layout.times;
    let out_info = output_stream(&info, p.filters);
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        let pool = b.pool::<Samples<f64>>(times, want)?;
        let out = b.output::<Samples<f64>>("out", out_info)?;
        Ok(BoxedStage::new(Xdawn::<S> {
            input,
            out,
            pool,
            x: vec![0.0; times * n],
            times,
            model,
        }))
    })
}

/// The `Xdawn` stage.
pub struct Xdawn<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    out: Output<Samples<f64>>,
    pool: MemoryPool<Samples<f64>>,
    /// The epoch in `f64`.
    x: Vec<f64>,
    times: usize,
    model: XdawnModel,
}

impl<S: FloatSample> DataPlaneStage for Xdawn<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(h) = super::recv_f64(&mut self.input, &mut self.x).await? else {
            return Ok(());
        };
        let mut v = self.pool.acquire().await;
        let k = self.model.outputs();
        v.set_shape(self.times, k)?;
        self.model.transform_into(&self.x, v.samples_mut());
        v.header = PacketHeader {
            channels: k as u32,
            ..h
        };
        self.out.send(v).await
    }
}
