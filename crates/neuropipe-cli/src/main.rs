//! `neuropipe`: run, validate and inspect real-time EEG pipelines.
//!
//! Exit codes: 0 the pipeline finished or was stopped (duration, Ctrl-C/SIGTERM); 1 a stage
//! failed (the message names it); 2 the command line, the pipeline file or a recording path
//! is invalid (every problem is listed).

#![forbid(unsafe_code)]

mod ctl;
mod record;
mod status;
mod token;
mod top;
mod train;

use clap::{Parser, Subcommand};
use neuropipe_core::{ConfigErrors, Outcome, Pipeline, PipelineConfig, Registry};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Longest `--duration` accepted (about 31 years).
const MAX_DURATION_S: f64 = 1e9;

/// The built-in default pipeline (`neuropipe run` with no file).
const DEFAULT_PIPELINE: &str = include_str!("../../../pipelines/default.json");

#[derive(Parser)]
#[command(
    name = "neuropipe",
    version,
    about = "Real-time EEG / biosignal pipelines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline (the built-in default if no file is given) until it ends, the duration
    /// passes, or Ctrl-C.
    Run {
        /// Pipeline JSON file.
        pipeline: Option<PathBuf>,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECONDS")]
        duration: Option<f64>,
        /// Record the processed output to FILE (.edf, .bdf, .csv or .xdf; may hold `{date}`,
        /// `{time}`, `{n}`). Recording can be stopped and started again while the pipeline
        /// runs (dashboard, `neuropipe ctl record`), each time into a new file.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// With --record: attach the recorder but start idle; record when asked (the
        /// dashboard's Record button, `neuropipe ctl record start`, POST /api/recording).
        #[arg(long, requires = "record")]
        record_idle: bool,
        /// Serve the control API and dashboard on ADDR (default 127.0.0.1:7878).
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:7878")]
        serve: Option<String>,
        /// Token clients of `--serve` must present (required off loopback, and on loopback
        /// with --require-token: generated and printed if not given).
        #[command(flatten)]
        token: token::TokenArgs,
        /// Require the token on loopback too (other local users then cannot control the
        /// session).
        #[arg(long, requires = "serve")]
        require_token: bool,
        /// A second, read-only token for observers (dashboard, `top`, metrics scrapers), read
        /// from FILE (owner-only permissions; default: $NEUROPIPE_READ_TOKEN): it may watch,
        /// never control.
        #[arg(long, value_name = "FILE", requires = "serve")]
        read_token_file: Option<PathBuf>,
        /// Write the final per-stage metrics as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        stats_json: Option<PathBuf>,
        /// Worker threads to run the stages on (overrides the pipeline's "threads"; default:
        /// one per CPU). 1 is the cheapest for a paced pipeline: each packet then goes through
        /// the whole chain on one thread.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: Option<u16>,
        /// No live status line.
        #[arg(long)]
        quiet: bool,
        /// Let recorders replace existing files (by default a run refuses to start rather
        /// than overwrite a recording; or name files with `{date}`, `{time}`, `{n}`).
        #[arg(long)]
        overwrite: bool,
    },
    /// Check a pipeline file and report every problem at once. Offline and cheap: opens no
    /// serial port, resolves no LSL stream, creates no file.
    Validate {
        /// Pipeline JSON file.
        file: PathBuf,
        /// Also check devices and streams: open serial ports, resolve LSL streams (as `run`
        /// does), then release them.
        #[arg(long)]
        probe: bool,
    },
    /// List stage types with their ports and parameters.
    Stages {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of pipeline files.
    Schema,
    /// Control a pipeline running with `--serve`: print the server's JSON reply (errors go to
    /// stderr with exit code 1).
    Ctl(ctl::CtlArgs),
    /// Live per-stage metrics of a pipeline running with `--serve` (like `htop`).
    Top(top::TopArgs),
    /// Fit the pipeline's decoder (`Lda`) on labelled data (recordings, or its simulated
    /// source), print the cross-validated accuracy, and write the model file it loads.
    Train(train::TrainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut registry = neuropipe_stages::registry();
    neuropipe_lsl::register(&mut registry);
    neuropipe_brainflow::register(&mut registry);
    match cli.command {
        Command::Run {
            pipeline,
            duration,
            record,
            record_idle,
            serve,
            token,
            require_token,
            read_token_file,
            stats_json,
            threads,
            quiet,
            overwrite,
        } => run(
            &registry,
            RunArgs {
                pipeline,
                duration,
                record,
                record_idle,
                serve,
                token,
                require_token,
                read_token_file,
                stats_json,
                threads,
                quiet,
                overwrite,
            },
        ),
        Command::Ctl(args) => ctl::main(args),
        Command::Top(args) => top::main(args),
        Command::Train(args) => train::main(&registry, args),
        Command::Validate { file, probe } => validate(&registry, &file, probe),
        Command::Stages { json } => print_out(&stages(&registry, json)),
        Command::Schema => {
            let schema = neuropipe_core::schema::pipeline_schema(&registry);
            print_out(&(serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"))
        }
    }
}

struct RunArgs {
    pipeline: Option<PathBuf>,
    duration: Option<f64>,
    record: Option<PathBuf>,
    record_idle: bool,
    serve: Option<String>,
    token: token::TokenArgs,
    require_token: bool,
    read_token_file: Option<PathBuf>,
    stats_json: Option<PathBuf>,
    threads: Option<u16>,
    quiet: bool,
    overwrite: bool,
}

/// The pipeline file (its relative paths then resolve against its directory), or the
/// built-in default.
fn load(path: Option<&Path>) -> Result<PipelineConfig, String> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            let cfg = PipelineConfig::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(cfg.located_at(p))
        }
        None => PipelineConfig::parse(DEFAULT_PIPELINE)
            .map_err(|e| format!("built-in default pipeline: {e}")),
    }
}

