//! The model file `neuropipe train` writes and decoder stages load: versioned JSON holding
//! the decoder's parameters, the signature of the feature stream it was trained on (so a
//! pipeline feeding it other channels, another rate or other filters is refused at build),
//! and the training report.

use neuropipe_core::StreamInfo;
use neuropipe_dsp::decode::LdaModel;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `format` of every model file.
pub const FORMAT: &str = "neuropipe-model";
/// The version this build reads and writes.
pub const VERSION: u32 = 1;

/// What the decoder was trained on: the feature stream arriving at it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// Feature labels in order (`P7@300ms`, …): channels and timing.
    pub features: Vec<String>,
    /// Sample rate of the signal the features were cut from (Hz).
    pub sample_rate: f64,
    /// Filters applied upstream (EDF+ prefilter notation).
    pub filters: Vec<String>,
    /// Class names, in label order.
    pub classes: Vec<String>,
}

impl Signature {
    /// The signature of a feature stream (an epoch stream of one frame per epoch).
    pub fn of(info: &StreamInfo) -> Signature {
        Signature {
            features: info.channels.iter().map(|c| c.label.clone()).collect(),
            sample_rate: info.sample_rate,
            filters: info.filters.clone(),
            classes: info
                .epochs
                .as_ref()
                .map(|e| e.classes.clone())
                .unwrap_or_default(),
        }
    }

    /// Why a stream with signature `other` cannot feed a model trained on `self`.
    pub fn mismatch(&self, other: &Signature) -> Option<String> {
        if self.classes != other.classes {
            return Some(format!(
                "the model was trained on classes {:?} but the epochs here are {:?}",
                self.classes, other.classes
            ));
        }
        if self.sample_rate != other.sample_rate {
            return Some(format!(
                "the model was trained at {} Hz but the signal here is {} Hz",
                self.sample_rate, other.sample_rate
            ));
        }
        if self.filters != other.filters {
            return Some(format!(
                "the model was trained on signal filtered {:?} but the signal here is filtered {:?}",
                self.filters, other.filters
            ));
        }
        if self.features != other.features {
            let first = self
                .features
                .iter()
                .zip(&other.features)
                .position(|(a, b)| a != b)
                .unwrap_or(self.features.len().min(other.features.len()));
            return Some(format!(
                "the model takes {} features but {} arrive here; they first differ at feature {first}: {:?} vs {:?} (channels, epoch window or decimation changed)",
                self.features.len(),
                other.features.len(),
                self.features.get(first),
                other.features.get(first)
            ));
        }
        None
    }
}

/// How the model was trained and how well it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// The data: recordings replayed, or the pipeline's own source.
    pub data: Vec<String>,
    /// Epochs per class.
    pub epochs: Vec<usize>,
    /// Cross-validation folds (stratified).
    pub folds: usize,
    /// Fraction of epochs predicted right in cross-validation.
    pub accuracy: f64,
    /// Mean over classes of the fraction predicted right (chance: 1 / classes).
    pub balanced_accuracy: f64,
    /// Two classes: area under the ROC curve of the cross-validated decision values
    /// (chance 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    /// When (UTC, ISO 8601).
    pub trained_at: String,
}

/// A trained linear discriminant, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The decoder: `"lda"` (shrinkage LDA, as scikit-learn's `solver="lsqr",
    /// shrinkage="auto"`).
    pub decoder: String,
    /// The feature stream it takes.
    pub input: Signature,
    /// Coefficients, row-major (`rows × features`; one row for two classes).
    pub coef: Vec<f64>,
    /// Intercepts, one per row.
    pub intercept: Vec<f64>,
    /// The training report.
    pub training: Training,
}

impl ModelFile {
    /// A model file for a fitted LDA.
    pub fn lda(model: &LdaModel, input: Signature, training: Training) -> ModelFile {
        ModelFile {
            format: FORMAT.to_string(),
            version: VERSION,
            decoder: "lda".to_string(),
            input,
            coef: model.coef.clone(),
            intercept: model.intercept.clone(),
            training,
        }
    }

    /// Reads and checks a model file; the error names the file and what is wrong.
    pub fn load(path: &Path) -> Result<ModelFile, String> {
        let name = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "model file {name} not found: train it with `neuropipe train PIPELINE.json` (it writes the file the decoder's `model` names)"
            ),
            _ => format!("cannot read model file {name}: {e}"),
        })?;
        let m: ModelFile = serde_json::from_str(&text)
            .map_err(|e| format!("{name} is not a neuropipe model file: {e}"))?;
        if m.format != FORMAT {
            return Err(format!("{name}: format is {:?}, not {FORMAT:?}", m.format));
        }
        if m.version != VERSION {
            return Err(format!(
                "{name}: model file version {} (this neuropipe reads version {VERSION}): train it again",
                m.version
            ));
        }
        let p = m.input.features.len();
        let rows = if m.input.classes.len() == 2 {
            1
        } else {
            m.input.classes.len()
        };
        if m.input.classes.len() < 2 || m.coef.len() != rows * p || m.intercept.len() != rows {
            return Err(format!(
                "{name}: {} coefficients and {} intercepts do not fit {p} features and {} classes",
                m.coef.len(),
                m.intercept.len(),
                m.input.classes.len()
            ));
        }
        if let Some(i) = m
            .coef
            .iter()
            .chain(&m.intercept)
            .position(|v| !v.is_finite())
        {
            return Err(format!("{name}: coefficient {i} is not finite"));
        }
        Ok(m)
    }

    /// The decoder, ready to predict.
    pub fn decoder(&self) -> LdaModel {
        LdaModel {
            classes: self.input.classes.len(),
            features: self.input.features.len(),
            coef: self.coef.clone(),
            intercept: self.intercept.clone(),
        }
    }
}
