//! Python stages: a class registered with `neuropipe.register_stage(cls)` becomes a stage
//! type usable from JSON, with an input `in` and an output `out` of the same stream.
//!
//! * Parameters are the keyword arguments of the class's `__init__`, each with its default
//!   (its type sets the parameter's type: bool, int, float or str); all are live.
//! * `process(self, data, timestamps)` gets each packet as `(channels, times)` in the
//!   stream's sample type and the frames' times (s, pipeline clock); it returns an array of
//!   the same shape (or None to pass the packet on unchanged).
//! * Optional `on_param(self, key, value)` (default: set the attribute) and
//!   `on_marker(self, text, timestamp)` (called before the next packet).
//!
//! The Python code runs on a thread of the stage's own (a `BlockingWorker`), one packet at a
//! time (up to four queued for it), so a slow Python stage backs its input queue up (or drops, per the link's policy)
//! while the other stages run on. Its cost per packet is the stage's `python` readout. An
//! exception stops the pipeline like a Rust `Fatal`, the Python traceback in the message.

use crate::errors::NeuropipeError;
use neuropipe_core::blocking::{BlockingWorker, WorkerError, WorkerLink};
use neuropipe_core::prelude::*;
use neuropipe_core::with_float;
use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;
use std::sync::Mutex;
use std::time::Instant;

