//! `Lda`: predictions from a shrinkage linear discriminant trained by `neuropipe train`.
//!
//! Takes a feature stream (one frame per epoch, e.g. from `Vectorize`) and sends, per epoch,
//! one frame of class probabilities (scikit-learn's `predict_proba`: the logistic of the
//! decision value for two classes, the softmax otherwise) labelled with the predicted class,
//! with the epoch's timestamp. With `events` (default), each prediction is also published as
//! a `prediction` event on the epoch's marker sample (`target (p = 0.93)`), which recorders
//! annotate (that costs the event's strings; without it, nothing is allocated per epoch).
//!
//! The model file must match the stream (classes, sample rate, upstream filters, feature
//! labels — channels, epoch window and decimation); a mismatch is a build error naming the
//! difference.

use super::model::{ModelFile, Signature};
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
    let model = file.decoder();
    let classes = file.input.classes.clone();
    let mut out_info = info.derived();
    out_info.kind = "Prediction".to_string();
    out_info.channels = classes
        .iter()
        .map(|c| ChannelInfo {
            label: c.clone(),
            unit: String::new(),
            kind: "Probability".to_string(),
            range: Some([0.0, 1.0]),
        })
        .collect();
    let readouts = b.readouts(
        &[ReadoutColumn::number(
            "predicted",
            "",
            "epochs predicted as this class",
        )],
        classes.clone(),
    );
    for row in 0..classes.len() {
        readouts.set(row, 0, 0.0);
    }
    readouts.publish();
    let tmin_ns = info.epochs.as_ref().map_or(0.0, |e| e.tmin_s * 1e9);
    let pool = b.pool::<Samples<f64>>(1, classes.len())?;
    let out = b.output::<Samples<f64>>("out", out_info)?;
    let rows = model.rows();
    let features = model.features;
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Lda::<S> {
            input,
            out,
            pool,
            decision: vec![0.0; rows],
            x: vec![0.0; features],
            counts: vec![0; classes.len()],
            model,
            classes,
            readouts,
            events: p.events,
            tmin_ns,
        }))
    })
}

/// The `Lda` stage.
pub struct Lda<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    out: Output<Samples<f64>>,
    pool: MemoryPool<Samples<f64>>,
    model: LdaModel,
    classes: Vec<String>,
    x: Vec<f64>,
    decision: Vec<f64>,
    counts: Vec<u64>,
    readouts: Readouts,
    events: bool,
    /// The epochs' start relative to their event (ns, ≤ 0 for marker-locked epochs).
    tmin_ns: f64,
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
        let mut out = self.pool.acquire().await;
        out.set_shape(1, self.classes.len())?;
        self.model.proba_into(&self.decision, out.samples_mut());
        out.header.sequence = h.sequence;
        out.header.first_frame = h.first_frame;
        out.header.timestamp = h.timestamp;
        out.header.emitted = h.emitted;
        out.header.label = Some(class as u32);
        self.counts[class] += 1;
        self.readouts.set(class, 0, self.counts[class] as f64);
        self.readouts.publish();
        if self.events {
            let event_ns = (h.timestamp as f64 - self.tmin_ns).max(0.0) as u64;
            ctx.emit_event_at(
                event_ns,
                EventKind::Prediction,
                format!("{} (p = {:.3})", self.classes[class], out.samples()[class]),
            );
        }
        self.out.send(out).await
    }

    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let total: u64 = self.counts.iter().sum();
        let per: Vec<String> = self
            .classes
            .iter()
            .zip(&self.counts)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        self.readouts
            .set_status(&format!("{total} predictions ({})", per.join(", ")));
        Ok(())
    }
}