fn report_invalid(name: &str, e: &ConfigErrors) -> ExitCode {
    eprint!("{name}: {e}");
    ExitCode::from(2)
}

fn validate(registry: &Registry, file: &Path, probe: bool) -> ExitCode {
    let cfg = match load(Some(file)) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let checked = if probe {
        Pipeline::build(&cfg, registry).map(drop)
    } else {
        neuropipe_core::validate(&cfg, registry)
    };
    match checked {
        Ok(()) => {
            println!(
                "{}: ok ({} stages, {} links)",
                file.display(),
                cfg.stages.len(),
                cfg.links.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => report_invalid(&file.display().to_string(), &e),
    }
}

/// Writes to stdout; a closed pipe (`neuropipe stages | head`) is not an error.
fn print_out(text: &str) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("cannot write to stdout: {e}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}

fn stages(registry: &Registry, json: bool) -> String {
    use std::fmt::Write;
    if json {
        let specs: Vec<_> = registry.specs().collect();
        return serde_json::to_string_pretty(&specs).unwrap_or_default() + "\n";
    }
    let mut o = String::new();
    for s in registry.specs() {
        let _ = writeln!(o, "{}  —  {}", s.type_name, s.summary);
        for p in &s.inputs {
            let _ = writeln!(
                o,
                "    in  {:<10} {:<5} {}",
                p.name,
                p.payload.text(),
                p.doc
            );
        }
        for p in &s.outputs {
            let _ = writeln!(
                o,
                "    out {:<10} {:<5} {}",
                p.name,
                p.payload.text(),
                p.doc
            );
        }
        for p in &s.params {
            let default = match (&p.default, p.optional) {
                (Some(d), _) => format!("default {d}"),
                (None, true) => "optional".to_string(),
                (None, false) => "required".to_string(),
            };
            let _ = writeln!(
                o,
                "    {:<18} {:<28} {:<16}{} {}",
                p.name,
                p.type_text(),
                default,
                if p.live { " live" } else { "     " },
                p.doc
            );
        }
        let _ = writeln!(o);
    }
    o
}

fn run(registry: &Registry, args: RunArgs) -> ExitCode {
    let name = args
        .pipeline
        .as_ref()
        .map_or("built-in default pipeline".to_string(), |p| {
            p.display().to_string()
        });
    let mut cfg = match load(args.pipeline.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let duration = match args.duration {
        Some(d) if d.is_finite() && d > 0.0 && d <= MAX_DURATION_S => {
            Some(Duration::from_secs_f64(d))
        }
        Some(d) => {
            eprintln!("--duration must be a number of seconds in (0, {MAX_DURATION_S:e}], got {d}");
            return ExitCode::from(2);
        }
        None => None,
    };
    let serve_addr = match args.serve.as_deref().map(parse_serve_addr).transpose() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("--serve: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.record {
        if let Err(e) = record::attach(&mut cfg, registry, path, !args.record_idle) {
            eprintln!("--record {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if args.overwrite {
        record::allow_overwrite(&mut cfg, registry);
    }
    let pipeline = match Pipeline::build(&cfg, registry) {
        Ok(p) => p,
        Err(e) => return report_invalid(&name, &e),
    };
    let threads = args.threads.map(usize::from).or(cfg.threads);
    let rt = match neuropipe_core::build_runtime(threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let handle = pipeline.handle();
    // The control plane on a runtime of its own (lower priority): observers never compete
    // with the stages for the pipeline's worker threads.
    let server = match serve_addr {
        None => None,
        Some(addr) => {
            let token = match args.token.resolve() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("--serve: {e}");
                    return ExitCode::from(2);
                }
            };
            let read_token = match token::read_only(args.read_token_file.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("--serve: {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = neuropipe_server::ServerOptions {
                token,
                require_token: args.require_token,
                read_token,
                ..Default::default()
            };
            match neuropipe_server::serve_isolated(handle.clone(), addr, opts) {
                Ok(s) => {
                    if let (true, Some(t)) = (s.token_generated(), s.token()) {
                        eprintln!("token (generated): {t}");
                        // Opening this once sets a cookie and takes the token out of the URL.
                        eprintln!("dashboard: http://{}/?token={t}", s.addr());
                    }
                    // Last: the server is ready.
                    eprintln!("serving http://{}", s.addr());
                    Some(s)
                }
                Err(e) => {
                    eprintln!("--serve: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let report = rt.block_on(async move {
        spawn_signal_handler(handle.clone());
        if let Some(d) = duration {
            let h = handle.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                h.stop();
            });
        }
        let status = (!args.quiet && status::stderr_is_terminal())
            .then(|| tokio::spawn(status::live_status(handle.clone())));
        let report = pipeline.run().await;
        if let Some(s) = status {
            s.abort();
            status::clear_line();
        }
        report
    });
    if let Some(s) = server {
        s.shutdown();
    }
    eprint!("{}", status::summary_table(&report.snapshot));
    if let Some(path) = &args.stats_json {
        let text = serde_json::to_string_pretty(&report.snapshot).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("cannot write --stats-json {}: {e}", path.display());
        }
    }
    match report.outcome {
        Outcome::Finished => ExitCode::SUCCESS,
        Outcome::Failed { stage, message } => {
            eprintln!("error: stage `{stage}` failed: {message}");
            ExitCode::from(1)
        }
    }
}

/// `--serve` address: `HOST:PORT` (names resolved, e.g. `localhost:7878`) or a bare `PORT`
/// (on 127.0.0.1).
fn parse_serve_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(port) = s.parse::<u16>() {
        return Ok(([127, 0, 0, 1], port).into());
    }
    s.to_socket_addrs()
        .map_err(|e| format!("bad address `{s}`: {e} (expected HOST:PORT, e.g. 127.0.0.1:7878)"))?
        .next()
        .ok_or_else(|| format!("address `{s}` resolves to nothing"))
}

/// First SIGINT/SIGTERM: graceful stop (drain + flush). Second: exit at once with 130.
fn spawn_signal_handler(handle: neuropipe_core::PipelineHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot install signal handlers; Ctrl-C will kill the process");
            return;
        };
        for n in 0.. {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            if n == 0 {
                tracing::info!(
                    "stopping: draining queues and flushing sinks (Ctrl-C again to abort)"
                );
                handle.stop();
            } else {
                eprintln!("aborted");
                std::process::exit(130);
            }
        }
    });
}
