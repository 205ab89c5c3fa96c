//! `Mdm`: minimum distance to Riemannian mean, as pyRiemann's `MDM(metric="riemann")`,
//! trained by `neuropipe train`.
//!
//! Takes a covariance stream (`Covariance`: one `channels × channels` matrix per epoch) and
//! sends, per epoch, one frame of class probabilities (`softmax(−d²)` of the
//! affine-invariant distances to the class means, pyRiemann's `predict_proba`) labelled
//! with the nearest class (the shared prediction stream, `bci/predict.rs`). A covariance that is not positive definite
//! (channels linearly dependent over the epoch) has no distance: that epoch is dropped,
//! counted and published as an `epoch_dropped` event. Allocates nothing per epoch (without
//! `events`); costs one `channels × channels` eigenvalue problem per class.

use super::predict::{Predictions, Scores};
use super::riemann::{covariance_channels, load_model};
use neuropipe_core::prelude::*;
use neuropipe_dsp::decode::{MdmModel, Spd};

/// Parameters of `Mdm`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct MdmParams {
    /// model file written by `neuropipe train` (relative to the pipeline file)
    pub model: String,
    /// publish each prediction as an event (recorders annotate it)
    #[param(default = true)]
    pub events: bool,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Mdm",
        "Minimum distance to Riemannian mean (as pyRiemann's MDM) trained by `neuropipe train`: class probabilities and the nearest class per epoch's covariance",
        build,
    )
    .input(PortSpec::of("in", PayloadKind::F64).doc("covariance matrices, one per epoch (Covariance)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of class probabilities per epoch, labelled with the nearest class"),
    )
    .params::<MdmParams>()
    .with_pool()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (_, info, _) = super::epoch_input_stream(b)?;
    let p: MdmParams = b.parse_params()?;
    let n = covariance_channels(&info)?;
    super::lda::check_features(&info)?;
    let file = load_model(b, &p.model, &info, |f| Ok(&f.input))?;
    let model = file.mdm().map_err(|e| BuildError::param("model", e))?;
    let predictions =
        Predictions::build(b, &info, &file.input.classes, p.events, Scores::PROBABILITY)?;
    let input = b.epochs_input::<Samples<f64>>("in")?;
    let classes = model.classes;
    Ok(BoxedStage::new(Mdm {
        input,
        predictions,
        model,
        spd: Spd::new(n),
        distances: vec![0.0; classes],
    }))
}

/// The `Mdm` stage.
pub struct Mdm {
    input: Input<Samples<f64>>,
    predictions: Predictions,
    model: MdmModel,
    spd: Spd,
    distances: Vec<f64>,
}

impl DataPlaneStage for Mdm {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(v) = self.input.recv().await? else {
            return Ok(());
        };
        let h = v.header;
        let r = self
            .model
            .distances_into(v.samples(), &mut self.spd, &mut self.distances);
        drop(v);
        if let Err(eigenvalue) = r {
            self.predictions.drop_epoch(
                ctx,
                &h,
                format!("epoch dropped: its covariance is not positive definite (eigenvalue {eigenvalue:e}), so it has no distance to the class means (linearly dependent channels? use the lwf or oas estimator)"),
            );
            return Ok(());
        }
        let class = self.model.predict(&self.distances);
        let (model, d) = (&self.model, &self.distances);
        self.predictions
            .send(ctx, h, class, |p| model.proba_into(d, p))
            .await
    }

    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        self.predictions.finish();
        Ok(())
    }
}
