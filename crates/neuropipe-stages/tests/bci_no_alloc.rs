//! The BCI stages allocate nothing per packet after start-up: a counting global allocator
//! watches (1) a running pipeline SimulatedEeg (64 channels, 1 kHz, not paced) →
//! RawToVoltage → Window → LogVariance and → Covariance (Ledoit–Wolf, 64 × 64), and →
//! Bandpass → Epoch, each into a StdoutSummary:
//! nothing at all; and (2) the simulated oddball task's markers into `Epoch` → `Vectorize` →
//! `Lda` (a model fitted first, as `neuropipe train` does), cutting, baseline-correcting,
//! checking, vectorising and decoding 64-channel epochs: nothing beyond the markers' own
//! texts; the speller (its flash and trial markers) through `Epoch` → `Xdawn` → `Vectorize`
//! → `Lda` → `Accumulator`: nothing beyond the markers and the selections' event texts; and (3) the motor-imagery task's cues into `Epoch` → `Covariance` → `Mdm`, and
//! → `TangentSpace` → `Lda`, and → `Csp` → `LogisticRegression`, and (4) the SSVEP task's cues into `Epoch` → `Cca` and `Fbcca`:
//! again nothing beyond the markers.
//!
//! A marker costs its event: the two `String`s (stage id, text) its source creates, and the
//! copy a stage reads from the event bus (the bus carries owned strings, as for the
//! recorders' annotations): four allocations, none per packet or per epoch.
//! (Its own test binary: the allocator counts every thread.)

use neuropipe_core::*;
use neuropipe_testkit::allocations_while_running;
use serde_json::json;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

fn frames_in(h: &PipelineHandle, id: &str) -> f64 {
    h.snapshot()
        .stages
        .iter()
        .find(|s| s.id == id)
        .map_or(0.0, |s| s.frames_in as f64)
}

fn running_pipeline_allocates_nothing_per_packet() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "realtime": false}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "win", "type": "Window", "params": {"length_s": 0.5, "hop_s": 0.1}},
            {"id": "lv", "type": "LogVariance"},
            {"id": "wshow", "type": "StdoutSummary", "params": {"interval_s": 3600}},
            {"id": "cov", "type": "Covariance", "params": {"estimator": "lwf"}},
            {"id": "cshow", "type": "StdoutSummary", "params": {"interval_s": 3600}},
            {"id": "bp", "type": "Bandpass", "params": {"low_hz": 0.5, "high_hz": 20, "order": 4}},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["target"], "baseline": [-0.2, 0]}},
            {"id": "eshow", "type": "StdoutSummary", "params": {"interval_s": 3600}}
        ],
        "links": ["eeg -> volts", "volts -> win", "win -> lv", "lv -> wshow", "win -> cov", "cov -> cshow", "volts -> bp", "bp -> ep", "ep -> eshow"]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    // Windows of 500 frames reaching LogVariance.
    let windows = |h: &PipelineHandle| frames_in(h, "lv") / 500.0;
    let c = allocations_while_running(pipeline, windows, 400.0, 200.0);
    assert!(c.progress >= 200.0, "made progress: {} windows", c.progress);
    assert_eq!(
        c.allocations, 0,
        "allocations while {} windows flowed",
        c.progress
    );
}

/// The oddball pipeline, 64 channels at 1 kHz, up to `decoder` (a stage JSON).
fn oddball(seconds: Option<f64>, decoder: serde_json::Value) -> PipelineConfig {
    let mut v = json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "realtime": false, "task": "p300", "p300_uv": 15}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["target", "nontarget"], "tmin": -0.2, "tmax": 0.8, "baseline": [-0.2, 0], "reject": ["EEG:1e6"]}},
            {"id": "feat", "type": "Vectorize", "params": {"tmin": 0, "decimate": 100}},
            decoder,
        ],
        "links": ["eeg -> volts", "volts -> ep", "ep -> feat", "feat -> dec"]
    });
    if let Some(s) = seconds {
        v["stages"][0]["params"]["duration_s"] = s.into();
    }
    PipelineConfig::from_value(&v).unwrap()
}

