//! `Tap`: an output's packets as NumPy chunks, for a notebook or another library.
//!
//! A drain task on the pipeline's runtime moves packets from the core tap into a bounded
//! buffer that Python reads. A slow reader loses the oldest chunks (counted in `dropped`,
//! the pipeline never slows down), like the dashboard; a `lossless` tap instead makes the
//! output wait for the reader, for offline runs where every frame matters.

use crate::errors::{NeuropipeError, TapError};
use crate::pipeline::Pipeline;
use neuropipe_core::{PipelineHandle, SignalTap, StreamInfo, TapPacket};
use numpy::ndarray::{Array1, Array2};
use numpy::IntoPyArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often a blocked read wakes to let Python handle signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Largest buffer a tap may keep, in chunks.
const MAX_BUFFER: usize = 1 << 20;

struct Queue {
    chunks: VecDeque<TapPacket>,
    /// The output closed (the pipeline ended): nothing more will come.
    closed: bool,
    /// Chunks dropped because the reader was slow (not lossless).
    dropped: u64,
}

struct Shared {
    q: Mutex<Queue>,
    ready: Condvar,
    space: tokio::sync::Notify,
    capacity: usize,
    lossless: bool,
}

/// Packets of one output, as NumPy chunks (see the module docs). Iterate it; iteration
/// ends when the output closes (the pipeline finished or was stopped).
#[pyclass(module = "neuropipe._neuropipe")]
pub(crate) struct Tap {
    endpoint: String,
    stream: StreamInfo,
    shared: Arc<Shared>,
    drain: tokio::task::AbortHandle,
    /// Chunks dropped by the core tap before the drain task took them.
    core_dropped: Arc<std::sync::atomic::AtomicU64>,
}

/// One packet of a tapped output.
#[pyclass(module = "neuropipe._neuropipe", get_all, frozen)]
pub(crate) struct Chunk {
    /// Samples, shaped `(channels, times)`, float64 in the stream's units.
    data: Py<PyAny>,
    /// Time of every frame in seconds on the pipeline clock (the first frame's timestamp
    /// plus `k / sample_rate`).
    timestamps: Py<PyAny>,
    /// Index of the first frame in the stream (consecutive chunks follow on:
    /// `first_frame + times`; a gap means frames were lost upstream, see `lost_frames`).
    first_frame: u64,
    /// Frames the source reported lost just before this chunk.
    lost_frames: u32,
    /// Packet flags: 1 discontinuity, 2 lost samples, 4 non-finite input, 8 out of range.
    flags: u32,
    /// Class label of an epoch (Epoch/Window outputs), else None.
    label: Option<u32>,
}

#[pymethods]
impl Chunk {
    fn __repr__(&self, py: Python<'_>) -> String {
        let shape = self
            .data
            .bind(py)
            .getattr("shape")
            .and_then(|s| s.str().map(|s| s.to_string()))
            .unwrap_or_default();
        format!(
            "<neuropipe.Chunk first_frame={} shape={shape} flags={}>",
            self.first_frame, self.flags
        )
    }
}

impl Tap {
    pub(crate) fn open(
        py: Python<'_>,
        pipeline: &Pipeline,
        endpoint: &str,
        buffer: usize,
        lossless: bool,
    ) -> PyResult<Tap> {
        if buffer == 0 || buffer > MAX_BUFFER {
            return Err(PyValueError::new_err(format!(
                "buffer must be 1..={MAX_BUFFER} chunks, got {buffer}"
            )));
        }
        let (handle, rt) = pipeline.built_handle(py)?;
        let tap = if lossless {
            handle.tap_lossless(endpoint)
        } else {
            handle.tap(endpoint)
        }
        .map_err(|e| TapError::new_err(e.to_string()))?;
        let endpoint = tap.endpoint().to_string();
        let stream = stream_of(&handle, pipeline, &endpoint)?;
        let shared = Arc::new(Shared {
            q: Mutex::new(Queue {
                chunks: VecDeque::new(),
                closed: false,
                dropped: 0,
            }),
            ready: Condvar::new(),
            space: tokio::sync::Notify::new(),
            capacity: buffer,
            lossless,
        });
        let core_dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let task = rt.spawn(drain(tap, shared.clone(), core_dropped.clone()));
        let drain = task.abort_handle();
        pipeline.register_tap(drain.clone())?;
        Ok(Tap {
            endpoint,
            stream,
            shared,
            drain,
            core_dropped,
        })
    }

