//! Typed descriptions of a pipeline for its hosts: [`PipelineDescription`] and
//! [`StageDescription`] (what `GET /api/pipeline` serialises).

use crate::metrics::{LinkSnapshot, PoolSnapshot};
use crate::params::ParamSpec;
use crate::state::{PipelineState, StageState};
use crate::stream::StreamInfo;
use serde::Serialize;
use serde_json::{Map, Value};

/// The first failure of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    /// The stage that failed.
    pub stage: String,
    /// Its message.
    pub message: String,
}

/// One stage as a host sees it: type, state, current parameter values and their specs, and
/// the streams on its ports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageDescription {
    /// Stage id.
    pub id: String,
    /// Stage type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// One-line description of the type.
    pub summary: &'static str,
    /// Lifecycle state.
    pub state: StageState,
    /// Current parameter values (defaults filled in; live changes applied).
    pub params: Map<String, Value>,
    /// Parameter specifications.
    pub param_specs: Vec<ParamSpec>,
    /// Streams arriving on the inputs, in port order.
    pub inputs: Vec<StreamInfo>,
    /// Streams on the outputs, in port order.
    pub outputs: Vec<StreamInfo>,
}

/// The whole pipeline as a host sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PipelineDescription {
    /// Pipeline name.
    pub name: String,
    /// Lifecycle state.
    pub state: PipelineState,
    /// Stages in build order.
    pub stages: Vec<StageDescription>,
    /// Links with their counters.
    pub links: Vec<LinkSnapshot>,
    /// Pools with their counters.
    pub pools: Vec<PoolSnapshot>,
    /// `"stage.port"` of every output that can be tapped.
    pub outputs: Vec<String>,
    /// The first failure, if any.
    pub failure: Option<Failure>,
}
