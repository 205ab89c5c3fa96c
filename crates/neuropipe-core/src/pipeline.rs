//! [`Pipeline`]: a built, validated graph of stages, and [`PipelineHandle`] to control and
//! observe it while it runs.

use crate::build::{BuildEnv, LinkInfo, StageBuilder};
use crate::clock::Clock;
use crate::config::PipelineConfig;
use crate::control::{ControlError, ControlMsg, ControlRequest};
use crate::description::{Failure, PipelineDescription, StageDescription};
use crate::driver::{RunEnv, StageExit};
use crate::error::{ConfigError, ConfigErrors};
use crate::event::{EventBus, EventKind, EventReceiver, PipelineEvent};
use crate::metrics::{LinkSnapshot, PipelineSnapshot, PoolMetrics};
use crate::registry::{Registry, StageSpec};
use crate::resolve::resolve;
use crate::shared::StageShared;
use crate::stage::{BoxedStage, StageContext};
use crate::state::PipelineState;
use crate::stream::StreamInfo;
use crate::text::suggestion;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Checks a pipeline against the registry offline and cheaply: every stage factory runs (so
/// every problem is reported at once, with its JSON path), but in *validation* mode
/// ([`StageBuilder::validating`]): no device is opened, no network stream resolved, no file
/// created, and memory pools get one buffer each. What `neuropipe validate` does; sources
/// that need hardware or the network check what they can (declared shapes) without it.
pub fn validate(cfg: &PipelineConfig, registry: &Registry) -> Result<(), ConfigErrors> {
    Pipeline::build_mode(cfg, registry, true).map(|_| ())
}

struct BuiltStage {
    stage: BoxedStage,
    ctx: StageContext,
    is_source: bool,
}

struct StageEntry {
    shared: Arc<StageShared>,
    spec: StageSpec,
    /// Boxed: the channel preallocates a block of 32 entries per stage, so entries stay small.
    control_tx: mpsc::UnboundedSender<Box<ControlRequest>>,
    params: Mutex<Map<String, Value>>,
    inputs: Vec<StreamInfo>,
    outputs: Vec<StreamInfo>,
}

/// Longest operator marker text, in bytes (the recorders' annotation limit).
pub const MAX_MARKER_TEXT: usize = 200;

/// Why [`PipelineHandle::mark`] refused a marker (nothing was recorded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkError {
    /// The text is empty or blank.
    #[error("the marker text is empty")]
    Empty,
    /// The text is longer than [`MAX_MARKER_TEXT`] bytes.
    #[error("the marker text is {bytes} bytes long; at most {MAX_MARKER_TEXT} fit in a recording's annotation")]
    TooLong {
        /// Its length.
        bytes: usize,
    },
    /// The text holds a control character (newline, tab, NUL, …).
    #[error(
        "the marker text holds control character U+{code:04X}; recordings cannot keep it as given"
    )]
    Control {
        /// The character's code point.
        code: u32,
    },
}

struct PipelineShared {
    config: PipelineConfig,
    clock: Clock,
    events: EventBus,
    cancel: CancellationToken,
    failure: Arc<Mutex<Option<(String, String)>>>,
    state: AtomicU8,
    stages: Vec<StageEntry>,
    links: Vec<LinkInfo>,
    pools: Vec<(String, Arc<PoolMetrics>)>,
    taps: Vec<crate::tap::TapPoint>,
}

/// A validated, built pipeline, ready to [`run`](Self::run).
pub struct Pipeline {
    stages: Vec<BuiltStage>,
    shared: Arc<PipelineShared>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every stage finished: the sources ended, were stopped, or ran for the set duration.
    Finished,
    /// A stage failed (`Fatal` or panic); everything else was drained and flushed.
    Failed {
        /// The stage that failed first.
        stage: String,
        /// Its message.
        message: String,
    },
}

/// Result of [`Pipeline::run`].
#[derive(Clone, Debug)]
pub struct RunReport {
    /// How it ended.
    pub outcome: Outcome,
    /// Final metrics.
    pub snapshot: PipelineSnapshot,
}

impl Pipeline {
    /// Validates `cfg` against `registry` and builds every stage. All problems — in the file
    /// and those found by stage factories — are reported at once.
    pub fn build(cfg: &PipelineConfig, registry: &Registry) -> Result<Pipeline, ConfigErrors> {
        Pipeline::build_mode(cfg, registry, false)
    }

