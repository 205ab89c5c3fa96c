//! EDF, EDF+, BDF, BDF+ and XDF files into NumPy, through neuropipe-io's validating readers
//! (a malformed file is refused with the byte offset and field, never read half-silently).

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

/// One stream of an XDF file, read with the GIL released.
struct XdfRead {
    header: neuropipe_io::xdf::StreamHeader,
    id: u32,
    footer: bool,
    /// Numeric streams: values frame-major and a time stamp per sample.
    values: Vec<f64>,
    timestamps: Vec<f64>,
    /// String streams: (time stamp, text).
    strings: Vec<(f64, String)>,
}

fn read_xdf_streams(path: &PathBuf) -> Result<Vec<XdfRead>, String> {
    use neuropipe_io::xdf::{scan, ChannelFormat, XdfSamples};
    let open = || {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(|e| format!("cannot open: {e}"))
    };
    let index = scan(&mut open()?).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(index.streams.len());
    for s in &index.streams {
        let (values, strings) = if s.header.format == ChannelFormat::String {
            let texts = index
                .strings
                .iter()
                .filter(|(id, _, _)| *id == s.id)
                .map(|(_, t, text)| (*t, text.clone()))
                .collect();
            (Vec::new(), texts)
        } else {
            let c = s.header.channel_count();
            let n = s.timestamps.len();
            let mut values = vec![0.0; n * c];
            let mut samples = XdfSamples::new(open()?, &index, s.id).map_err(|e| e.to_string())?;
            let got = samples.read(&mut values, n).map_err(|e| e.to_string())?;
            values.truncate(got * c);
            (values, Vec::new())
        };
        out.push(XdfRead {
            header: s.header.clone(),
            id: s.id,
            footer: s.footer,
            values,
            timestamps: if s.header.format == ChannelFormat::String {
                Vec::new()
            } else {
                s.timestamps.clone()
            },
            strings,
        });
    }
    Ok(out)
}

/// Reads every stream of an XDF file. Returns a list of dicts, in file order: `name`, `type`,
/// `stream_id`, `channel_format`, `nominal_srate`, `source_id`, `ch_names`, `units`,
/// `ch_types`, `footer` (False for a file cut short), and for numeric streams `data`
/// (channels, samples) float64 and `timestamps` (s, as recorded: no clock synchronisation or
/// dejittering), for string (marker) streams `markers` as (timestamp, text).
#[pyfunction]
pub(crate) fn read_xdf<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyList>> {
    let streams = py
        .detach(|| read_xdf_streams(&path))
        .map_err(|e| FileError::new_err(format!("{}: {e}", path.display())))?;
    let list = PyList::empty(py);
    for s in streams {
        let h = &s.header;
        let d = PyDict::new(py);
        d.set_item("name", &h.name)?;
        d.set_item("type", &h.kind)?;
        d.set_item("stream_id", s.id)?;
        d.set_item("channel_format", h.format.name())?;
        d.set_item("nominal_srate", h.nominal_srate)?;
        d.set_item("source_id", &h.source_id)?;
        d.set_item(
            "ch_names",
            h.channels
                .iter()
                .map(|c| c.label.clone())
                .collect::<Vec<_>>(),
        )?;
        d.set_item(
            "units",
            h.channels
                .iter()
                .map(|c| c.unit.clone())
                .collect::<Vec<_>>(),
        )?;
        d.set_item(
            "ch_types",
            h.channels
                .iter()
                .map(|c| c.kind.clone())
                .collect::<Vec<_>>(),
        )?;
        d.set_item("footer", s.footer)?;
        if h.format == neuropipe_io::xdf::ChannelFormat::String {
            d.set_item("markers", s.strings)?;
        } else {
            let c = h.channel_count();
            let n = s.values.len() / c;
            let frames = Array2::from_shape_vec((n, c), s.values)
                .map_err(|e| FileError::new_err(format!("{}: {e}", path.display())))?;
            d.set_item(
                "data",
                frames
                    .t()
                    .as_standard_layout()
                    .into_owned()
                    .into_pyarray(py),
            )?;
            d.set_item("timestamps", Array1::from(s.timestamps).into_pyarray(py))?;
        }
        list.append(d)?;
    }
    Ok(list)
}
