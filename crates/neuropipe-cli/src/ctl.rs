//! `neuropipe ctl`: the control API from the command line.

use clap::{Args, Subcommand};
use neuropipe_server::client;
use std::process::ExitCode;

/// Arguments of `neuropipe ctl`.
#[derive(Args)]
pub struct CtlArgs {
    /// Server address (HOST:PORT).
    #[arg(long, value_name = "ADDR", default_value = neuropipe_server::DEFAULT_ADDR, global = true)]
    addr: String,
    /// Token, if the server requires one (default: $NEUROPIPE_TOKEN).
    #[command(flatten)]
    token: crate::token::TokenArgs,
    /// Print the server's JSON reply as it is (`get` otherwise prints a summary table).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Describe the pipeline: state, stages with their live parameters, links (a table;
    /// `--json` for everything: parameter specs, pools, outputs).
    Get,
    /// Pause a stage.
    Pause {
        /// Stage id.
        stage: String,
    },
    /// Resume a stage.
    Resume {
        /// Stage id.
        stage: String,
    },
    /// Set a live parameter: VALUE is JSON (`2.5`, `true`, `"text"`); anything that is not
    /// JSON is sent as a string.
    Set {
        /// Stage id.
        stage: String,
        /// Parameter name.
        key: String,
        /// New value (JSON).
        value: String,
    },
    /// Put a marker in the recording(s) and on the dashboard, stamped now (e.g. `mark
    /// "eyes closed"`).
    Mark {
        /// Marker text (at most 200 bytes, no control characters).
        text: String,
    },
    /// Recording at run time: `start` (a new file each time, named from the recorder's path
    /// template), `stop` (the file is completed and closed), or `status` (the default: each
    /// recorder's file, duration and size).
    Record {
        /// start, stop or status.
        #[arg(value_parser = ["start", "stop", "status"], default_value = "status")]
        what: String,
        /// Only this recorder (default: every recorder of the pipeline).
        #[arg(long)]
        stage: Option<String>,
    },
    /// Stop the pipeline gracefully (drain + flush).
    Stop,
    /// Metrics snapshot as JSON.
    Metrics,
}

/// Runs `neuropipe ctl`.
pub fn main(args: CtlArgs) -> ExitCode {
    let token = match args.token.resolve() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // A stage id as one path segment.
    let enc = |s: &str| -> String {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let (method, path, body) = match &args.action {
        Action::Get => ("GET", "/api/pipeline".to_string(), None),
        Action::Pause { stage } => ("POST", format!("/api/stages/{}/pause", enc(stage)), None),
        Action::Resume { stage } => ("POST", format!("/api/stages/{}/resume", enc(stage)), None),
        Action::Set { stage, key, value } => {
            let v = serde_json::from_str::<serde_json::Value>(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.clone()));
            let body = serde_json::json!({ "key": key, "value": v }).to_string();
            (
                "POST",
                format!("/api/stages/{}/params", enc(stage)),
                Some(body),
            )
        }
        Action::Mark { text } => (
            "POST",
            "/api/markers".to_string(),
            Some(serde_json::json!({ "text": text }).to_string()),
        ),
        Action::Record { what, .. } if what == "status" => {
            ("GET", "/api/recording".to_string(), None)
        }
        Action::Record { what, stage } => {
            let mut body = serde_json::json!({ "recording": what == "start" });
            if let Some(s) = stage {
                body["stage"] = serde_json::Value::from(s.clone());
            }
            ("POST", "/api/recording".to_string(), Some(body.to_string()))
        }
        Action::Stop => ("POST", "/api/stop".to_string(), None),
        Action::Metrics => ("GET", "/api/metrics".to_string(), None),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let addr = args.addr.clone();
    let resp = rt.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            client::request(&addr, method, &path, token.as_deref(), body.as_deref()),
        )
        .await
    });
    match resp {
        Err(_) => {
            eprintln!("error: no answer from {addr} within 10 s");
            ExitCode::from(1)
        }
        Ok(Err(e)) => {
            eprintln!("error: cannot reach neuropipe at {addr}: {e} (is `neuropipe run --serve` running?)");
            ExitCode::from(1)
        }
        Ok(Ok(r)) if r.is_success() => {
            let v = r.json();
            if matches!(args.action, Action::Get) && !args.json {
                print!("{}", summary(&v));
            } else {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).unwrap_or(r.body.clone())
                );
            }
            ExitCode::SUCCESS
        }
        Ok(Ok(r)) => {
            let msg = r.json()["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| r.body.clone());
            eprintln!("error ({}): {msg}", r.status);
            if r.status == 401 {
                eprintln!(
                    "hint: give the server's token with --token-file FILE, ${} or --token TOKEN",
                    crate::token::ENV
                );
            }
            ExitCode::from(1)
        }
    }
}

/// `ctl get` for people: the pipeline's state, each stage with its state and live parameter
/// values, and each link's queue and drops.
fn summary(p: &serde_json::Value) -> String {
    use std::fmt::Write;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    };
    let mut o = String::new();
    let _ = writeln!(o, "{}: {}", text(&p["name"]), text(&p["state"]));
    if let Some((stage, message)) = p["failure"]["stage"]
        .as_str()
        .zip(p["failure"]["message"].as_str())
    {
        let _ = writeln!(o, "failed: stage `{stage}`: {message}");
    }
    let _ = writeln!(
        o,
        "\n{:<16} {:<18} {:<10} live parameters",
        "stage", "type", "state"
    );
    for s in p["stages"].as_array().into_iter().flatten() {
        let live: Vec<String> = s["param_specs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|spec| spec["live"] == true)
            .filter_map(|spec| spec["name"].as_str())
            .map(|k| format!("{k}={}", text(&s["params"][k])))
            .collect();
        let _ = writeln!(
            o,
            "{:<16} {:<18} {:<10} {}",
            text(&s["id"]),
            text(&s["type"]),
            text(&s["state"]),
            live.join(" ")
        );
    }
    let _ = writeln!(
        o,
        "\n{:<32} {:<12} {:>8} {:>8} {:>8}",
        "link", "policy", "sent", "dropped", "queue"
    );
    for l in p["links"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "{:<32} {:<12} {:>8} {:>8} {:>8}",
            format!("{} -> {}", text(&l["from"]), text(&l["to"])),
            text(&l["policy"]),
            text(&l["sent"]),
            text(&l["dropped"]),
            format!("{}/{}", text(&l["depth"]), text(&l["capacity"]))
        );
    }
    o
}
