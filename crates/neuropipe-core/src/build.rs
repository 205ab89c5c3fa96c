//! Building each stage of a resolved pipeline through its factory with a [`StageBuilder`]:
//! ports, streams, pools and taps. (The graph checks before this are in `resolve.rs`.)

use crate::clock::Clock;
use crate::config::{PipelineConfig, StageConfig, StreamOverrides};
use crate::error::BuildError;
use crate::event::{EventBus, EventReceiver};
use crate::metrics::{LinkMetrics, PoolMetrics};
use crate::params::Params;
use crate::payload::{FloatKind, Payload, PayloadKind, Samples};
use crate::pool::{ErasedPool, MemoryPool};
use crate::queue::{Access, Input, LinkPolicy, LinkShared, OutLink, Output};
use crate::registry::{PortSpec, Registry, StageSpec};
use crate::shared::StageShared;
use crate::stage_params::StageParams;
use crate::stream::StreamInfo;
use crate::text::suggestion;
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) use crate::resolve::ResolvedLink;

/// A built link, as the pipeline reports it in metrics.
pub(crate) struct LinkInfo {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) capacity: usize,
    pub(crate) policy: LinkPolicy,
    pub(crate) metrics: Arc<LinkMetrics>,
    pub(crate) depth: Arc<dyn Fn() -> usize + Send + Sync>,
}

struct LinkSlot {
    any: Arc<dyn Any + Send + Sync>,
    stream: StreamInfo,
}

/// State shared by all stage builders of one pipeline.
pub(crate) struct BuildEnv {
    pub(crate) cfg: PipelineConfig,
    /// Name and access of every input port that a link feeds, by (stage, port).
    consumer_ports: HashMap<(usize, usize), (&'static str, Access)>,
    pub(crate) links: Vec<ResolvedLink>,
    slots: Vec<Option<LinkSlot>>,
    named_pools: HashMap<String, ErasedPool>,
    auto_pool_count: usize,
    pub(crate) clock: Clock,
    pub(crate) events: EventBus,
    pub(crate) link_infos: Vec<LinkInfo>,
    pub(crate) pool_infos: Vec<(String, Arc<PoolMetrics>)>,
    pub(crate) taps: Vec<crate::tap::TapPoint>,
    /// Validation only (see [`StageBuilder::validating`]).
    validating: bool,
    /// Index of the link into each linked input port `(stage, port)`.
    pub(crate) link_into: HashMap<(usize, usize), usize>,
    /// Indices of the links leaving each stage, and entering it.
    pub(crate) links_from: Vec<Vec<usize>>,
    links_to: Vec<Vec<usize>>,
}

impl BuildEnv {
    pub(crate) fn new(
        cfg: PipelineConfig,
        reg: &Registry,
        links: Vec<ResolvedLink>,
        clock: Clock,
        events: EventBus,
        validating: bool,
    ) -> Self {
        let mut pool_infos = vec![];
        let named_pools = cfg
            .pools
            .iter()
            .map(|p| {
                // Validation checks sizes and kinds, not memory: one buffer is enough.
                let count = if validating { 1 } else { p.count };
                let e = match p.payload {
                    PayloadKind::I32 => {
                        MemoryPool::<Samples<i32>>::new(&p.name, count, p.frames, p.channels)
                            .erased()
                    }
                    PayloadKind::F32 => {
                        MemoryPool::<Samples<f32>>::new(&p.name, count, p.frames, p.channels)
                            .erased()
                    }
                    PayloadKind::F64 => {
                        MemoryPool::<Samples<f64>>::new(&p.name, count, p.frames, p.channels)
                            .erased()
                    }
                };
                pool_infos.push((p.name.clone(), e.metrics.clone()));
                (p.name.clone(), e)
            })
            .collect();
        // Enough for every queue to be full and every stage to hold two packets.
        let auto_pool_count = if validating {
            1
        } else {
            links.iter().map(|l| l.capacity).sum::<usize>() + 2 * cfg.stages.len() + 2
        };
        let n = links.len();
        let mut link_into = HashMap::with_capacity(n);
        let mut links_from = vec![vec![]; cfg.stages.len()];
        let mut links_to = vec![vec![]; cfg.stages.len()];
        for (j, l) in links.iter().enumerate() {
            link_into.insert(l.to, j);
            links_from[l.from.0].push(j);
            links_to[l.to.0].push(j);
        }
        let mut consumer_ports = HashMap::new();
        for l in &links {
            if let Some(spec) = reg.get(&cfg.stages[l.to.0].kind) {
                let p = &spec.inputs[l.to.1];
                consumer_ports.insert(l.to, (p.name, p.access));
            }
        }
        BuildEnv {
            cfg,
            consumer_ports,
            links,
            slots: (0..n).map(|_| None).collect(),
            named_pools,
            auto_pool_count,
            clock,
            events,
            link_infos: vec![],
            pool_infos,
            taps: vec![],
            validating,
            link_into,
            links_from,
            links_to,
        }
    }

