//! The per-stage run loop: control messages, pause, `run` calls with panic catching, `finish`.
//!
//! The loop is generic over the stage type, so `run` is called statically; it is boxed once
//! per stage (not once per call), so a running pipeline allocates nothing per packet.

use crate::control::{Applied, ControlError, ControlMsg, ControlRequest, Handled};
use crate::event::EventKind;
use crate::stage::{DataPlaneStage, StageContext};
use crate::state::StageState;
use crate::StageError;
use futures::FutureExt;
use serde_json::Value;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// How a stage ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StageExit {
    /// End of stream or pipeline stop.
    Finished,
    /// `Fatal` error or panic, with the message.
    Failed(String),
}

/// What the driver needs from the pipeline.
#[derive(Clone)]
pub(crate) struct RunEnv {
    pub(crate) cancel: CancellationToken,
    /// A source cut off at a stop (see [`StageSpec::is_cut_on_stop`](crate::StageSpec)).
    pub(crate) is_source: bool,
    /// First failure of the pipeline: (stage id, message).
    pub(crate) failure: Arc<Mutex<Option<(String, String)>>>,
}

impl RunEnv {
    fn fail(&self, stage: &str, msg: &str) {
        if let Ok(mut f) = self.failure.lock() {
            if f.is_none() {
                *f = Some((stage.to_string(), msg.to_string()));
            }
        }
        self.cancel.cancel();
    }
}

pub(crate) trait ErasedStage: Send {
    fn drive<'a>(
        &'a mut self,
        ctx: &'a mut StageContext,
        env: RunEnv,
    ) -> Pin<Box<dyn Future<Output = StageExit> + Send + 'a>>;
}

impl<S: DataPlaneStage> ErasedStage for S {
    fn drive<'a>(
        &'a mut self,
        ctx: &'a mut StageContext,
        env: RunEnv,
    ) -> Pin<Box<dyn Future<Output = StageExit> + Send + 'a>> {
        Box::pin(drive(self, ctx, env))
    }
}

pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

async fn drive<S: DataPlaneStage>(stage: &mut S, ctx: &mut StageContext, env: RunEnv) -> StageExit {
    let shared = ctx.shared.clone();
    let cancel = env.cancel.clone();
    ctx.stop = cancel.clone();
    let mut paused = false;
    shared.set_state(StageState::Running);
    let exit = 'outer: loop {
        while let Ok(req) = ctx.control_rx.try_recv() {
            if let Err(msg) = apply_control(stage, ctx, *req, &mut paused) {
                break 'outer StageExit::Failed(msg);
            }
        }
        if cancel.is_cancelled() {
            if env.is_source {
                break StageExit::Finished;
            }
            // Stop overrides pause: a paused middle stage must drain.
            paused = false;
        }
        if paused {
            shared.set_state(StageState::Paused);
            tokio::select! {
                _ = shared.control_ready.notified() => {}
                _ = cancel.cancelled() => {}
            }
            continue;
        }
        shared.set_state(StageState::Running);
        let t0 = Instant::now();
        let result = if env.is_source {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => continue,
                r = AssertUnwindSafe(stage.run(ctx)).catch_unwind() => r,
            }
        } else {
            AssertUnwindSafe(stage.run(ctx)).catch_unwind().await
        };
        let m = &shared.metrics;
        m.busy_ns
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        m.runs.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(Ok(())) => {}
            Ok(Err(StageError::QueueClosed)) => break StageExit::Finished,
            Ok(Err(StageError::BadParam(msg))) => {
                m.bad_params.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(stage = %shared.id, "bad param: {msg}");
            }
            Ok(Err(StageError::Fatal { message, .. })) => break StageExit::Failed(message),
            Err(panic) => break StageExit::Failed(panic_message(&*panic)),
        }
    };
    if let StageExit::Failed(msg) = &exit {
        env.fail(&shared.id, msg);
        ctx.emit_event(EventKind::Failed, msg.clone());
    }
    // Flush whatever the reason; a failing flush is a failure too.
    let finished = AssertUnwindSafe(stage.finish(ctx)).catch_unwind().await;
    let exit = match (exit, finished) {
        (StageExit::Finished, Ok(Err(StageError::Fatal { message: msg, .. }))) => {
            env.fail(&shared.id, &msg);
            StageExit::Failed(msg)
        }
        (StageExit::Finished, Err(panic)) => {
            let msg = panic_message(&*panic);
            env.fail(&shared.id, &msg);
            StageExit::Failed(msg)
        }
        (exit, _) => exit,
    };
    // Requests that arrived too late get an answer too.
    while let Ok(req) = ctx.control_rx.try_recv() {
        if let Some(tx) = req.reply {
            let _ = tx.send(Err(ControlError::NotRunning(shared.id.to_string())));
        }
    }
    ctx.control_rx.close();
    shared.set_state(match exit {
        StageExit::Finished => StageState::Finished,
        StageExit::Failed(_) => StageState::Failed,
    });
    exit
}