/// A registered Python stage type.
struct PyStageType {
    name: &'static str,
    summary: &'static str,
    class: Py<PyAny>,
    /// `(name, default)` of each `__init__` keyword parameter.
    params: Vec<(&'static str, Value)>,
}

static TYPES: Mutex<Vec<PyStageType>> = Mutex::new(Vec::new());

/// Names and docs live as long as the process (stage specs hold `&'static str`); a notebook
/// re-registering a class leaks a few bytes per registration.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Registers `cls` as a stage type named `name` (default: the class's name) and returns the
/// name. Re-registering a name replaces it (for the next pipeline built).
#[pyfunction]
#[pyo3(signature = (cls, name = None))]
pub(crate) fn register_stage(
    py: Python<'_>,
    cls: &Bound<'_, PyAny>,
    name: Option<String>,
) -> PyResult<String> {
    let name = match name {
        Some(n) => n,
        None => cls.getattr("__name__")?.extract()?,
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(PyValueError::new_err(format!(
            "stage type name `{name}` must be letters, digits and underscores"
        )));
    }
    let builtin = {
        let mut r = neuropipe_stages::registry();
        neuropipe_lsl::register(&mut r);
        neuropipe_brainflow::register(&mut r);
        r.get(&name).is_some()
    };
    if builtin {
        return Err(PyValueError::new_err(format!(
            "`{name}` is a built-in stage type: register the class under another name"
        )));
    }
    if !cls.hasattr("process")? {
        return Err(PyValueError::new_err(format!(
            "{name} has no process(self, data, timestamps) method"
        )));
    }
    let inspect = py.import("inspect")?;
    let sig = inspect.call_method1("signature", (cls,))?;
    let empty = inspect.getattr("Parameter")?.getattr("empty")?;
    let mut params = Vec::new();
    for item in sig
        .getattr("parameters")?
        .call_method0("values")?
        .try_iter()?
    {
        let p = item?;
        let pname: String = p.getattr("name")?.extract()?;
        let kind: String = p.getattr("kind")?.getattr("name")?.extract()?;
        if kind == "VAR_POSITIONAL" || kind == "VAR_KEYWORD" {
            continue;
        }
        let default = p.getattr("default")?;
        if default.is(&empty) {
            return Err(PyValueError::new_err(format!(
                "{name}.__init__ parameter `{pname}` needs a default (its type sets the parameter's type)"
            )));
        }
        let value = crate::convert::to_json(&default)?;
        if !matches!(value, Value::Bool(_) | Value::Number(_) | Value::String(_)) {
            return Err(PyValueError::new_err(format!(
                "{name}.__init__ parameter `{pname}`: default must be a bool, int, float or str, got {value}"
            )));
        }
        params.push((leak(pname), value));
    }
    let doc: Option<String> = cls.getattr("__doc__")?.extract()?;
    let summary = doc
        .as_deref()
        .and_then(|d| d.trim().lines().next())
        .map(str::to_string)
        .unwrap_or_else(|| format!("Python stage {name}"));
    let ty = PyStageType {
        name: leak(name.clone()),
        summary: leak(summary),
        class: cls.clone().unbind(),
        params,
    };
    let mut types = TYPES
        .lock()
        .map_err(|_| NeuropipeError::new_err("stage types poisoned"))?;
    types.retain(|t| t.name != name);
    types.push(ty);
    Ok(name)
}

/// Adds the registered Python stage types to `r`.
pub(crate) fn register_all(r: &mut Registry) {
    let Ok(types) = TYPES.lock() else { return };
    for t in types.iter() {
        let mut spec = StageSpec::new(t.name, t.summary, build)
            .input(PortSpec::any("in").in_place().doc("f32 or f64 samples"))
            .output(PortSpec::any("out").doc("what process() returns, same shape"));
        for (name, default) in &t.params {
            let p = match default {
                Value::Bool(_) => ParamSpec::bool(name),
                Value::Number(n) if n.is_i64() || n.is_u64() => {
                    ParamSpec::int(name, i64::MIN, i64::MAX)
                }
                Value::Number(_) => ParamSpec::float(name, -f64::MAX, f64::MAX),
                _ => ParamSpec::string(name),
            };
            spec = spec.param(
                p.default(default.clone())
                    .live()
                    .doc("Python parameter (keyword argument of __init__)"),
            );
        }
        r.register(spec);
    }
}

/// Work for the Python thread.
enum Job<S: FloatSample> {
    /// Process a packet; `rate` gives the frames' times.
    Packet(Packet<Samples<S>>, f64),
    Marker(String, f64),
}

/// What comes back: the packet, processed, and the time `process` took.
struct Done<S: FloatSample>(Packet<Samples<S>>, f64);

struct PyStage<S: FloatSample> {
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
    worker: BlockingWorker<Job<S>, Done<S>>,
    instance: Py<PyAny>,
    /// The type's parameter names (a change reports the name as the spec has it).
    params: Vec<&'static str>,
    events: EventReceiver,
    rate: f64,
    readouts: Readouts,
    total_us: f64,
    packets: u64,
    /// Packets with the Python thread.
    in_flight: usize,
    /// The input has ended: the stage finishes once the thread has given everything back.
    input_done: bool,
}

/// Packets handed to the Python thread before their results come back: a burst keeps the
/// thread busy instead of paying two thread wake-ups per packet (order is kept: one thread,
/// first in, first out).
const IN_FLIGHT: usize = 4;

/// What the stage waited for.
enum Next<S: FloatSample> {
    Input(Result<Option<Packet<Samples<S>>>, StageError>),
    Result(Option<Done<S>>),
}

impl<S: FloatSample> PyStage<S> {
    /// Sends a processed packet on, with the stage's readouts.
    async fn forward(&mut self, done: Option<Done<S>>) -> Result<(), StageError> {
        let Some(Done(pkt, us)) = done else {
            return Err(match self.worker.finish().await {
                Err(e) => e,
                Ok(()) => StageError::fatal("the Python thread ended"),
            });
        };
        self.in_flight -= 1;
        self.packets += 1;
        self.total_us += us;
        self.readouts.set(0, 0, self.total_us / self.packets as f64);
        self.readouts.set(0, 1, us);
        self.readouts.set(0, 2, self.packets as f64);
        self.readouts.publish();
        self.out.send(pkt).await
    }
}

impl<S: FloatSample> DataPlaneStage for PyStage<S> {
    async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        while let Ok(ev) = self.events.try_recv() {
            if ev.kind == EventKind::Marker {
                self.worker
                    .send(Job::Marker(ev.text, ev.time_ns as f64 / 1e9))
                    .await?;
            }
        }
        if self.input_done || self.in_flight == IN_FLIGHT {
            if self.in_flight == 0 {
                return Err(StageError::QueueClosed);
            }
            let done = self.worker.recv().await;
            return self.forward(done).await;
        }
        let next = tokio::select! {
            biased;
            r = self.worker.recv(), if self.in_flight > 0 => Next::Result(r),
            p = self.input.recv() => Next::Input(p),
        };
        match next {
            Next::Result(done) => self.forward(done).await,
            Next::Input(Ok(Some(pkt))) => {
                self.worker.send(Job::Packet(pkt, self.rate)).await?;
                self.in_flight += 1;
                Ok(())
            }
            Next::Input(Ok(None)) => Ok(()),
            Next::Input(Err(StageError::QueueClosed)) => {
                self.input_done = true;
                Ok(())
            }
            Next::Input(Err(e)) => Err(e),
        }
    }

    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        let ControlMsg::UpdateParam(key, value) = msg else {
            return Ok(Handled::Default);
        };
        let name: &'static str = self
            .params
            .iter()
            .find(|n| **n == key.as_str())
            .copied()
            .ok_or_else(|| StageError::bad_param(format!("unknown parameter `{key}`")))?;
        Python::attach(|py| -> Result<Handled, StageError> {
            let v = crate::convert::to_py(py, value)
                .map_err(|e| StageError::bad_param(e.to_string()))?;
            let obj = self.instance.bind(py);
            let r = if obj.hasattr("on_param").unwrap_or(false) {
                obj.call_method1("on_param", (key, &v)).map(drop)
            } else {
                obj.setattr(key.as_str(), &v)
            };
            r.map_err(|e| StageError::bad_param(format!("{key}: {}", traceback(py, &e))))?;
            Ok(Handled::Changed(vec![(name, value.clone())]))
        })
    }

    async fn finish(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        self.worker.finish().await
    }
}

