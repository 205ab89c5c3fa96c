//! Errors a stage returns from [`run`](crate::DataPlaneStage::run), and errors found while
//! validating or building a pipeline.

use std::fmt;
use std::sync::Arc;

/// The error a stage (or a queue) reports to the runtime. The three variants have fixed meanings:
///
/// | variant | meaning | what the runtime does |
/// |---|---|---|
/// | [`QueueClosed`](Self::QueueClosed) | upstream finished and the input is drained, or every consumer of an output is gone | ends this stage normally; its outputs close, so end-of-stream propagates downstream |
/// | [`BadParam`](Self::BadParam) | a control message carried a value the stage rejects | the message goes back to whoever sent the control message; the stage keeps running with its old settings |
/// | [`Fatal`](Self::Fatal) | the stage cannot go on (hardware gone, disk full, …) | the pipeline stops cleanly: sources stop, packets in flight drain to the sinks, sinks flush, and the process exits non-zero naming the stage and message |
#[derive(thiserror::Error, Debug, Clone)]
pub enum StageError {
    /// The queue is closed: end of stream.
    #[error("queue closed")]
    QueueClosed,
    /// A parameter value was rejected; the message says which and why.
    #[error("bad param {0}")]
    BadParam(String),
    /// An unrecoverable error; the pipeline stops.
    #[error("fatal error: {message}")]
    Fatal {
        /// What failed, for the operator (already includes the cause's text).
        message: String,
        /// The underlying error, kept for [`std::error::Error::source`] chains.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
}

impl PartialEq for StageError {
    /// Variants and messages are compared; sources are not.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StageError::QueueClosed, StageError::QueueClosed) => true,
            (StageError::BadParam(a), StageError::BadParam(b)) => a == b,
            (StageError::Fatal { message: a, .. }, StageError::Fatal { message: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl StageError {
    /// Shorthand for [`StageError::BadParam`].
    pub fn bad_param(msg: impl Into<String>) -> Self {
        StageError::BadParam(msg.into())
    }
    /// A [`StageError::Fatal`] with no underlying error.
    pub fn fatal(msg: impl Into<String>) -> Self {
        StageError::Fatal {
            message: msg.into(),
            source: None,
        }
    }
    /// A [`StageError::Fatal`] caused by `err`: the message reads `"{context}: {err}"` and
    /// `err` stays reachable as the source.
    pub fn fatal_from(
        context: impl fmt::Display,
        err: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StageError::Fatal {
            message: format!("{context}: {err}"),
            source: Some(Arc::new(err)),
        }
    }
}

/// An I/O error is fatal for the stage that hit it (the message is the error's text; wrap it
/// with [`StageError::fatal_from`] to say what was being done).
impl From<std::io::Error> for StageError {
    fn from(e: std::io::Error) -> Self {
        StageError::Fatal {
            message: e.to_string(),
            source: Some(Arc::new(e)),
        }
    }
}

/// One problem found in a pipeline description, with where it is.
///
/// `path` is a JSON path into the pipeline file (`$.stages[2].params.cutoff`) or, for a file that
/// is not valid JSON, `line:column`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigError {
    /// Where the problem is: a JSON path (`$.links[0].to`) or `line L column C`.
    pub path: String,
    /// What is wrong and, where possible, what would be valid.
    pub message: String,
}

impl ConfigError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// All problems found in a pipeline description (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The individual problems, in file order as far as possible.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }
}

/// Problems [`ConfigErrors`] prints (all are counted): a file with two million duplicate
/// links must not produce hundreds of megabytes of text.
pub const MAX_SHOWN_PROBLEMS: usize = 50;

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in pipeline:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in self.0.iter().take(MAX_SHOWN_PROBLEMS) {
            writeln!(f, "  {e}")?;
        }
        if n > MAX_SHOWN_PROBLEMS {
            writeln!(
                f,
                "  ... and {} more (the first {MAX_SHOWN_PROBLEMS} are shown: fix them and validate again)",
                n - MAX_SHOWN_PROBLEMS
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// An error raised by a stage factory while the pipeline is built. The runtime turns it into a
/// [`ConfigError`] whose path is the stage's JSON path plus [`field`](Self::field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    /// Where in the stage object, e.g. `params.cutoff` or `stream.labels`; `None` for the stage
    /// as a whole.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl BuildError {
    /// A problem with the parameter `param`.
    pub fn param(param: impl AsRef<str>, message: impl Into<String>) -> Self {
        BuildError {
            field: Some(format!("params.{}", param.as_ref())),
            message: message.into(),
        }
    }
    /// A problem at `field` of the stage object (e.g. `stream.labels`).
    pub fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        BuildError {
            field: Some(field.into()),
            message: message.into(),
        }
    }
    /// A problem with the stage as a whole.
    pub fn stage(message: impl Into<String>) -> Self {
        BuildError {
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(p) => write!(f, "{p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for BuildError {}