    /// Installs link `j` as built by someone other than a stage (the test harness's feeders).
    pub(crate) fn provide_link(
        &mut self,
        j: usize,
        any: Arc<dyn Any + Send + Sync>,
        stream: StreamInfo,
    ) {
        self.slots[j] = Some(LinkSlot { any, stream });
    }

    /// The queue of link `j` once its producer has opened it (for the test harness's readers).
    pub(crate) fn take_link(&mut self, j: usize) -> Option<Arc<dyn Any + Send + Sync>> {
        self.slots[j].take().map(|s| s.any)
    }

    /// Whether every link into stage `i` has been built (its producers exist).
    pub(crate) fn inputs_ready(&self, i: usize) -> bool {
        self.links_to[i].iter().all(|&j| self.slots[j].is_some())
    }
}

/// What a stage factory uses to build its stage: validated parameters (defaults filled in),
/// typed port handles, stream info, memory pools, the clock and the event bus.
///
/// Every lookup here that can fail returns a [`BuildError`], reported by `neuropipe validate`
/// with the JSON path — so `run` never has to look anything up.
pub struct StageBuilder<'a> {
    pub(crate) idx: usize,
    pub(crate) spec: &'a StageSpec,
    pub(crate) params: Params,
    pub(crate) shared: Arc<StageShared>,
    pub(crate) env: &'a mut BuildEnv,
    pub(crate) input_streams: Vec<StreamInfo>,
    pub(crate) output_streams: Vec<StreamInfo>,
    pub(crate) claimed_inputs: Vec<usize>,
    pub(crate) claimed_outputs: Vec<usize>,
}

impl<'a> StageBuilder<'a> {
    pub(crate) fn new(
        idx: usize,
        spec: &'a StageSpec,
        shared: Arc<StageShared>,
        env: &'a mut BuildEnv,
    ) -> Self {
        let cfg = &env.cfg.stages[idx];
        let mut values = cfg.params.clone();
        for p in &spec.params {
            if let (false, Some(d)) = (values.contains_key(p.name), &p.default) {
                values.insert(p.name.to_string(), d.clone());
            }
        }
        StageBuilder {
            idx,
            spec,
            params: Params::new(values),
            shared,
            env,
            input_streams: vec![],
            output_streams: vec![],
            claimed_inputs: vec![],
            claimed_outputs: vec![],
        }
    }

    fn cfg(&self) -> &StageConfig {
        &self.env.cfg.stages[self.idx]
    }
    /// The stage's id.
    pub fn id(&self) -> &str {
        &self.cfg().id
    }
    /// The stage's type name, as the pipeline file gives it (for factories registered under
    /// several names, e.g. stage types a host defines at run time).
    pub fn stage_type(&self) -> &str {
        &self.cfg().kind
    }
    /// Parameters with defaults filled in (types and ranges already checked).
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// The parameters as the stage's typed struct (see [`StageParams`]).
    pub fn parse_params<P: StageParams>(&self) -> Result<P, BuildError> {
        P::from_params(&self.params)
    }
    /// The pipeline clock.
    pub fn clock(&self) -> Clock {
        self.env.clock
    }
    /// Declares the stage's readouts (figures hosts show: `rows` × `columns`, and a status
    /// line) and returns the handle the stage updates them through. Once per stage; a
    /// second call returns the first table.
    pub fn readouts(
        &mut self,
        columns: &[crate::readout::ReadoutColumn],
        rows: Vec<String>,
    ) -> crate::readout::Readouts {
        self.shared
            .readouts
            .get_or_init(|| crate::readout::Readouts::new(columns, rows))
            .clone()
    }
    /// A receiver of pipeline events (for recorders that annotate them).
    pub fn events(&self) -> EventReceiver {
        self.env.events.subscribe()
    }
    /// A file name from a parameter, resolved by the pipeline's one rule
    /// ([`PipelineConfig::resolve_path`]): relative to the pipeline file's directory.
    pub fn resolve_path(&self, path: &str) -> std::path::PathBuf {
        self.env.cfg.resolve_path(path)
    }
    /// Stream overrides given in the stage's `"stream"` object.
    pub fn stream_overrides(&self) -> Option<&StreamOverrides> {
        self.cfg().stream.as_ref()
    }

