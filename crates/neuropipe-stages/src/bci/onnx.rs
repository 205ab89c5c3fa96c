//! `Onnx`: runs an ONNX model on each epoch (or feature vector) with `tract`, a pure-Rust
//! inference engine (no native runtime to download), and sends its per-class output as
//! predictions — for decoders trained elsewhere: a scikit-learn pipeline exported with
//! `skl2onnx`, a network (EEGNet and the like) exported from PyTorch or Keras.
//!
//! The model's first input is fed one epoch as `float32`, shaped after the rank the model
//! declares: `[1, channels × times]` (rank 2, e.g. scikit-learn on a feature vector),
//! `[1, channels, times]` (rank 3) or `[1, 1, channels, times]` (rank 4, EEGNet), channels
//! first as MNE's arrays (`layout: "times_channels"` swaps them). The shapes are fixed when
//! the stage is built: a model that cannot take the upstream stage's epochs is a build error
//! naming both shapes. The output named by `output` (default: the first floating-point output
//! with two or more values) holds the per-class scores or probabilities; the prediction is
//! the class with the largest. `classes` names them (default: the epoch stream's classes when
//! there are as many, else `class0`, `class1`, …).
//!
//! Inference allocates (tract builds its tensors per run; its run state is kept across
//! epochs): 13 allocations per epoch for a small linear model, none per packet; the
//! counting-allocator test (`tests/bci_no_alloc.rs`) bounds them.

use super::predict::{argmax, Predictions, Scores};
use neuropipe_core::prelude::*;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::tract_core::plan::SimpleState;

/// Parameters of `Onnx`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct OnnxParams {
    /// ONNX model file (relative to the pipeline file)
    pub model: String,
    /// name of the output holding one score or probability per class (default: the first floating-point output with two or more values)
    pub output: Option<String>,
    /// class names in the model's output order (default: the epoch stream's classes if as many, else class0, class1, ...)
    pub classes: Option<Vec<String>>,
    /// how an epoch is laid out in the model's input: "channels_times" (MNE's arrays) or "times_channels"
    #[param(default = "channels_times", choices = ["channels_times", "times_channels"])]
    pub layout: String,
    /// publish each prediction as an event (recorders annotate it)
    #[param(default = true)]
    pub events: bool,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Onnx",
        "Runs an ONNX model (pure-Rust inference, tract) on each epoch or feature vector: per-class scores and the best class",
        build,
    )
    .input(PortSpec::any("in").doc("epochs (Epoch, Window) or feature vectors"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of the model's per-class output per epoch, labelled with the best class"),
    )
    .params::<OnnxParams>()
    .with_pool()
}