    /// The next chunk, waiting up to `timeout` (None: until one comes or the output closes).
    /// `Ok(None)`: closed and empty, or timed out.
    fn next_packet(
        &self,
        py: Python<'_>,
        timeout: Option<Duration>,
    ) -> PyResult<Option<TapPacket>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let slice = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    left.min(SIGNAL_POLL)
                }
                None => SIGNAL_POLL,
            };
            let shared = &self.shared;
            let got = py.detach(|| -> Result<Option<Option<TapPacket>>, ()> {
                let q = shared.q.lock().map_err(|_| ())?;
                let (mut q, _) = shared
                    .ready
                    .wait_timeout_while(q, slice, |q| q.chunks.is_empty() && !q.closed)
                    .map_err(|_| ())?;
                match q.chunks.pop_front() {
                    Some(p) => {
                        shared.space.notify_one();
                        Ok(Some(Some(p)))
                    }
                    None if q.closed => Ok(Some(None)),
                    None => Ok(None),
                }
            });
            match got {
                Ok(Some(p)) => return Ok(p),
                Ok(None) => py.check_signals()?,
                Err(()) => return Err(NeuropipeError::new_err("tap buffer poisoned")),
            }
        }
    }

    fn chunk(&self, py: Python<'_>, p: TapPacket) -> PyResult<Chunk> {
        let ch = (p.header.channels as usize).max(1);
        let frames = p.samples.len() / ch;
        let interleaved = Array2::from_shape_vec((frames, ch), p.samples)
            .map_err(|e| NeuropipeError::new_err(format!("tap packet shape: {e}")))?;
        let data = interleaved.t().as_standard_layout().into_owned();
        let rate = self.stream.sample_rate;
        let t0 = p.header.timestamp as f64 / 1e9;
        let nominal = rate.is_finite() && rate > 0.0;
        let times = if self.stream.epochs.is_some() || !nominal {
            Array1::from_elem(frames, t0)
        } else {
            Array1::from_iter((0..frames).map(|k| t0 + k as f64 / rate))
        };
        Ok(Chunk {
            data: data.into_pyarray(py).into_any().unbind(),
            timestamps: times.into_pyarray(py).into_any().unbind(),
            first_frame: p.header.first_frame,
            lost_frames: p.header.lost_frames,
            flags: p.header.flags,
            label: p.header.label,
        })
    }
}

#[pymethods]
impl Tap {
    /// `"stage.port"` of the tapped output.
    #[getter]
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sample rate of the tapped stream in Hz.
    #[getter]
    fn sample_rate(&self) -> f64 {
        self.stream.sample_rate
    }

    /// Channel labels of the tapped stream.
    #[getter]
    fn ch_names(&self) -> Vec<String> {
        self.stream
            .channels
            .iter()
            .map(|c| c.label.clone())
            .collect()
    }

    /// Channel units of the tapped stream (e.g. `"uV"`).
    #[getter]
    fn units(&self) -> Vec<String> {
        self.stream
            .channels
            .iter()
            .map(|c| c.unit.clone())
            .collect()
    }

    /// Whether the output waits for this reader instead of dropping.
    #[getter]
    fn lossless(&self) -> bool {
        self.shared.lossless
    }