    fn build_mode(
        cfg: &PipelineConfig,
        registry: &Registry,
        validating: bool,
    ) -> Result<Pipeline, ConfigErrors> {
        let (links, order, mut errors) = resolve(cfg, registry);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let clock = Clock::new();
        let events = EventBus::default();
        let mut env = BuildEnv::new(
            cfg.clone(),
            registry,
            links,
            clock,
            events.clone(),
            validating,
        );
        let mut built: Vec<Option<(BuiltStage, StageEntry)>> =
            (0..cfg.stages.len()).map(|_| None).collect();
        let mut feeds = vec![false; cfg.stages.len()];
        for l in &env.links {
            feeds[l.from.0] = true;
        }
        for &i in &order {
            if !env.inputs_ready(i) {
                continue; // an upstream stage failed to build; that error is reported
            }
            // Validation records no latency: no histogram for sinks either.
            let sink = !feeds[i] && !validating;
            match build_stage(i, registry, &mut env, sink, &events) {
                Ok(stage) => built[i] = Some(stage),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.path.cmp(&b.path));
            return Err(ConfigErrors(errors));
        }
        let (stages, entries): (Vec<_>, Vec<_>) = built.into_iter().flatten().unzip();
        Ok(Pipeline {
            stages,
            shared: Arc::new(PipelineShared {
                config: cfg.clone(),
                clock,
                events,
                cancel: CancellationToken::new(),
                failure: Arc::new(Mutex::new(None)),
                state: AtomicU8::new(PipelineState::Ready as u8),
                stages: entries,
                links: env.link_infos,
                pools: env.pool_infos,
                taps: env.taps,
            }),
        })
    }

