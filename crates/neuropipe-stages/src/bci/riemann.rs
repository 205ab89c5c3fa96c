//! The Riemannian stages' shared checks: their input is a stream of covariance matrices
//! (`Covariance`), and they load the model file `neuropipe train` wrote for them.

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
