//! The pipeline file format and its syntactic checks.
//!
//! ```json
//! {
//!   "name": "demo",
//!   "pools":  [ { "name": "raw", "payload": "i32", "frames": 32, "channels": 8, "count": 64 } ],
//!   "stages": [
//!     { "id": "src",   "type": "SimulatedEeg", "params": { "channels": 8, "pool": "raw" } },
//!     { "id": "volts", "type": "RawToVoltage" },
//!     { "id": "check", "type": "ContinuityCheck" }
//!   ],
//!   "links": [ "src.out -> volts.in", { "from": "volts.out", "to": "check.in", "capacity": 8, "policy": "block" } ]
//! }
//! ```
//!
//! A top-level `"threads"` sets the worker threads the stages run on (default: one per CPU;
//! see [`build_runtime`](crate::build_runtime)).
//! A top-level `"$schema"` key (for editors; see `neuropipe schema`) is accepted and ignored.
//! `pools` is optional (a stage without a `pool` parameter gets a private pool sized for it);
//! a link's port can be left out when the stage has exactly one port on that side
//! (`"src -> volts"`). Every problem is reported with its JSON path; see
//! [`validate`](crate::validate) for the checks that need the stage registry.

use crate::error::{ConfigError, ConfigErrors};
use crate::payload::PayloadKind;
use crate::queue::LinkPolicy;
use crate::text::describe;
use crate::text::suggestion;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Default queue capacity of a link, in packets.
pub const DEFAULT_CAPACITY: usize = 8;
/// Largest queue capacity accepted.
pub(crate) const MAX_CAPACITY: usize = 65_536;
/// Largest pool count accepted.
pub(crate) const MAX_POOL_COUNT: usize = 65_536;
/// Largest channel count accepted.
pub(crate) const MAX_CHANNELS: usize = 4096;
/// Largest frames per packet accepted.
pub(crate) const MAX_FRAMES: usize = 1 << 20;
/// Largest number of worker threads accepted (`"threads"`).
pub(crate) const MAX_THREADS: usize = 256;
/// Largest memory one pool may preallocate (bytes): a typo must not exhaust the machine.
pub(crate) const MAX_POOL_BYTES: usize = 1 << 31;

/// A parsed pipeline file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PipelineConfig {
    /// Pipeline name.
    pub name: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Worker threads to run the stages on (`None`: one per CPU); see
    /// [`build_runtime`](crate::build_runtime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Declared memory pools.
    pub pools: Vec<PoolConfig>,
    /// Stages in file order.
    pub stages: Vec<StageConfig>,
    /// Links in file order.
    pub links: Vec<LinkConfig>,
    /// The directory relative paths in the pipeline are resolved against: the pipeline
    /// file's directory when loaded with [`load`](Self::load), else `None` (the working
    /// directory). See [`resolve_path`](Self::resolve_path).
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
}

/// A declared memory pool.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolConfig {
    /// Name stages refer to with their `pool` parameter.
    pub name: String,
    /// Payload type.
    pub payload: PayloadKind,
    /// Frames per packet.
    pub frames: usize,
    /// Channels per frame.
    pub channels: usize,
    /// Number of packets.
    pub count: usize,
}

/// A stage instance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageConfig {
    /// Unique id.
    pub id: String,
    /// Registered stage type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Parameters as given (defaults are filled in at build time).
    pub params: Map<String, Value>,
    /// Stream info overrides for sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamOverrides>,
}

/// Stream info a source's JSON may set: `"stream": {"name": .., "type": .., "labels": [..],
/// "types": "EEG" | [..], "source_id": .., "manufacturer": ..}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamOverrides {
    /// Stream name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Stream content type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Channel labels (one per channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Channel types (one for all or one per channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    /// The device's source id (e.g. its serial number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// The device's manufacturer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
}

/// One end of a link: `stage.port` (port optional when unambiguous).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Stage id.
    pub stage: String,
    /// Port name, if given.
    pub port: Option<String>,
}

