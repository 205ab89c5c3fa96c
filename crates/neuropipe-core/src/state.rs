//! Lifecycle states: [`StageState`] and [`PipelineState`]. A leaf module.

use serde::Serialize;
use std::fmt;

/// Lifecycle state of a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum StageState {
    /// Built, not started yet.
    Ready = 0,
    /// Running.
    Running = 1,
    /// Paused by the control plane.
    Paused = 2,
    /// Ended normally (end of stream or pipeline stop).
    Finished = 3,
    /// Ended with a `Fatal` error or a panic.
    Failed = 4,
}

impl StageState {
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => StageState::Running,
            2 => StageState::Paused,
            3 => StageState::Finished,
            4 => StageState::Failed,
            _ => StageState::Ready,
        }
    }
    /// Lower-case name, as serialised.
    pub fn name(self) -> &'static str {
        match self {
            StageState::Ready => "ready",
            StageState::Running => "running",
            StageState::Paused => "paused",
            StageState::Finished => "finished",
            StageState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for StageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// Lifecycle state of a pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum PipelineState {
    /// Built, not started.
    Ready = 0,
    /// Running.
    Running = 1,
    /// A stop was requested: sources stopped, in-flight packets draining.
    Stopping = 2,
    /// Every stage ended normally.
    Finished = 3,
    /// A stage failed.
    Failed = 4,
}

impl PipelineState {
    /// Every state, in lifecycle order.
    pub const ALL: [PipelineState; 5] = [
        PipelineState::Ready,
        PipelineState::Running,
        PipelineState::Stopping,
        PipelineState::Finished,
        PipelineState::Failed,
    ];
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => PipelineState::Running,
            2 => PipelineState::Stopping,
            3 => PipelineState::Finished,
            4 => PipelineState::Failed,
            _ => PipelineState::Ready,
        }
    }
    /// Lower-case name, as serialised.
    pub fn name(self) -> &'static str {
        match self {
            PipelineState::Ready => "ready",
            PipelineState::Running => "running",
            PipelineState::Stopping => "stopping",
            PipelineState::Finished => "finished",
            PipelineState::Failed => "failed",
        }
    }
}

impl fmt::Display for PipelineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}
