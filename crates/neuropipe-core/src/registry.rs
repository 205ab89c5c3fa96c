//! The stage registry: stage types found by name from JSON, with their ports and parameters.

use crate::build::StageBuilder;
use crate::error::BuildError;
use crate::params::ParamSpec;
use crate::payload::PayloadKind;
use crate::queue::Access;
use crate::stage::BoxedStage;
use crate::stage_params::StageParams;
use serde::Serialize;
use std::collections::BTreeMap;

/// Payload a port accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortPayload {
    /// Exactly this kind.
    Kind(PayloadKind),
    /// Any sample kind (the stage is generic, e.g. recorders and displays).
    Any,
}

impl PortPayload {
    /// Whether a port of this payload can be linked to one of `other`.
    pub fn compatible(self, other: PortPayload) -> bool {
        match (self, other) {
            (PortPayload::Kind(a), PortPayload::Kind(b)) => a == b,
            _ => true,
        }
    }
    /// Display text.
    pub fn text(self) -> String {
        match self {
            PortPayload::Kind(k) => k.name().to_string(),
            PortPayload::Any => "any".to_string(),
        }
    }
}

/// An input or output port of a stage type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortSpec {
    /// Port name, as in `"stage.port"`.
    pub name: &'static str,
    /// Payload accepted or produced.
    pub payload: PortPayload,
    /// For inputs: whether the stage modifies packets in place (decides fan-out copies).
    pub access: Access,
    /// Whether the pipeline is invalid if the port is not linked.
    pub required: bool,
    /// Whether it carries an epoch stream (one window per packet, see
    /// [`EpochLayout`](crate::EpochLayout)) rather than a continuous one: declared so hosts
    /// can tell without building (e.g. `--record` records a continuous stream).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub epochs: bool,
    /// What flows through it.
    pub doc: &'static str,
}

impl PortSpec {
    /// A required port carrying `kind`, read-only.
    pub fn new(name: &'static str, payload: PortPayload) -> Self {
        PortSpec {
            name,
            payload,
            access: Access::ReadOnly,
            required: true,
            epochs: false,
            doc: "",
        }
    }
    /// A required port of exactly `kind`.
    pub fn of(name: &'static str, kind: PayloadKind) -> Self {
        Self::new(name, PortPayload::Kind(kind))
    }
    /// A required port of any sample kind.
    pub fn any(name: &'static str) -> Self {
        Self::new(name, PortPayload::Any)
    }
    /// Marks an input as modified in place.
    pub fn in_place(mut self) -> Self {
        self.access = Access::InPlace;
        self
    }
    /// Marks the port as carrying epochs (one window per packet).
    pub fn epochs(mut self) -> Self {
        self.epochs = true;
        self
    }
    /// Marks the port as optional.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }
    /// Sets the documentation.
    pub fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }
}

/// Builds a stage from its validated parameters and linked ports.
pub type StageFactory = fn(&mut StageBuilder<'_>) -> Result<BoxedStage, BuildError>;

/// Everything the runtime knows about a stage type.
#[derive(Clone, Serialize)]
pub struct StageSpec {
    /// Type name used in JSON (`"type": "Bandpass"`).
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Input ports.
    pub inputs: Vec<PortSpec>,
    /// Output ports.
    pub outputs: Vec<PortSpec>,
    /// Parameters.
    pub params: Vec<ParamSpec>,
    /// Whether the stage takes a `"stream"` object (sources: name, labels, units, types).
    pub stream_info: bool,
    /// A source that, at a stop, sends what it already holds instead of being cut off (see
    /// [`drains_on_stop`](Self::drains_on_stop)).
    #[serde(skip)]
    pub drains_on_stop: bool,
    /// The factory.
    #[serde(skip)]
    pub factory: StageFactory,
}

impl StageSpec {
    /// A stage type with no ports or parameters yet.
    pub fn new(type_name: &'static str, summary: &'static str, factory: StageFactory) -> Self {
        StageSpec {
            type_name,
            summary,
            inputs: vec![],
            outputs: vec![],
            params: vec![],
            stream_info: false,
            drains_on_stop: false,
            factory,
        }
    }
    /// Adds an input port.
    pub fn input(mut self, p: PortSpec) -> Self {
        self.inputs.push(p);
        self
    }
    /// Adds an output port.
    pub fn output(mut self, p: PortSpec) -> Self {
        self.outputs.push(p);
        self
    }
    /// Adds a parameter.
    pub fn param(mut self, p: ParamSpec) -> Self {
        self.params.push(p);
        self
    }
    /// Adds the parameters of a typed parameter struct (see [`StageParams`]).
    pub fn params<P: StageParams>(mut self) -> Self {
        self.params.extend(P::specs());
        self
    }
    /// Adds the optional `pool` parameter: the named pool (from `$.pools`) the stage's output
    /// packets are leased from; read by [`StageBuilder::pool`].
    pub fn with_pool(self) -> Self {
        self.param(
            ParamSpec::string("pool")
                .optional()
                .doc("memory pool for output packets (default: a private pool)"),
        )
    }
    /// Accepts a `"stream"` object (for sources).
    pub fn with_stream_info(mut self) -> Self {
        self.stream_info = true;
        self
    }
    /// The parameter `name`.
    pub fn param_spec(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
    /// Whether the stage has no inputs.
    pub fn is_source(&self) -> bool {
        self.inputs.is_empty()
    }
    /// A source whose data the pipeline cannot afford to cut off at a stop (frames a host
    /// already handed over): the runtime keeps running it after a stop, like any other stage
    /// draining its input, and the stage learns of the stop through
    /// [`StageContext::is_stopping`](crate::StageContext::is_stopping) /
    /// [`stopping`](crate::StageContext::stopping), sends what it holds and ends with
    /// `QueueClosed`. Other sources are cut off at once (their next frames do not exist yet).
    pub fn drains_on_stop(mut self) -> Self {
        self.drains_on_stop = true;
        self
    }
    /// Whether the runtime cuts the stage off at a stop: a source that does not drain.
    pub fn is_cut_on_stop(&self) -> bool {
        self.is_source() && !self.drains_on_stop
    }
}

/// Stage types by name.
#[derive(Clone, Default)]
pub struct Registry {
    specs: BTreeMap<&'static str, StageSpec>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }
    /// Adds (or replaces) a stage type.
    pub fn register(&mut self, spec: StageSpec) -> &mut Self {
        self.specs.insert(spec.type_name, spec);
        self
    }
    /// The stage type `name`.
    pub fn get(&self, name: &str) -> Option<&StageSpec> {
        self.specs.get(name)
    }
    /// All stage types, sorted by name.
    pub fn specs(&self) -> impl Iterator<Item = &StageSpec> {
        self.specs.values()
    }
    /// Type names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.specs.keys().copied()
    }
}
