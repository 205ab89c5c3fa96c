//! The exception classes and how Rust errors become them, with the same located messages as
//! the CLI (JSON paths, stage and parameter names, byte offsets).

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyList;

pyo3::create_exception!(
    neuropipe,
    NeuropipeError,
    PyException,
    "Base class of every error neuropipe raises."
);
pyo3::create_exception!(
    neuropipe,
    ConfigError,
    NeuropipeError,
    "The pipeline description is invalid. `problems` lists every problem as (JSON path, message)."
);
pyo3::create_exception!(
    neuropipe,
    PipelineFailed,
    NeuropipeError,
    "A stage failed while the pipeline ran (the rest was drained and flushed). `stage` names it."
);
pyo3::create_exception!(
    neuropipe,
    ControlError,
    NeuropipeError,
    "A control request (pause, resume, set) was not applied: unknown stage, rejected value, stage not running."
);
pyo3::create_exception!(
    neuropipe,
    TapError,
    NeuropipeError,
    "No such output to tap, or it is already tapped."
);
pyo3::create_exception!(
    neuropipe,
    DesignError,
    NeuropipeError,
    "Invalid filter design arguments (order, frequencies, sample rate, ...)."
);
pyo3::create_exception!(
    neuropipe,
    FileError,
    NeuropipeError,
    "A file could not be read: the message names the file, the byte offset and the field."
);

/// `ConfigError` carrying its problems as `problems: list[tuple[str, str]]`; `context` (the
/// file name, or empty) starts the message as the CLI's does.
pub(crate) fn config_error(
    py: Python<'_>,
    context: &str,
    e: &neuropipe_core::ConfigErrors,
) -> PyErr {
    let text = if context.is_empty() {
        e.to_string()
    } else {
        format!("{context}: {e}")
    };
    let err = ConfigError::new_err(text.trim_end().to_string());
    let problems: Vec<(String, String)> = e
        .errors()
        .iter()
        .map(|p| (p.path.clone(), p.message.clone()))
        .collect();
    let value = err.value(py);
    if let Ok(list) = PyList::new(py, problems) {
        // Best effort: the message already holds every problem.
        let _ = value.setattr("problems", list);
    }
    err
}

/// `PipelineFailed` carrying `stage` and `message`.
pub(crate) fn pipeline_failed(py: Python<'_>, stage: &str, message: &str) -> PyErr {
    let err = PipelineFailed::new_err(format!("stage `{stage}` failed: {message}"));
    let value = err.value(py);
    let _ = value.setattr("stage", stage);
    let _ = value.setattr("message", message);
    err
}

/// `ControlError` with the runtime's message.
pub(crate) fn control_error(e: &neuropipe_core::ControlError) -> PyErr {
    ControlError::new_err(e.to_string())
}
