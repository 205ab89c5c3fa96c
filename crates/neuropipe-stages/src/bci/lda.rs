//! `Lda`: predictions from a shrinkage linear discriminant trained by `neuropipe train`.
//!
//! Takes a feature stream (one frame per epoch, e.g. from `Vectorize`, `LogVariance` or
//! `TangentSpace`) and sends, per epoch, one frame of class probabilities (scikit-learn's
//! `predict_proba`: the logistic of the decision value for two classes, the softmax
//! otherwise) labelled with the predicted class, with the epoch's timestamp
//! (the shared prediction stream, `bci/predict.rs`). With `events` (default), each prediction is also published as a
//! `prediction` event on the epoch's marker sample (`target (p = 0.93)`), which recorders
//! annotate (that costs the event's strings; without it, nothing is allocated per epoch).
//!
//! The model file must match the stream (classes, sample rate, upstream filters, feature
//! labels — channels, epoch window and decimation); a mismatch is a build error naming the
//! difference.

use super::model::{ModelFile, Signature};
use super::predict::{Predictions, Scores};
use neuropipe_core::prelude::*;
use neuropipe_dsp::decode::LdaModel;

/// Parameters of `Lda`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct LdaParams {
    /// model file written by `neuropipe train` (relative to the pipeline file)
    pub model: String,
    /// publish each prediction as an event (recorders annotate it)
    #[param(default = true)]
    pub events: bool,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Lda",
        "Shrinkage LDA decoder (as scikit-learn's lsqr/auto) trained by `neuropipe train`: class probabilities and the predicted class per epoch",
        build,
    )
    .input(PortSpec::any("in").doc("features: one frame per epoch (Vectorize)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of class probabilities per epoch, labelled with the predicted class"),
    )
    .params::<LdaParams>()
    .with_pool()
}

/// The check shared with `neuropipe train`'s collector: a feature stream of one frame per
/// labelled epoch.
pub fn check_features(info: &StreamInfo) -> Result<(), BuildError> {
    match &info.epochs {
        Some(e) if e.times == 1 && e.classes.len() >= 2 => Ok(()),
        Some(e) if e.times != 1 => Err(BuildError::stage(format!(
            "its input carries epochs of {} frames; a decoder takes one feature vector per epoch: put a Vectorize stage before it",
            e.times
        ))),
        Some(_) => Err(BuildError::stage(
            "its input's epochs have fewer than two classes: decoding needs an Epoch stage with two or more `markers`",
        )),
        None => Err(BuildError::stage(
            "its input is a continuous stream: cut it with Epoch, then Vectorize",
        )),
    }
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (kind, info, _) = super::epoch_input_stream(b)?;
    let p: LdaParams = b.parse_params()?;
    check_features(&info)?;
    let path = b.resolve_path(&p.model);
    let file = ModelFile::load(&path).map_err(|e| BuildError::param("model", e))?;
    if let Some(why) = file.input.mismatch(&Signature::of(&info)) {
        return Err(BuildError::param(
            "model",
            format!("{}: {why}; train it again on this pipeline", path.display()),
        ));
    }
    let model = file.lda().map_err(|e| BuildError::param("model", e))?;
    let predictions =
        Predictions::build(b, &info, &file.input.classes, p.events, Scores::PROBABILITY)?;
    let rows = model.rows();
    let features = model.features;
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Lda::<S> {
            input,
            predictions,
            decision: vec![0.0; rows],
            x: vec![0.0; features],
            model,
        }))
    })
}

/// The `Lda` stage.
pub struct Lda<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    predictions: Predictions,
    model: LdaModel,
    x: Vec<f64>,
    decision: Vec<f64>,
}

impl<S: FloatSample> DataPlaneStage for Lda<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(v) = self.input.recv().await? else {
            return Ok(());
        };
        for (x, s) in self.x.iter_mut().zip(v.samples()) {
            *x = s.to_f64();
        }
        let h = v.header;
        drop(v);
        if !self.x.iter().all(|x| x.is_finite()) {
            // Epoch and Window never send one; another stage might.
            return Err(StageError::fatal(
                "a feature vector holds non-finite values: decoding it would be meaningless",
            ));
        }
        self.model.decision_into(&self.x, &mut self.decision);
        let class = self.model.predict(&self.decision);
        let (model, decision) = (&self.model, &self.decision);
        self.predictions
            .send(ctx, h, class, |p| model.proba_into(decision, p))
            .await
    }

    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        self.predictions.finish();
        Ok(())
    }
}