/// Runs `cfg` (a pipeline ending in a `TrainingSet` named `name`) to its end and returns the
/// set it collected, as `neuropipe train` does.
fn collected(
    cfg: &PipelineConfig,
    name: &str,
) -> std::sync::Arc<std::sync::Mutex<neuropipe_stages::bci::collect::TrainingSet>> {
    use neuropipe_stages::bci::collect;
    let mut reg = neuropipe_stages::registry();
    reg.register(collect::spec());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(Pipeline::build(cfg, &reg).unwrap().run());
    assert_eq!(report.outcome, Outcome::Finished);
    collect::training_set(name)
}

/// An empty training report (the models here are fitted for the allocation count only).
fn untrained() -> neuropipe_stages::bci::model::Training {
    neuropipe_stages::bci::model::Training {
        data: vec![],
        epochs: vec![],
        folds: 0,
        accuracy: 0.0,
        balanced_accuracy: 0.0,
        auc: None,
        confusion: vec![],
        trained_at: String::new(),
    }
}

/// Fits an LDA on 60 s of the oddball (as `neuropipe train` does) and writes its model file.
fn trained_model() -> std::path::PathBuf {
    use neuropipe_stages::bci::model;
    let cfg = oddball(
        Some(60.0),
        json!({"id": "dec", "type": "TrainingSet", "params": {"name": "no-alloc"}}),
    );
    let set = collected(&cfg, "no-alloc");
    let set = set.lock().unwrap();
    let sig = model::Signature::of(set.stream.as_ref().unwrap());
    let m = neuropipe_dsp::decode::LdaModel::fit(&set.x, sig.features.len(), &set.y, 2).unwrap();
    let t = untrained();
    let path = std::env::temp_dir().join(format!("neuropipe-no-alloc-{}.json", std::process::id()));
    std::fs::write(
        &path,
        serde_json::to_string(&model::ModelFile::new(
            &model::Decoder::Lda(m),
            sig,
            vec![],
            t,
        ))
        .unwrap(),
    )
    .unwrap();
    path
}

fn epochs_decoded(h: &PipelineHandle) -> f64 {
    h.snapshot()
        .stages
        .iter()
        .find(|s| s.id == "dec")
        .map_or(0.0, |s| s.packets_out as f64)
}

/// With the oddball task on, markers flow: each costs its event (two strings, created by the
/// source and copied once by `Epoch` from the bus) and nothing else; cutting, baseline,
/// rejection, vectorising, decoding and sending cost nothing.
fn decoding_epochs_costs_nothing_beyond_the_markers() {
    let model = trained_model();
    let mut cfg = oddball(
        None,
        json!({"id": "dec", "type": "Lda", "params": {"model": model, "events": false}}),
    );
    cfg.stages.push(StageConfig {
        id: "eshow".into(),
        kind: "StdoutSummary".into(),
        params: json!({"interval_s": 3600}).as_object().unwrap().clone(),
        stream: None,
    });
    cfg.links.push(LinkConfig::new("dec", "eshow").unwrap());
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let c = allocations_while_running(pipeline, epochs_decoded, 200.0, 200.0);
    assert!(c.progress >= 200.0, "made progress: {} epochs", c.progress);
    // Markers in the count: the epochs decoded, plus those whose windows were still open at
    // either end of a 250 ms window (a stimulus every 0.25 s, epochs of 1 s: at most 5).
    let markers = c.progress + 2.0 * 6.0 * c.windows as f64;
    assert!(
        c.allocations as f64 <= 4.0 * markers,
        "{} allocations for {} epochs (at most 4 per marker: its event's two strings, and the copy read from the bus)",
        c.allocations,
        c.progress
    );
    println!(
        "{} allocations while {} epochs of 64 channels x 1001 frames were cut and decoded",
        c.allocations, c.progress
    );
}

