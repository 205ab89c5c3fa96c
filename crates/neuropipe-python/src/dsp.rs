//! The streaming filters for NumPy arrays: designs as `scipy.signal` computes them, filters
//! that keep their state across `process` calls (so a signal filtered in pieces equals the
//! signal filtered at once, and equals `sosfilt`/`lfilter` run with the state carried).

use crate::errors::DesignError;
use neuropipe_dsp::design::{self, Band, Sos, Window};
use neuropipe_dsp::FloatSample;
use numpy::ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, Slice};
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// Frames converted and filtered per block: the interleaved block (64 channels × 256 frames
/// × 8 bytes = 128 KiB at most) stays in L2 between the transpose in, the filter and the
/// transpose out.
const BLOCK_FRAMES: usize = 256;

fn design_err(e: design::DesignError) -> PyErr {
    DesignError::new_err(e.to_string())
}

/// Butterworth design in second-order sections, as `scipy.signal.butter(order, freqs,
/// btype, fs=fs, output="sos")`. Returns an `(n_sections, 6)` float64 array.
#[pyfunction]
#[pyo3(signature = (order, freqs, btype, fs))]
pub(crate) fn butter<'py>(
    py: Python<'py>,
    order: usize,
    freqs: Vec<f64>,
    btype: &str,
    fs: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let band = match (btype, freqs.as_slice()) {
        ("lowpass", [f]) => Band::Lowpass(*f),
        ("highpass", [f]) => Band::Highpass(*f),
        ("bandpass", [lo, hi]) => Band::Bandpass(*lo, *hi),
        ("bandstop", [lo, hi]) => Band::Bandstop(*lo, *hi),
        ("lowpass" | "highpass", _) => {
            return Err(PyValueError::new_err(format!(
                "{btype} takes one frequency, got {}",
                freqs.len()
            )))
        }
        ("bandpass" | "bandstop", _) => {
            return Err(PyValueError::new_err(format!(
                "{btype} takes two frequencies (low, high), got {}",
                freqs.len()
            )))
        }
        _ => {
            return Err(PyValueError::new_err(format!(
                "btype must be lowpass, highpass, bandpass or bandstop, got `{btype}`"
            )))
        }
    };
    let sos = design::butter(order, band, fs).map_err(design_err)?;
    Ok(sos_array(&sos).into_pyarray(py))
}

/// Notch design as `scipy.signal.iirnotch(w0, Q, fs)`, as one second-order section.
#[pyfunction]
pub(crate) fn iirnotch<'py>(
    py: Python<'py>,
    w0: f64,
    q: f64,
    fs: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let sos = design::iirnotch(w0, q, fs).map_err(design_err)?;
    Ok(sos_array(&sos).into_pyarray(py))
}

/// Windowed FIR design as `scipy.signal.firwin(numtaps, cutoff, window=window,
/// pass_zero=pass_zero, fs=fs)`; `window` is "hamming", "hann", "blackman" or
/// ("kaiser", beta).
#[pyfunction]
#[pyo3(signature = (numtaps, cutoff, fs, window = None, pass_zero = true))]
pub(crate) fn firwin(
    numtaps: usize,
    cutoff: Vec<f64>,
    fs: f64,
    window: Option<&Bound<'_, PyAny>>,
    pass_zero: bool,
) -> PyResult<Vec<f64>> {
    let window = match window {
        None => Window::Hamming,
        Some(w) => {
            if let Ok(name) = w.extract::<String>() {
                match name.as_str() {
                    "hamming" => Window::Hamming,
                    "hann" => Window::Hann,
                    "blackman" => Window::Blackman,
                    _ => {
                        return Err(PyValueError::new_err(format!(
                            "window must be hamming, hann, blackman or (\"kaiser\", beta), got `{name}`"
                        )))
                    }
                }
            } else if let Ok((name, beta)) = w.extract::<(String, f64)>() {
                if name != "kaiser" {
                    return Err(PyValueError::new_err(format!(
                        "a window with a parameter must be (\"kaiser\", beta), got `{name}`"
                    )));
                }
                Window::Kaiser(beta)
            } else {
                return Err(PyTypeError::new_err(
                    "window must be a name or (\"kaiser\", beta)",
                ));
            }
        }
    };
    design::firwin(numtaps, &cutoff, window, pass_zero, fs).map_err(design_err)
}