/// Applies one control request and answers it. `Err(message)` if the stage failed fatally.
fn apply_control<S: DataPlaneStage>(
    stage: &mut S,
    ctx: &mut StageContext,
    req: ControlRequest,
    paused: &mut bool,
) -> Result<(), String> {
    let msg = &req.msg;
    let handled = std::panic::catch_unwind(AssertUnwindSafe(|| stage.control(msg, ctx)))
        .unwrap_or_else(|p| Err(StageError::fatal(panic_message(&*p))));
    let outcome: Result<Applied, StageError> = match handled {
        // The stage handled it itself: an applied `Pause` (e.g. a filter that bypasses) does
        // not suspend the stage.
        Ok(Handled::Applied(value)) => Ok(Applied {
            changed: match msg {
                ControlMsg::UpdateParam(k, _) => vec![(k.clone(), value.clone())],
                _ => vec![],
            },
            value,
        }),
        Ok(Handled::Changed(list)) => Ok(Applied {
            value: match list.as_slice() {
                [(_, v)] => v.clone(),
                _ => Value::Object(
                    list.iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect(),
                ),
            },
            changed: list.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }),
        Ok(Handled::AppliedWith(value, list)) => Ok(Applied {
            value,
            changed: list.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }),
        Ok(Handled::Default) => match msg {
            ControlMsg::Pause => {
                *paused = true;
                Ok(Applied {
                    value: Value::from(StageState::Paused.name()),
                    changed: vec![],
                })
            }
            ControlMsg::Resume => {
                *paused = false;
                Ok(Applied {
                    value: Value::from(StageState::Running.name()),
                    changed: vec![],
                })
            }
            ControlMsg::UpdateParam(k, _) => Err(StageError::BadParam(format!(
                "parameter `{k}` cannot be changed while running"
            ))),
            ControlMsg::UpdateCoefficients(_) => Err(StageError::BadParam(
                "this stage does not take coefficients".into(),
            )),
        },
        Err(e) => Err(e),
    };
    let (reply, fatal) = match outcome {
        Ok(applied) => {
            let v = &applied.value;
            let (kind, text) = match msg {
                ControlMsg::Pause => (EventKind::Paused, "paused".to_string()),
                ControlMsg::Resume => (EventKind::Resumed, "resumed".to_string()),
                ControlMsg::UpdateParam(k, _) => {
                    // The parameter's new value if the stage reported it (its reply may say more).
                    let v = applied
                        .changed
                        .iter()
                        .find(|(n, _)| n == k)
                        .map_or(v, |(_, x)| x);
                    (EventKind::ParamChanged, format!("{k} = {v}"))
                }
                ControlMsg::UpdateCoefficients(c) => (
                    EventKind::ParamChanged,
                    format!("coefficients ({} values)", c.len()),
                ),
            };
            ctx.emit_event(kind, text);
            (Ok(applied), None)
        }
        Err(StageError::Fatal { message: m, .. }) => (Err(ControlError::Fatal(m.clone())), Some(m)),
        Err(StageError::BadParam(m)) => {
            ctx.shared
                .metrics
                .bad_params
                .fetch_add(1, Ordering::Relaxed);
            ctx.emit_event(EventKind::Rejected, m.clone());
            (Err(ControlError::Rejected(m)), None)
        }
        Err(StageError::QueueClosed) => (
            Err(ControlError::NotRunning(ctx.shared.id.to_string())),
            None,
        ),
    };
    if let Some(tx) = req.reply {
        let _ = tx.send(reply);
    }
    match fatal {
        Some(m) => Err(m),
        None => Ok(()),
    }
}