impl Endpoint {
    /// Parses `stage.port` or `stage`.
    pub fn parse(s: &str) -> Option<Endpoint> {
        let s = s.trim();
        let (stage, port) = match s.split_once('.') {
            Some((a, b)) => (a.trim(), Some(b.trim().to_string())),
            None => (s, None),
        };
        if stage.is_empty() || port.as_deref() == Some("") {
            return None;
        }
        Some(Endpoint {
            stage: stage.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.port {
            Some(p) => write!(f, "{}.{}", self.stage, p),
            None => f.write_str(&self.stage),
        }
    }
}

/// A link between an output and an input.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkConfig {
    /// Producer end.
    pub from: Endpoint,
    /// Consumer end.
    pub to: Endpoint,
    /// Queue capacity in packets.
    pub capacity: usize,
    /// What happens when the queue is full.
    pub policy: LinkPolicy,
}

impl LinkConfig {
    /// A blocking link of default capacity.
    pub fn new(from: &str, to: &str) -> Option<Self> {
        Some(LinkConfig {
            from: Endpoint::parse(from)?,
            to: Endpoint::parse(to)?,
            capacity: DEFAULT_CAPACITY,
            policy: LinkPolicy::Block,
        })
    }
}

struct Ctx {
    errors: Vec<ConfigError>,
}

impl Ctx {
    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(ConfigError::new(path, msg));
    }
    fn unknown_keys(&mut self, path: &str, obj: &Map<String, Value>, valid: &[&str]) {
        for k in obj.keys() {
            if !valid.contains(&k.as_str()) {
                self.err(
                    format!("{path}.{k}"),
                    format!(
                        "unknown key `{k}`{} (valid keys: {})",
                        suggestion(k, valid.iter().copied()),
                        valid.join(", ")
                    ),
                );
            }
        }
    }
    fn string(&mut self, path: &str, v: Option<&Value>, what: &str) -> Option<String> {
        match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.err(
                    path,
                    format!("{what} must be a string, got {}", describe(other)),
                );
                None
            }
            None => {
                self.err(path, format!("missing {what}"));
                None
            }
        }
    }
    fn uint(&mut self, path: &str, v: Option<&Value>, min: usize, max: usize) -> Option<usize> {
        match v {
            Some(x) => match x.as_u64() {
                Some(n) if (min as u64..=max as u64).contains(&n) => Some(n as usize),
                _ => {
                    self.err(
                        path,
                        format!("must be an integer in {min}..={max}, got {}", describe(x)),
                    );
                    None
                }
            },
            None => {
                self.err(path, format!("missing (an integer in {min}..={max})"));
                None
            }
        }
    }
}

