//! `Pipeline`: a pipeline built from JSON and run on a runtime of its own, with the GIL
//! released, so a Python thread or an asyncio loop stays responsive while it runs.
//!
//! Life cycle: `from_json` parses (errors: `ConfigError` with every problem and its JSON
//! path); `validate` checks stages and parameters offline; the first `tap` or `start` builds
//! (opens devices and files, as `neuropipe run` does); `start` runs it in the background;
//! `wait`/`stop`/`run` return the final metrics or raise `PipelineFailed` naming the stage.

use crate::convert::{to_json, to_py};
use crate::errors::{config_error, control_error, pipeline_failed, ControlError, NeuropipeError};
use neuropipe_core::{
    ControlMsg, EventReceiver, Outcome, PipelineConfig, PipelineHandle, RunReport,
};
use neuropipe_stages::io::push::{PushError, PushFeed, PushHost};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The built-in default pipeline (`neuropipe run` with no file).
const DEFAULT_PIPELINE: &str = include_str!("../../../pipelines/default.json");

/// How often a blocking wait wakes to let Python handle signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// A real-time pipeline (see the module docs).
#[pyclass(module = "neuropipe._neuropipe")]
pub(crate) struct Pipeline {
    cfg: PipelineConfig,
    /// Receives the feeds of the pipeline's `PushSource` stages when it is built.
    host: Arc<PushHost>,
    /// The file name (or "pipeline") for error messages.
    name: String,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    runtime: Option<Arc<tokio::runtime::Runtime>>,
    /// Built and not yet started.
    built: Option<neuropipe_core::Pipeline>,
    handle: Option<PipelineHandle>,
    events: Option<EventReceiver>,
    events_lost: u64,
    running: Option<tokio::task::JoinHandle<RunReport>>,
    report: Option<RunReport>,
    server: Option<neuropipe_server::IsolatedServer>,
    /// Drain tasks of open taps: closed on Ctrl-C so a lossless tap cannot hold the stop.
    taps: Vec<tokio::task::AbortHandle>,
}

