//! EDF, EDF+, BDF and BDF+ files into NumPy, through neuropipe-io's validating reader (a
//! malformed file is refused with the byte offset and field, never read half-silently).

use crate::errors::FileError;
use neuropipe_io::edf::{EdfReader, EdfVariant};
use numpy::ndarray::{Array1, Array2};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;

/// What one file holds, read with the GIL released.
struct Read {
    format: &'static str,
    variant: &'static str,
    start: String,
    ch_names: Vec<String>,
    units: Vec<String>,
    sfreq: Vec<f64>,
    signals: Vec<Vec<f64>>,
    annotations: Vec<(f64, Option<f64>, String)>,
    record_onsets: Vec<f64>,
}

fn read(path: &PathBuf) -> Result<Read, neuropipe_io::edf::EdfError> {
    let mut r = EdfReader::open(path)?;
    let n = r.signals().len();
    let mut signals = Vec::with_capacity(n);
    for ch in 0..n {
        signals.push(r.read_signal(ch)?);
    }
    Ok(Read {
        format: match r.format() {
            neuropipe_io::edf::EdfFormat::Edf => "EDF",
            neuropipe_io::edf::EdfFormat::Bdf => "BDF",
        },
        variant: match r.variant() {
            EdfVariant::Plain => "plain",
            EdfVariant::Continuous => "continuous",
            EdfVariant::Discontinuous => "discontinuous",
        },
        start: r.start().to_string(),
        ch_names: r.signals().iter().map(|s| s.label.clone()).collect(),
        units: r
            .signals()
            .iter()
            .map(|s| s.physical_dimension.clone())
            .collect(),
        sfreq: (0..n).map(|ch| r.sample_rate(ch)).collect(),
        signals,
        annotations: r
            .annotations()
            .iter()
            .map(|a| (a.onset, a.duration, a.text.clone()))
            .collect(),
        record_onsets: r.record_onsets(),
    })
}

/// Reads a whole EDF/EDF+/BDF/BDF+ file. Returns a dict: `data` (channels, times) float64
/// in each signal's physical unit when all signals share one rate (else None, and
/// `signals` holds one array per signal), `ch_names`, `units`, `sfreq` (one per signal),
/// `annotations` as (onset s, duration s or None, text), `start` (ISO 8601),
/// `record_onsets` (s; gaps in EDF+D), `format`, `variant`.
#[pyfunction]
pub(crate) fn read_edf<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let r = py
        .detach(|| read(&path))
        .map_err(|e| FileError::new_err(e.to_string()))?;
    let d = PyDict::new(py);
    d.set_item("format", r.format)?;
    d.set_item("variant", r.variant)?;
    d.set_item("start", r.start)?;
    d.set_item("ch_names", r.ch_names)?;
    d.set_item("units", r.units)?;
    let uniform = r
        .signals
        .first()
        .map(|s0| r.signals.iter().all(|s| s.len() == s0.len()))
        .unwrap_or(true)
        && r.sfreq.windows(2).all(|w| w[0] == w[1]);
    d.set_item("sfreq", r.sfreq)?;
    if uniform {
        let n = r.signals.first().map_or(0, Vec::len);
        let rows = r.signals.len();
        let flat: Vec<f64> = r.signals.into_iter().flatten().collect();
        let data = Array2::from_shape_vec((rows, n), flat)
            .map_err(|e| FileError::new_err(format!("{}: {e}", path.display())))?;
        d.set_item("data", data.into_pyarray(py))?;
        d.set_item("signals", py.None())?;
    } else {
        let list = PyList::empty(py);
        for s in r.signals {
            list.append(Array1::from(s).into_pyarray(py))?;
        }
        d.set_item("data", py.None())?;
        d.set_item("signals", list)?;
    }
    d.set_item("annotations", r.annotations)?;
    d.set_item(
        "record_onsets",
        Array1::from(r.record_onsets).into_pyarray(py),
    )?;
    Ok(d)
}