/// The simulated motor-imagery task, 16 channels at 250 Hz: Epoch → Covariance (OAS) →
/// `Mdm`, and → `TangentSpace` → `Lda`, each decoder's stage named `dec` / `tsdec`.
fn motor_imagery(seconds: Option<f64>, tail: serde_json::Value) -> PipelineConfig {
    let mut stages = vec![
        json!({"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 16, "sample_rate": 250, "frames": 25, "realtime": false, "task": "motor_imagery", "trial_interval_s": 4.5}}),
        json!({"id": "volts", "type": "RawToVoltage"}),
        json!({"id": "ep", "type": "Epoch", "params": {"markers": ["left", "right"], "tmin": 0.5, "tmax": 3.5}}),
        json!({"id": "cov", "type": "Covariance", "params": {"estimator": "oas"}}),
    ];
    let mut links: Vec<String> = ["eeg -> volts", "volts -> ep", "ep -> cov"]
        .map(String::from)
        .to_vec();
    for s in tail["stages"].as_array().unwrap() {
        stages.push(s.clone());
    }
    for l in tail["links"].as_array().unwrap() {
        links.push(l.as_str().unwrap().to_string());
    }
    if let Some(s) = seconds {
        stages[0]["params"]["duration_s"] = s.into();
    }
    PipelineConfig::from_value(&json!({"stages": stages, "links": links})).unwrap()
}

/// Fits an MDM, a tangent space with an LDA after it, and CSP with a logistic regression
/// after it, on 10 minutes of the task (as `neuropipe train` does); writes the three model
/// files.
fn trained_riemannian_models() -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use neuropipe_dsp::decode::{CspModel, LdaModel, MdmModel, Spd, TangentSpaceModel};
    use neuropipe_stages::bci::{csp, model, tangent};
    let cfg = motor_imagery(
        Some(600.0),
        json!({"stages": [{"id": "dec", "type": "TrainingSet", "params": {"name": "no-alloc-riemann"}}], "links": ["cov -> dec"]}),
    );
    let set = collected(&cfg, "no-alloc-riemann");
    let set = set.lock().unwrap();
    let stream = set.stream.clone().unwrap();
    let t = untrained;
    let n = 16;
    let mdm = MdmModel::fit(&set.x, n, &set.y, 2).unwrap();
    let ts = TangentSpaceModel::fit(&set.x, n).unwrap();
    let mut spd = Spd::new(n);
    let q = ts.features();
    let mut feats = vec![0.0; set.y.len() * q];
    for (row, o) in set.x.chunks_exact(n * n).zip(feats.chunks_exact_mut(q)) {
        ts.transform_into(row, &mut spd, o).unwrap();
    }
    let lda = LdaModel::fit(&feats, q, &set.y, 2).unwrap();
    let dir = std::env::temp_dir();
    let id = std::process::id();
    let mdm_path = dir.join(format!("neuropipe-no-alloc-mdm-{id}.json"));
    let ts_path = dir.join(format!("neuropipe-no-alloc-ts-{id}.json"));
    let sig = model::Signature::of(&stream);
    let mdm_file = model::ModelFile::new(&model::Decoder::Mdm(mdm), sig.clone(), vec![], t());
    std::fs::write(&mdm_path, serde_json::to_string(&mdm_file).unwrap()).unwrap();
    let ts_file = model::ModelFile::new(
        &model::Decoder::Lda(lda),
        model::Signature::of(&tangent::output_stream(&stream, n)),
        vec![model::Transform::TangentSpace {
            input: sig,
            reference: ts.reference.clone(),
        }],
        t(),
    );
    std::fs::write(&ts_path, serde_json::to_string(&ts_file).unwrap()).unwrap();
    let cspm = CspModel::fit(&set.x, n, &set.y, 4).unwrap();
    let mut feats = vec![0.0; set.y.len() * 4];
    for (row, o) in set.x.chunks_exact(n * n).zip(feats.chunks_exact_mut(4)) {
        cspm.transform_into(row, o).unwrap();
    }
    let csp_lr = neuropipe_dsp::decode::fit_logistic(&feats, 4, &set.y, 2, 1.0).unwrap();
    let csp_path = dir.join(format!("neuropipe-no-alloc-csp-{id}.json"));
    let csp_file = model::ModelFile::new(
        &model::Decoder::LogisticRegression(csp_lr),
        model::Signature::of(&csp::output_stream(&stream, 4)),
        vec![model::Transform::Csp {
            input: model::Signature::of(&stream),
            filters: cspm.filters.clone(),
        }],
        t(),
    );
    std::fs::write(&csp_path, serde_json::to_string(&csp_file).unwrap()).unwrap();
    (mdm_path, ts_path, csp_path)
}

/// Covariances of motor-imagery epochs decoded by `Mdm`, by `TangentSpace` → `Lda` and by
/// `Csp` → `LogisticRegression`: each cue costs its marker's event and nothing else.
fn riemannian_decoding_costs_nothing_beyond_the_markers() {
    let (mdm, ts, csp) = trained_riemannian_models();
    let cfg = motor_imagery(
        None,
        json!({
            "stages": [
                {"id": "dec", "type": "Mdm", "params": {"model": mdm, "events": false}},
                {"id": "ts", "type": "TangentSpace", "params": {"model": ts}},
                {"id": "tsdec", "type": "Lda", "params": {"model": ts, "events": false}},
                {"id": "show1", "type": "StdoutSummary", "params": {"interval_s": 3600}},
                {"id": "show2", "type": "StdoutSummary", "params": {"interval_s": 3600}},
                {"id": "csp", "type": "Csp", "params": {"model": csp, "filters": 4}},
                {"id": "cspdec", "type": "LogisticRegression", "params": {"model": csp, "events": false}},
                {"id": "show3", "type": "StdoutSummary", "params": {"interval_s": 3600}}
            ],
            "links": ["cov -> dec", "cov -> ts", "ts -> tsdec", "dec -> show1", "tsdec -> show2", "cov -> csp", "csp -> cspdec", "cspdec -> show3"]
        }),
    );
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let c = allocations_while_running(pipeline, epochs_decoded, 100.0, 100.0);
    assert!(c.progress >= 100.0, "made progress: {} epochs", c.progress);
    // A cue every 4.5 s, epochs end 3.5 s after it: at most one open at either end of a window.
    let markers = c.progress + 2.0 * c.windows as f64;
    assert!(
        c.allocations as f64 <= 4.0 * markers,
        "{} allocations for {} epochs (at most 4 per marker)",
        c.allocations,
        c.progress
    );
    println!(
        "{} allocations while {} epochs of 16 channels were decoded by Mdm, TangentSpace + Lda and Csp + LogisticRegression",
        c.allocations, c.progress
    );
}

/// The simulated SSVEP task (4 occipital channels at 250 Hz) into `Cca` and `Fbcca`: each
/// cue costs its marker and nothing else.
fn ssvep_decoding_costs_nothing_beyond_the_markers() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"realtime": false, "frames": 25, "task": "ssvep", "trial_interval_s": 4.5}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "sel", "type": "SelectChannels", "params": {"channels": ["P7", "P8", "O1", "O2"]}},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["7.5Hz", "12Hz", "15Hz", "20Hz"], "tmin": 0.15, "tmax": 4.0}},
            {"id": "dec", "type": "Cca", "params": {"frequencies": [7.5, 12, 15, 20], "events": false}},
            {"id": "fb", "type": "Fbcca", "params": {"frequencies": [7.5, 12, 15, 20], "events": false}},
            {"id": "show1", "type": "StdoutSummary", "params": {"interval_s": 3600}},
            {"id": "show2", "type": "StdoutSummary", "params": {"interval_s": 3600}}
        ],
        "links": ["eeg -> volts", "volts -> sel", "sel -> ep", "ep -> dec", "ep -> fb", "dec -> show1", "fb -> show2"]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let c = allocations_while_running(pipeline, epochs_decoded, 100.0, 100.0);
    assert!(c.progress >= 100.0, "made progress: {} epochs", c.progress);
    let markers = c.progress + 2.0 * c.windows as f64;
    assert!(
        c.allocations as f64 <= 4.0 * markers,
        "{} allocations for {} epochs (at most 4 per marker)",
        c.allocations,
        c.progress
    );
    println!(
        "{} allocations while {} SSVEP epochs were decoded by Cca and Fbcca",
        c.allocations, c.progress
    );
}

