//! `Lda`: predictions from a shrinkage linear discriminant trained by `neuropipe train`; and
//! `LogisticRegression`, the same stage with an L2-regularised logistic regression (as
//! scikit-learn's `LogisticRegression`, fitted by `neuropipe train` or a calibration with
//! the stage's `c`).
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
//! difference. With `calibrate: N` (at start, or set while running) the stage first collects
//! N labelled epochs, fits on them, writes the model and then predicts
//! (`bci/calibrate.rs`); meanwhile it sends nothing and its readouts count the epochs.

use super::calibrate::{Calibration, Linear};
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
    /// calibrate in the running pipeline: collect this many labelled epochs, fit, write the model (where `model` points, or beside it if a file is there) and predict with it; 0: predict with the trained `model`. Set it while running to calibrate again
    #[param(default = 0, min = 0, max = 1000000, live)]
    pub calibrate: usize,
}

/// Parameters of `LogisticRegression`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct LogisticParams {
    /// model file written by `neuropipe train` (relative to the pipeline file)
    pub model: String,
    /// publish each prediction as an event (recorders annotate it)
    #[param(default = true)]
    pub events: bool,
    /// inverse regularisation strength used by `neuropipe train` and calibration (scikit-learn's C: smaller is a stronger L2 penalty)
    #[param(default = 1.0, min = 1e-9, max = 1e9)]
    pub c: f64,
    /// calibrate in the running pipeline: collect this many labelled epochs, fit, write the model (where `model` points, or beside it if a file is there) and predict with it; 0: predict with the trained `model`. Set it while running to calibrate again
    #[param(default = 0, min = 0, max = 1000000, live)]
    pub calibrate: usize,
}

/// Stage type specification of `LogisticRegression`.
pub fn logistic_spec() -> StageSpec {
    StageSpec::new(
        "LogisticRegression",
        "L2-regularised logistic regression (as scikit-learn's LogisticRegression) trained by `neuropipe train`: class probabilities and the predicted class per epoch",
        build_logistic,
    )
    .input(PortSpec::any("in").doc("features: one frame per epoch (Vectorize, TangentSpace)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of class probabilities per epoch, labelled with the predicted class"),
    )
    .params::<LogisticParams>()
    .with_pool()
}

fn build_logistic(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: LogisticParams = b.parse_params()?;
    build_linear(
        b,
        &p.model,
        p.events,
        p.calibrate,
        Linear::Logistic(p.c),
        ModelFile::logistic,
    )
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
    let p: LdaParams = b.parse_params()?;
    build_linear(
        b,
        &p.model,
        p.events,
        p.calibrate,
        Linear::Lda,
        ModelFile::lda,
    )
}

