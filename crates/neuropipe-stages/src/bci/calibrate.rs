//! Calibration inside a running pipeline, for `Lda` and `LogisticRegression`: collect `n`
//! labelled feature vectors (the cued epochs of a calibration run), fit the linear model
//! ([`Linear`]) on them off the runtime's threads, cross-validate it, write its model file, and switch to predicting — the
//! calibrate-then-run scenario of OpenViBE and NeuroPype without leaving the pipeline.
//!
//! The buffers for the `n` vectors are allocated when a calibration starts (at build, or when
//! the live parameter `calibrate` is set), so collecting allocates nothing per epoch. The model
//! file goes where `model` points if no file is there, else to the first free
//! `<stem>_<k>.json` beside it: a calibration never replaces a model.

use super::model::{Decoder, ModelFile, Signature, Training};
use neuropipe_dsp::decode::{cross_validate, fit_logistic, FitError, LdaModel};
use std::path::{Path, PathBuf};

/// The linear model a stage fits: shrinkage LDA, or logistic regression with this `C`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Linear {
    Lda,
    Logistic(f64),
}

impl Linear {
    /// Fits on `x` (`n × p`) with labels `y` in `0..classes`.
    fn fit(self, x: &[f64], p: usize, y: &[u32], classes: usize) -> Result<LdaModel, FitError> {
        match self {
            Linear::Lda => LdaModel::fit(x, p, y, classes),
            Linear::Logistic(c) => fit_logistic(x, p, y, classes, c),
        }
    }

    /// The decoder to store in a model file.
    pub(super) fn decoder(self, m: LdaModel) -> Decoder {
        match self {
            Linear::Lda => Decoder::Lda(m),
            Linear::Logistic(_) => Decoder::LogisticRegression(m),
        }
    }
}

/// A calibration in progress.
#[derive(Debug)]
pub(super) struct Calibration {
    /// Epochs to collect.
    pub(super) target: usize,
    kind: Linear,
    features: usize,
    classes: usize,
    x: Vec<f64>,
    y: Vec<u32>,
}

/// A finished calibration: the model, and what to say of it (where it was written, how well
/// it cross-validated).
pub(super) struct Calibrated {
    pub(super) model: LdaModel,
    pub(super) report: String,
}

impl Calibration {
    /// A calibration of `target` vectors of `features` values in `classes` classes, fitting
    /// `kind`.
    pub(super) fn new(target: usize, features: usize, classes: usize, kind: Linear) -> Calibration {
        Calibration {
            target,
            kind,
            features,
            classes,
            x: Vec::with_capacity(target * features),
            y: Vec::with_capacity(target),
        }
    }

    /// Epochs collected so far.
    pub(super) fn collected(&self) -> usize {
        self.y.len()
    }

    /// Adds a labelled vector; `true` once `target` are in.
    pub(super) fn push(&mut self, x: &[f64], label: u32) -> bool {
        if self.y.len() < self.target && (label as usize) < self.classes {
            self.x.extend_from_slice(x);
            self.y.push(label);
        }
        self.y.len() >= self.target
    }

    /// Fits, cross-validates and writes the model file (for a stream of `signature`, next to
    /// `path`), on a blocking thread. The error says why (a class without epochs, a file that
    /// cannot be written).
    pub(super) async fn finish(
        self,
        signature: Signature,
        path: PathBuf,
        stage: String,
    ) -> Result<Calibrated, String> {
        tokio::task::spawn_blocking(move || self.fit_and_write(signature, &path, &stage))
            .await
            .map_err(|e| format!("the fitting thread failed: {e}"))?
    }

    fn fit_and_write(
        self,
        signature: Signature,
        path: &Path,
        stage: &str,
    ) -> Result<Calibrated, String> {
        let (p, k) = (self.features, self.classes);
        let kind = self.kind;
        let model = kind
            .fit(&self.x, p, &self.y, k)
            .map_err(|e| e.to_string())?;
        let mut counts = vec![0usize; k];
        for &l in &self.y {
            counts[l as usize] += 1;
        }
        let folds = counts.iter().copied().min().unwrap_or(0).min(5);
        let mut d = vec![];
        let cv = (folds >= 2)
            .then(|| {
                cross_validate(
                    &self.x,
                    p,
                    &self.y,
                    k,
                    folds,
                    |x, y| kind.fit(x, p, y, k),
                    |m, row| {
                        d.resize(m.rows(), 0.0);
                        m.decision_into(row, &mut d);
                        Ok((m.predict(&d), d[0]))
                    },
                )
                .ok()
            })
            .flatten();
        let training = Training {
            data: vec![format!(
                "calibration in the running pipeline (stage `{stage}`)"
            )],
            epochs: counts.clone(),
            folds: cv.as_ref().map_or(0, |c| c.folds),
            accuracy: cv.as_ref().map_or(0.0, |c| c.accuracy()),
            balanced_accuracy: cv.as_ref().map_or(0.0, |c| c.balanced_accuracy()),
            auc: cv.as_ref().and_then(|c| c.auc()),
            confusion: cv.as_ref().map_or(vec![], |c| c.confusion.clone()),
            trained_at: neuropipe_io::datetime::DateTime::now_utc().to_string(),
        };
        let quality = match &cv {
            Some(c) => format!(
                "{}-fold cross-validated balanced accuracy {:.1} % (chance {:.1} %)",
                c.folds,
                100.0 * c.balanced_accuracy(),
                100.0 / k as f64
            ),
            None => "too few epochs per class to cross-validate".to_string(),
        };
        let file = ModelFile::new(&kind.decoder(model.clone()), signature, vec![], training);
        let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
        let written = write_free(path, &text)?;
        let report = format!(
            "calibrated on {} epochs ({}): {quality}; model written to {}",
            self.y.len(),
            counts
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" / "),
            written.display()
        );
        Ok(Calibrated { model, report })
    }
}

/// Writes `text` to `path` if nothing is there, else to the first free `<stem>_<k>.<ext>`
/// beside it (created exclusively: never replacing a file).
fn write_free(path: &Path, text: &str) -> Result<PathBuf, String> {
    use std::io::Write;
    let stem = path
        .file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or("json".into(), |s| s.to_string_lossy().into_owned());
    for k in 0..10_000 {
        let candidate = if k == 0 {
            path.to_path_buf()
        } else {
            path.with_file_name(format!("{stem}_{k}.{ext}"))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut f) => {
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| format!("writing {}: {e}", candidate.display()))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot write {}: {e}", candidate.display())),
        }
    }
    Err(format!("no free file name beside {}", path.display()))
}