/// `Onnx` (tract) on 4 x 50 epochs of the SSVEP task's cues: tract allocates per inference,
/// so this bounds the allocations per epoch (and checks none are per packet: the count
/// does not grow with the packets between cues).
fn onnx_allocates_per_epoch_only() {
    let model =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/epoch_linear.onnx");
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"realtime": false, "frames": 5, "task": "ssvep", "trial_interval_s": 4.5}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "sel", "type": "SelectChannels", "params": {"channels": ["P7", "P8", "O1", "O2"]}},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["7.5Hz", "12Hz", "15Hz"], "tmin": 0.0, "tmax": 0.196}},
            {"id": "dec", "type": "Onnx", "params": {"model": model, "events": false}},
            {"id": "show", "type": "StdoutSummary", "params": {"interval_s": 3600}}
        ],
        "links": ["eeg -> volts", "volts -> sel", "sel -> ep", "ep -> dec", "dec -> show"]
    }))
    .unwrap();
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let c = allocations_while_running(pipeline, epochs_decoded, 100.0, 100.0);
    assert!(c.progress >= 100.0, "made progress: {} epochs", c.progress);
    // Every cue is a marker (4 allocations), 3 in 4 are epochs; 225 packets of 5 frames pass
    // per cue, so one allocation per packet would show as 300 per epoch.
    let per_epoch = (c.allocations as f64
        - 4.0 * (4.0 / 3.0) * (c.progress + 2.0 * c.windows as f64))
        / c.progress;
    println!(
        "{} allocations while {} epochs went through Onnx: {per_epoch:.1} per epoch beyond the markers",
        c.allocations, c.progress
    );
    // Measured: 13 (tract's tensors for one run); bounded with room for its internals.
    assert!(per_epoch <= 30.0, "{per_epoch} allocations per epoch");
}