/// The exception with its traceback, as Python prints it.
fn traceback(py: Python<'_>, e: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|tb| {
        tb.call_method1(
            "format_exception",
            (e.get_type(py), e.value(py), e.traceback(py)),
        )
    });
    match formatted.and_then(|lines| {
        let sep = pyo3::types::PyString::new(py, "");
        sep.call_method1("join", (lines,))?.extract::<String>()
    }) {
        Ok(s) => s.trim_end().to_string(),
        Err(_) => e.to_string(),
    }
}

/// Runs `process` on one packet, writing the result back into it.
fn process<S: FloatSample + numpy::Element>(
    py: Python<'_>,
    instance: &Py<PyAny>,
    pkt: &mut Packet<Samples<S>>,
    rate: f64,
) -> PyResult<()> {
    let ch = pkt.header.channels as usize;
    let n = pkt.header.batch_size as usize;
    let t0 = pkt.header.timestamp as f64 / 1e9;
    let samples = pkt.samples();
    let data = Array2::from_shape_fn((ch, n), |(c, k)| samples[k * ch + c]).into_pyarray(py);
    let times = Array1::from_iter((0..n).map(|k| t0 + k as f64 / rate)).into_pyarray(py);
    let result = instance.bind(py).call_method1("process", (data, times))?;
    if result.is_none() {
        return Ok(());
    }
    let dtype = numpy::dtype::<S>(py);
    let arr = py
        .import("numpy")?
        .call_method1("asarray", (result, dtype))?;
    let arr = arr.cast_into::<numpy::PyArray2<S>>().map_err(|_| {
        PyValueError::new_err(format!(
            "process() must return a 2-D array ({ch}, {n}) or None"
        ))
    })?;
    if arr.shape() != [ch, n] {
        return Err(PyValueError::new_err(format!(
            "process() returned shape {:?}; the stage's output keeps the input's shape ({ch}, {n})",
            arr.shape()
        )));
    }
    let view = arr.readonly();
    let a = view.as_array();
    if let Some(out) = pkt.try_mut() {
        let s = out.payload.raw_mut();
        for c in 0..ch {
            for k in 0..n {
                s[k * ch + c] = a[[c, k]];
            }
        }
    }
    Ok(())
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?.clone();
    let type_name = b.stage_type().to_string();
    let params = b.params().values().clone();
    let (instance, names) = Python::attach(|py| -> Result<_, BuildError> {
        let (class, names) = {
            let types = TYPES
                .lock()
                .map_err(|_| BuildError::stage("stage types poisoned"))?;
            types
                .iter()
                .find(|t| t.name == type_name)
                .map(|t| {
                    (
                        t.class.clone_ref(py),
                        t.params.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                    )
                })
                .ok_or_else(|| {
                    BuildError::stage(format!("Python stage `{type_name}` is not registered"))
                })?
        };
        let kwargs = PyDict::new(py);
        for (k, v) in &params {
            let v =
                crate::convert::to_py(py, v).map_err(|e| BuildError::param(k, e.to_string()))?;
            kwargs
                .set_item(k, v)
                .map_err(|e| BuildError::param(k, e.to_string()))?;
        }
        let instance = class
            .bind(py)
            .call((), Some(&kwargs))
            .map(Bound::unbind)
            .map_err(|e| {
                BuildError::stage(format!("{type_name}(...) raised:\n{}", traceback(py, &e)))
            })?;
        Ok((instance, names))
    })?;
    let readouts = b.readouts(
        &[
            ReadoutColumn::number("mean_us", "µs", "mean time in process() per packet"),
            ReadoutColumn::number("last_us", "µs", "time of the last process() call"),
            ReadoutColumn::number("packets", "", "packets processed"),
        ],
        vec!["python".to_string()],
    );
    let events = b.events();
    let rate = info.sample_rate;
    with_float!(kind, S => {
        let input = b.input::<Samples<S>>("in")?;
        let out = b.output::<Samples<S>>("out", info)?;
        let thread_instance = Python::attach(|py| instance.clone_ref(py));
        let worker = BlockingWorker::spawn(
            format!("python:{}", b.id()),
            IN_FLIGHT + 1,
            IN_FLIGHT,
            move |link| python_thread::<S>(link, thread_instance),
        )
        .map_err(|e| BuildError::stage(e.to_string()))?;
        Ok(BoxedStage::new(PyStage::<S> {
            input,
            out,
            worker,
            instance,
            params: names,
            events,
            rate,
            readouts,
            total_us: 0.0,
            packets: 0,
            in_flight: 0,
            input_done: false,
        }))
    })
}