impl Pipeline {
    fn lock(&self) -> PyResult<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| NeuropipeError::new_err("pipeline state poisoned by an earlier panic"))
    }

    /// Builds the pipeline if not done yet: the runtime, the stages, the handle.
    fn ensure_built(&self, py: Python<'_>, inner: &mut Inner) -> PyResult<()> {
        if inner.handle.is_some() {
            return Ok(());
        }
        let (cfg, host) = (&self.cfg, &self.host);
        let built = py
            .detach(|| {
                neuropipe_stages::io::push::building(host, || {
                    neuropipe_core::Pipeline::build(cfg, &crate::registry())
                })
            })
            .map_err(|e| config_error(py, &self.name, &e))?;
        let runtime = neuropipe_core::build_runtime(cfg.threads)
            .map_err(|e| NeuropipeError::new_err(format!("cannot start the runtime: {e}")))?;
        let handle = built.handle();
        inner.events = Some(handle.events());
        inner.handle = Some(handle);
        inner.built = Some(built);
        inner.runtime = Some(Arc::new(runtime));
        Ok(())
    }

    fn running_handle(&self) -> PyResult<(PipelineHandle, Arc<tokio::runtime::Runtime>)> {
        let inner = self.lock()?;
        match (&inner.handle, &inner.runtime, inner.built.is_none()) {
            (Some(h), Some(rt), true) => Ok((h.clone(), rt.clone())),
            _ => Err(ControlError::new_err(
                "the pipeline is not running: call start() first",
            )),
        }
    }

    fn control(&self, py: Python<'_>, stage: &str, msg: ControlMsg) -> PyResult<Py<PyAny>> {
        let (handle, rt) = self.running_handle()?;
        let reply = py.detach(|| rt.block_on(handle.control(stage, msg)));
        match reply {
            Ok(v) => Ok(to_py(py, &v)?.unbind()),
            Err(e) => Err(control_error(&e)),
        }
    }

    /// Waits for the run to end, at most `timeout`; handles Ctrl-C by stopping the pipeline
    /// (closing taps), waiting for its drain, then raising `KeyboardInterrupt`.
    fn wait_inner(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let deadline = match timeout {
            Some(t) if t.is_finite() && t >= 0.0 => {
                Some(Instant::now() + Duration::from_secs_f64(t))
            }
            Some(t) => {
                return Err(PyValueError::new_err(format!(
                    "timeout must be >= 0 seconds, got {t}"
                )))
            }
            None => None,
        };
        let (mut join, rt) = {
            let mut inner = self.lock()?;
            if let Some(r) = &inner.report {
                return report_to_py(py, r).map(Some);
            }
            match (inner.running.take(), &inner.runtime) {
                (Some(j), Some(rt)) => (j, rt.clone()),
                _ => return Err(NeuropipeError::new_err("the pipeline was not started")),
            }
        };
        let mut interrupted: Option<PyErr> = None;
        let finished = loop {
            let slice = match deadline {
                Some(d) if interrupted.is_none() => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break None;
                    }
                    left.min(SIGNAL_POLL)
                }
                _ => SIGNAL_POLL,
            };
            let done =
                py.detach(|| rt.block_on(async { tokio::time::timeout(slice, &mut join).await }));
            match done {
                Ok(Ok(report)) => break Some(report),
                Ok(Err(e)) => {
                    return Err(NeuropipeError::new_err(format!(
                        "the pipeline's task ended abnormally: {e}"
                    )))
                }
                Err(_elapsed) => {}
            }
            if interrupted.is_none() {
                if let Err(e) = py.check_signals() {
                    let inner = self.lock()?;
                    if let Some(h) = &inner.handle {
                        h.stop();
                    }
                    for t in &inner.taps {
                        t.abort();
                    }
                    interrupted = Some(e);
                }
            }
        };
        let mut inner = self.lock()?;
        let Some(report) = finished else {
            inner.running = Some(join);
            return Ok(None);
        };
        if let Some(s) = inner.server.take() {
            s.shutdown();
        }
        inner.report = Some(report.clone());
        drop(inner);
        if let Some(e) = interrupted {
            return Err(e);
        }
        match &report.outcome {
            Outcome::Finished => report_to_py(py, &report).map(Some),
            Outcome::Failed { stage, message } => Err(pipeline_failed(py, stage, message)),
        }
    }

    /// The handle and runtime, building first if needed (taps may be opened before start).
    pub(crate) fn built_handle(
        &self,
        py: Python<'_>,
    ) -> PyResult<(PipelineHandle, Arc<tokio::runtime::Runtime>)> {
        let mut inner = self.lock()?;
        if inner.report.is_some() {
            return Err(NeuropipeError::new_err("the pipeline has finished"));
        }
        self.ensure_built(py, &mut inner)?;
        match (&inner.handle, &inner.runtime) {
            (Some(h), Some(rt)) => Ok((h.clone(), rt.clone())),
            _ => Err(NeuropipeError::new_err("the pipeline is not built")),
        }
    }

    pub(crate) fn register_tap(&self, abort: tokio::task::AbortHandle) -> PyResult<()> {
        self.lock()?.taps.push(abort);
        Ok(())
    }

    fn feed(&self, py: Python<'_>, stage: &str) -> PyResult<Arc<PushFeed>> {
        self.built_handle(py)?;
        self.host.feed(stage).ok_or_else(|| {
            let names = self.host.stages();
            ControlError::new_err(format!(
                "no PushSource `{stage}` (PushSource stages: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        })
    }

    pub(crate) fn config(&self) -> &PipelineConfig {
        &self.cfg
    }
}

fn report_to_py(py: Python<'_>, r: &RunReport) -> PyResult<Py<PyAny>> {
    Ok(to_py(py, &r.snapshot)?.unbind())
}

#[pymethods]
impl Pipeline {
    /// A pipeline from a JSON file path, JSON text, or a dict (as the file would hold).
    /// Relative paths in a file's parameters resolve against the file's directory.
    #[staticmethod]
    fn from_json(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Pipeline> {
        let (cfg, name) = if let Ok(text) = source.extract::<String>() {
            if text.trim_start().starts_with('{') {
                let cfg = PipelineConfig::parse(&text).map_err(|e| config_error(py, "", &e))?;
                (cfg, String::new())
            } else {
                from_file(py, PathBuf::from(text))?
            }
        } else if let Ok(path) = source.extract::<PathBuf>() {
            from_file(py, path)?
        } else if source.is_instance_of::<PyDict>() {
            let value = to_json(source)?;
            let cfg = PipelineConfig::from_value(&value).map_err(|e| config_error(py, "", &e))?;
            (cfg, String::new())
        } else {
            return Err(PyValueError::new_err(
                "from_json takes a file path, JSON text or a dict",
            ));
        };
        Ok(Pipeline::new(cfg, name))
    }

    /// The built-in default pipeline (what `neuropipe run` runs with no file): a simulated
    /// 8-channel EEG, band-pass and notch filtered, with signal-quality figures.
    #[staticmethod]
    fn default(py: Python<'_>) -> PyResult<Pipeline> {
        let cfg = PipelineConfig::parse(DEFAULT_PIPELINE)
            .map_err(|e| config_error(py, "built-in default pipeline", &e))?;
        Ok(Pipeline::new(cfg, "built-in default pipeline".into()))
    }

    /// Checks stage types, parameters, ports and links; raises `ConfigError` listing every
    /// problem. Offline and cheap (opens nothing), as `neuropipe validate`; with
    /// `probe=True` it also builds the stages (opens serial ports, files, resolves LSL
    /// streams) and releases them.
    #[pyo3(signature = (probe = false))]
    fn validate(&self, py: Python<'_>, probe: bool) -> PyResult<()> {
        let cfg = &self.cfg;
        let checked = py.detach(|| {
            let registry = crate::registry();
            if probe {
                let host = Arc::new(PushHost::default());
                neuropipe_stages::io::push::building(&host, || {
                    neuropipe_core::Pipeline::build(cfg, &registry).map(drop)
                })
            } else {
                neuropipe_core::validate(cfg, &registry)
            }
        });
        checked.map_err(|e| config_error(py, &self.name, &e))
    }

    /// Starts the pipeline in the background and returns at once. With `serve`
    /// (`"127.0.0.1:7878"`), also serves the control API and the dashboard, as
    /// `neuropipe run --serve` does (loopback only: no token).
    #[pyo3(signature = (serve = None))]
    fn start(&self, py: Python<'_>, serve: Option<&str>) -> PyResult<()> {
        let mut inner = self.lock()?;
        if inner.report.is_some() || inner.running.is_some() {
            return Err(NeuropipeError::new_err(
                "the pipeline was already started (a pipeline runs once; build a new one)",
            ));
        }
        // The address first: a refused one leaves the pipeline as it was, startable.
        let addr = match serve {
            None => None,
            Some(addr) => {
                let a: std::net::SocketAddr = addr.parse().map_err(|e| {
                    PyValueError::new_err(format!(
                        "serve: bad address `{addr}`: {e} (expected HOST:PORT, e.g. 127.0.0.1:7878)"
                    ))
                })?;
                if !a.ip().is_loopback() {
                    return Err(PyValueError::new_err(format!(
                        "serve: {a} is not a loopback address; use the CLI (`neuropipe run --serve`) to serve with a token"
                    )));
                }
                Some(a)
            }
        };
        self.ensure_built(py, &mut inner)?;
        let (Some(rt), Some(handle)) = (inner.runtime.clone(), inner.handle.clone()) else {
            return Err(NeuropipeError::new_err("the pipeline is not built"));
        };
        if let Some(addr) = addr {
            let server = neuropipe_server::serve_isolated(handle, addr, Default::default())
                .map_err(|e| NeuropipeError::new_err(format!("serve: {e}")))?;
            inner.server = Some(server);
        }
        let Some(built) = inner.built.take() else {
            return Err(NeuropipeError::new_err("the pipeline is not built"));
        };
        inner.running = Some(rt.spawn(built.run()));
        Ok(())
    }

    /// The address the dashboard and control API are served on (`start(serve=...)`), or None.
    #[getter]
    fn served_at(&self) -> PyResult<Option<String>> {
        Ok(self
            .lock()?
            .server
            .as_ref()
            .map(|s| format!("http://{}", s.addr())))
    }

    /// Waits for the pipeline to end (at most `timeout` seconds: then returns None).
    /// Returns the final metrics; raises `PipelineFailed` if a stage failed. Ctrl-C stops
    /// the pipeline (draining it) and raises `KeyboardInterrupt`.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.wait_inner(py, timeout)
    }

    /// Stops gracefully (sources stop, everything in flight drains, recorders flush) and
    /// waits for the end; returns the final metrics (None if it was never started).
    fn stop(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        {
            let inner = self.lock()?;
            if inner.running.is_none() && inner.report.is_none() {
                return Ok(None);
            }
            if let Some(h) = &inner.handle {
                h.stop();
            }
        }
        self.wait_inner(py, None)
    }

    /// Starts, runs until the pipeline ends or `duration` seconds pass, stops, and returns
    /// the final metrics (raises `PipelineFailed` if a stage failed).
    #[pyo3(signature = (duration = None))]
    fn run(&self, py: Python<'_>, duration: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        if let Some(d) = duration {
            if !(d.is_finite() && d > 0.0) {
                return Err(PyValueError::new_err(format!(
                    "duration must be > 0 seconds, got {d}"
                )));
            }
        }
        self.start(py, None)?;
        if let Some(d) = duration {
            if self.wait_inner(py, Some(d))?.is_none() {
                return self.stop(py);
            }
        }
        self.wait_inner(py, None)
    }

    /// Pauses a stage (a filter passes its input through; a source stops sending).
    fn pause(&self, py: Python<'_>, stage: &str) -> PyResult<Py<PyAny>> {
        self.control(py, stage, ControlMsg::Pause)
    }

    /// Resumes a paused stage.
    fn resume(&self, py: Python<'_>, stage: &str) -> PyResult<Py<PyAny>> {
        self.control(py, stage, ControlMsg::Resume)
    }

    /// Sets a live parameter of a running stage and returns the stage's reply (the value it
    /// applied). Raises `ControlError` with the stage's reason if rejected.
    fn set(
        &self,
        py: Python<'_>,
        stage: &str,
        key: &str,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let v = to_json(value)?;
        self.control(py, stage, ControlMsg::UpdateParam(key.to_string(), v))
    }

    /// Inserts an operator's marker now (recorders write it, `Epoch` may cut on it).
    fn mark(&self, py: Python<'_>, text: &str) -> PyResult<Py<PyAny>> {
        let (handle, _) = self.running_handle()?;
        match handle.mark(text) {
            Ok(ev) => Ok(to_py(py, &ev)?.unbind()),
            Err(e) => Err(PyValueError::new_err(format!("marker refused: {e}"))),
        }
    }

    /// Events since the last call (markers, predictions, parameter changes, warnings, ...), as
    /// dicts, oldest first. Events beyond the bus's capacity are lost and counted in
    /// `events_lost`.
    fn events(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let mut inner = self.lock()?;
        self.ensure_built(py, &mut inner)?;
        let list = PyList::empty(py);
        let mut lost = 0u64;
        if let Some(rx) = inner.events.as_mut() {
            loop {
                match rx.try_recv() {
                    Ok(ev) => list.append(to_py(py, &ev)?)?,
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => lost += n,
                    Err(_) => break,
                }
            }
        }
        inner.events_lost += lost;
        Ok(list.unbind())
    }

    /// Events lost because `events()` was not called often enough.
    #[getter]
    fn events_lost(&self) -> PyResult<u64> {
        Ok(self.lock()?.events_lost)
    }

    /// Per-stage metrics now (packets, frames, latency, queue depths, readouts), as a dict.
    fn metrics(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut inner = self.lock()?;
        if let Some(r) = &inner.report {
            return report_to_py(py, r);
        }
        self.ensure_built(py, &mut inner)?;
        let snap = inner.handle.as_ref().map(|h| h.snapshot());
        Ok(to_py(py, &snap)?.unbind())
    }

    /// The pipeline as it runs: stages with their current parameters, state and streams.
    fn describe(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut inner = self.lock()?;
        self.ensure_built(py, &mut inner)?;
        let d = inner.handle.as_ref().map(|h| h.describe());
        Ok(to_py(py, &d)?.unbind())
    }

    /// The stages of the description: `[{"id", "type", "params"}, ...]`.
    fn stages(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = self.cfg.to_json();
        let stages = v.get("stages").cloned().unwrap_or_default();
        Ok(to_py(py, &stages)?.unbind())
    }

    /// Every output that can be tapped, as `"stage.port"`.
    fn outputs(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let (h, _) = self.built_handle(py)?;
        Ok(h.outputs())
    }

    /// Opens a tap on output `"stage.port"` (or `"stage"` for its only output) and returns
    /// an iterator of `Chunk`s. Open it before `start()` to see the stream from its first
    /// frame. `buffer`: chunks kept for a slow reader (then the oldest are dropped and
    /// counted); `lossless=True`: the output waits for the reader instead (offline runs).
    #[pyo3(signature = (endpoint, buffer = 1024, lossless = false))]
    fn tap(
        &self,
        py: Python<'_>,
        endpoint: &str,
        buffer: usize,
        lossless: bool,
    ) -> PyResult<crate::tap::Tap> {
        crate::tap::Tap::open(py, self, endpoint, buffer, lossless)
    }

    /// Pushes `data` (channels, times) into the `PushSource` stage `stage`; returns the
    /// frames accepted (all of them, unless its `on_full` is `"drop"` and its buffer is full).
    /// `timestamp`: seconds on the pipeline clock (`now()`) of the first frame, after the
    /// previous push's last; default: right after the previous push at the nominal rate (the
    /// first push: its last frame is now). A live device should pass its capture times. With `on_full: "block"` a full buffer makes this wait (the GIL
    /// released; Ctrl-C interrupts). May be called before `start()` (then buffered).
    #[pyo3(signature = (stage, data, timestamp = None))]
    fn push(
        &self,
        py: Python<'_>,
        stage: &str,
        data: &Bound<'_, PyAny>,
        timestamp: Option<f64>,
    ) -> PyResult<usize> {
        let feed = self.feed(py, stage)?;
        let array = py
            .import("numpy")?
            .call_method1("asarray", (data, "float64"))?;
        let array = if array.getattr("ndim")?.extract::<usize>()? == 1 {
            array.call_method1("reshape", (1, -1))?
        } else {
            array
        };
        let x: numpy::PyReadonlyArray2<'_, f64> = array.extract().map_err(|_| {
            PyValueError::new_err(
                "data must be a 2-D array (channels, times), or 1-D for one channel",
            )
        })?;
        let view = x.as_array();
        let (ch, n) = view.dim();
        if ch != feed.channels() {
            return Err(PyValueError::new_err(format!(
                "data has {ch} rows; PushSource `{stage}` has {} channels: shape (channels, times) expected",
                feed.channels()
            )));
        }
        if n == 0 {
            return Ok(0);
        }
        let t0_ns = match timestamp {
            Some(t) if t.is_finite() && t >= 0.0 => Some((t * 1e9).round() as u64),
            Some(t) => {
                return Err(PyValueError::new_err(format!(
                    "timestamp must be >= 0 seconds on the pipeline clock, got {t}"
                )))
            }
            None => None,
        };
        let pushed = py.detach(|| {
            feed.push(
                n,
                t0_ns,
                |c, k| view[[c, k]],
                || Python::attach(|py| py.check_signals()),
            )
        });
        match pushed {
            Ok(k) => Ok(k),
            Err(PushError::Interrupted(e)) => Err(e),
            Err(PushError::Closed) => Err(NeuropipeError::new_err(format!(
                "PushSource `{stage}`: the stream was ended (end_stream); no more data"
            ))),
            Err(PushError::Finished) => Err(NeuropipeError::new_err(format!(
                "PushSource `{stage}` has finished (the pipeline stopped)"
            ))),
            Err(PushError::OutOfOrder { previous_ns, given_ns }) => Err(PyValueError::new_err(format!(
                "PushSource `{stage}`: timestamp {:.6} s is not after the previous push's last frame ({:.6} s)",
                given_ns as f64 / 1e9,
                previous_ns as f64 / 1e9
            ))),
        }
    }

    /// Ends the stream of the `PushSource` `stage`: what was pushed is sent, then the
    /// stream ends (and the pipeline, once every source has ended).
    fn end_stream(&self, py: Python<'_>, stage: &str) -> PyResult<()> {
        self.feed(py, stage)?.close();
        Ok(())
    }

    /// Frames the `PushSource` `stage` dropped because its buffer was full.
    fn push_dropped(&self, py: Python<'_>, stage: &str) -> PyResult<u64> {
        Ok(self.feed(py, stage)?.dropped())
    }

    /// The pipeline clock now, in seconds (the time base of timestamps and markers).
    fn now(&self, py: Python<'_>) -> PyResult<f64> {
        let (h, _) = self.built_handle(py)?;
        Ok(h.clock().now_ns() as f64 / 1e9)
    }

    /// `"configured"`, `"built"`, `"running"`, `"stopping"` or `"finished"`.
    #[getter]
    fn state(&self) -> PyResult<String> {
        let inner = self.lock()?;
        Ok(if inner.report.is_some() {
            "finished".into()
        } else if inner.running.is_some() {
            match inner.handle.as_ref().map(|h| h.is_stopping()) {
                Some(true) => "stopping".into(),
                _ => "running".into(),
            }
        } else if inner.built.is_some() {
            "built".into()
        } else {
            "configured".into()
        })
    }

    /// The pipeline description as a dict (what the JSON file holds, normalised).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(to_py(py, &self.cfg.to_json())?.unbind())
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        let state = slf.borrow().state()?;
        if state == "configured" || state == "built" {
            slf.borrow().start(py, None)?;
        }
        Ok(slf)
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let stopped = self.stop(py);
        match (stopped, exc_type) {
            // An exception in the block wins over the pipeline's own.
            (Err(_), Some(_)) => Ok(false),
            (Err(e), None) => Err(e),
            (Ok(_), _) => Ok(false),
        }
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!(
            "<neuropipe.Pipeline {}({} stages, {} links) {}>",
            if self.name.is_empty() {
                String::new()
            } else {
                format!("{} ", self.name)
            },
            self.cfg.stages.len(),
            self.cfg.links.len(),
            self.state()?
        ))
    }
}

