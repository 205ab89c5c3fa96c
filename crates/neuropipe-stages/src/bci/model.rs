//! The model file `neuropipe train` writes and decoder stages load: versioned JSON holding
//! the decoder's parameters, the stages fitted with it upstream (`TangentSpace`'s
//! reference, `Csp`'s and `Xdawn`'s filters), the signature of each one's input stream (so a pipeline feeding them other
//! channels, another rate or other filters is refused at build), and the training report.

use neuropipe_core::StreamInfo;
use neuropipe_dsp::decode::{LdaModel, MdmModel, TangentSpaceModel};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `format` of every model file.
pub const FORMAT: &str = "neuropipe-model";
/// The version this build writes (it reads this and the earlier ones: version 1 held LDA
/// only, in the fields LDA still uses).
pub const VERSION: u32 = 2;

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

/// A fitted stage upstream of the decoder, stored in the decoder's model file and loaded
/// by that stage (which names the same file in its `model` parameter).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Transform {
    /// `TangentSpace`: the reference point of the map (the Riemannian mean of the training
    /// covariances).
    TangentSpace {
        /// The covariance stream it takes.
        input: Signature,
        /// The reference, `channels × channels`, row-major.
        reference: Vec<f64>,
    },
    /// `Csp`: the spatial filters.
    Csp {
        /// The covariance stream it takes.
        input: Signature,
        /// The filters as rows, `filters × channels`.
        filters: Vec<f64>,
    },
    /// `Xdawn`: the spatial filters of every class.
    Xdawn {
        /// The epoch stream it takes.
        input: Signature,
        /// The filters as rows, `(classes · filters) × channels`, class by class.
        filters: Vec<f64>,
    },
}

impl Transform {
    /// The stage type that loads it.
    pub fn stage_type(&self) -> &'static str {
        match self {
            Transform::TangentSpace { .. } => "TangentSpace",
            Transform::Csp { .. } => "Csp",
            Transform::Xdawn { .. } => "Xdawn",
        }
    }

    /// The stream it was fitted on.
    pub fn input(&self) -> &Signature {
        match self {
            Transform::TangentSpace { input, .. }
            | Transform::Csp { input, .. }
            | Transform::Xdawn { input, .. } => input,
        }
    }
}

/// A fitted decoder.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoder {
    /// Shrinkage LDA.
    Lda(LdaModel),
    /// L2-regularised logistic regression (a linear model of the same layout as LDA's).
    LogisticRegression(LdaModel),
    /// Minimum distance to Riemannian mean.
    Mdm(MdmModel),
}

/// A trained decoder and the stages fitted with it, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The decoder: `"lda"` (shrinkage LDA, as scikit-learn's `solver="lsqr",
    /// shrinkage="auto"`), `"logreg"` (logistic regression, as scikit-learn's
    /// `LogisticRegression`) or `"mdm"` (minimum distance to Riemannian mean, as pyRiemann's
    /// `MDM`).
    pub decoder: String,
    /// The feature stream the decoder takes.
    pub input: Signature,
    /// LDA, logistic regression: coefficients, row-major (`rows × features`; one row for two classes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coef: Vec<f64>,
    /// LDA, logistic regression: intercepts, one per row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intercept: Vec<f64>,
    /// MDM: the class means, `classes × channels × channels`, row-major.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub means: Vec<f64>,
    /// Stages upstream of the decoder fitted with it (pipeline order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<Transform>,
    /// The training report.
    pub training: Training,
}

/// The side of a square matrix of `len` entries.
fn side(len: usize) -> Option<usize> {
    let n = (len as f64).sqrt().round() as usize;
    (n > 0 && n * n == len).then_some(n)
}

