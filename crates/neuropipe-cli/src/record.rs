//! `--record FILE`: adds a recorder stage (format from the extension) fed by the pipeline's
//! processed output, without any change to the pipeline file. An XDF file holds several
//! streams, as LabRecorder records a session: `--record FILE.xdf` also records every other
//! source's stream that does not flow into the processed output (a second device, an
//! accelerometer, a BrainFlow board's `aux` rows), each as a stream of its own.

use neuropipe_core::{LinkConfig, PayloadKind, PipelineConfig, PortPayload, Registry, StageConfig};
use serde_json::{Map, Value};
use std::path::Path;

/// Stage type that records each extension.
fn recorder_type(path: &Path) -> Result<&'static str, String> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("edf") => Ok("EdfRecorder"),
        Some("bdf") => Ok("BdfRecorder"),
        Some("csv") => Ok("CsvRecorder"),
        Some("xdf") => Ok("XdfRecorder"),
        _ => Err(
            "the file name must end in .edf, .bdf, .csv or .xdf (the format follows the extension)"
                .into(),
        ),
    }
}

/// The continuous stream behind output `port` of stage `id`: the output itself, or for a
/// stage sending epochs (`Epoch`, `Window`, decoders), the stream it cuts them from, followed
/// upstream. `(voltage, "stage.port")`.
fn continuous_source(
    cfg: &PipelineConfig,
    registry: &Registry,
    id: &str,
    port: &neuropipe_core::PortSpec,
) -> Option<(bool, String)> {
    let (mut id, mut port) = (id.to_string(), port.clone());
    for _ in 0..cfg.stages.len() {
        if !port.epochs {
            let voltage = port.payload != PortPayload::Kind(PayloadKind::I32);
            return Some((voltage, format!("{id}.{}", port.name)));
        }
        let l = cfg.links.iter().find(|l| l.to.stage == id)?;
        let from = registry.get(&cfg.stages.iter().find(|s| s.id == l.from.stage)?.kind)?;
        port = match &l.from.port {
            Some(p) => from.outputs.iter().find(|x| x.name == p),
            None => from.outputs.first(),
        }?
        .clone();
        id = l.from.stage.clone();
    }
    None
}

/// The output that carries the pipeline's processed signal: the output feeding the first sink
/// (a stage with no outputs) that carries voltages, else any output feeding a sink, else the
/// last output in the file. Epochs are never recorded: a sink fed by epochs counts for the
/// continuous stream they are cut from.
pub fn processed_output(cfg: &PipelineConfig, registry: &Registry) -> Option<String> {
    let spec_of = |id: &str| {
        cfg.stages
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| registry.get(&s.kind))
    };
    let mut candidates = vec![];
    for l in &cfg.links {
        let Some(to) = spec_of(&l.to.stage) else {
            continue;
        };
        if !to.outputs.is_empty() {
            continue;
        }
        let Some(from) = spec_of(&l.from.stage) else {
            continue;
        };
        let port = match &l.from.port {
            Some(p) => from.outputs.iter().find(|x| x.name == p),
            None => from.outputs.first(),
        }?;
        let Some(endpoint) = continuous_source(cfg, registry, &l.from.stage, port) else {
            continue;
        };
        candidates.push(endpoint);
    }
    candidates
        .iter()
        .find(|c| c.0)
        .or(candidates.first())
        .map(|c| c.1.clone())
        .or_else(|| cfg.links.last().map(|l| l.from.to_string()))
}

/// Adds a recorder of `path` to `cfg`, recording from the start or idle until asked.
pub fn attach(
    cfg: &mut PipelineConfig,
    registry: &Registry,
    path: &Path,
    recording: bool,
) -> Result<(), String> {
    let kind = recorder_type(path)?;
    if registry.get(kind).is_none() {
        return Err(format!("this build has no `{kind}` stage"));
    }
    let from = processed_output(cfg, registry).ok_or("the pipeline has no output to record")?;
    let mut id = "record".to_string();
    while cfg.stages.iter().any(|s| s.id == id) {
        id.push('_');
    }
    // A path given on the command line is relative to the working directory, not to the
    // pipeline file (the rule for paths written in the file).
    let path = std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut params = Map::new();
    params.insert("path".into(), Value::from(path.display().to_string()));
    params.insert("recording".into(), Value::Bool(recording));
    cfg.stages.push(StageConfig {
        id: id.clone(),
        kind: kind.to_string(),
        params,
        stream: None,
    });
    let mut link = LinkConfig::new(&from, &format!("{id}.in")).ok_or("bad endpoint")?;
    link.capacity = 64;
    cfg.links.push(link);
    if kind == "XdfRecorder" {
        let (further, left) = further_streams(cfg, registry, &from);
        for (k, out) in further.iter().enumerate() {
            let to = format!("{id}.in{}", k + 2);
            let mut link = LinkConfig::new(out, &to).ok_or("bad endpoint")?;
            link.capacity = 64;
            cfg.links.push(link);
        }
        if !left.is_empty() {
            tracing::warn!(
                "--record: an XDF recorder takes 8 streams; not recorded: {}",
                left.join(", ")
            );
        }
    }
    Ok(())
}

/// Streams an XDF recording of `from` also takes: the continuous outputs of every source
/// (a stage without inputs) that does not flow into `from`, in pipeline order, as
/// `stage.port`; those beyond the recorder's 7 further inputs are returned second.
fn further_streams(
    cfg: &PipelineConfig,
    registry: &Registry,
    from: &str,
) -> (Vec<String>, Vec<String>) {
    // Stages upstream of `from` (their streams are in the processed output already).
    let mut upstream = vec![from.split('.').next().unwrap_or(from).to_string()];
    let mut i = 0;
    while let Some(id) = upstream.get(i).cloned() {
        for l in cfg.links.iter().filter(|l| l.to.stage == id) {
            if !upstream.contains(&l.from.stage) {
                upstream.push(l.from.stage.clone());
            }
        }
        i += 1;
    }
    let mut streams = vec![];
    for stage in &cfg.stages {
        let Some(spec) = registry.get(&stage.kind) else {
            continue;
        };
        if !spec.inputs.is_empty() || upstream.contains(&stage.id) {
            continue;
        }
        for port in spec.outputs.iter().filter(|p| !p.epochs) {
            streams.push(format!("{}.{}", stage.id, port.name));
        }
    }
    let left = streams.split_off(streams.len().min(7));
    (streams, left)
}

/// `--overwrite`: sets `"overwrite": true` on every stage that has the parameter (recorders).
pub fn allow_overwrite(cfg: &mut PipelineConfig, registry: &Registry) {
    for stage in &mut cfg.stages {
        let has = registry
            .get(&stage.kind)
            .is_some_and(|spec| spec.params.iter().any(|p| p.name == "overwrite"));
        if has {
            stage.params.insert("overwrite".into(), Value::Bool(true));
        }
    }
}