/// Whether `id` is a valid stage id: letters, digits, `_` and `-`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl PipelineConfig {
    /// Reads and parses a pipeline file; relative paths in it (files to replay, recordings)
    /// then resolve against the file's directory, so a pipeline and its data move together.
    /// The error names the file.
    pub fn load(path: &Path) -> Result<PipelineConfig, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError::new(
                "$",
                format!("cannot read {}: {e}", path.display()),
            )])
        })?;
        Ok(Self::parse(&text)?.located_at(path))
    }

    /// Marks the pipeline as read from the file `path`: its relative paths resolve against
    /// the file's directory (see [`resolve_path`](Self::resolve_path)).
    pub fn located_at(mut self, path: &Path) -> Self {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.base_dir = abs.parent().map(Path::to_path_buf);
        self
    }

    /// The one rule for file names in a pipeline: an absolute path is kept; a relative one is
    /// relative to the pipeline file's directory ([`base_dir`](Self::base_dir)), or to the
    /// working directory for a pipeline built in code. (Paths given on the command line, such
    /// as `--record`, are relative to the working directory: the CLI makes them absolute.)
    pub fn resolve_path(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        match &self.base_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }

    /// Parses a pipeline file. Reports every syntactic problem at once; semantic checks
    /// (stage types, parameters, ports, cycles) are done by [`validate`](crate::validate).
    pub fn parse(text: &str) -> Result<PipelineConfig, ConfigErrors> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError::new(
                format!("line {} column {}", e.line(), e.column()),
                format!("invalid JSON: {}", strip_position(&e.to_string())),
            )])
        })?;
        Self::from_value(&value)
    }

    /// Parses an already-decoded JSON value.
    pub fn from_value(value: &Value) -> Result<PipelineConfig, ConfigErrors> {
        let mut c = Ctx { errors: vec![] };
        let Some(top) = value.as_object() else {
            return Err(ConfigErrors(vec![ConfigError::new(
                "$",
                format!(
                    "a pipeline must be a JSON object with \"stages\" and \"links\", got {}",
                    describe(value)
                ),
            )]));
        };
        c.unknown_keys(
            "$",
            top,
            &[
                "$schema",
                "name",
                "description",
                "threads",
                "pools",
                "stages",
                "links",
            ],
        );
        let name = match top.get("name") {
            None => "pipeline".to_string(),
            Some(v) => c.string("$.name", Some(v), "name").unwrap_or_default(),
        };
        let description = top
            .get("description")
            .and_then(|v| c.string("$.description", Some(v), "description"));
        let threads = top
            .get("threads")
            .and_then(|v| c.uint("$.threads", Some(v), 1, MAX_THREADS));
        let pools = parse_array(&mut c, top.get("pools"), "$.pools", false, parse_pool);
        let stages = parse_array(&mut c, top.get("stages"), "$.stages", true, parse_stage);
        let links = parse_array(&mut c, top.get("links"), "$.links", false, parse_link);

        let mut seen = std::collections::HashMap::new();
        for (i, p) in pools.iter().enumerate() {
            if let Some(first) = seen.insert(p.name.clone(), i) {
                c.err(
                    format!("$.pools[{i}].name"),
                    format!(
                        "duplicate pool name `{}` (first at $.pools[{first}])",
                        p.name
                    ),
                );
            }
        }
        let mut seen = std::collections::HashMap::new();
        for (i, s) in stages.iter().enumerate() {
            if let Some(first) = seen.insert(s.id.clone(), i) {
                c.err(
                    format!("$.stages[{i}].id"),
                    format!("duplicate stage id `{}` (first at $.stages[{first}])", s.id),
                );
            }
        }
        if c.errors.is_empty() {
            Ok(PipelineConfig {
                base_dir: None,
                name,
                description,
                threads,
                pools,
                stages,
                links,
            })
        } else {
            Err(ConfigErrors(c.errors))
        }
    }

    /// Serialises back to JSON (as `neuropipe run` would read it).
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        // Links in their object form.
        if let Some(links) = v.get_mut("links").and_then(Value::as_array_mut) {
            for (l, cfg) in links.iter_mut().zip(&self.links) {
                *l = serde_json::json!({
                    "from": cfg.from.to_string(),
                    "to": cfg.to.to_string(),
                    "capacity": cfg.capacity,
                    "policy": cfg.policy.name(),
                });
            }
        }
        v
    }
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn parse_array<T>(
    c: &mut Ctx,
    v: Option<&Value>,
    path: &str,
    required: bool,
    f: fn(&mut Ctx, &str, &Value) -> Option<T>,
) -> Vec<T> {
    match v {
        None if required => {
            c.err(path, "missing: a pipeline needs a \"stages\" array");
            vec![]
        }
        None => vec![],
        Some(Value::Array(a)) => {
            if required && a.is_empty() {
                c.err(path, "must contain at least one stage");
            }
            a.iter()
                .enumerate()
                .filter_map(|(i, x)| f(c, &format!("{path}[{i}]"), x))
                .collect()
        }
        Some(other) => {
            c.err(path, format!("must be an array, got {}", describe(other)));
            vec![]
        }
    }
}