/// The stage's Python thread: one job at a time. It stays attached to the interpreter for
/// its whole life and releases the GIL only while it waits for work, so taking the GIL per
/// packet is a cheap re-acquire, not a new thread state each time.
fn python_thread<S: FloatSample + numpy::Element>(
    mut link: WorkerLink<Job<S>, Done<S>>,
    instance: Py<PyAny>,
) -> Result<(), WorkerError> {
    Python::attach(|py| -> Result<(), WorkerError> {
        while let Some(job) = py.detach(|| link.recv()) {
            match job {
                Job::Packet(mut pkt, rate) => {
                    let t0 = Instant::now();
                    process(py, &instance, &mut pkt, rate).map_err(|e| traceback(py, &e))?;
                    let us = t0.elapsed().as_secs_f64() * 1e6;
                    // The result channel holds every packet in flight: there is room, and
                    // this never waits holding the GIL.
                    if let Err(done) = link.try_send(Done(pkt, us)) {
                        if !link.send(done) {
                            break;
                        }
                    }
                }
                Job::Marker(text, t) => {
                    on_marker(py, &instance, text, t).map_err(|e| traceback(py, &e))?
                }
            }
        }
        drop(instance);
        Ok(())
    })
}

/// Calls the instance's `on_marker(text, timestamp)` if it has one.
fn on_marker(py: Python<'_>, instance: &Py<PyAny>, text: String, t: f64) -> PyResult<()> {
    let obj = instance.bind(py);
    if obj.hasattr("on_marker")? {
        obj.call_method1("on_marker", (text, t))?;
    }
    Ok(())
}
