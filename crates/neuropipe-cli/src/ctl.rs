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
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Describe the pipeline (stages, parameters, links, pools, state).
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
            println!(
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or(r.body.clone())
            );
            ExitCode::SUCCESS
        }
        Ok(Ok(r)) => {
            let msg = r.json()["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| r.body.clone());
            eprintln!("error ({}): {msg}", r.status);
            ExitCode::from(1)
        }
    }
}
