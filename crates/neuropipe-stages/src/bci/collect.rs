//! `TrainingSet`: the sink `neuropipe train` puts in place of a decoder to collect its
//! labelled feature vectors. Not in the stage registry: the trainer registers it.

use super::lda::check_features;
use super::model::Signature;
use neuropipe_core::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Labelled feature vectors and the stream they came on.
#[derive(Default, Debug)]
pub struct TrainingSet {
    /// The feature stream (its signature goes into the model file).
    pub stream: Option<StreamInfo>,
    /// Feature vectors (or whole epochs, `times × channels`), row-major.
    pub x: Vec<f64>,
    /// Class of each vector.
    pub y: Vec<u32>,
}

fn sets() -> &'static Mutex<HashMap<String, Arc<Mutex<TrainingSet>>>> {
    static SETS: OnceLock<Mutex<HashMap<String, Arc<Mutex<TrainingSet>>>>> = OnceLock::new();
    SETS.get_or_init(Default::default)
}

/// The training set named `name` (created empty on first use; kept across the runs of one
/// training, one per recording).
pub fn training_set(name: &str) -> Arc<Mutex<TrainingSet>> {
    sets()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_string())
        .or_default()
        .clone()
}

/// Parameters of `TrainingSet`.
#[derive(StageParams)]
pub struct TrainingSetParams {
    /// name of the training set to fill
    pub name: String,
    /// collect whole epochs (`times × channels` each, for a stage fitted on epochs: `Xdawn`),
    /// not feature vectors
    #[param(default = false)]
    pub whole_epochs: bool,
}

/// Stage type specification (registered by `neuropipe train` only).
pub fn spec() -> StageSpec {
    StageSpec::new(
        "TrainingSet",
        "Collects labelled feature vectors for `neuropipe train`",
        build,
    )
    .input(PortSpec::any("in").doc("features (one frame per labelled epoch), or whole epochs"))
    .params::<TrainingSetParams>()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: TrainingSetParams = b.parse_params()?;
    let (kind, info, _) = super::epoch_input_stream(b)?;
    if p.whole_epochs {
        if info.epochs.as_ref().is_none_or(|e| e.classes.len() < 2) {
            return Err(BuildError::stage(
                "fitting on epochs needs an Epoch stage with two or more `markers`",
            ));
        }
    } else {
        check_features(&info)?;
    }
    let into = training_set(&p.name);
    {
        let mut set = into.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(prev) = &set.stream {
            let (a, b) = (Signature::of(prev), Signature::of(&info));
            if let Some(why) = a.mismatch(&b) {
                return Err(BuildError::stage(format!(
                    "this recording gives other features than the previous one ({why}): train on recordings of the same montage, rate and filtering"
                )));
            }
        }
        set.stream = Some(info);
    }
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Collect::<S> { input, into }))
    })
}

struct Collect<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    into: Arc<Mutex<TrainingSet>>,
}

impl<S: FloatSample> DataPlaneStage for Collect<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(v) = self.input.recv().await? else {
            return Ok(());
        };
        let Some(label) = v.header.label else {
            return Err(StageError::fatal(
                "an unlabelled feature vector: training needs epochs cut at markers (Epoch), not sliding windows",
            ));
        };
        let mut set = self
            .into
            .lock()
            .map_err(|_| StageError::fatal("training set lock poisoned"))?;
        set.x.extend(v.samples().iter().map(|s| s.to_f64()));
        set.y.push(label);
        Ok(())
    }
}
