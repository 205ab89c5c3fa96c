//! `neuropipe train`: fits the pipeline's decoder on labelled data and writes its model file.
//!
//! The pipeline is cut at the decoder (`Lda`, `LogisticRegression`, `Mdm`), or at the stage fitted with it in front
//! of it (`TangentSpace`, `Csp`, or `Xdawn` with a `Vectorize` between): the stages that feed the cut run as they will on line, from
//! the pipeline's own source (a simulated session: `--duration` seconds of signal, as fast as
//! possible) or from recordings replayed in its place (`--data`, once per file), and a
//! collector takes the cut stage's place. The labelled vectors it gathers fit the front stage
//! and the decoder in process; stratified k-fold cross-validation (both refitted in every
//! fold, as a scikit-learn `Pipeline`) says how well they will do; the model file (written
//! where the decoder's `model` parameter points, or `--out`) holds both and records the
//! streams they expect, so the online pipeline refuses a mismatch.

use neuropipe_core::host::*;
use neuropipe_core::Registry;
use neuropipe_dsp::decode::{
    cross_validate, fit_logistic, CspModel, FitError, LdaModel, MdmModel, RiemannError, Spd,
    TangentSpaceModel, Verdict, XdawnModel,
};
use neuropipe_stages::bci::collect::{self, training_set};
use neuropipe_stages::bci::model::{Decoder, ModelFile, Signature, Training, Transform};
use neuropipe_stages::bci::vectorize::{Bins, VectorizeParams};
use neuropipe_stages::bci::{csp, tangent, xdawn};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `neuropipe train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Pipeline JSON file with a decoder stage (`Lda`, `LogisticRegression` or `Mdm`).
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
const DECODERS: [&str; 3] = ["Lda", "LogisticRegression", "Mdm"];

/// Stage types fitted together with the decoder they feed (directly, or for `Xdawn` through
/// a `Vectorize`).
const TRANSFORMS: [&str; 3] = ["TangentSpace", "Csp", "Xdawn"];

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
    let whole_epochs = cfg.stages[cut].kind == "Xdawn";
    let set_name = format!("train-{}", std::process::id());
    let mut reg = registry.clone();
    reg.register(collect::spec());
    let runs: Vec<(String, PipelineConfig)> = if args.data.is_empty() {
        vec![(
            format!("{} (its own source)", args.pipeline.display()),
            training_config(&cfg, cut, &set_name, whole_epochs, None, args.duration)?,
        )]
    } else {
        args.data
            .iter()
            .map(|d| {
                let data =
                    std::fs::canonicalize(d).map_err(|e| format!("--data {}: {e}", d.display()))?;
                Ok((
                    d.display().to_string(),
                    training_config(
                        &cfg,
                        cut,
                        &set_name,
                        whole_epochs,
                        Some(&data),
                        args.duration,
                    )?,
                ))
            })
            .collect::<Result<_, String>>()?
    };
    let rt = neuropipe_core::build_runtime(None)
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
    if set.y.is_empty() {
        return Err(
            "no labelled epochs reached the decoder: are the Epoch stage's `markers` in the data?"
                .into(),
        );
    }
    let classes = stream.epochs.as_ref().map_or(0, |e| e.classes.len());
    // Values per collected row: a feature vector, or a whole epoch.
    let p = set.x.len() / set.y.len().max(1);
    let filters = |i: usize| {
        cfg.stages[i]
            .params
            .get("filters")
            .and_then(Value::as_u64)
            .unwrap_or(4) as usize
    };
    let mut after_front = stream.clone();
    let front = match chain.get(1).map(|&i| &cfg.stages[i]) {
        Some(s) if s.kind == "TangentSpace" => Front::Tangent,
        Some(s) if s.kind == "Csp" => Front::Csp(filters(chain[1])),
        Some(s) if s.kind == "Vectorize" => {
            let k = filters(cut);
            let layout = stream.epochs.clone().ok_or("the epochs have no layout")?;
            let num = |key: &str| s.params.get(key).and_then(Value::as_f64);
            let vp = VectorizeParams {
                decimate: num("decimate").unwrap_or(1.0) as usize,
                tmin: num("tmin"),
                tmax: num("tmax"),
            };
            let (bins, features) = Bins::plan(&vp, &xdawn::output_stream(&stream, k))
                .map_err(|e| format!("stage `{}`: {e}", s.id))?;
            after_front = features;
            Front::Xdawn {
                filters: k,
                channels: stream.channel_count(),
                times: layout.times,
                bins,
            }
        }
        _ => Front::None,
    };
    let plan = Plan {
        decoder: cfg.stages[dec].kind.clone(),
        front,
        c: cfg.stages[dec]
            .params
            .get("c")
            .and_then(Value::as_f64)
            .unwrap_or(1.0),
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
    let input = Signature::of(&stream);
    let (transforms, signature) = match &fitted.front {
        FittedFront::None => (vec![], input),
        FittedFront::Tangent(ts, _) => (
            vec![Transform::TangentSpace {
                input,
                reference: ts.reference.clone(),
            }],
            Signature::of(&tangent::output_stream(&stream, ts.channels)),
        ),
        FittedFront::Csp(m) => (
            vec![Transform::Csp {
                input,
                filters: m.filters.clone(),
            }],
            Signature::of(&csp::output_stream(&stream, m.features())),
        ),
        FittedFront::Xdawn { model, .. } => (
            vec![Transform::Xdawn {
                input,
                filters: model.filters().to_vec(),
            }],
            Signature::of(&after_front),
        ),
    };
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

/// The stage fitted in front of the decoder, feeding it directly.
#[derive(Clone, Copy)]
enum Front {
    None,
    /// `TangentSpace`.
    Tangent,
    /// `Csp` with this many filters.
    Csp(usize),
    /// `Xdawn` with this many filters per class, on epochs of `channels` × `times`, then
    /// `Vectorize`'s `bins`.
    Xdawn {
        filters: usize,
        channels: usize,
        times: usize,
        bins: Bins,
    },
}

/// The stages `train` fits: the decoder, and the stage in front of it if there is one.
struct Plan {
    /// The decoder's stage type.
    decoder: String,
    front: Front,
    /// A logistic regression's inverse regularisation strength.
    c: f64,
}

/// A fitted [`Front`].
enum FittedFront {
    None,
    Tangent(TangentSpaceModel, Spd),
    Csp(CspModel),
    /// The filters, the bins after them, and a filtered epoch's workspace.
    Xdawn {
        model: XdawnModel,
        bins: Bins,
        filtered: Vec<f64>,
    },
}

impl FittedFront {
    /// Features it sends for rows of `p` values.
    fn features(&self, p: usize) -> usize {
        match self {
            FittedFront::None => p,
            FittedFront::Tangent(ts, _) => ts.features(),
            FittedFront::Csp(m) => m.features(),
            FittedFront::Xdawn { model, bins, .. } => model.outputs() * bins.bins,
        }
    }

    /// Row `index` (`row`) through it into `out`.
    fn transform(&mut self, index: usize, row: &[f64], out: &mut [f64]) -> Result<(), FitError> {
        match self {
            FittedFront::None => out.copy_from_slice(row),
            FittedFront::Tangent(ts, spd) => ts.transform_into(row, spd, out).map_err(|eigenvalue| {
                RiemannError::NotPositiveDefinite { index, eigenvalue }
            })?,
            FittedFront::Csp(m) => m.transform_into(row, out).map_err(|v| {
                FitError::Shape(format!(
                    "epoch {index}: a CSP filter's output variance is {v:e} (linearly dependent channels? use the lwf or oas estimator)"
                ))
            })?,
            FittedFront::Xdawn {
                model,
                bins,
                filtered,
            } => {
                model.transform_into(row, filtered);
                bins.apply(filtered, model.outputs(), out);
            }
        }
        Ok(())
    }
}

/// A fitted [`Plan`].
struct Fitted {
    front: FittedFront,
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
        match self.front {
            Front::None => self.decoder.clone(),
            Front::Tangent => format!("TangentSpace + {}", self.decoder),
            Front::Csp(k) => format!("Csp ({k} filters) + {}", self.decoder),
            Front::Xdawn { filters, .. } => {
                format!(
                    "Xdawn ({filters} filters per class) + Vectorize + {}",
                    self.decoder
                )
            }
        }
    }

    /// Fits on `x` (`n × p`) with labels `y`.
    fn fit(&self, x: &[f64], p: usize, y: &[u32], classes: usize) -> Result<Fitted, FitError> {
        let mut front = match self.front {
            Front::None => FittedFront::None,
            Front::Tangent => {
                let n = side(p, "TangentSpace")?;
                FittedFront::Tangent(TangentSpaceModel::fit(x, n)?, Spd::new(n))
            }
            Front::Csp(k) => {
                if classes != 2 {
                    return Err(FitError::Shape(format!(
                        "CSP separates two classes; these epochs have {classes} (for more, use TangentSpace + Lda or Mdm)"
                    )));
                }
                FittedFront::Csp(CspModel::fit(x, side(p, "Csp")?, y, k)?)
            }
            Front::Xdawn {
                filters,
                channels,
                times,
                bins,
            } => {
                let model = XdawnModel::fit(x, channels, times, y, classes, filters)?;
                let filtered = vec![0.0; times * model.outputs()];
                FittedFront::Xdawn {
                    model,
                    bins,
                    filtered,
                }
            }
        };
        let q = front.features(p);
        let mut features = vec![0.0; x.len() / p * q];
        for (index, (row, o)) in x
            .chunks_exact(p)
            .zip(features.chunks_exact_mut(q))
            .enumerate()
        {
            front.transform(index, row, o)?;
        }
        let (decoder, spd) = if self.decoder == "Mdm" {
            let n = side(q, "Mdm")?;
            (
                Decoder::Mdm(MdmModel::fit(&features, n, y, classes)?),
                Some(Spd::new(n)),
            )
        } else if self.decoder == "LogisticRegression" {
            (
                Decoder::LogisticRegression(fit_logistic(&features, q, y, classes, self.c)?),
                None,
            )
        } else {
            (Decoder::Lda(LdaModel::fit(&features, q, y, classes)?), None)
        };
        Ok(Fitted {
            front,
            decoder,
            spd,
        })
    }
}

impl Fitted {
    /// The predicted class and a two-class score of one held-out row.
    fn verdict(&mut self, row: &[f64], buf: &mut Vec<f64>) -> Result<Verdict, FitError> {
        buf.resize(self.front.features(row.len()), 0.0);
        self.front.transform(0, row, buf)?;
        let x: &[f64] = buf;
        match (&self.decoder, &mut self.spd) {
            (Decoder::Lda(m), _) | (Decoder::LogisticRegression(m), _) => {
                let mut d = vec![0.0; m.rows()];
                m.decision_into(x, &mut d);
                Ok((m.predict(&d), d[0]))
            }
            (Decoder::Mdm(m), Some(spd)) => {
                let mut d = vec![0.0; m.classes];
                m.distances_into(x, spd, &mut d).map_err(|eigenvalue| {
                    RiemannError::NotPositiveDefinite {
                        index: 0,
                        eigenvalue,
                    }
                })?;
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

/// The decoder and the stages fitted with it, upwards: `[decoder]`, `[decoder, transform]`
/// (the transform the decoder's only input) or `[decoder, Vectorize, Xdawn]`.
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
        if feeding.len() != 1 {
            break;
        }
        let kind = cfg.stages[i].kind.as_str();
        if kind == "Xdawn" && chain.len() == 1 {
            return Err(format!(
                "`{}` (Xdawn) sends filtered epochs; the decoder `{}` takes one feature vector per epoch: put a Vectorize stage between them",
                cfg.stages[i].id, cfg.stages[dec].id
            ));
        }
        // Xdawn → Vectorize → decoder: fitted with the decoder, through the bins.
        if kind == "Vectorize" && chain.len() == 1 {
            let above = cfg.links.iter().filter(|l| l.to.stage == cfg.stages[i].id);
            let xdawn = above
                .filter_map(|l| cfg.stages.iter().position(|s| s.id == l.from.stage))
                .find(|&j| cfg.stages[j].kind == "Xdawn");
            if let Some(j) = xdawn {
                chain.extend([i, j]);
            }
            break;
        }
        if !TRANSFORMS.contains(&kind) {
            break;
        }
        chain.push(i);
    }
    let is_vectorize = chain.len() == 3 && cfg.stages[chain[1]].kind == "Vectorize";
    if chain.len() > 2 && !is_vectorize {
        return Err(format!(
            "train fits one stage in front of the decoder ({}); here `{}` and `{}` are chained before `{}`",
            TRANSFORMS.join(" or "),
            cfg.stages[chain[2]].id,
            cfg.stages[chain[1]].id,
            cfg.stages[dec].id
        ));
    }
    // Every fitted stage reads the decoder's model file.
    let model = |i: usize| {
        cfg.stages[i]
            .params
            .get("model")
            .and_then(Value::as_str)
            .map(|m| cfg.resolve_path(m))
    };
    for &t in chain[1..]
        .iter()
        .filter(|&&t| TRANSFORMS.contains(&cfg.stages[t].kind.as_str()))
    {
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
            "stage `{}` ({}) is fitted with a decoder it feeds (directly; an Xdawn through a Vectorize); here it does not feed `{}`",
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

/// The pipeline up to the cut stage `dec`, with a collector in its place, the source replaced by a
/// replay of `data` (and a `RawToVoltage` right after it dropped: a recording holds volts),
/// or the source run as fast as possible for `duration` seconds of signal.
fn training_config(
    cfg: &PipelineConfig,
    dec: usize,
    set_name: &str,
    whole_epochs: bool,
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
            stages.push(json!({"id": s.id, "type": "TrainingSet",
                "params": {"name": set_name, "whole_epochs": whole_epochs}}));
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