impl Pipeline {
    fn new(cfg: PipelineConfig, name: String) -> Pipeline {
        Pipeline {
            cfg,
            host: Arc::default(),
            name,
            inner: Mutex::new(Inner::default()),
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // Dropped while running (the notebook cell re-run): stop, and let the runtime finish
        // the drain in the background rather than block the interpreter.
        if let Ok(mut inner) = self.inner.lock() {
            if let Some(h) = &inner.handle {
                h.stop();
            }
            for t in &inner.taps {
                t.abort();
            }
            if let Some(s) = inner.server.take() {
                s.shutdown();
            }
            if let Some(rt) = inner.runtime.take() {
                if let Ok(rt) = Arc::try_unwrap(rt) {
                    rt.shutdown_background();
                }
            }
        }
    }
}

fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<(PipelineConfig, String)> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| crate::errors::ConfigError::new_err(format!("cannot read {name}: {e}")))?;
    let cfg = PipelineConfig::parse(&text).map_err(|e| config_error(py, &name, &e))?;
    Ok((cfg.located_at(&path), name))
}

/// Every stage type with its ports and parameters (as `neuropipe stages --json`).
#[pyfunction]
pub(crate) fn stage_types(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let registry = crate::registry();
    let specs: Vec<_> = registry.specs().collect();
    Ok(to_py(py, &specs)?.unbind())
}

/// The JSON Schema of pipeline files (as `neuropipe schema`).
#[pyfunction]
pub(crate) fn schema(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let schema = neuropipe_core::schema::pipeline_schema(&crate::registry());
    Ok(to_py(py, &schema)?.unbind())
}
