//! `Covariance`: each epoch as its spatial covariance matrix, as pyRiemann's
//! `Covariances(estimator)` computes it — the input of Riemannian decoders, and a feature
//! vector in its own right.
//!
//! One frame of `channels × channels` values per epoch (the full symmetric matrix,
//! row-major), labelled `cov(<a>,<b>)`, always `f64`: `estimator` `"scm"` (sample covariance
//! about the epoch's mean, divided by the number of frames; pyRiemann's default), `"lwf"`
//! (Ledoit–Wolf shrinkage) or `"oas"` (oracle approximating shrinkage), computed by
//! [`neuropipe_dsp::decode::covariance`] as scikit-learn does. Buffers are allocated at
//! build time. The epoch's label, timestamp and frame index are kept.

use neuropipe_core::prelude::*;
use neuropipe_dsp::decode::covariance::{empirical_into, ledoit_wolf_into, oas_into};

/// Parameters of `Covariance`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct CovarianceParams {
    /// estimator: "scm" (sample covariance), "lwf" (Ledoit-Wolf shrinkage) or "oas" (oracle approximating shrinkage)
    #[param(default = "scm", choices = ["scm", "lwf", "oas"])]
    pub estimator: String,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Covariance",
        "Each epoch as its channels x channels covariance matrix (as pyRiemann's Covariances: scm, lwf or oas)",
        build,
    )
    .input(PortSpec::any("in").doc("epochs (from Epoch or Window)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of channels x channels covariances per epoch (row-major)"),
    )
    .params::<CovarianceParams>()
    .with_pool()
}

/// The estimators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Estimator {
    Scm,
    Lwf,
    Oas,
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (kind, info, layout) = super::epoch_input_stream(b)?;
    let p: CovarianceParams = b.parse_params()?;
    let estimator = match p.estimator.as_str() {
        "lwf" => Estimator::Lwf,
        "oas" => Estimator::Oas,
        _ => Estimator::Scm,
    };
    let c = info.channel_count();
    let unit = info
        .channels
        .first()
        .map_or(String::new(), |ch| format!("{}^2", ch.unit));
    let unit = unit.as_str();
    let features = info
        .channels
        .iter()
        .flat_map(|a| {
            info.channels.iter().map(move |bch| ChannelInfo {
                label: format!("cov({},{})", a.label, bch.label),
                unit: unit.to_string(),
                kind: "Covariance".to_string(),
                range: None,
            })
        })
        .collect();
    let out_info = super::feature_stream(&info, &layout, layout.tmin_s, features);
    let pool = b.pool::<Samples<f64>>(1, c * c)?;
    let out = b.output::<Samples<f64>>("out", out_info)?;
    with_float!(kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Covariance::<S> {
            input,
            out,
            pool,
            estimator,
            channels: c,
            times: layout.times,
            x: vec![0.0; layout.times * c],
            means: vec![0.0; c],
        }))
    })
}

/// The `Covariance` stage.
pub struct Covariance<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    out: Output<Samples<f64>>,
    pool: MemoryPool<Samples<f64>>,
    estimator: Estimator,
    channels: usize,
    times: usize,
    /// The epoch in f64, frames × channels.
    x: Vec<f64>,
    means: Vec<f64>,
}

impl<S: FloatSample> DataPlaneStage for Covariance<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(epoch) = self.input.recv().await? else {
            return Ok(());
        };
        for (d, s) in self.x.iter_mut().zip(epoch.samples()) {
            *d = s.to_f64();
        }
        let h = epoch.header;
        drop(epoch);
        let (n, c) = (self.times, self.channels);
        let mut v = self.pool.acquire().await;
        v.set_shape(1, c * c)?;
        let out = v.samples_mut();
        match self.estimator {
            Estimator::Scm => empirical_into(&self.x, n, c, &mut self.means, out),
            Estimator::Lwf => {
                ledoit_wolf_into(&self.x, n, c, &mut self.means, out);
            }
            Estimator::Oas => {
                oas_into(&self.x, n, c, &mut self.means, out);
            }
        }
        v.header = PacketHeader {
            batch_size: 1,
            channels: (c * c) as u32,
            ..h
        };
        self.out.send(v).await
    }
}
