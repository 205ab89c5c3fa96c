//! The native module of the `neuropipe` Python package (`neuropipe._neuropipe`).
//!
//! The Python package (`python/neuropipe/`) re-exports what is here with docstrings and type
//! hints; this crate is the thin layer between Python objects and the Rust crates:
//!
//! * `pipeline`: `Pipeline`, built from a JSON file, text or dict, run on its own tokio
//!   runtime with the GIL released; control (pause, resume, set), metrics, description.
//! * `tap`: NumPy chunks from any output, through a bounded buffer with counted drops (or
//!   lossless, for offline runs).
//! * `dsp`: the streaming filters, stateful across calls, SciPy's designs.
//! * `pystage`: Python classes as stage types (`register_stage`).
//! * `bci`: covariances, Riemannian mean, tangent space, MDM, CSP, xDAWN, shrinkage LDA,
//!   logistic regression and SSVEP CCA on arrays.
//! * `files`: EDF/EDF+/BDF/BDF+ and XDF files into NumPy.
//! * `errors`: the exception classes and how Rust errors become them.
//!
//! Arrays cross the boundary as MNE shapes them: `(channels, times)`.

#![forbid(unsafe_code)]

mod bci;
mod convert;
mod dsp;
mod errors;
mod files;
mod pipeline;
mod pystage;
mod tap;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _neuropipe(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // BrainFlowSource looks for BrainFlow's library in this interpreter's packages first.
    if let Ok(exe) = py.import("sys")?.getattr("executable")?.extract::<String>() {
        if !exe.is_empty() {
            neuropipe_brainflow::locate::set_host_python(exe.into());
        }
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("NeuropipeError", py.get_type::<errors::NeuropipeError>())?;
    m.add("ConfigError", py.get_type::<errors::ConfigError>())?;
    m.add("PipelineFailed", py.get_type::<errors::PipelineFailed>())?;
    m.add("ControlError", py.get_type::<errors::ControlError>())?;
    m.add("TapError", py.get_type::<errors::TapError>())?;
    m.add("DesignError", py.get_type::<errors::DesignError>())?;
    m.add("FileError", py.get_type::<errors::FileError>())?;
    m.add_class::<pipeline::Pipeline>()?;
    m.add_class::<tap::Tap>()?;
    m.add_class::<tap::Chunk>()?;
    m.add_class::<dsp::Filter>()?;
    m.add_function(wrap_pyfunction!(dsp::butter, m)?)?;
    m.add_function(wrap_pyfunction!(dsp::iirnotch, m)?)?;
    m.add_function(wrap_pyfunction!(dsp::firwin, m)?)?;
    m.add_function(wrap_pyfunction!(files::read_edf, m)?)?;
    m.add_function(wrap_pyfunction!(files::read_xdf, m)?)?;
    m.add_function(wrap_pyfunction!(pipeline::stage_types, m)?)?;
    m.add_function(wrap_pyfunction!(pipeline::schema, m)?)?;
    m.add_function(wrap_pyfunction!(pystage::register_stage, m)?)?;
    m.add_function(wrap_pyfunction!(bci::covariances, m)?)?;
    m.add_function(wrap_pyfunction!(bci::mean_riemann, m)?)?;
    m.add_class::<bci::TangentSpace>()?;
    m.add_class::<bci::Mdm>()?;
    m.add_class::<bci::Lda>()?;
    m.add_function(wrap_pyfunction!(bci::cca_correlations, m)?)?;
    m.add_class::<bci::Csp>()?;
    m.add_class::<bci::Xdawn>()?;
    Ok(())
}

/// Every stage type the CLI knows (built-in stages and LSL), and the Python stage classes
/// registered so far.
pub(crate) fn registry() -> neuropipe_core::Registry {
    let mut r = neuropipe_stages::registry();
    neuropipe_lsl::register(&mut r);
    neuropipe_brainflow::register(&mut r);
    pystage::register_all(&mut r);
    r
}
