//! A single-stage test harness: run one stage with given input packets and control messages,
//! and collect what it sends and replies, without building a pipeline around it.
//!
//! The stage is built by its factory exactly as in a pipeline (same parameter checks, same
//! [`StageBuilder`], same driver), with the harness holding the other end of every port.
//! Everything runs on a single-threaded runtime that the harness steps: after each
//! [`push`](Harness::push) or [`control`](Harness::control) the stage has handled everything
//! it was given before the call returns, so tests assert on order and counts, never on time.
//!
//! ```
//! use neuropipe_core::prelude::*;
//! use neuropipe_core::testing::Harness;
//!
//! #[derive(StageParams)]
//! struct GainParams {
//!     /// Factor applied to every sample.
//!     #[param(default = 1.0, live)]
//!     gain: f64,
//! }
//! struct Gain { gain: f32, input: Input<VoltageEegPacket>, output: Output<VoltageEegPacket> }
//! impl DataPlaneStage for Gain {
//!     async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
//!         let Some(mut p) = self.input.recv().await? else { return Ok(()) };
//!         p.samples_mut().iter_mut().for_each(|s| *s *= self.gain);
//!         self.output.send(p).await
//!     }
//!     fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
//!         match msg.update::<GainParams>()? {
//!             Some(u @ GainParamsUpdate::Gain(g)) => {
//!                 self.gain = g as f32;
//!                 Ok(Handled::update::<GainParams>(&u))
//!             }
//!             None => Ok(Handled::Default),
//!         }
//!     }
//! }
//! let spec = StageSpec::new("Gain", "scales", |b| {
//!     let p: GainParams = b.parse_params()?;
//!     let input = b.input("in")?;
//!     let output = b.output("out", input.stream().clone())?;
//!     Ok(BoxedStage::new(Gain { gain: p.gain as f32, input, output }))
//! })
//! .input(PortSpec::of("in", PayloadKind::F32).in_place())
//! .output(PortSpec::of("out", PayloadKind::F32))
//! .params::<GainParams>();
//!
//! let mut h = Harness::new(spec)
//!     .param("gain", 2.0)
//!     .input::<VoltageEegPacket>("in", StreamInfo::new("test", 250.0, 1, "uV", 4, PayloadKind::F32))
//!     .build()
//!     .unwrap();
//! let pool = h.pool::<VoltageEegPacket>(4, 1);
//! h.push("in", Harness::packet(&pool, 0, &[1.0, 2.0, 3.0, 4.0]));
//! assert_eq!(h.control(ControlMsg::UpdateParam("gain".into(), 10.0.into())).unwrap(), 10.0);
//! h.push("in", Harness::packet(&pool, 4, &[1.0, 1.0, 1.0, 1.0]));
//! let out = h.take::<VoltageEegPacket>("out");
//! assert_eq!(out[0].samples(), &[2.0, 4.0, 6.0, 8.0]);
//! assert_eq!(out[1].samples(), &[10.0; 4]);
//! assert!(h.finish().is_ok());
//! ```

use crate::build::{BuildEnv, ResolvedLink, StageBuilder};
use crate::clock::Clock;
use crate::config::{PipelineConfig, StageConfig};
use crate::control::{ControlError, ControlMsg, ControlRequest};
use crate::driver::{RunEnv, StageExit};
use crate::error::{ConfigError, ConfigErrors};
use crate::event::{EventBus, EventReceiver};
use crate::packet::Packet;
use crate::payload::{Payload, Samples};
use crate::pool::MemoryPool;
use crate::queue::{Input, LinkPolicy, LinkShared, OutLink, Output};
use crate::registry::{Registry, StageSpec};
use crate::shared::StageShared;
use crate::stage::StageContext;
use crate::stream::StreamInfo;
use serde_json::{Map, Value};
use std::any::Any;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Queue capacity of the harness's links (large, so a stage never waits on the harness).
const HARNESS_CAPACITY: usize = 4096;
/// Scheduler turns a settle may take before giving up (a stage that never goes idle).
const MAX_SETTLE_TURNS: usize = 100_000;

type MakeInput = Box<dyn FnOnce(Arc<StageShared>) -> (Arc<dyn Any + Send + Sync>, Box<dyn Any>)>;