    /// Chunks dropped so far because the reader was slow (never for a lossless tap).
    #[getter]
    fn dropped(&self) -> PyResult<u64> {
        let q = self
            .shared
            .q
            .lock()
            .map_err(|_| NeuropipeError::new_err("tap buffer poisoned"))?;
        Ok(q.dropped + self.core_dropped.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Chunks waiting to be read.
    fn __len__(&self) -> PyResult<usize> {
        let q = self
            .shared
            .q
            .lock()
            .map_err(|_| NeuropipeError::new_err("tap buffer poisoned"))?;
        Ok(q.chunks.len())
    }

    /// The next chunk, waiting at most `timeout` seconds (None: until one comes); None on
    /// timeout or once the output has closed.
    #[pyo3(signature = (timeout = None))]
    fn read(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Chunk>> {
        let t = match timeout {
            Some(t) if t.is_finite() && t >= 0.0 => Some(Duration::from_secs_f64(t)),
            Some(t) => {
                return Err(PyValueError::new_err(format!(
                    "timeout must be >= 0, got {t}"
                )))
            }
            None => None,
        };
        match self.next_packet(py, t)? {
            Some(p) => self.chunk(py, p).map(Some),
            None => Ok(None),
        }
    }

    /// Stops tapping (a lossless tap releases the output at once); queued chunks are dropped.
    fn close(&self) {
        self.drain.abort();
        if let Ok(mut q) = self.shared.q.lock() {
            q.closed = true;
            q.chunks.clear();
        }
        self.shared.ready.notify_all();
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Chunk>> {
        match self.next_packet(py, None)? {
            Some(p) => self.chunk(py, p).map(Some),
            None => Ok(None),
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        _t: Option<&Bound<'_, PyAny>>,
        _v: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "<neuropipe.Tap {} ({} ch @ {} Hz{})>",
            self.endpoint,
            self.stream.channels.len(),
            self.stream.sample_rate,
            if self.shared.lossless {
                ", lossless"
            } else {
                ""
            }
        )
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.close();
    }
}

/// Moves packets from the core tap into the buffer until the output closes.
async fn drain(
    mut tap: SignalTap,
    shared: Arc<Shared>,
    core_dropped: Arc<std::sync::atomic::AtomicU64>,
) {
    while let Some(pkt) = tap.next().await {
        core_dropped.store(tap.dropped(), std::sync::atomic::Ordering::Relaxed);
        let mut pkt = Some(pkt);
        while let Some(p) = pkt.take() {
            {
                let Ok(mut q) = shared.q.lock() else { return };
                if q.closed {
                    return;
                }
                if q.chunks.len() < shared.capacity {
                    q.chunks.push_back(p);
                } else if !shared.lossless {
                    q.chunks.pop_front();
                    q.dropped += 1;
                    q.chunks.push_back(p);
                } else {
                    pkt = Some(p);
                }
            }
            if pkt.is_some() {
                shared.space.notified().await;
            } else {
                shared.ready.notify_all();
            }
        }
    }
    core_dropped.store(tap.dropped(), std::sync::atomic::Ordering::Relaxed);
    if let Ok(mut q) = shared.q.lock() {
        q.closed = true;
    }
    shared.ready.notify_all();
}

/// The stream an endpoint `"stage.port"` carries.
fn stream_of(handle: &PipelineHandle, pipeline: &Pipeline, endpoint: &str) -> PyResult<StreamInfo> {
    let (stage, port) = endpoint.split_once('.').unwrap_or((endpoint, ""));
    let streams = handle
        .output_streams(stage)
        .ok_or_else(|| TapError::new_err(format!("no stage `{stage}`")))?;
    let registry = crate::registry();
    let index = pipeline
        .config()
        .stages
        .iter()
        .find(|s| s.id == stage)
        .and_then(|s| registry.specs().find(|spec| spec.type_name == s.kind))
        .and_then(|spec| spec.outputs.iter().position(|o| o.name == port))
        .unwrap_or(0);
    streams
        .get(index)
        .cloned()
        .ok_or_else(|| TapError::new_err(format!("no stream on `{endpoint}`")))
}