    fn port_index(
        ports: &[PortSpec],
        port: &str,
        dir: &str,
        ty: &str,
    ) -> Result<usize, BuildError> {
        ports.iter().position(|p| p.name == port).ok_or_else(|| {
            BuildError::stage(format!("stage type `{ty}` declares no {dir} port `{port}`"))
        })
    }

    fn in_link(&self, port: &str) -> Result<Option<usize>, BuildError> {
        let pi = Self::port_index(&self.spec.inputs, port, "input", self.spec.type_name)?;
        Ok(self.env.link_into.get(&(self.idx, pi)).copied())
    }

    /// Payload kind arriving on input `port` (for stages generic over the sample type).
    pub fn input_kind(&self, port: &str) -> Result<PayloadKind, BuildError> {
        Ok(self.input_stream(port)?.payload)
    }

    /// The floating-point sample type arriving on input `port`, for stages that process a
    /// signal: raw `i32` counts are rejected with the fix (a `RawToVoltage` stage first).
    pub fn float_input(&self, port: &str) -> Result<FloatKind, BuildError> {
        let kind = self.input_kind(port)?;
        kind.float().ok_or_else(|| {
            BuildError::stage(format!(
                "input `{port}` receives raw {kind} counts, which cannot be processed as a signal: put a RawToVoltage stage before `{}` (it converts counts to µV as f32)",
                self.id()
            ))
        })
    }

    /// Stream info arriving on input `port`.
    pub fn input_stream(&self, port: &str) -> Result<&StreamInfo, BuildError> {
        let j = self
            .in_link(port)?
            .ok_or_else(|| BuildError::stage(format!("input `{port}` is not linked")))?;
        self.env.slots[j]
            .as_ref()
            .map(|s| &s.stream)
            .ok_or_else(|| BuildError::stage(format!("input `{port}`: upstream stage not built")))
    }

    /// Whether input `port` is linked.
    pub fn is_input_linked(&self, port: &str) -> bool {
        matches!(self.in_link(port), Ok(Some(_)))
    }

    /// Whether output `port` is linked (an optional output nobody links drops its packets).
    pub fn is_output_linked(&self, port: &str) -> bool {
        let Ok(pi) = Self::port_index(&self.spec.outputs, port, "output", self.spec.type_name)
        else {
            return false;
        };
        self.env.links_from[self.idx]
            .iter()
            .any(|&j| self.env.links[j].from == (self.idx, pi))
    }

    /// Opens input `port` for packets of type `T` of a continuous stream: the stage keeps the
    /// returned [`Input`]. A stream of epochs (from `Epoch` or `Window`) is refused with the
    /// reason: a filter or a recorder would treat windows as if they followed each other.
    pub fn input<T: Payload>(&mut self, port: &str) -> Result<Input<T>, BuildError> {
        self.open_input(port, false)
    }

    /// Opens input `port` for a stream of epochs ([`StreamInfo::epochs`] is `Some`): for
    /// stages that take one window per packet (features, decoders). A continuous stream is
    /// refused with the fix (an `Epoch` or `Window` stage before this one).
    pub fn epochs_input<T: Payload>(&mut self, port: &str) -> Result<Input<T>, BuildError> {
        self.open_input(port, true)
    }