/// The model's run state, kept across epochs (tract reuses its buffers).
type State = SimpleState<TypedFact, Box<dyn TypedOp>>;

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (kind, info, layout) = super::epoch_input_stream(b)?;
    let p: OnnxParams = b.parse_params()?;
    let path = b.resolve_path(&p.model);
    let name = path.display().to_string();
    let bad = |what: String| BuildError::param("model", format!("{name}: {what}"));
    if !path.exists() {
        return Err(bad("no such file".into()));
    }
    let (c, t) = (info.channel_count(), layout.times);
    let mut model = tract_onnx::onnx()
        .model_for_path(&path)
        .map_err(|e| bad(format!("not a model tract can read: {e:#}")))?;
    let declared = model
        .input_fact(0)
        .map_err(|e| bad(format!("no input: {e}")))?
        .clone();
    let rank = declared.shape.rank().concretize();
    let channels_first = p.layout == "channels_times";
    let (a, bdim) = if channels_first { (c, t) } else { (t, c) };
    let shape: Vec<usize> = match rank {
        Some(2) => vec![1, c * t],
        Some(3) => vec![1, a, bdim],
        Some(4) => vec![1, 1, a, bdim],
        _ => {
            return Err(bad(format!(
                "its input is {declared:?}: the Onnx stage feeds rank 2 ([1, features]), 3 ([1, channels, times]) or 4 ([1, 1, channels, times])"
            )))
        }
    };
    model
        .set_input_fact(0, f32::fact(&shape).into())
        .map_err(|e| bad(format!("its input {declared:?} cannot take epochs shaped {shape:?} ({c} channels x {t} frames): {e}")))?;
    let typed = model
        .into_optimized()
        .map_err(|e| bad(format!("its input {declared:?} cannot take epochs shaped {shape:?} ({c} channels x {t} frames): {e:#}")))?;
    // The output with the class scores.
    let outputs: Vec<(usize, String, usize, bool)> = typed
        .outputs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let fact = typed.outlet_fact(*o).ok()?;
            let len = fact
                .shape
                .as_concrete()
                .map(|s| s.iter().product::<usize>())?;
            let name = typed.node(o.node).name.clone();
            let float = fact.datum_type.is_float();
            Some((i, name, len, float))
        })
        .collect();
    let chosen = match &p.output {
        Some(n) => outputs.iter().find(|o| &o.1 == n).ok_or_else(|| {
            BuildError::param(
                "output",
                format!(
                    "{name} has no output {n:?}; its outputs: {:?}",
                    outputs.iter().map(|o| &o.1).collect::<Vec<_>>()
                ),
            )
        })?,
        None => outputs
            .iter()
            .find(|o| o.3 && o.2 >= 2)
            .ok_or_else(|| {
                bad(format!(
                    "no floating-point output with one value per class; its outputs (name, values): {:?}",
                    outputs.iter().map(|o| (&o.1, o.2)).collect::<Vec<_>>()
                ))
            })?,
    };
    let (out_index, out_len) = (chosen.0, chosen.2);
    if !chosen.3 {
        return Err(BuildError::param(
            "output",
            format!("{name}: output {:?} is not floating-point scores", chosen.1),
        ));
    }
    let stream_classes = info
        .epochs
        .as_ref()
        .map(|e| e.classes.clone())
        .unwrap_or_default();
    let classes = match p.classes {
        Some(cl) if cl.len() == out_len => cl,
        Some(cl) => {
            return Err(BuildError::param(
                "classes",
                format!(
                    "{} class names for the {out_len} values of output {:?}",
                    cl.len(),
                    chosen.1
                ),
            ))
        }
        None if stream_classes.len() == out_len => stream_classes,
        None => (0..out_len).map(|k| format!("class{k}")).collect(),
    };
    let state: State = typed
        .into_runnable()
        .and_then(|plan| plan.spawn())
        .map_err(|e| bad(format!("cannot be planned: {e:#}")))?;
    let predictions = Predictions::build(
        b,
        &info,
        &classes,
        p.events,
        Scores {
            kind: "Score",
            range: None,
            symbol: "score",
        },
    )?;
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Onnx::<S> {
            input,
            predictions,
            state,
            shape,
            channels_first,
            channels: c,
            x: vec![0.0; c * t],
            scores: vec![0.0; out_len],
            out_index,
        }))
    })
}

/// The `Onnx` stage.
pub struct Onnx<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    predictions: Predictions,
    state: State,
    shape: Vec<usize>,
    channels_first: bool,
    channels: usize,
    /// The epoch in the model's layout.
    x: Vec<f32>,
    scores: Vec<f64>,
    out_index: usize,
}

impl<S: FloatSample> DataPlaneStage for Onnx<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(v) = self.input.recv().await? else {
            return Ok(());
        };
        let c = self.channels;
        let t = self.x.len() / c;
        for (f, frame) in v.samples().chunks_exact(c).enumerate() {
            for (ch, s) in frame.iter().enumerate() {
                let at = if self.channels_first {
                    ch * t + f
                } else {
                    f * c + ch
                };
                self.x[at] = s.to_f64() as f32;
            }
        }
        let h = v.header;
        drop(v);
        if !self.x.iter().all(|x| x.is_finite()) {
            return Err(StageError::fatal(
                "an epoch holds values that are not finite in float32: the model's output would be meaningless",
            ));
        }
        let tensor = Tensor::from_shape(&self.shape, &self.x)
            .map_err(|e| StageError::fatal(format!("ONNX input: {e}")))?;
        let outputs = self
            .state
            .run(tvec![tensor.into()])
            .map_err(|e| StageError::fatal(format!("ONNX inference failed: {e:#}")))?;
        let out = outputs[self.out_index]
            .cast_to::<f64>()
            .map_err(|e| StageError::fatal(format!("ONNX output: {e}")))?;
        let values = out
            .to_plain_array_view::<f64>()
            .map_err(|e| StageError::fatal(format!("ONNX output: {e}")))?;
        for (s, v) in self.scores.iter_mut().zip(values.iter()) {
            *s = *v;
        }
        drop(outputs);
        if !self.scores.iter().all(|x| x.is_finite()) {
            return Err(StageError::fatal("the ONNX model's output is not finite"));
        }
        let best = argmax(&self.scores);
        let scores = &self.scores;
        self.predictions
            .send(ctx, h, best, |o| o.copy_from_slice(scores))
            .await
    }

    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        self.predictions.finish();
        Ok(())
    }
}