impl ModelFile {
    /// A model file for a fitted decoder and the transforms fitted with it.
    pub fn new(
        decoder: &Decoder,
        input: Signature,
        transforms: Vec<Transform>,
        training: Training,
    ) -> ModelFile {
        let (name, coef, intercept, means) = match decoder {
            Decoder::Lda(m) => ("lda", m.coef.clone(), m.intercept.clone(), vec![]),
            Decoder::LogisticRegression(m) => {
                ("logreg", m.coef.clone(), m.intercept.clone(), vec![])
            }
            Decoder::Mdm(m) => ("mdm", vec![], vec![], m.means.clone()),
        };
        ModelFile {
            format: FORMAT.to_string(),
            version: VERSION,
            decoder: name.to_string(),
            input,
            coef,
            intercept,
            means,
            transforms,
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
        if !(1..=VERSION).contains(&m.version) {
            return Err(format!(
                "{name}: model file version {} (this neuropipe reads versions 1 to {VERSION}): train it again",
                m.version
            ));
        }
        if m.input.classes.len() < 2 {
            return Err(format!("{name}: fewer than two classes"));
        }
        if let Some(i) = m
            .coef
            .iter()
            .chain(&m.intercept)
            .chain(&m.means)
            .position(|v| !v.is_finite())
        {
            return Err(format!("{name}: parameter {i} is not finite"));
        }
        m.decoder().map_err(|e| format!("{name}: {e}"))?;
        for t in &m.transforms {
            match t {
                Transform::TangentSpace { input, reference } => {
                    let n = side(input.features.len()).unwrap_or(0);
                    TangentSpaceModel::from_reference(reference.clone(), n)
                        .map_err(|e| format!("{name}: TangentSpace reference: {e}"))?;
                }
                Transform::Csp { input, filters } => {
                    let n = side(input.features.len()).unwrap_or(0);
                    if n == 0
                        || filters.is_empty()
                        || filters.len() % n != 0
                        || filters.iter().any(|v| !v.is_finite())
                    {
                        return Err(format!(
                            "{name}: {} CSP filter values do not fit {n} channels",
                            filters.len()
                        ));
                    }
                }
                Transform::Xdawn { input, filters } => {
                    let n = input.features.len();
                    let k = input.classes.len();
                    if n == 0
                        || filters.is_empty()
                        || filters.len() % (n * k.max(1)) != 0
                        || filters.iter().any(|v| !v.is_finite())
                    {
                        return Err(format!(
                            "{name}: {} xDAWN filter values do not fit {n} channels and {k} classes",
                            filters.len()
                        ));
                    }
                }
            }
        }
        Ok(m)
    }

    /// The decoder, ready to predict.
    pub fn decoder(&self) -> Result<Decoder, String> {
        let classes = self.input.classes.len();
        let p = self.input.features.len();
        match self.decoder.as_str() {
            "lda" | "logreg" => {
                let rows = if classes == 2 { 1 } else { classes };
                if self.coef.len() != rows * p || self.intercept.len() != rows {
                    return Err(format!(
                        "{} coefficients and {} intercepts do not fit {p} features and {classes} classes",
                        self.coef.len(),
                        self.intercept.len(),
                    ));
                }
                let m = LdaModel {
                    classes,
                    features: p,
                    coef: self.coef.clone(),
                    intercept: self.intercept.clone(),
                };
                Ok(if self.decoder == "lda" {
                    Decoder::Lda(m)
                } else {
                    Decoder::LogisticRegression(m)
                })
            }
            "mdm" => {
                let n = side(p).ok_or_else(|| {
                    format!("an MDM takes covariance matrices, but its {p} features are no square matrix")
                })?;
                MdmModel::from_means(self.means.clone(), n, classes)
                    .map(Decoder::Mdm)
                    .map_err(|e| format!("MDM class means: {e}"))
            }
            other => Err(format!(
                "decoder {other:?} is not one this neuropipe knows (lda, logreg, mdm)"
            )),
        }
    }

    /// The LDA, or why this file holds none (for the `Lda` stage).
    pub fn lda(&self) -> Result<LdaModel, String> {
        match self.decoder()? {
            Decoder::Lda(m) => Ok(m),
            _ => Err(self.wrong_decoder("Lda")),
        }
    }

    /// The logistic regression, or why this file holds none (for the `LogisticRegression`
    /// stage).
    pub fn logistic(&self) -> Result<LdaModel, String> {
        match self.decoder()? {
            Decoder::LogisticRegression(m) => Ok(m),
            _ => Err(self.wrong_decoder("LogisticRegression")),
        }
    }

    /// The MDM, or why this file holds none (for the `Mdm` stage).
    pub fn mdm(&self) -> Result<MdmModel, String> {
        match self.decoder()? {
            Decoder::Mdm(m) => Ok(m),
            _ => Err(self.wrong_decoder("Mdm")),
        }
    }

    fn wrong_decoder(&self, stage: &str) -> String {
        format!(
            "it holds a {:?} decoder, not the one a {stage} stage runs: train it again on this pipeline",
            self.decoder
        )
    }

    /// The fitted transform that a stage of type `stage` loads, or why there is none.
    pub fn transform(&self, stage: &str) -> Result<&Transform, String> {
        let found: Vec<&Transform> = self
            .transforms
            .iter()
            .filter(|t| t.stage_type() == stage)
            .collect();
        match found.as_slice() {
            [t] => Ok(t),
            [] => Err(format!(
                "it holds no fitted {stage}: train it again on this pipeline (train fits the {stage} stage feeding the decoder)"
            )),
            _ => Err(format!("it holds {} fitted {stage} stages", found.len())),
        }
    }
}