fn parse_pool(c: &mut Ctx, path: &str, v: &Value) -> Option<PoolConfig> {
    let Some(o) = v.as_object() else {
        c.err(
            path,
            format!(
                "a pool must be an object with name, payload, frames, channels, count; got {}",
                describe(v)
            ),
        );
        return None;
    };
    c.unknown_keys(path, o, &["name", "payload", "frames", "channels", "count"]);
    let name = c.string(&format!("{path}.name"), o.get("name"), "pool name");
    let payload = match o.get("payload") {
        Some(Value::String(s)) => match PayloadKind::from_name(s) {
            Some(k) => Some(k),
            None => {
                c.err(
                    format!("{path}.payload"),
                    format!(
                        "unknown payload \"{s}\"{} (valid: \"i32\", \"f32\", \"f64\")",
                        suggestion(s, PayloadKind::ALL.iter().map(|k| k.name()))
                    ),
                );
                None
            }
        },
        Some(other) => {
            c.err(
                format!("{path}.payload"),
                format!(
                    "must be \"i32\", \"f32\" or \"f64\", got {}",
                    describe(other)
                ),
            );
            None
        }
        None => {
            c.err(
                format!("{path}.payload"),
                "missing (\"i32\", \"f32\" or \"f64\")",
            );
            None
        }
    };
    let frames = c.uint(&format!("{path}.frames"), o.get("frames"), 1, MAX_FRAMES);
    let channels = c.uint(
        &format!("{path}.channels"),
        o.get("channels"),
        1,
        MAX_CHANNELS,
    );
    let count = c.uint(&format!("{path}.count"), o.get("count"), 1, MAX_POOL_COUNT);
    let (payload, frames, channels, count) = (payload?, frames?, channels?, count?);
    let bytes = (frames * channels * payload.sample_bytes()).saturating_mul(count);
    if bytes > MAX_POOL_BYTES {
        c.err(
            path,
            format!(
                "pool of {count} packets x {frames} frames x {channels} channels of {payload} needs {} MiB, more than the {} MiB limit of one pool",
                bytes >> 20,
                MAX_POOL_BYTES >> 20
            ),
        );
        return None;
    }
    Some(PoolConfig {
        name: name?,
        payload,
        frames,
        channels,
        count,
    })
}

fn parse_stage(c: &mut Ctx, path: &str, v: &Value) -> Option<StageConfig> {
    let Some(o) = v.as_object() else {
        c.err(
            path,
            format!(
                "a stage must be an object with \"id\" and \"type\", got {}",
                describe(v)
            ),
        );
        return None;
    };
    c.unknown_keys(path, o, &["id", "type", "params", "stream", "description"]);
    let id = c.string(&format!("{path}.id"), o.get("id"), "stage id");
    if let Some(id) = &id {
        if !valid_id(id) {
            c.err(
                format!("{path}.id"),
                format!("stage id \"{id}\" may only contain letters, digits, '_' and '-'"),
            );
        }
    }
    let kind = c.string(&format!("{path}.type"), o.get("type"), "stage type");
    let params = match o.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            c.err(
                format!("{path}.params"),
                format!("must be an object, got {}", describe(other)),
            );
            Map::new()
        }
    };
    let stream = o
        .get("stream")
        .and_then(|s| parse_stream(c, &format!("{path}.stream"), s));
    Some(StageConfig {
        id: id?,
        kind: kind?,
        params,
        stream,
    })
}

fn parse_string_or_list(c: &mut Ctx, path: &str, v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) if a.iter().all(Value::is_string) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
        ),
        other => {
            c.err(
                path,
                format!(
                    "must be a string or an array of strings, got {}",
                    describe(other)
                ),
            );
            None
        }
    }
}

