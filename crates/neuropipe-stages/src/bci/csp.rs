//! `Csp`: each epoch's covariance through common spatial pattern filters fitted for two
//! classes, as pyRiemann's `CSP(nfilter, metric="euclid", log=True)`: `filters` features
//! `csp1…`, the log-variance of each filter's output (`ln(w C wᵀ)`), most discriminative
//! first — the classic motor-imagery front end, for an `Lda` after it.
//!
//! The filters are fitted by `neuropipe train` together with the decoder they feed (inside
//! every cross-validation fold) and stored in the decoder's model file; `model` names that
//! file. An epoch whose filtered variance is not positive (a covariance of linearly
//! dependent channels) has no log: it is dropped, counted in the readouts and published as an
//! `epoch_dropped` event. Allocates nothing per epoch.

use super::model::Transform;
use super::riemann::{covariance_channels, load_model, CovarianceMap, CovarianceStage};
use neuropipe_core::prelude::*;
use neuropipe_dsp::decode::CspModel;

/// Parameters of `Csp`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct CspParams {
    /// model file written by `neuropipe train` for the decoder this stage feeds (relative to the pipeline file)
    pub model: String,
    /// number of spatial filters (features) kept, the most discriminative first
    #[param(default = 4, min = 1, max = 1024)]
    pub filters: usize,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Csp",
        "Each epoch's covariance through common spatial pattern filters for two classes (as pyRiemann's CSP): the log-variance of each filter's output",
        build,
    )
    .input(PortSpec::of("in", PayloadKind::F64).doc("covariance matrices, one per epoch (Covariance)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of `filters` log-variances per epoch"),
    )
    .params::<CspParams>()
    .with_pool()
}

/// The feature stream `Csp` sends with `filters` filters (also what `neuropipe train` fits
/// the decoder after it on).
pub fn output_stream(info: &StreamInfo, filters: usize) -> StreamInfo {
    let mut out = info.derived();
    out.kind = "Feature".to_string();
    out.channels = (1..=filters)
        .map(|k| ChannelInfo {
            label: format!("csp{k}"),
            unit: String::new(),
            kind: "CSP".to_string(),
            range: None,
        })
        .collect();
    out
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (_, info, _) = super::epoch_input_stream(b)?;
    let p: CspParams = b.parse_params()?;
    let n = covariance_channels(&info)?;
    if p.filters > n {
        return Err(BuildError::param(
            "filters",
            format!("{} filters from {n} channels: at most {n}", p.filters),
        ));
    }
    let file = load_model(b, &p.model, &info, |f| {
        f.transform("Csp").map(Transform::input)
    })?;
    let Ok(Transform::Csp { filters, .. }) = file.transform("Csp") else {
        return Err(BuildError::param("model", "no CSP filters"));
    };
    let model = CspModel {
        channels: n,
        filters: filters.clone(),
    };
    if model.features() != p.filters {
        return Err(BuildError::param(
            "filters",
            format!(
                "the model holds {} CSP filters, not {}: train it again with this setting",
                model.features(),
                p.filters
            ),
        ));
    }
    CovarianceStage::build(
        b,
        CspMap(model),
        output_stream(&info, p.filters),
        "epochs dropped because a filter's output variance was not positive",
    )
}

/// `Csp`'s map: each filter's log-variance.
struct CspMap(CspModel);

impl CovarianceMap for CspMap {
    fn features(&self) -> usize {
        self.0.features()
    }

    fn map(&mut self, x: &[f64], out: &mut [f64]) -> Result<(), f64> {
        self.0.transform_into(x, out)
    }

    fn why(&self, variance: f64) -> String {
        format!("epoch dropped: a CSP filter's output variance is {variance:e}, which has no log (linearly dependent channels? use the lwf or oas estimator)")
    }
}
