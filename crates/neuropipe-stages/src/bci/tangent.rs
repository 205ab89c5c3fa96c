//! `TangentSpace`: each epoch's covariance as a vector in the tangent space at the
//! Riemannian mean of the training covariances, as pyRiemann's
//! `TangentSpace(metric="riemann")` — `upper(logm(R^-½ C R^-½))`, `n(n+1)/2` features
//! labelled `ts(a,b)` — for an Euclidean decoder after it (`Lda`: the "TS + LDA" of
//! motor-imagery benchmarks).
//!
//! The reference is fitted by `neuropipe train` together with the decoder it feeds and
//! stored in the decoder's model file; `model` names that file. A covariance that is not
//! positive definite has no logarithm: that epoch is dropped, counted in the readouts and
//! published as an `epoch_dropped` event. Allocates nothing per epoch.

use super::model::Transform;
use super::riemann::{covariance_channels, load_model, CovarianceMap, CovarianceStage};
use neuropipe_core::prelude::*;
use neuropipe_dsp::decode::{Spd, TangentSpaceModel};

/// Parameters of `TangentSpace`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct TangentSpaceParams {
    /// model file written by `neuropipe train` for the decoder this stage feeds (relative to the pipeline file)
    pub model: String,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "TangentSpace",
        "Each epoch's covariance mapped to the tangent space at the training covariances' Riemannian mean (as pyRiemann's TangentSpace): n(n+1)/2 features",
        build,
    )
    .input(PortSpec::of("in", PayloadKind::F64).doc("covariance matrices, one per epoch (Covariance)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of n(n+1)/2 tangent-space features per epoch"),
    )
    .params::<TangentSpaceParams>()
    .with_pool()
}

/// The feature stream `TangentSpace` sends for covariance stream `info` of `n` channels
/// (also what `neuropipe train` fits the decoder after it on).
pub fn output_stream(info: &StreamInfo, n: usize) -> StreamInfo {
    // cov(a,b) labels: the channel names are those of row i, column i.
    let names: Vec<String> = (0..n)
        .map(|i| {
            let l = &info.channels[i * n + i].label;
            l.strip_prefix("cov(")
                .and_then(|r| r.split(',').next())
                .unwrap_or(l)
                .to_string()
        })
        .collect();
    let mut features = vec![];
    for i in 0..n {
        for j in i..n {
            features.push(ChannelInfo {
                label: format!("ts({},{})", names[i], names[j]),
                unit: String::new(),
                kind: "TangentSpace".to_string(),
                range: None,
            });
        }
    }
    let mut out = info.derived();
    out.kind = "Feature".to_string();
    out.channels = features;
    out
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (_, info, _) = super::epoch_input_stream(b)?;
    let p: TangentSpaceParams = b.parse_params()?;
    let n = covariance_channels(&info)?;
    let file = load_model(b, &p.model, &info, |f| {
        f.transform("TangentSpace").map(Transform::input)
    })?;
    let Ok(Transform::TangentSpace { reference, .. }) = file.transform("TangentSpace") else {
        return Err(BuildError::param("model", "no TangentSpace reference"));
    };
    let model = TangentSpaceModel::from_reference(reference.clone(), n)
        .map_err(|e| BuildError::param("model", e.to_string()))?;
    let out_info = output_stream(&info, n);
    CovarianceStage::build(
        b,
        TangentMap {
            model,
            spd: Spd::new(n),
        },
        out_info,
        "epochs dropped because their covariance was not positive definite",
    )
}

/// `TangentSpace`'s map: the tangent vector at the fitted reference.
struct TangentMap {
    model: TangentSpaceModel,
    spd: Spd,
}

impl CovarianceMap for TangentMap {
    fn features(&self) -> usize {
        self.model.features()
    }

    fn map(&mut self, x: &[f64], out: &mut [f64]) -> Result<(), f64> {
        self.model.transform_into(x, &mut self.spd, out)
    }

    fn why(&self, eigenvalue: f64) -> String {
        format!("epoch dropped: its covariance is not positive definite (eigenvalue {eigenvalue:e}) and has no tangent vector (linearly dependent channels? use the lwf or oas estimator)")
    }
}
