//! What the stages on covariance matrices share: their input is a stream of them
//! (`Covariance`), they load the model file `neuropipe train` wrote for them, and the
//! fitted maps (`TangentSpace`, `Csp`) run in one stage shape, [`CovarianceStage`].

use super::model::{ModelFile, Signature};
use neuropipe_core::prelude::*;

/// The number of channels of covariance stream `info` (one frame of `n × n` values labelled
/// `cov(a,b)` per epoch), or the located error with its fix.
pub(crate) fn covariance_channels(info: &StreamInfo) -> Result<usize, BuildError> {
    let len = info.channel_count();
    let n = (len as f64).sqrt().round() as usize;
    let ok = info.epochs.as_ref().is_some_and(|e| e.times == 1)
        && n > 0
        && n * n == len
        && info.channels.iter().all(|c| c.kind == "Covariance");
    if ok {
        Ok(n)
    } else {
        Err(BuildError::stage(
            "its input is not a stream of covariance matrices: put a Covariance stage before it (Epoch or Window -> Covariance)",
        ))
    }
}

/// Loads the model file parameter `model` names and checks that its `what` was fitted on a
/// stream like `info`; the file, for the caller to take its part from.
pub(crate) fn load_model(
    b: &StageBuilder<'_>,
    model: &str,
    info: &StreamInfo,
    fitted_on: impl FnOnce(&ModelFile) -> Result<&Signature, String>,
) -> Result<ModelFile, BuildError> {
    let path = b.resolve_path(model);
    let file = ModelFile::load(&path).map_err(|e| BuildError::param("model", e))?;
    let sig = fitted_on(&file)
        .map_err(|e| BuildError::param("model", format!("{}: {e}", path.display())))?;
    if let Some(why) = sig.mismatch(&Signature::of(info)) {
        return Err(BuildError::param(
            "model",
            format!("{}: {why}; train it again on this pipeline", path.display()),
        ));
    }
    Ok(file)
}

/// What a stage fitted on covariances (`TangentSpace`, `Csp`) computes per epoch.
pub(crate) trait CovarianceMap: Send + 'static {
    /// Features per epoch.
    fn features(&self) -> usize;
    /// Maps covariance `x` into `out`; `Err` holds the value that makes it impossible (an
    /// eigenvalue or a variance that is not positive).
    fn map(&mut self, x: &[f64], out: &mut [f64]) -> Result<(), f64>;
    /// Why an epoch was dropped, given that value (the text of its `epoch_dropped` event).
    fn why(&self, bad: f64) -> String;
}

/// The stage around a [`CovarianceMap`]: one covariance in, one feature vector out (label,
/// timestamp and frame index kept); an epoch it cannot map is dropped, counted in the
/// readouts and published as an `epoch_dropped` event. Allocates nothing per epoch.
pub(crate) struct CovarianceStage<M: CovarianceMap> {
    input: Input<Samples<f64>>,
    out: Output<Samples<f64>>,
    pool: MemoryPool<Samples<f64>>,
    map: M,
    readouts: Readouts,
    dropped: u64,
}

impl<M: CovarianceMap> CovarianceStage<M> {
    /// Builds the stage: its readouts (`dropped`, explained by `dropped_doc`), pool, output
    /// stream `out_info` and covariance input.
    pub(crate) fn build(
        b: &mut StageBuilder<'_>,
        map: M,
        out_info: StreamInfo,
        dropped_doc: &'static str,
    ) -> Result<BoxedStage, BuildError> {
        let readouts = b.readouts(
            &[ReadoutColumn::number("dropped", "", dropped_doc)],
            vec!["epochs".to_string()],
        );
        readouts.set(0, 0, 0.0);
        readouts.publish();
        let pool = b.pool::<Samples<f64>>(1, map.features())?;
        let out = b.output::<Samples<f64>>("out", out_info)?;
        let input = b.epochs_input::<Samples<f64>>("in")?;
        Ok(BoxedStage::new(CovarianceStage {
            input,
            out,
            pool,
            map,
            readouts,
            dropped: 0,
        }))
    }
}

impl<M: CovarianceMap> DataPlaneStage for CovarianceStage<M> {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(c) = self.input.recv().await? else {
            return Ok(());
        };
        let mut v = self.pool.acquire().await;
        let features = self.map.features();
        v.set_shape(1, features)?;
        let h = c.header;
        let r = self.map.map(c.samples(), v.samples_mut());
        drop(c);
        if let Err(bad) = r {
            self.dropped += 1;
            self.readouts.set(0, 0, self.dropped as f64);
            self.readouts.publish();
            ctx.emit_event_at(h.timestamp, EventKind::EpochDropped, self.map.why(bad));
            return Ok(());
        }
        v.header = PacketHeader {
            batch_size: 1,
            channels: features as u32,
            ..h
        };
        self.out.send(v).await
    }
}