    fn open_input<T: Payload>(&mut self, port: &str, epochs: bool) -> Result<Input<T>, BuildError> {
        let j = self
            .in_link(port)?
            .ok_or_else(|| BuildError::stage(format!("input `{port}` is not linked")))?;
        let slot = self.env.slots[j].as_ref().ok_or_else(|| {
            BuildError::stage(format!("input `{port}`: upstream stage not built"))
        })?;
        if slot.stream.epochs.is_some() != epochs {
            let from = &self.env.cfg.stages[self.env.links[j].from.0].id;
            let msg = if epochs {
                format!(
                    "`{from}` sends a continuous stream but `{}.{port}` takes epochs (one window per packet): put an Epoch (marker-locked) or Window (sliding) stage between them",
                    self.id()
                )
            } else {
                format!(
                    "`{from}` sends epochs (one window per packet) but `{}.{port}` takes a continuous stream, whose packets follow each other in time: link it to the stream `{from}` cuts its epochs from",
                    self.id(),
                )
            };
            return Err(BuildError::at(format!("$.links[{j}]"), msg));
        }
        let link = slot.any.clone().downcast::<LinkShared<T>>().map_err(|_| {
            BuildError::at(
                format!("$.links[{j}]"),
                format!(
                    "payload mismatch: the link delivers {} packets but `{}.{port}` reads {}",
                    slot.stream.payload,
                    self.id(),
                    T::KIND
                ),
            )
        })?;
        let stream = slot.stream.clone();
        // A sink for latency purposes: nothing downstream of this stage.
        let is_sink = self.shared.metrics.is_sink();
        self.input_streams.push(stream.clone());
        self.claimed_inputs.push(j);
        Ok(Input::new(link, self.shared.clone(), stream, is_sink))
    }

    /// Opens output `port` for packets of type `T`, declaring the stream it carries
    /// (its payload is set to `T`'s kind and its start time to the pipeline clock's): the
    /// stage keeps the returned [`Output`].
    pub fn output<T: Payload>(
        &mut self,
        port: &str,
        mut stream: StreamInfo,
    ) -> Result<Output<T>, BuildError> {
        let pi = Self::port_index(&self.spec.outputs, port, "output", self.spec.type_name)?;
        stream.payload = T::KIND;
        stream.start_unix_ns = self.env.clock.start_unix_ns();
        let mut outs = vec![];
        for k in 0..self.env.links_from[self.idx].len() {
            let j = self.env.links_from[self.idx][k];
            let l = self.env.links[j].clone();
            if l.from != (self.idx, pi) {
                continue;
            }
            let consumer = &self.env.cfg.stages[l.to.0];
            let access = self.env_spec_access(l.to);
            let shared = LinkShared::<T>::new(l.capacity, l.policy);
            let probe = shared.clone();
            self.env.link_infos.push(LinkInfo {
                from: format!("{}.{port}", self.id()),
                to: format!("{}.{}", consumer.id, self.consumer_port_name(l.to)),
                capacity: l.capacity,
                policy: l.policy,
                metrics: shared.metrics.clone(),
                depth: Arc::new(move || probe.depth()),
            });
            self.env.slots[j] = Some(LinkSlot {
                any: shared.clone(),
                stream: stream.clone(),
            });
            outs.push(OutLink {
                link: shared,
                access,
            });
            self.claimed_outputs.push(j);
        }
        let is_source = self.spec.is_source();
        let mut output = Output::new(outs, self.shared.clone(), stream.clone(), is_source);
        let endpoint = format!("{}.{port}", self.id());
        // Validation never opens a tap: its buffers can be minimal.
        let (frames, channels) = if self.env.validating {
            (1, 1)
        } else {
            (
                stream.frames_per_packet.max(1),
                stream.channel_count().max(1),
            )
        };
        let (tx, point) = crate::tap::new_tap::<T>(endpoint, frames, channels);
        output.set_tap(tx);
        self.env.taps.extend(point);
        self.output_streams.push(stream);
        Ok(output)
    }

    fn env_spec_access(&self, to: (usize, usize)) -> Access {
        self.env
            .consumer_ports
            .get(&to)
            .map_or(Access::ReadOnly, |p| p.1)
    }