struct InputDecl {
    port: &'static str,
    stream: StreamInfo,
    make: MakeInput,
    empty: Option<Box<dyn Fn() -> bool>>,
}

/// Configures a [`Harness`]: the stage's parameters and the streams on its inputs.
pub struct HarnessBuilder {
    spec: StageSpec,
    params: Map<String, Value>,
    inputs: Vec<InputDecl>,
}

impl HarnessBuilder {
    /// Sets a parameter (as it would appear in the pipeline's JSON).
    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.params.insert(name.to_string(), value.into());
        self
    }

    /// Feeds input `port` with packets of type `T` carrying `stream`.
    pub fn input<T: Payload>(mut self, port: &'static str, stream: StreamInfo) -> Self {
        let mut stream = stream;
        stream.payload = T::KIND;
        let access = self
            .spec
            .inputs
            .iter()
            .find(|p| p.name == port)
            .map_or(crate::queue::Access::ReadOnly, |p| p.access);
        let s2 = stream.clone();
        let link = LinkShared::<T>::new(HARNESS_CAPACITY, LinkPolicy::Block);
        let probe = link.clone();
        self.inputs.push(InputDecl {
            port,
            stream,
            make: Box::new(move |shared| {
                let out = Output::new(
                    vec![OutLink {
                        link: link.clone(),
                        access,
                    }],
                    shared,
                    s2,
                    false,
                );
                (
                    link as Arc<dyn Any + Send + Sync>,
                    Box::new(out) as Box<dyn Any>,
                )
            }),
            empty: Some(Box::new(move || probe.depth() == 0)),
        });
        self
    }

    /// Builds the stage through its factory. Errors are the ones `neuropipe validate` would
    /// report for the stage (unknown parameter, out of range, the factory's own checks).
    pub fn build(self) -> Result<Harness, ConfigErrors> {
        let HarnessBuilder {
            spec,
            params,
            inputs,
        } = self;
        check_params_and_inputs(&spec, &params, &inputs)?;
        let (cfg, links, first_out) = layout(&spec, params, &inputs)?;
        let mut reg = Registry::new();
        reg.register(spec.clone());
        let clock = Clock::new();
        let events = EventBus::default();
        let receiver = events.subscribe();
        let mut env = BuildEnv::new(cfg, &reg, links, clock, events.clone(), false);
        let feeder = Arc::new(StageShared::new("harness", "Harness", clock, false));
        let mut feeds = vec![];
        let mut empties = vec![];
        for (j, d) in inputs.into_iter().enumerate() {
            let (any, output) = (d.make)(feeder.clone());
            env.provide_link(j, any, d.stream);
            feeds.push((d.port, output));
            empties.extend(d.empty);
        }
        let shared = Arc::new(StageShared::new(
            "stage",
            spec.type_name,
            clock,
            spec.outputs.is_empty(),
        ));
        let mut b = StageBuilder::new(0, &spec, shared.clone(), &mut env);
        let built = (spec.factory)(&mut b);
        drop(b);
        let stage = built.map_err(|e| located(&spec, &e))?;
        let outputs = spec
            .outputs
            .iter()
            .enumerate()
            .map(|(k, p)| OutputTap {
                port: p.name,
                link: env.take_link(first_out + k),
                reader: None,
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                ConfigErrors(vec![ConfigError::new("$", format!("harness runtime: {e}"))])
            })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut ctx = StageContext {
            shared: shared.clone(),
            events: events.clone(),
            control_rx: rx,
            stop: CancellationToken::new(),
            timer: Default::default(),
        };
        let cancel = CancellationToken::new();
        let run_env = RunEnv {
            cancel: cancel.clone(),
            is_source: spec.is_cut_on_stop(),
            failure: Arc::new(Mutex::new(None)),
        };
        let mut stage = stage;
        let task = rt.spawn(async move { stage.0.drive(&mut ctx, run_env).await });
        let mut h = Harness {
            spec,
            rt,
            task: Some(task),
            control_tx: tx,
            shared,
            feeds,
            empties,
            outputs,
            events: receiver,
            bus: events,
            cancel,
            clock,
        };
        h.settle();
        Ok(h)
    }
}