fn sos_array(sos: &Sos) -> Array2<f64> {
    let s = sos.sections();
    Array2::from_shape_fn((s.len(), 6), |(i, j)| s[i][j])
}

fn dtype_kind(dtype: &str) -> PyResult<bool> {
    match dtype {
        "float32" => Ok(true),
        "float64" => Ok(false),
        _ => Err(PyValueError::new_err(format!(
            "dtype must be \"float32\" or \"float64\", got `{dtype}`"
        ))),
    }
}

/// Filters `x` (channels × times) through `f` (frame-major, in place) into `out`, block by
/// block: each block is interleaved, filtered and written back transposed.
fn filter_blocks<T: FloatSample>(
    x: ArrayView2<'_, T>,
    mut out: ArrayViewMut2<'_, T>,
    mut f: impl FnMut(&mut [T]),
) {
    let (ch, n) = x.dim();
    let mut buf = vec![T::default(); BLOCK_FRAMES.min(n.max(1)) * ch];
    if let (Some(src), Some(dst)) = (x.as_slice(), out.as_slice_mut()) {
        // C-ordered arrays (the usual case): frame by frame, the block is written in order
        // and the rows are read (then written) as `ch` sequential streams.
        let rows: Vec<&[T]> = src.chunks_exact(n).collect();
        let mut out_rows: Vec<&mut [T]> = dst.chunks_exact_mut(n).collect();
        for start in (0..n).step_by(BLOCK_FRAMES) {
            let len = BLOCK_FRAMES.min(n - start);
            let block = &mut buf[..len * ch];
            for (k, frame) in block.chunks_exact_mut(ch).enumerate() {
                for (d, row) in frame.iter_mut().zip(&rows) {
                    *d = row[start + k];
                }
            }
            f(block);
            for (k, frame) in block.chunks_exact(ch).enumerate() {
                for (v, row) in frame.iter().zip(out_rows.iter_mut()) {
                    row[start + k] = *v;
                }
            }
        }
        return;
    }
    // Any other layout (a transposed or sliced view): element by element.
    for start in (0..n).step_by(BLOCK_FRAMES) {
        let len = BLOCK_FRAMES.min(n - start);
        let block = &mut buf[..len * ch];
        for ((c, k), v) in x
            .slice_axis(Axis(1), Slice::from(start..start + len))
            .indexed_iter()
        {
            block[k * ch + c] = *v;
        }
        f(block);
        for ((c, k), v) in out
            .slice_axis_mut(Axis(1), Slice::from(start..start + len))
            .indexed_iter_mut()
        {
            *v = block[k * ch + c];
        }
    }
}

/// Checks `x`'s shape against the filter's channels.
fn check_shape(shape: &[usize], channels: usize) -> PyResult<()> {
    match shape {
        [c, _] if *c == channels => Ok(()),
        [c, _] => Err(PyValueError::new_err(format!(
            "x has {c} channels (rows), the filter was built for {channels}: shape (channels, times) expected"
        ))),
        _ => Err(PyValueError::new_err(format!(
            "x must be 2-D (channels, times), got {} dimensions",
            shape.len()
        ))),
    }
}

/// Filters `x` (which must be a 2-D array of `T`, `channels` rows) into a new array, with
/// the GIL released.
fn run<T: FloatSample + numpy::Element>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    channels: usize,
    f: impl FnMut(&mut [T]) + Send,
) -> PyResult<Py<PyAny>> {
    let x: PyReadonlyArray2<'_, T> = x.extract().map_err(|_| {
        let name = numpy::dtype::<T>(py).to_string();
        PyTypeError::new_err(format!(
            "this filter runs in {name}: pass a 2-D {name} array (x.astype(np.{name}))"
        ))
    })?;
    check_shape(x.shape(), channels)?;
    let out = PyArray2::<T>::zeros(py, x.dims(), false);
    {
        let mut w = out.readwrite();
        let (xv, ov) = (x.as_array(), w.as_array_mut());
        py.detach(|| filter_blocks(xv, ov, f));
    }
    Ok(out.into_any().unbind())
}

