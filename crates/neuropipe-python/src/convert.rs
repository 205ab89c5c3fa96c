//! JSON values to and from Python objects (through Python's own `json`, so every type
//! `json.dumps` accepts is accepted, and errors read as Python users know them).

use pyo3::prelude::*;
use serde_json::Value;

/// A Python object as a JSON value.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = obj.py();
    let text: String = py
        .import("json")?
        .call_method1("dumps", (obj,))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| {
        pyo3::exceptions::PyValueError::new_err(format!("not representable as JSON: {e}"))
    })
}

/// A serialisable Rust value as Python objects (dicts, lists, numbers, strings, None).
pub(crate) fn to_py<'py, T: serde::Serialize>(
    py: Python<'py>,
    v: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}