/// The harness's own validation of what the test declared: every parameter known and in
/// range, the required ones present, the required inputs declared.
fn check_params_and_inputs(
    spec: &StageSpec,
    params: &Map<String, Value>,
    inputs: &[InputDecl],
) -> Result<(), ConfigErrors> {
    let mut errors = vec![];
    for (k, v) in params {
        match spec.param_spec(k) {
            None => errors.push(ConfigError::new(
                format!("$.stages[0].params.{k}"),
                format!("stage type `{}` has no parameter `{k}`", spec.type_name),
            )),
            Some(p) => {
                if let Err(e) = p.check(v) {
                    errors.push(ConfigError::new(format!("$.stages[0].params.{k}"), e));
                }
            }
        }
    }
    for p in spec.params.iter().filter(|p| p.required()) {
        if !params.contains_key(p.name) {
            errors.push(ConfigError::new(
                "$.stages[0].params",
                format!("missing required parameter `{}`", p.name),
            ));
        }
    }
    for p in spec.inputs.iter().filter(|p| p.required) {
        if !inputs.iter().any(|d| d.port == p.name) {
            errors.push(ConfigError::new(
                "$.stages[0]",
                format!("input `{}` is required: declare it with `.input()`", p.name),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(())
}

/// The one-stage pipeline: stage 0 under test, one placeholder per input feeder and per
/// output; returns the config, the links and the index of the first output link.
fn layout(
    spec: &StageSpec,
    params: Map<String, Value>,
    inputs: &[InputDecl],
) -> Result<(PipelineConfig, Vec<ResolvedLink>, usize), ConfigErrors> {
    let mut stages = vec![StageConfig {
        id: "stage".into(),
        kind: spec.type_name.into(),
        params,
        stream: None,
    }];
    let mut links = vec![];
    for d in inputs {
        let pi = spec
            .inputs
            .iter()
            .position(|p| p.name == d.port)
            .ok_or_else(|| {
                ConfigErrors(vec![ConfigError::new(
                    "$.stages[0]",
                    format!("stage type `{}` has no input `{}`", spec.type_name, d.port),
                )])
            })?;
        links.push(ResolvedLink {
            from: (stages.len(), 0),
            to: (0, pi),
            capacity: HARNESS_CAPACITY,
            policy: LinkPolicy::Block,
        });
        stages.push(placeholder(format!("harness.in.{}", d.port)));
    }
    let first_out = links.len();
    for (pi, p) in spec.outputs.iter().enumerate() {
        links.push(ResolvedLink {
            from: (0, pi),
            to: (stages.len(), 0),
            capacity: HARNESS_CAPACITY,
            policy: LinkPolicy::Block,
        });
        stages.push(placeholder(format!("harness.out.{}", p.name)));
    }
    let cfg = PipelineConfig {
        name: format!("harness for {}", spec.type_name),
        description: None,
        threads: None,
        pools: vec![],
        stages,
        links: vec![],
        base_dir: None,
    };
    Ok((cfg, links, first_out))
}

/// A factory's build error at its JSON path in the one-stage pipeline.
fn located(spec: &StageSpec, e: &crate::error::BuildError) -> ConfigErrors {
    let path = match &e.field {
        Some(f) if f.starts_with('$') => f.clone(),
        Some(f) => format!("$.stages[0].{f}"),
        None => "$.stages[0]".to_string(),
    };
    ConfigErrors(vec![ConfigError::new(
        path,
        format!("stage `stage` ({}): {}", spec.type_name, e.message),
    )])
}

fn placeholder(id: String) -> StageConfig {
    StageConfig {
        id,
        kind: "harness".into(),
        params: Map::new(),
        stream: None,
    }
}

struct OutputTap {
    port: &'static str,
    link: Option<Arc<dyn Any + Send + Sync>>,
    reader: Option<Box<dyn Any + Send>>,
}

/// One stage running under test; see the [module docs](self).
pub struct Harness {
    spec: StageSpec,
    rt: tokio::runtime::Runtime,
    task: Option<tokio::task::JoinHandle<StageExit>>,
    control_tx: mpsc::UnboundedSender<Box<ControlRequest>>,
    shared: Arc<StageShared>,
    feeds: Vec<(&'static str, Box<dyn Any>)>,
    empties: Vec<Box<dyn Fn() -> bool>>,
    outputs: Vec<OutputTap>,
    events: EventReceiver,
    bus: EventBus,
    cancel: CancellationToken,
    clock: Clock,
}

impl Harness {
    /// A harness for a stage type; set parameters and inputs, then [`build`](HarnessBuilder::build).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(spec: StageSpec) -> HarnessBuilder {
        HarnessBuilder {
            spec,
            params: Map::new(),
            inputs: vec![],
        }
    }

    /// A pool of `frames × channels` packets for feeding the stage.
    pub fn pool<T: Payload>(&self, frames: usize, channels: usize) -> MemoryPool<T> {
        MemoryPool::new("harness", 256, frames, channels)
    }

    /// A packet from `pool` holding `samples` (frame-major), with frame index `first_frame`
    /// and a timestamp of `first_frame` milliseconds.
    pub fn packet<S: crate::payload::Sample>(
        pool: &MemoryPool<Samples<S>>,
        first_frame: u64,
        samples: &[S],
    ) -> Packet<Samples<S>>
    where
        Samples<S>: Payload,
    {
        let mut p = pool
            .try_acquire()
            .expect("harness pool exhausted: drop packets or use a larger pool");
        let channels = pool.channels().max(1);
        assert_eq!(samples.len() % channels, 0, "samples must be whole frames");
        p.set_shape(samples.len() / channels, channels)
            .expect("samples fit the pool's packets");
        p.samples_mut().copy_from_slice(samples);
        p.header.first_frame = first_frame;
        p.header.timestamp = first_frame * 1_000_000;
        p
    }

    /// Sends a packet into input `port` and lets the stage process it (and anything it
    /// triggers) before returning.
    ///
    /// # Panics
    /// If `port` was not declared with [`HarnessBuilder::input`] for payload `T`.
    pub fn push<T: Payload>(&mut self, port: &str, packet: Packet<T>) {
        let out = self
            .feeds
            .iter_mut()
            .find(|(p, _)| *p == port)
            .and_then(|(_, o)| o.downcast_mut::<Output<T>>())
            .unwrap_or_else(|| panic!("harness: no input `{port}` of this payload type"));
        let sent = self.rt.block_on(out.send(packet));
        assert!(sent.is_ok(), "harness: the stage closed input `{port}`");
        self.settle();
    }

    /// The stage's clock now (ns since the harness was built): the time a stage reads with
    /// `ctx.clock().now_ns()`, for packets stamped relative to a control message.
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Delivers a control message and returns the stage's reply (after the runtime's own
    /// checks, as [`PipelineHandle::control`](crate::PipelineHandle::control) does them).
    pub fn control(&mut self, msg: ControlMsg) -> Result<Value, ControlError> {
        if let ControlMsg::UpdateParam(k, v) = &msg {
            crate::pipeline::check_live_param(&self.spec, "stage", k, v)?;
        }
        let (tx, rx) = oneshot::channel();
        self.control_tx
            .send(Box::new(ControlRequest {
                msg,
                reply: Some(tx),
            }))
            .map_err(|_| ControlError::NotRunning("stage".into()))?;
        self.shared.control_ready.notify_one();
        let reply = self
            .rt
            .block_on(rx)
            .map_err(|_| ControlError::NotRunning("stage".into()))?;
        self.settle();
        reply.map(|a| a.value)
    }

    /// Takes every packet the stage has sent on output `port` so far.
    ///
    /// # Panics
    /// If the stage has no output `port`, or it carries another payload than `T`.
    pub fn take<T: Payload>(&mut self, port: &str) -> Vec<Packet<T>> {
        let reader = reader::<T>(&mut self.outputs, port);
        let mut got = vec![];
        while let Ok(Some(p)) = reader.try_recv() {
            got.push(p);
        }
        got
    }

    /// Runs the stage (a source) until it has sent `n` packets on `port` or ended, and
    /// returns them.
    pub fn run_until<T: Payload>(&mut self, port: &str, n: usize) -> Vec<Packet<T>> {
        let mut got = vec![];
        while got.len() < n {
            let reader = reader::<T>(&mut self.outputs, port);
            match self.rt.block_on(reader.recv()) {
                Ok(Some(p)) => got.push(p),
                Ok(None) => {}
                Err(_) => break,
            }
        }
        got
    }

    /// Publishes an event on the pipeline's event bus, as another stage would (e.g. a marker
    /// from a replayed annotation, with `on_sample` and the timestamp of its sample). The
    /// stage sees it the next time it reads its event receiver.
    pub fn publish(&mut self, event: crate::event::PipelineEvent) {
        self.bus.publish(event);
    }

    /// Runs the stage until it (or anyone) publishes an event matching `pred`, and returns
    /// it; `None` if none comes within 60 s (a hang guard, not a latency check). Events read
    /// meanwhile are not returned by [`events`](Self::events) again.
    pub fn run_until_event(
        &mut self,
        pred: impl Fn(&crate::event::PipelineEvent) -> bool,
    ) -> Option<crate::event::PipelineEvent> {
        use tokio::sync::broadcast::error::RecvError;
        let events = &mut self.events;
        self.rt.block_on(async {
            let wait = async {
                loop {
                    match events.recv().await {
                        Ok(e) if pred(&e) => return Some(e),
                        Ok(_) | Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    }
                }
            };
            tokio::time::timeout(std::time::Duration::from_secs(60), wait)
                .await
                .ok()
                .flatten()
        })
    }

    /// Events published on the bus so far: by the stage (markers, lost samples, parameter
    /// changes…) and by [`publish`](Self::publish).
    pub fn events(&mut self) -> Vec<crate::event::PipelineEvent> {
        let mut v = vec![];
        use tokio::sync::broadcast::error::TryRecvError;
        loop {
            match self.events.try_recv() {
                Ok(e) => v.push(e),
                Err(TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        v
    }

    /// The stage's metrics right now.
    pub fn snapshot(&self) -> crate::metrics::StageSnapshot {
        self.shared.snapshot()
    }

    /// Closes the inputs (end of stream; a source is stopped), waits for the stage to end,
    /// and returns `Ok` if it finished, or its failure message. Packets it sent while
    /// finishing are still available from [`take`](Self::take) before this call consumes
    /// the harness; use [`close`](Self::close) to end the stage and keep the harness.
    pub fn finish(mut self) -> Result<(), String> {
        self.close()
    }

    /// Closes the inputs (end of stream; a source is stopped) and waits for the stage to
    /// end: `Ok` if it finished, or its failure message. Its last packets stay in the
    /// outputs for [`take`](Self::take).
    pub fn close(&mut self) -> Result<(), String> {
        self.feeds.clear();
        self.cancel.cancel();
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match self.rt.block_on(task) {
            Ok(StageExit::Finished) => Ok(()),
            Ok(StageExit::Failed(m)) => Err(m),
            Err(e) => Err(format!("stage task ended abnormally: {e}")),
        }
    }

    /// Steps the runtime until the stage is idle: its inputs are drained and it waits.
    fn settle(&mut self) {
        let empties = &self.empties;
        self.rt.block_on(async {
            let mut idle_turns = 0;
            for _ in 0..MAX_SETTLE_TURNS {
                tokio::task::yield_now().await;
                if empties.iter().all(|e| e()) {
                    idle_turns += 1;
                    // A few turns with nothing queued: the stage ran to its next wait.
                    if idle_turns >= 4 {
                        break;
                    }
                } else {
                    idle_turns = 0;
                }
            }
        });
    }
}

/// The harness's reader of output `port` (opened on first use).
fn reader<'a, T: Payload>(outputs: &'a mut [OutputTap], port: &str) -> &'a mut Input<T> {
    let tap = outputs
        .iter_mut()
        .find(|t| t.port == port)
        .unwrap_or_else(|| panic!("harness: the stage has no output `{port}`"));
    if tap.reader.is_none() {
        let link = tap
            .link
            .take()
            .unwrap_or_else(|| panic!("harness: output `{port}` was not opened"))
            .downcast::<LinkShared<T>>()
            .unwrap_or_else(|_| panic!("harness: output `{port}` carries another payload"));
        let shared = Arc::new(StageShared::new("harness", "Harness", Clock::new(), false));
        let stream = StreamInfo::new("harness", 0.0, 0, "", 0, T::KIND);
        tap.reader = Some(Box::new(Input::new(link, shared, stream, false)));
    }
    tap.reader
        .as_mut()
        .and_then(|r| r.downcast_mut::<Input<T>>())
        .unwrap_or_else(|| panic!("harness: output `{port}` carries another payload"))
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