    fn consumer_port_name(&self, to: (usize, usize)) -> &'static str {
        self.env.consumer_ports.get(&to).map_or("?", |p| p.0)
    }

    /// Whether the pipeline is only being validated (`neuropipe validate`): a factory must
    /// then check everything it can without side effects — open no device, resolve no
    /// network stream, create no file — and describe its output from what is declared
    /// (parameters, `stream` overrides). `false` when the pipeline is built to run (and under
    /// `neuropipe validate --probe`).
    pub fn validating(&self) -> bool {
        self.env.validating
    }

    /// A pool for packets of `frames × channels` samples of type `T`: the pool named by the
    /// stage's `pool` parameter if it has one (checked for payload type and size), otherwise
    /// a private pool sized for every queue of the pipeline.
    pub fn pool<T: Payload>(
        &mut self,
        frames: usize,
        channels: usize,
    ) -> Result<MemoryPool<T>, BuildError> {
        if let Some(name) = self.params.opt_str("pool").map(str::to_string) {
            let Some(p) = self.env.named_pools.get(&name) else {
                let names: Vec<&str> = self.env.cfg.pools.iter().map(|p| p.name.as_str()).collect();
                return Err(BuildError::param(
                    "pool",
                    if names.is_empty() {
                        format!("no pool named `{name}`: declare it in $.pools (none declared), or leave out `pool` for a private one")
                    } else {
                        format!(
                            "no pool named `{name}`{} (declared pools: {})",
                            suggestion(&name, names.iter().copied()),
                            names.join(", ")
                        )
                    },
                ));
            };
            if p.kind != T::KIND {
                return Err(BuildError::param(
                    "pool",
                    format!(
                        "pool `{name}` holds {} packets but stage `{}` needs {}",
                        p.kind,
                        self.id(),
                        T::KIND
                    ),
                ));
            }
            if p.frames * p.channels < frames * channels || p.channels < channels {
                return Err(BuildError::param(
                    "pool",
                    format!(
                        "pool `{name}` is too small: its packets hold {} frames x {} channels but stage `{}` sends packets of {frames} frames x {channels} channels",
                        p.frames,
                        p.channels,
                        self.id()
                    ),
                ));
            }
            if p.count < self.env.auto_pool_count {
                return Err(BuildError::param(
                    "pool",
                    format!(
                        "pool `{name}` has {} packets, but this pipeline can hold up to {} at once (every queue full plus two per stage): with fewer it can deadlock; use \"count\": {} or more, or lower link capacities",
                        p.count,
                        self.env.auto_pool_count,
                        self.env.auto_pool_count
                    ),
                ));
            }
            return p.typed::<T>().ok_or_else(|| {
                BuildError::param("pool", format!("pool `{name}` has the wrong payload type"))
            });
        }
        // The stage's id; a second private pool of the same stage (a further output port's)
        // is `id#2`, and so on, so that reports tell them apart.
        let id = self.id().to_string();
        let earlier = self
            .env
            .pool_infos
            .iter()
            .filter(|(n, _)| *n == id || n.strip_prefix(&id).is_some_and(|r| r.starts_with('#')))
            .count();
        let name = match earlier {
            0 => id,
            n => format!("{id}#{}", n + 1),
        };
        let count = self.env.auto_pool_count;
        let bytes = (frames * channels * T::KIND.sample_bytes()).saturating_mul(count);
        if bytes > crate::config::MAX_POOL_BYTES {
            return Err(BuildError::stage(format!(
                "its private pool of {count} packets x {frames} frames x {channels} channels would need {} MiB (limit {} MiB): lower the packet size or the link capacities",
                bytes >> 20,
                crate::config::MAX_POOL_BYTES >> 20
            )));
        }
        let pool = MemoryPool::<T>::new(&name, count, frames, channels);
        self.env.pool_infos.push((name, pool.metrics().clone()));
        Ok(pool)
    }

    /// Applies the stage's `"stream"` overrides to a source's default stream info. Labels must
    /// match the channel count; `types` may give one type for all channels or one per channel.
    pub fn source_stream(&self, mut info: StreamInfo) -> Result<StreamInfo, BuildError> {
        let Some(o) = self.stream_overrides() else {
            return Ok(info);
        };
        let n = info.channels.len();
        if let Some(name) = &o.name {
            info.name = name.clone();
        }
        if let Some(kind) = &o.kind {
            info.kind = kind.clone();
        }
        if let Some(id) = &o.source_id {
            info.source_id = id.clone();
        }
        if let Some(m) = &o.manufacturer {
            info.manufacturer = m.clone();
        }
        if let Some(labels) = &o.labels {
            if labels.len() != n {
                return Err(BuildError::at(
                    "stream.labels",
                    format!("has {} labels but the stage has {n} channels", labels.len()),
                ));
            }
            for (c, l) in info.channels.iter_mut().zip(labels) {
                c.label = l.clone();
            }
        }
        if let Some(types) = &o.types {
            if types.len() != 1 && types.len() != n {
                return Err(BuildError::at(
                    "stream.types",
                    format!(
                        "has {} types but the stage has {n} channels (give one for all, or one per channel)",
                        types.len()
                    ),
                ));
            }
            for (i, c) in info.channels.iter_mut().enumerate() {
                c.kind = types[if types.len() == 1 { 0 } else { i }].clone();
            }
        }
        Ok(info)
    }
}