fn parse_stream(c: &mut Ctx, path: &str, v: &Value) -> Option<StreamOverrides> {
    let Some(o) = v.as_object() else {
        c.err(path, format!("must be an object, got {}", describe(v)));
        return None;
    };
    c.unknown_keys(
        path,
        o,
        &[
            "name",
            "type",
            "labels",
            "types",
            "source_id",
            "manufacturer",
        ],
    );
    let mut s = StreamOverrides::default();
    if let Some(v) = o.get("name") {
        s.name = c.string(&format!("{path}.name"), Some(v), "stream name");
    }
    if let Some(v) = o.get("type") {
        s.kind = c.string(&format!("{path}.type"), Some(v), "stream type");
    }
    if let Some(v) = o.get("labels") {
        match v.as_array() {
            Some(a) if a.iter().all(Value::is_string) => {
                s.labels = Some(
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                )
            }
            _ => c.err(
                format!("{path}.labels"),
                format!("must be an array of strings, got {}", describe(v)),
            ),
        }
    }
    if let Some(v) = o.get("types") {
        s.types = parse_string_or_list(c, &format!("{path}.types"), v);
    }
    if let Some(v) = o.get("source_id") {
        s.source_id = c.string(&format!("{path}.source_id"), Some(v), "source id");
    }
    if let Some(v) = o.get("manufacturer") {
        s.manufacturer = c.string(&format!("{path}.manufacturer"), Some(v), "manufacturer");
    }
    Some(s)
}

fn parse_endpoint(c: &mut Ctx, path: &str, v: Option<&Value>) -> Option<Endpoint> {
    let s = c.string(path, v, "endpoint (\"stage.port\")")?;
    let e = Endpoint::parse(&s);
    if e.is_none() {
        c.err(
            path,
            format!("\"{s}\" is not an endpoint: write \"stage.port\" or \"stage\""),
        );
    }
    e
}

fn parse_link(c: &mut Ctx, path: &str, v: &Value) -> Option<LinkConfig> {
    match v {
        Value::String(s) => {
            let Some((a, b)) = s.split_once("->") else {
                c.err(
                    path,
                    format!("\"{s}\" is not a link: write \"stage.port -> stage.port\""),
                );
                return None;
            };
            let from = parse_endpoint(c, path, Some(&Value::from(a)));
            let to = parse_endpoint(c, path, Some(&Value::from(b)));
            Some(LinkConfig {
                from: from?,
                to: to?,
                capacity: DEFAULT_CAPACITY,
                policy: LinkPolicy::Block,
            })
        }
        Value::Object(o) => {
            c.unknown_keys(path, o, &["from", "to", "capacity", "policy"]);
            let from = parse_endpoint(c, &format!("{path}.from"), o.get("from"));
            let to = parse_endpoint(c, &format!("{path}.to"), o.get("to"));
            let capacity = match o.get("capacity") {
                None => Some(DEFAULT_CAPACITY),
                v => c.uint(&format!("{path}.capacity"), v, 1, MAX_CAPACITY),
            };
            let policy = match o.get("policy") {
                None => Some(LinkPolicy::Block),
                Some(Value::String(s)) => {
                    let p = LinkPolicy::ALL.into_iter().find(|p| p.name() == s);
                    if p.is_none() {
                        c.err(
                            format!("{path}.policy"),
                            format!(
                                "unknown policy \"{s}\"{} (valid: \"block\", \"drop-newest\", \"drop-oldest\")",
                                suggestion(s, LinkPolicy::ALL.iter().map(|p| p.name()))
                            ),
                        );
                    }
                    p
                }
                Some(other) => {
                    c.err(
                        format!("{path}.policy"),
                        format!(
                            "must be \"block\", \"drop-newest\" or \"drop-oldest\", got {}",
                            describe(other)
                        ),
                    );
                    None
                }
            };
            Some(LinkConfig {
                from: from?,
                to: to?,
                capacity: capacity?,
                policy: policy?,
            })
        }
        other => {
            c.err(
                path,
                format!(
                    "a link must be \"a.out -> b.in\" or {{\"from\": .., \"to\": ..}}, got {}",
                    describe(other)
                ),
            );
            None
        }
    }
}
