//! `neuropipe train`: fits the pipeline's decoder on labelled data and writes its model file.
//!
//! The pipeline is cut at the decoder (`Lda`): the stages that feed it run as they will on
//! line, from the pipeline's own source (a simulated session: `--duration` seconds of signal,
//! as fast as possible) or from recordings replayed in its place (`--data`, once per file),
//! and a collector takes the decoder's place. The labelled feature vectors it gathers fit the
//! decoder; stratified k-fold cross-validation says how well it will do; the model file
//! (written where the decoder's `model` parameter points, or `--out`) records the feature
//! stream it expects, so the online pipeline refuses a mismatch.

use neuropipe_core::host::*;
use neuropipe_core::Registry;
use neuropipe_dsp::decode::{
    cross_validate, FitError, LdaModel, MdmModel, RiemannError, Spd, TangentSpaceModel, Verdict,
};
use neuropipe_stages::bci::collect::{self, training_set};
use neuropipe_stages::bci::model::{Decoder, ModelFile, Signature, Training, Transform};
use neuropipe_stages::bci::tangent;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `neuropipe train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Pipeline JSON file with a decoder stage (`Lda`).
    pipeline: PathBuf,
    /// A labelled recording (.edf, .bdf, .csv with its annotations or events) replayed in place
    /// of the pipeline's source; repeat for several. Without it, the pipeline's own source is
    /// used (a simulated session; give --duration).
    #[arg(long, value_name = "FILE")]
    data: Vec<PathBuf>,
    /// Seconds of signal from the pipeline's own source (simulated sources: generated as fast
    /// as possible).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Cross-validation folds (stratified).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Model file to write (default: the decoder's `model` parameter, relative to the
    /// pipeline file).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing model file.
    #[arg(long)]
    overwrite: bool,
}

/// Decoder stage types `train` can fit.
const DECODERS: [&str; 2] = ["Lda", "Mdm"];

/// Stage types fitted together with the decoder they feed (directly).
const TRANSFORMS: [&str; 1] = ["TangentSpace"];

/// Runs `neuropipe train`.
pub fn main(registry: &Registry, args: TrainArgs) -> ExitCode {
    match train(registry, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", args.pipeline.display());
            ExitCode::from(2)
        }
    }
}

fn train(registry: &Registry, args: &TrainArgs) -> Result<(), String> {
    let cfg = PipelineConfig::load(&args.pipeline).map_err(|e| e.to_string())?;
    let decoders: Vec<usize> = (0..cfg.stages.len())
        .filter(|&i| DECODERS.contains(&cfg.stages[i].kind.as_str()))
        .collect();
    let &[dec] = decoders.as_slice() else {
        return Err(format!(
            "train fits one decoder stage ({}); this pipeline has {}",
            DECODERS.join(", "),
            decoders.len()
        ));
    };
    let chain = fitted_chain(&cfg, dec)?;
    let cut = *chain.last().ok_or("no decoder")?;
    let out = match (&args.out, cfg.stages[dec].params.get("model")) {
        (Some(p), _) => p.clone(),
        (None, Some(Value::String(m))) => cfg.resolve_path(m),
        (None, _) => return Err("the decoder has no `model` parameter: give --out".into()),
    };
    if out.exists() && !args.overwrite {
        return Err(format!(
            "{} exists: pass --overwrite to replace it, or --out another file",
            out.display()
        ));
    }
    if args.duration.is_some() && !args.data.is_empty() {
        return Err("--duration applies to the pipeline's own simulated source; recordings given with --data are read whole".into());
    }
    if !(2..=20).contains(&args.folds) {
        return Err(format!("--folds {} is not in 2..=20", args.folds));
    }
    let set_name = format!("train-{}", std::process::id());
    let mut reg = registry.clone();
    reg.register(collect::spec());
    let runs: Vec<(String, PipelineConfig)> = if args.data.is_empty() {
        vec![(
            format!("{} (its own source)", args.pipeline.display()),
            training_config(&cfg, cut, &set_name, None, args.duration)?,
        )]
    } else {
        args.data
            .iter()
            .map(|d| {
                let data =
                    std::fs::canonicalize(d).map_err(|e| format!("--data {}: {e}", d.display()))?;
                Ok((
                    d.display().to_string(),
                    training_config(&cfg, cut, &set_name, Some(&data), args.duration)?,
                ))
            })
            .collect::<Result<_, String>>()?
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    for (what, c) in &runs {
        let p =
            Pipeline::build(c, &reg).map_err(|e| format!("training pipeline for {what}: {e}"))?;
        let report = rt.block_on(p.run());
        if report.outcome != Outcome::Finished {
            return Err(format!(
                "training on {what} did not finish: {:?}",
                report.outcome
            ));
        }
        eprintln!("read {what}");
    }
    let set = training_set(&set_name);
    let set = set.lock().map_err(|_| "training set lock poisoned")?;
    let stream = set
        .stream
        .clone()
        .ok_or("no features reached the decoder")?;
    let classes = stream.epochs.as_ref().map_or(0, |e| e.classes.len());
    let p = stream.channel_count();
    let plan = Plan {
        decoder: cfg.stages[dec].kind.clone(),
        tangent: chain.len() > 1,
    };
    let mut counts = vec![0usize; classes];
    for &l in &set.y {
        counts[l as usize] += 1;
    }
    let fail = |e: FitError| format!("fitting {}: {e}", plan.describe());
    let fitted = plan.fit(&set.x, p, &set.y, classes).map_err(fail)?;
    let mut buf = vec![];
    let cv = cross_validate(
        &set.x,
        p,
        &set.y,
        classes,
        args.folds,
        |x, y| plan.fit(x, p, y, classes),
        |f, row| f.verdict(row, &mut buf),
    )
    .map_err(fail)?;
    let mut transforms = vec![];
    let mut signature = Signature::of(&stream);
    if let Some((ts, _)) = &fitted.tangent {
        transforms.push(Transform::TangentSpace {
            input: signature,
            reference: ts.reference.clone(),
        });
        signature = Signature::of(&tangent::output_stream(&stream, ts.channels));
    }
    let training = Training {
        data: runs.iter().map(|(w, _)| w.clone()).collect(),
        epochs: counts.clone(),
        folds: cv.folds,
        accuracy: cv.accuracy(),
        balanced_accuracy: cv.balanced_accuracy(),
        auc: cv.auc(),
        confusion: cv.confusion.clone(),
        trained_at: neuropipe_io::datetime::DateTime::now_utc().to_string(),
    };
    print_report(&signature, &training);
    let file = ModelFile::new(&fitted.decoder, signature, transforms, training);
    let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
    write_new(&out, &text, args.overwrite)?;
    println!("model written to {}", out.display());
    Ok(())
}

/// The stages `train` fits: the decoder, and the tangent space before it if there is one.
struct Plan {
    /// The decoder's stage type.
    decoder: String,
    /// A `TangentSpace` feeds the decoder.
    tangent: bool,
}

/// A fitted [`Plan`].
struct Fitted {
    tangent: Option<(TangentSpaceModel, Spd)>,
    decoder: Decoder,
    /// Workspace of an MDM.
    spd: Option<Spd>,
}

/// The side of the square matrices in rows of `p` values.
fn side(p: usize, who: &str) -> Result<usize, FitError> {
    let n = (p as f64).sqrt().round() as usize;
    if n > 0 && n * n == p {
        Ok(n)
    } else {
        Err(FitError::Shape(format!(
            "{who} takes covariance matrices but its input has {p} features: put a Covariance stage before it"
        )))
    }
}

impl Plan {
    fn describe(&self) -> String {
        if self.tangent {
            format!("TangentSpace + {}", self.decoder)
        } else {
            self.decoder.clone()
        }
    }

    /// Fits on `x` (`n × p`) with labels `y`.
    fn fit(&self, x: &[f64], p: usize, y: &[u32], classes: usize) -> Result<Fitted, FitError> {
        let mut tangent = None;
        let (features, q) = if self.tangent {
            let n = side(p, "TangentSpace")?;
            let ts = TangentSpaceModel::fit(x, n)?;
            let mut spd = Spd::new(n);
            let q = ts.features();
            let mut out = vec![0.0; x.len() / p * q];
            for (index, (row, o)) in x.chunks_exact(p).zip(out.chunks_exact_mut(q)).enumerate() {
                ts.transform_into(row, &mut spd, o).map_err(|eigenvalue| {
                    RiemannError::NotPositiveDefinite { index, eigenvalue }
                })?;
            }
            tangent = Some((ts, spd));
            (out, q)
        } else {
            (x.to_vec(), p)
        };
        let (decoder, spd) = if self.decoder == "Mdm" {
            let n = side(q, "Mdm")?;
            (
                Decoder::Mdm(MdmModel::fit(&features, n, y, classes)?),
                Some(Spd::new(n)),
            )
        } else {
            (Decoder::Lda(LdaModel::fit(&features, q, y, classes)?), None)
        };
        Ok(Fitted {
            tangent,
            decoder,
            spd,
        })
    }
}

impl Fitted {
    /// The predicted class and a two-class score of one held-out row.
    fn verdict(&mut self, row: &[f64], buf: &mut Vec<f64>) -> Result<Verdict, FitError> {
        let bad = |eigenvalue| RiemannError::NotPositiveDefinite {
            index: 0,
            eigenvalue,
        };
        let x: &[f64] = match &mut self.tangent {
            Some((ts, spd)) => {
                buf.resize(ts.features(), 0.0);
                ts.transform_into(row, spd, buf).map_err(bad)?;
                buf
            }
            None => row,
        };
        match (&self.decoder, &mut self.spd) {
            (Decoder::Lda(m), _) => {
                let mut d = vec![0.0; m.rows()];
                m.decision_into(x, &mut d);
                Ok((m.predict(&d), d[0]))
            }
            (Decoder::Mdm(m), Some(spd)) => {
                let mut d = vec![0.0; m.classes];
                m.distances_into(x, spd, &mut d).map_err(bad)?;
                // Two classes: evidence for class 1 = how much nearer its mean is.
                Ok((
                    m.predict(&d),
                    d[0] * d[0] - d.get(1).map_or(0.0, |d1| d1 * d1),
                ))
            }
            (Decoder::Mdm(_), None) => Err(FitError::Shape("MDM without workspace".into())),
        }
    }
}

/// The decoder and the stages fitted with it: `[decoder, transform, …]`, upwards, each
/// transform the only input of the stage below it.
fn fitted_chain(cfg: &PipelineConfig, dec: usize) -> Result<Vec<usize>, String> {
    let mut chain = vec![dec];
    loop {
        let below = &cfg.stages[*chain.last().ok_or("empty chain")?];
        let feeding: Vec<&str> = cfg
            .links
            .iter()
            .filter(|l| l.to.stage == below.id)
            .map(|l| l.from.stage.as_str())
            .collect();
        let Some(i) = cfg
            .stages
            .iter()
            .position(|s| feeding.first() == Some(&s.id.as_str()))
        else {
            break;
        };
        if feeding.len() != 1 || !TRANSFORMS.contains(&cfg.stages[i].kind.as_str()) {
            break;
        }
        chain.push(i);
    }
    // Every fitted stage reads the decoder's model file.
    let model = |i: usize| {
        cfg.stages[i]
            .params
            .get("model")
            .and_then(Value::as_str)
            .map(|m| cfg.resolve_path(m))
    };
    for &t in &chain[1..] {
        if model(t) != model(dec) {
            return Err(format!(
                "stage `{}` ({}) is fitted with the decoder `{}` and stored in its model file: give both the same `model` ({:?})",
                cfg.stages[t].id,
                cfg.stages[t].kind,
                cfg.stages[dec].id,
                cfg.stages[dec].params.get("model").and_then(Value::as_str).unwrap_or_default()
            ));
        }
    }
    if let Some(s) = cfg.stages.iter().find(|s| {
        TRANSFORMS.contains(&s.kind.as_str()) && !chain.iter().any(|&c| cfg.stages[c].id == s.id)
    }) {
        return Err(format!(
            "stage `{}` ({}) is fitted with a decoder it feeds directly; here it does not feed `{}`",
            s.id, s.kind, cfg.stages[dec].id
        ));
    }
    Ok(chain)
}

/// Writes `text` to `path`, refusing to replace a file unless `overwrite` (checked again
/// at creation, so a file appearing meanwhile is not replaced either).
fn write_new(path: &Path, text: &str, overwrite: bool) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if overwrite {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

fn print_report(sig: &Signature, t: &Training) {
    let total: usize = t.epochs.iter().sum();
    println!(
        "{total} epochs ({}), {} features",
        sig.classes
            .iter()
            .zip(&t.epochs)
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        sig.features.len()
    );
    let auc = t
        .auc
        .map_or(String::new(), |a| format!(", AUC {a:.3} (chance 0.5)"));
    println!(
        "{}-fold cross-validation: accuracy {:.1} %, balanced accuracy {:.1} % (chance {:.1} %){auc}",
        t.folds,
        100.0 * t.accuracy,
        100.0 * t.balanced_accuracy,
        100.0 / sig.classes.len() as f64
    );
    let w = sig
        .classes
        .iter()
        .map(|c| c.len())
        .max()
        .unwrap_or(4)
        .max(9);
    print!("{:>w$}  predicted:", "true");
    for c in &sig.classes {
        print!(" {c:>w$}");
    }
    println!();
    for (c, row) in sig.classes.iter().zip(&t.confusion) {
        print!("{c:>w$}            ");
        for n in row {
            print!(" {n:>w$}");
        }
        println!();
    }
}

/// The stages feeding stage `dec` (its ancestors), in file order.
fn ancestors(cfg: &PipelineConfig, dec: usize) -> HashSet<String> {
    let mut keep = HashSet::new();
    let mut todo = vec![cfg.stages[dec].id.clone()];
    while let Some(id) = todo.pop() {
        for l in cfg.links.iter().filter(|l| l.to.stage == id) {
            if keep.insert(l.from.stage.clone()) {
                todo.push(l.from.stage.clone());
            }
        }
    }
    keep
}

/// The pipeline up to the decoder, with a collector in its place, the source replaced by a
/// replay of `data` (and a `RawToVoltage` right after it dropped: a recording holds volts),
/// or the source run as fast as possible for `duration` seconds of signal.
fn training_config(
    cfg: &PipelineConfig,
    dec: usize,
    set_name: &str,
    data: Option<&Path>,
    duration: Option<f64>,
) -> Result<PipelineConfig, String> {
    let keep = ancestors(cfg, dec);
    let dec_id = cfg.stages[dec].id.clone();
    let mut v = cfg.to_json();
    let mut stages: Vec<Value> = vec![];
    let mut sources = vec![];
    for s in &cfg.stages {
        if s.id == dec_id {
            stages.push(json!({"id": s.id, "type": "TrainingSet", "params": {"name": set_name}}));
        } else if keep.contains(&s.id) {
            let mut sv = serde_json::to_value(s).map_err(|e| e.to_string())?;
            if !cfg.links.iter().any(|l| l.to.stage == s.id) {
                sources.push(s.id.clone());
            }
            // Training reads as fast as possible, once.
            if let Some(p) = sv.get_mut("params").and_then(Value::as_object_mut) {
                if matches!(s.kind.as_str(), "SimulatedEeg" | "FileReplay") {
                    p.insert("realtime".into(), json!(false));
                }
                if s.kind == "FileReplay" {
                    p.insert("loop".into(), json!(false));
                }
            }
            stages.push(sv);
        }
    }
    let [source] = sources.as_slice() else {
        return Err(format!(
            "train needs exactly one source feeding the decoder; found {}",
            sources.len()
        ));
    };
    let mut links: Vec<Value> = cfg
        .links
        .iter()
        .filter(|l| keep.contains(&l.from.stage) && (keep.contains(&l.to.stage) || l.to.stage == dec_id))
        .map(|l| json!({"from": l.from.to_string(), "to": l.to.to_string(), "capacity": l.capacity, "policy": "block"}))
        .collect();
    let src_idx = stages
        .iter()
        .position(|s| s["id"] == json!(source))
        .ok_or("source not found")?;
    match data {
        Some(path) => {
            stages[src_idx] = json!({"id": source, "type": "FileReplay",
                "params": {"path": path, "realtime": false, "sample_type": "f64"}});
            // A recording holds volts: a RawToVoltage fed by the source goes.
            let raw: Vec<String> = cfg
                .links
                .iter()
                .filter(|l| &l.from.stage == source)
                .filter_map(|l| cfg.stages.iter().find(|s| s.id == l.to.stage))
                .filter(|s| s.kind == "RawToVoltage")
                .map(|s| s.id.clone())
                .collect();
            for r in &raw {
                stages.retain(|s| s["id"] != json!(r));
                let outs: Vec<Value> = links
                    .iter()
                    .filter(|l| endpoint_stage(&l["from"]) == *r)
                    .cloned()
                    .collect();
                links
                    .retain(|l| endpoint_stage(&l["from"]) != *r && endpoint_stage(&l["to"]) != *r);
                for mut l in outs {
                    l["from"] = json!(format!("{source}.out"));
                    links.push(l);
                }
            }
        }
        None => {
            let kind = &cfg
                .stages
                .iter()
                .find(|s| &s.id == source)
                .ok_or("source")?
                .kind;
            if kind == "SimulatedEeg" {
                let d = duration.ok_or(
                    "training on the pipeline's simulated source needs --duration SECONDS of signal (or --data FILE)",
                )?;
                stages[src_idx]["params"]["duration_s"] = json!(d);
            } else if kind == "FileReplay" {
                if duration.is_some() {
                    return Err(format!(
                        "--duration applies to a simulated source; the source `{source}` replays a file, read whole"
                    ));
                }
            } else {
                return Err(format!(
                    "the source `{source}` ({kind}) is live: record a calibration session (neuropipe run ... --record calib.bdf) and train with --data calib.bdf"
                ));
            }
        }
    }
    v["stages"] = Value::Array(stages);
    v["links"] = Value::Array(links);
    let mut c = PipelineConfig::from_value(&v).map_err(|e| e.to_string())?;
    c.base_dir = cfg.base_dir.clone();
    Ok(c)
}

fn endpoint_stage(v: &Value) -> String {
    v.as_str()
        .map(|s| s.split('.').next().unwrap_or(s).to_string())
        .unwrap_or_default()
}