/// The speller (6 symbols, 64 channels at 1 kHz) into Epoch → Xdawn → Vectorize → `stage`
/// (a decoder and what follows it; links given by the caller).
fn speller(seconds: Option<f64>, tail: serde_json::Value, links: &[&str]) -> PipelineConfig {
    let mut v = json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg", "params": {"channels": 64, "sample_rate": 1000, "frames": 32, "realtime": false, "task": "p300", "p300_uv": 15, "speller_items": 6}},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "ep", "type": "Epoch", "params": {"markers": ["target", "nontarget"], "tmin": -0.2, "tmax": 0.8, "baseline": [-0.2, 0], "reject": ["EEG:1e6"]}}
        ],
        "links": ["eeg -> volts", "volts -> ep"]
    });
    if let Some(s) = seconds {
        v["stages"][0]["params"]["duration_s"] = s.into();
    }
    for t in tail.as_array().unwrap() {
        v["stages"].as_array_mut().unwrap().push(t.clone());
    }
    for l in links {
        v["links"].as_array_mut().unwrap().push(json!(l));
    }
    PipelineConfig::from_value(&v).unwrap()
}

/// Fits xDAWN (2 filters per class) and an LDA after it on 60 s of the speller (as
/// `neuropipe train` does) and writes their model file.
fn trained_speller_model() -> std::path::PathBuf {
    use neuropipe_dsp::decode::{LdaModel, XdawnModel};
    use neuropipe_stages::bci::vectorize::{Bins, VectorizeParams};
    use neuropipe_stages::bci::{model, xdawn};
    let cfg = speller(
        Some(60.0),
        json!([{"id": "set", "type": "TrainingSet", "params": {"name": "no-alloc-speller", "whole_epochs": true}}]),
        &["ep -> set"],
    );
    let set = collected(&cfg, "no-alloc-speller");
    let set = set.lock().unwrap();
    let stream = set.stream.clone().unwrap();
    let times = stream.epochs.as_ref().unwrap().times;
    let xd = XdawnModel::fit(&set.x, 64, times, &set.y, 2, 2).unwrap();
    let vp = VectorizeParams {
        decimate: 100,
        tmin: Some(0.0),
        tmax: None,
    };
    let (bins, features) = Bins::plan(&vp, &xdawn::output_stream(&stream, 2)).unwrap();
    let q = xd.outputs();
    let (mut filtered, mut row) = (vec![0.0; times * q], vec![0.0; q * bins.bins]);
    let mut x = vec![];
    for e in set.x.chunks_exact(times * 64) {
        xd.transform_into(e, &mut filtered);
        bins.apply(&filtered, q, &mut row);
        x.extend_from_slice(&row);
    }
    let lda = LdaModel::fit(&x, row.len(), &set.y, 2).unwrap();
    let t = untrained();
    let file = model::ModelFile::new(
        &model::Decoder::Lda(lda),
        model::Signature::of(&features),
        vec![model::Transform::Xdawn {
            input: model::Signature::of(&stream),
            filters: xd.filters().to_vec(),
        }],
        t,
    );
    let path = std::env::temp_dir().join(format!(
        "neuropipe-no-alloc-speller-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    path
}

/// The speller's flashes decoded and accumulated into selections: each marker (trial,
/// flash, target/nontarget) costs its event, read by two stages (Epoch, Accumulator); each
/// selection its event text; filtering, vectorising, decoding and accumulating nothing.
fn speller_costs_nothing_beyond_markers_and_selections() {
    let model = trained_speller_model();
    let cfg = speller(
        None,
        json!([
            {"id": "xd", "type": "Xdawn", "params": {"model": model, "filters": 2}},
            {"id": "feat", "type": "Vectorize", "params": {"tmin": 0, "decimate": 100}},
            {"id": "dec", "type": "Lda", "params": {"model": model, "events": false}},
            {"id": "acc", "type": "Accumulator", "params": {"items": ["A", "B", "C", "D", "E", "F"], "threshold": 0.99}},
            {"id": "show", "type": "StdoutSummary", "params": {"interval_s": 3600}}
        ]),
        &[
            "ep -> xd",
            "xd -> feat",
            "feat -> dec",
            "dec -> acc",
            "acc -> show",
        ],
    );
    let pipeline = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let handle = pipeline.handle();
    let c = allocations_while_running(pipeline, epochs_decoded, 200.0, 200.0);
    assert!(c.progress >= 200.0, "made progress: {} epochs", c.progress);
    let selections = handle
        .snapshot()
        .stages
        .iter()
        .find(|s| s.id == "acc")
        .map_or(0.0, |s| s.packets_out as f64);
    // Per flash two markers (flash:X, target/nontarget), per 60 flashes a trial marker; the
    // flashes decoded plus those still open at either end of a window (at most 6 each).
    let flashes = c.progress + 2.0 * 6.0 * c.windows as f64;
    let markers = 2.0 * flashes + flashes / 60.0 + 2.0;
    // A marker: two strings from the source, a copy (two strings) per reading stage.
    let bound = 6.0 * markers + 8.0 * (selections + 2.0);
    assert!(
        c.allocations as f64 <= bound,
        "{} allocations for {} epochs, {selections} selections (at most {bound})",
        c.allocations,
        c.progress
    );
    println!(
        "speller: {} allocations while {} epochs of 64 channels were filtered, decoded and accumulated ({selections} selections in the whole run)",
        c.allocations, c.progress
    );
}

#[test]
fn bci_stages_allocate_nothing_per_packet() {
    running_pipeline_allocates_nothing_per_packet();
    decoding_epochs_costs_nothing_beyond_the_markers();
    speller_costs_nothing_beyond_markers_and_selections();
    riemannian_decoding_costs_nothing_beyond_the_markers();
    ssvep_decoding_costs_nothing_beyond_the_markers();
    onnx_allocates_per_epoch_only();
}
