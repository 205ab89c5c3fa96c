//! The control plane: messages delivered to one running stage, and their replies.

use serde_json::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A message from the control plane to one stage, delivered while the pipeline runs.
///
/// The runtime hands each message to [`DataPlaneStage::control`](crate::DataPlaneStage::control)
/// between two calls of `run` (a stage waiting in [`Input::recv`](crate::Input::recv) is woken
/// with `Ok(None)` for it), and every message gets a reply.
#[derive(Clone, Debug, PartialEq)]
pub enum ControlMsg {
    /// Pause the stage. Default: the runtime stops calling `run` (no CPU used) until
    /// `Resume`; pausing the source locks the whole pipeline. Filters override it to bypass.
    Pause,
    /// Resume after `Pause`.
    Resume,
    /// Set a live parameter. The runtime checks key, type and range against the stage's
    /// [`ParamSpec`](crate::ParamSpec)s before the stage sees it.
    UpdateParam(String, Value),
    /// Replace filter coefficients (e.g. FIR taps).
    UpdateCoefficients(Arc<[f64]>),
}

impl Handled {
    /// Applied a typed live change of parameters `P`: replies with its new value.
    pub fn update<P: crate::StageParams>(update: &P::Update) -> Self {
        Handled::Changed(vec![(P::update_name(update), P::update_value(update))])
    }
}

/// A control request's successful outcome, as the driver reports it to the pipeline.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Applied {
    /// The reply value.
    pub(crate) value: Value,
    /// Parameters whose current value changed.
    pub(crate) changed: Vec<(String, Value)>,
}

impl ControlMsg {
    /// The typed live change this message carries for a stage whose parameters are `P`:
    /// `Ok(None)` for any other message (pause, resume, coefficients, or a key `P` does not
    /// have as a live parameter), `Err(BadParam)` if the value does not fit the field's type.
    ///
    /// ```ignore
    /// if let Some(update) = msg.update::<GainParams>()? {
    ///     match update { GainParamsUpdate::Gain(g) => self.gain = g }
    /// }
    /// ```
    pub fn update<P: crate::StageParams>(&self) -> Result<Option<P::Update>, crate::StageError> {
        match self {
            ControlMsg::UpdateParam(k, v) => P::decode(k, v),
            _ => Ok(None),
        }
    }

    /// Applies a live change of parameters `P` to `params` and answers with the new value;
    /// any other message gets [`Handled::Default`] (the runtime pauses, resumes, rejects).
    /// The whole `control` of a stage whose live parameters need no extra work:
    /// `msg.apply(&mut self.params)`.
    pub fn apply<P: crate::StageParams>(
        &self,
        params: &mut P,
    ) -> Result<Handled, crate::StageError> {
        Ok(match self.update::<P>()? {
            Some(u) => {
                params.apply(&u);
                Handled::update::<P>(&u)
            }
            None => Handled::Default,
        })
    }

    /// Short name for logs and events.
    pub fn name(&self) -> &'static str {
        match self {
            ControlMsg::Pause => "pause",
            ControlMsg::Resume => "resume",
            ControlMsg::UpdateParam(..) => "set",
            ControlMsg::UpdateCoefficients(..) => "coefficients",
        }
    }
}

/// What a stage did with a control message (returned from
/// [`DataPlaneStage::control`](crate::DataPlaneStage::control)).
#[derive(Clone, Debug, PartialEq)]
pub enum Handled {
    /// The stage applied it; the value goes back in the reply (e.g. the parameter's new value).
    /// For `Pause`/`Resume` the stage handled them itself: the runtime does not suspend it
    /// (filters bypass instead, so downstream keeps receiving the signal).
    Applied(Value),
    /// The stage applied it and these parameters now have these values (e.g. a filter that
    /// bypasses on `Pause` reports `enabled = false`; a redesign that also changed a derived
    /// parameter reports both). The pipeline's description shows the new values; the reply is
    /// the single value, or an object of all of them.
    Changed(Vec<(&'static str, Value)>),
    /// The stage applied it, replies with the value, and these parameters now have these
    /// values (e.g. a filter's `Pause` replies `"bypassed"` and sets `enabled = false`).
    AppliedWith(Value, Vec<(&'static str, Value)>),
    /// Apply the runtime's default: `Pause`/`Resume` suspend and resume the stage; other
    /// messages are rejected as not supported.
    Default,
}

/// Why a control request was not applied.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// No stage with that id.
    #[error("unknown stage `{stage}`{hint}")]
    UnknownStage {
        /// The id asked for.
        stage: String,
        /// A suggestion and the list of stage ids.
        hint: String,
    },
    /// The stage (or the runtime's parameter check) rejected the message: its `BadParam` text.
    #[error("{0}")]
    Rejected(String),
    /// The stage has finished or failed and takes no more messages.
    #[error("stage `{0}` is not running")]
    NotRunning(String),
    /// The stage failed with a `Fatal` error while applying the message.
    #[error("stage failed: {0}")]
    Fatal(String),
}

/// A control message with its reply channel.
pub(crate) struct ControlRequest {
    pub(crate) msg: ControlMsg,
    pub(crate) reply: Option<oneshot::Sender<Result<Applied, ControlError>>>,
}