/// The kernel behind a [`Filter`], its kind and sample type fixed at construction.
enum Inner {
    SosF32(neuropipe_dsp::SosFilter<f32>),
    SosF64(neuropipe_dsp::SosFilter<f64>),
    FirF32(neuropipe_dsp::FirFilter<f32>),
    FirF64(neuropipe_dsp::FirFilter<f64>),
}

/// A streaming filter over `channels` channels, in float32 or float64 (the state is float64
/// either way): `Filter.sos(sos, ...)` (second-order sections as SciPy's, shape (n, 6)) or
/// `Filter.fir(taps, ...)`. `process(x)` filters `(channels, times)` and keeps the state for
/// the next call, like `scipy.signal.sosfilt(sos, x, zi=z)` / `lfilter(taps, 1.0, x, zi=z)`
/// with `z` carried over.
#[pyclass(module = "neuropipe._neuropipe")]
pub(crate) struct Filter {
    inner: Inner,
    channels: usize,
}

#[pymethods]
impl Filter {
    /// An IIR filter in second-order sections.
    #[staticmethod]
    #[pyo3(signature = (sos, channels, dtype = "float32"))]
    fn sos(sos: PyReadonlyArray2<'_, f64>, channels: usize, dtype: &str) -> PyResult<Filter> {
        let a = sos.as_array();
        if a.ncols() != 6 {
            return Err(PyValueError::new_err(format!(
                "sos must have shape (n_sections, 6), got {:?}",
                a.shape()
            )));
        }
        let sections = a
            .rows()
            .into_iter()
            .map(|r| [r[0], r[1], r[2], r[3], r[4], r[5]])
            .collect();
        let sos = Sos::new(sections).map_err(design_err)?;
        let inner = if dtype_kind(dtype)? {
            Inner::SosF32(neuropipe_dsp::SosFilter::new(&sos, channels).map_err(design_err)?)
        } else {
            Inner::SosF64(neuropipe_dsp::SosFilter::new(&sos, channels).map_err(design_err)?)
        };
        Ok(Filter { inner, channels })
    }

    /// A FIR filter with these taps.
    #[staticmethod]
    #[pyo3(signature = (taps, channels, dtype = "float32"))]
    fn fir(taps: Vec<f64>, channels: usize, dtype: &str) -> PyResult<Filter> {
        let inner = if dtype_kind(dtype)? {
            Inner::FirF32(neuropipe_dsp::FirFilter::new(&taps, channels).map_err(design_err)?)
        } else {
            Inner::FirF64(neuropipe_dsp::FirFilter::new(&taps, channels).map_err(design_err)?)
        };
        Ok(Filter { inner, channels })
    }

    /// Filters `x` (channels, times) and returns the result (same shape and dtype); the
    /// state carries over to the next call.
    fn process(&mut self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let ch = self.channels;
        match &mut self.inner {
            Inner::SosF32(f) => run(py, x, ch, |b| f.process(b)),
            Inner::SosF64(f) => run(py, x, ch, |b| f.process(b)),
            Inner::FirF32(f) => run(py, x, ch, |b| f.process(b)),
            Inner::FirF64(f) => run(py, x, ch, |b| f.process(b)),
        }
    }

    /// Zero state, as a new filter.
    fn reset(&mut self) {
        match &mut self.inner {
            Inner::SosF32(f) => f.reset(),
            Inner::SosF64(f) => f.reset(),
            Inner::FirF32(f) => f.reset(),
            Inner::FirF64(f) => f.reset(),
        }
    }

    /// Number of channels.
    #[getter]
    fn channels(&self) -> usize {
        self.channels
    }
}