/// The stage of linear decoder `linear`, whose model file's part `take` gives (`calibrate` >
/// 0: calibrating first).
fn build_linear(
    b: &mut StageBuilder<'_>,
    model: &str,
    events: bool,
    calibrate: usize,
    linear: Linear,
    take: fn(&ModelFile) -> Result<LdaModel, String>,
) -> Result<BoxedStage, BuildError> {
    let (kind, info, _) = super::epoch_input_stream(b)?;
    check_features(&info)?;
    let path = b.resolve_path(model);
    let signature = Signature::of(&info);
    let classes = signature.classes.clone();
    // A trained model, unless the stage calibrates first and there is none yet.
    let model = if calibrate > 0 && !path.exists() {
        None
    } else {
        let file = ModelFile::load(&path).map_err(|e| BuildError::param("model", e))?;
        if let Some(why) = file.input.mismatch(&signature) {
            return Err(BuildError::param(
                "model",
                format!("{}: {why}; train it again on this pipeline", path.display()),
            ));
        }
        Some(take(&file).map_err(|e| BuildError::param("model", e))?)
    };
    let predictions = Predictions::build(b, &info, &classes, events, Scores::PROBABILITY)?;
    if calibrate > 0 {
        predictions.status(&format!("calibrating: {calibrate} epochs to collect"));
    }
    let features = signature.features.len();
    let rows = if classes.len() == 2 { 1 } else { classes.len() };
    let calibration =
        (calibrate > 0).then(|| Calibration::new(calibrate, features, classes.len(), linear));
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Lda::<S> {
            input,
            predictions,
            decision: vec![0.0; rows],
            x: vec![0.0; features],
            model,
            calibration,
            linear,
            signature,
            path,
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
    /// `None` until a first calibration ends.
    model: Option<LdaModel>,
    /// A calibration in progress.
    calibration: Option<Calibration>,
    /// What a calibration fits.
    linear: Linear,
    /// The feature stream (for the model file a calibration writes).
    signature: Signature,
    /// `model`'s path.
    path: std::path::PathBuf,
    x: Vec<f64>,
    decision: Vec<f64>,
}

impl<S: FloatSample> Lda<S>
where
    Samples<S>: Payload,
{
    /// Adds the epoch to the calibration; fits once it is complete.
    async fn calibrate(&mut self, ctx: &mut StageContext, label: Option<u32>) {
        let Some(cal) = self.calibration.as_mut() else {
            return;
        };
        let Some(label) = label else {
            return;
        };
        let full = cal.push(&self.x, label);
        let target = cal.target;
        self.predictions.calibration_progress(cal.collected());
        if !full {
            return;
        }
        let Some(cal) = self.calibration.take() else {
            return;
        };
        let (signature, path) = (self.signature.clone(), self.path.clone());
        match cal.finish(signature, path, ctx.id().to_string()).await {
            Ok(done) => {
                self.model = Some(done.model);
                self.predictions.status(&done.report);
                self.predictions.set_note(&done.report);
                tracing::info!("{}", done.report);
                ctx.emit_event(EventKind::Calibration, done.report);
            }
            Err(why) => {
                let text =
                    format!("calibration failed: {why}; calibrating again ({target} epochs)");
                self.predictions.status(&text);
                ctx.emit_event(EventKind::Calibration, text);
                self.calibration = Some(Calibration::new(
                    target,
                    self.x.len(),
                    self.signature.classes.len(),
                    self.linear,
                ));
            }
        }
    }
}

impl<S: FloatSample> DataPlaneStage for Lda<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(h) = super::recv_f64(&mut self.input, &mut self.x).await? else {
            return Ok(());
        };
        if self.calibration.is_some() {
            self.calibrate(ctx, h.label).await;
            return Ok(());
        }
        let Some(model) = &self.model else {
            return Ok(());
        };
        model.decision_into(&self.x, &mut self.decision);
        let class = model.predict(&self.decision);
        let decision = &self.decision;
        self.predictions
            .send(ctx, h, class, |p| model.proba_into(decision, p))
            .await
    }

    fn control(&mut self, msg: &ControlMsg, ctx: &mut StageContext) -> Result<Handled, StageError> {
        let Some(u) = msg.update::<LdaParams>()? else {
            return Ok(Handled::Default);
        };
        match u {
            LdaParamsUpdate::Calibrate(0) => {
                if self.model.is_none() {
                    return Err(StageError::bad_param(
                        "there is no model yet: the calibration cannot be cancelled before one has finished",
                    ));
                }
                if self.calibration.take().is_some() {
                    ctx.emit_event(
                        EventKind::Calibration,
                        "calibration cancelled: predicting with the previous model",
                    );
                }
            }
            LdaParamsUpdate::Calibrate(n) => {
                self.calibration = Some(Calibration::new(
                    n,
                    self.x.len(),
                    self.signature.classes.len(),
                    self.linear,
                ));
                self.predictions
                    .status(&format!("calibrating: {n} epochs to collect"));
                self.predictions.calibration_progress(0);
                ctx.emit_event(
                    EventKind::Calibration,
                    format!("calibration started: {n} labelled epochs"),
                );
            }
        }
        Ok(Handled::update::<LdaParams>(&u))
    }

    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        if let Some(cal) = &self.calibration {
            let text = format!(
                "calibration unfinished: {} of {} epochs collected, no model fitted",
                cal.collected(),
                cal.target
            );
            self.predictions.status(&text);
            return Ok(());
        }
        self.predictions.finish();
        Ok(())
    }
}