    /// A handle to control and observe the pipeline (cheap to clone, usable from any task).
    pub fn handle(&self) -> PipelineHandle {
        PipelineHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs every stage as a task on the current tokio runtime until all have ended: sources
    /// finished or were stopped ([`PipelineHandle::stop`]), or a stage failed. Either way the
    /// packets in flight drain to the sinks and every stage's `finish` runs.
    pub async fn run(self) -> RunReport {
        let shared = self.shared.clone();
        shared
            .state
            .store(PipelineState::Running as u8, Ordering::Relaxed);
        shared.events.publish(PipelineEvent {
            time_ns: shared.clock.now_ns(),
            stage: String::new(),
            kind: EventKind::Started,
            text: format!("pipeline `{}` started", shared.config.name),
            on_sample: false,
        });
        let mut tasks = vec![];
        for BuiltStage {
            mut stage,
            mut ctx,
            is_source,
        } in self.stages
        {
            let env = RunEnv {
                cancel: shared.cancel.clone(),
                is_source,
                failure: shared.failure.clone(),
            };
            let id = ctx.shared.id.clone();
            let failure = shared.failure.clone();
            let cancel = shared.cancel.clone();
            let task = tokio::spawn(async move { stage.0.drive(&mut ctx, env).await });
            tasks.push((id, task, failure, cancel));
        }
        for (id, task, failure, cancel) in tasks {
            let exit = task.await;
            if let Err(e) = exit {
                // The driver catches panics; this is a runtime-level failure (e.g. abort).
                let msg = format!("task ended abnormally: {e}");
                if let Ok(mut f) = failure.lock() {
                    f.get_or_insert((id.to_string(), msg));
                }
                cancel.cancel();
            } else if let Ok(StageExit::Failed(_)) = exit {
                // Recorded by the driver.
            }
        }
        let failure = shared.failure.lock().ok().and_then(|f| f.clone());
        let outcome = match failure {
            Some((stage, message)) => Outcome::Failed { stage, message },
            None => Outcome::Finished,
        };
        shared.state.store(
            if matches!(outcome, Outcome::Failed { .. }) {
                PipelineState::Failed as u8
            } else {
                PipelineState::Finished as u8
            },
            Ordering::Relaxed,
        );
        RunReport {
            outcome,
            snapshot: PipelineHandle { shared }.snapshot(),
        }
    }
}

/// Builds stage `i` through its factory: the stage with its context, and its entry for the
/// handle; or the problem, at the stage's JSON path.
fn build_stage(
    i: usize,
    registry: &Registry,
    env: &mut BuildEnv,
    sink: bool,
    events: &EventBus,
) -> Result<(BuiltStage, StageEntry), ConfigError> {
    let sc = env.cfg.stages[i].clone();
    let spec = registry.get(&sc.kind).expect("resolved stage types exist");
    let shared = Arc::new(StageShared::new(&sc.id, spec.type_name, env.clock, sink));
    let mut b = StageBuilder::new(i, spec, shared.clone(), env);
    let result = (spec.factory)(&mut b);
    let unopened = unopened_ports(&b, i);
    let StageBuilder {
        params,
        input_streams,
        output_streams,
        ..
    } = b;
    let stage = result.map_err(|e| {
        let path = match &e.field {
            Some(f) if f.starts_with('$') => f.clone(),
            Some(f) => format!("$.stages[{i}].{f}"),
            None => format!("$.stages[{i}]"),
        };
        ConfigError::new(
            path,
            format!("stage `{}` ({}): {}", sc.id, spec.type_name, e.message),
        )
    })?;
    if !unopened.is_empty() {
        return Err(ConfigError::new(
            format!("$.stages[{i}]"),
            format!(
                "stage type `{}` did not open its linked ports {unopened:?}: a bug in the stage",
                spec.type_name
            ),
        ));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let ctx = StageContext {
        shared: shared.clone(),
        events: events.clone(),
        control_rx: rx,
        stop: CancellationToken::new(),
        timer: Default::default(),
    };
    Ok((
        BuiltStage {
            stage,
            ctx,
            is_source: spec.is_cut_on_stop(),
        },
        StageEntry {
            shared,
            spec: spec.clone(),
            control_tx: tx,
            params: Mutex::new(params.values().clone()),
            inputs: input_streams,
            outputs: output_streams,
        },
    ))
}

/// Names of the linked ports of stage `i` its factory did not open (a bug in the stage).
fn unopened_ports(b: &StageBuilder<'_>, i: usize) -> Vec<&'static str> {
    let inputs = b.spec.inputs.iter().enumerate().filter(|(pi, _)| {
        let linked = b.env.link_into.get(&(i, *pi));
        linked.is_some_and(|j| !b.claimed_inputs.contains(j))
    });
    let outputs = b.spec.outputs.iter().enumerate().filter(|(pi, _)| {
        b.env.links_from[i]
            .iter()
            .any(|&j| b.env.links[j].from.1 == *pi && !b.claimed_outputs.contains(&j))
    });
    inputs.chain(outputs).map(|(_, p)| p.name).collect()
}

/// Controls and observes a running pipeline. Clone it freely.
#[derive(Clone)]
pub struct PipelineHandle {
    shared: Arc<PipelineShared>,
}

impl PipelineHandle {
    /// Sends `msg` to stage `stage` and waits for its reply: the applied value, or why not.
    ///
    /// Parameter updates are checked against the stage's [`ParamSpec`](crate::ParamSpec)
    /// first (known, live, type, range); the stage may still reject a value with `BadParam`.
    pub async fn control(&self, stage: &str, msg: ControlMsg) -> Result<Value, ControlError> {
        let entry = self.entry(stage)?;
        if let ControlMsg::UpdateParam(k, v) = &msg {
            check_live_param(&entry.spec, &entry.shared.id, k, v)?;
        }
        let (tx, rx) = oneshot::channel();
        entry
            .control_tx
            .send(Box::new(ControlRequest {
                msg: msg.clone(),
                reply: Some(tx),
            }))
            .map_err(|_| ControlError::NotRunning(stage.to_string()))?;
        entry.shared.control_ready.notify_one();
        let reply = rx
            .await
            .map_err(|_| ControlError::NotRunning(stage.to_string()))?;
        if let (Ok(applied), Ok(mut p)) = (&reply, entry.params.lock()) {
            for (k, v) in &applied.changed {
                p.insert(k.clone(), v.clone());
            }
        }
        reply.map(|a| a.value)
    }

    fn entry(&self, stage: &str) -> Result<&StageEntry, ControlError> {
        self.shared
            .stages
            .iter()
            .find(|e| &*e.shared.id == stage)
            .ok_or_else(|| {
                let ids = self.shared.stages.iter().map(|e| &*e.shared.id);
                ControlError::UnknownStage {
                    stage: stage.to_string(),
                    hint: format!(
                        "{} (stages: {})",
                        suggestion(stage, ids.clone()),
                        ids.collect::<Vec<_>>().join(", ")
                    ),
                }
            })
    }

    /// Pauses a stage (`ControlMsg::Pause`).
    pub async fn pause(&self, stage: &str) -> Result<Value, ControlError> {
        self.control(stage, ControlMsg::Pause).await
    }
    /// Resumes a stage (`ControlMsg::Resume`).
    pub async fn resume(&self, stage: &str) -> Result<Value, ControlError> {
        self.control(stage, ControlMsg::Resume).await
    }
    /// Sets a live parameter (`ControlMsg::UpdateParam`).
    pub async fn set_param(
        &self,
        stage: &str,
        key: &str,
        value: Value,
    ) -> Result<Value, ControlError> {
        self.control(stage, ControlMsg::UpdateParam(key.to_string(), value))
            .await
    }

    /// Stops the pipeline gracefully: sources stop, everything in flight drains, sinks flush.
    pub fn stop(&self) {
        let s = &self.shared;
        if !s.cancel.is_cancelled() {
            let _ = s.state.compare_exchange(
                PipelineState::Running as u8,
                PipelineState::Stopping as u8,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            s.events.publish(PipelineEvent {
                time_ns: s.clock.now_ns(),
                stage: String::new(),
                kind: EventKind::Stopping,
                text: "stop requested".into(),
                on_sample: false,
            });
            s.cancel.cancel();
        }
    }

    /// Whether a stop was requested or a stage failed.
    pub fn is_stopping(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Completes when a stop was requested or a stage failed.
    pub async fn stopping(&self) {
        self.shared.cancel.cancelled().await
    }

    /// The first failure so far: (stage, message).
    pub fn failure(&self) -> Option<(String, String)> {
        self.shared.failure.lock().ok().and_then(|f| f.clone())
    }

    /// Injects an operator's marker (from the dashboard, `neuropipe ctl mark`, the API),
    /// stamped with the pipeline clock at arrival: recorders write it at the sample captured
    /// at that moment, the dashboard overlays it on the traces. Texts that a recording could
    /// not hold as given are refused, never altered: empty, longer than
    /// [`MAX_MARKER_TEXT`] bytes, or holding control characters (EDF+ reserves some).
    pub fn mark(&self, text: &str) -> Result<crate::event::PipelineEvent, MarkError> {
        if text.trim().is_empty() {
            return Err(MarkError::Empty);
        }
        if text.len() > MAX_MARKER_TEXT {
            return Err(MarkError::TooLong { bytes: text.len() });
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(MarkError::Control { code: c as u32 });
        }
        let ev = crate::event::PipelineEvent {
            time_ns: self.shared.clock.now_ns(),
            stage: String::new(),
            kind: crate::event::EventKind::Marker,
            text: text.to_string(),
            on_sample: true,
        };
        self.shared.events.publish(ev.clone());
        Ok(ev)
    }

    /// Subscribes to pipeline events.
    pub fn events(&self) -> EventReceiver {
        self.shared.events.subscribe()
    }

    /// The pipeline clock.
    pub fn clock(&self) -> Clock {
        self.shared.clock
    }

    /// The configuration the pipeline was built from.
    pub fn config(&self) -> &PipelineConfig {
        &self.shared.config
    }

    /// Stage ids in build order.
    pub fn stage_ids(&self) -> Vec<String> {
        self.shared
            .stages
            .iter()
            .map(|e| e.shared.id.to_string())
            .collect()
    }

    /// Stream info on the outputs of stage `stage`, in port order.
    pub fn output_streams(&self, stage: &str) -> Option<Vec<StreamInfo>> {
        self.entry(stage).ok().map(|e| e.outputs.clone())
    }

    /// Opens a tap on output `"stage.port"` (or `"stage"` for its only output): a copy of
    /// every packet it sends from now on, dropped oldest-first if the observer is slow, never
    /// slowing the pipeline. One tap per output at a time.
    pub fn tap(&self, endpoint: &str) -> Result<crate::tap::SignalTap, crate::tap::TapError> {
        self.open_tap(endpoint, false)
    }

    /// Opens a lossless tap: like [`tap`](Self::tap), but the tapped output waits for the
    /// observer instead of dropping, so the observer sees every packet and the pipeline runs
    /// at its pace. For offline runs (a replay as fast as possible into a notebook); a live
    /// source would back up behind a slow observer. Dropping the tap releases the output.
    pub fn tap_lossless(
        &self,
        endpoint: &str,
    ) -> Result<crate::tap::SignalTap, crate::tap::TapError> {
        self.open_tap(endpoint, true)
    }

    fn open_tap(
        &self,
        endpoint: &str,
        lossless: bool,
    ) -> Result<crate::tap::SignalTap, crate::tap::TapError> {
        let taps = &self.shared.taps;
        let point = taps
            .iter()
            .find(|t| t.endpoint == endpoint)
            .or_else(|| {
                let mut m = taps
                    .iter()
                    .filter(|t| t.endpoint.split('.').next() == Some(endpoint));
                match (m.next(), m.next()) {
                    (Some(t), None) => Some(t),
                    _ => None,
                }
            })
            .ok_or_else(|| crate::tap::TapError::UnknownOutput {
                endpoint: endpoint.to_string(),
                outputs: taps.iter().map(|t| t.endpoint.clone()).collect(),
            })?;
        point
            .open(lossless)
            .ok_or_else(|| crate::tap::TapError::AlreadyTapped {
                endpoint: point.endpoint.clone(),
            })
    }

    /// `"stage.port"` of every output that can be tapped.
    pub fn outputs(&self) -> Vec<String> {
        self.shared
            .taps
            .iter()
            .map(|t| t.endpoint.clone())
            .collect()
    }

    /// Metrics of every stage, link and pool right now.
    pub fn snapshot(&self) -> PipelineSnapshot {
        let s = &self.shared;
        PipelineSnapshot {
            elapsed_s: s.clock.now_ns() as f64 / 1e9,
            state: self.state(),
            stages: s.stages.iter().map(|e| e.shared.snapshot()).collect(),
            links: s
                .links
                .iter()
                .map(|l| LinkSnapshot {
                    from: l.from.clone(),
                    to: l.to.clone(),
                    capacity: l.capacity,
                    policy: l.policy.name().to_string(),
                    sent: l.metrics.sent.load(Ordering::Relaxed),
                    received: l.metrics.received.load(Ordering::Relaxed),
                    dropped: l.metrics.dropped.load(Ordering::Relaxed),
                    depth: (l.depth)(),
                    high_water: l.metrics.high_water.load(Ordering::Relaxed),
                    send_waits: l.metrics.send_waits.load(Ordering::Relaxed),
                })
                .collect(),
            pools: s.pools.iter().map(|(n, m)| m.snapshot(n)).collect(),
        }
    }

    /// The pipeline's lifecycle state.
    pub fn state(&self) -> PipelineState {
        PipelineState::from_u8(self.shared.state.load(Ordering::Relaxed))
    }

    /// The pipeline as its hosts show it: stages (type, state, parameters with current values
    /// and their specs, streams), links, pools, tappable outputs, state and first failure —
    /// what the control server's `GET /api/pipeline` returns.
    pub fn describe(&self) -> PipelineDescription {
        let snap = self.snapshot();
        let stages = self
            .shared
            .stages
            .iter()
            .map(|e| StageDescription {
                id: e.shared.id.to_string(),
                kind: e.spec.type_name,
                summary: e.spec.summary,
                state: e.shared.state(),
                params: e.params.lock().map(|p| p.clone()).unwrap_or_default(),
                param_specs: e.spec.params.clone(),
                inputs: e.inputs.clone(),
                outputs: e.outputs.clone(),
            })
            .collect();
        PipelineDescription {
            name: self.shared.config.name.clone(),
            state: snap.state,
            stages,
            links: snap.links,
            pools: snap.pools,
            outputs: self.outputs(),
            failure: self
                .failure()
                .map(|(stage, message)| Failure { stage, message }),
        }
    }
}

/// The runtime's check of a live parameter change before the stage sees it: the parameter
/// exists, is live, and the value fits its type and range.
pub(crate) fn check_live_param(
    spec: &StageSpec,
    stage_id: &str,
    key: &str,
    v: &Value,
) -> Result<(), ControlError> {
    let live: Vec<&str> = spec
        .params
        .iter()
        .filter(|p| p.live)
        .map(|p| p.name)
        .collect();
    let live_text = if live.is_empty() {
        "it has no live parameters".to_string()
    } else {
        format!("live parameters: {}", live.join(", "))
    };
    match spec.param_spec(key) {
        None => Err(ControlError::Rejected(format!(
            "stage `{}` ({}) has no parameter `{key}`{} ({live_text})",
            stage_id,
            spec.type_name,
            suggestion(key, spec.params.iter().map(|p| p.name))
        ))),
        Some(p) if !p.live => Err(ControlError::Rejected(format!(
            "parameter `{key}` of stage `{}` cannot be changed while running ({live_text})",
            stage_id
        ))),
        Some(p) => p.check(v).map_err(ControlError::Rejected),
    }
}
