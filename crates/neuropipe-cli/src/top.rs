//! `neuropipe top`: a live terminal view of per-stage metrics of a pipeline running with
//! `--serve`, polling `GET /api/metrics` (plain ANSI, no extra dependencies).

use clap::Args;
use neuropipe_server::client;
use serde_json::Value;
use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `neuropipe top`.
#[derive(Args)]
pub struct TopArgs {
    /// Server address (HOST:PORT).
    #[arg(long, value_name = "ADDR", default_value = neuropipe_server::DEFAULT_ADDR)]
    addr: String,
    /// Token, if the server requires one (default: $NEUROPIPE_TOKEN).
    #[command(flatten)]
    token: crate::token::TokenArgs,
    /// Refresh interval in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    interval: f64,
    /// Print N views (no screen clearing), then exit.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

fn ns(v: &Value) -> String {
    match v.as_f64() {
        None => "–".into(),
        Some(x) if x < 1e6 => format!("{:.0} µs", x / 1e3),
        Some(x) => format!("{:.2} ms", x / 1e6),
    }
}

/// Renders one view from two snapshots `dt` seconds apart.
fn render(addr: &str, m: &Value, prev: Option<&Value>) -> String {
    let mut o = String::new();
    let dt = prev
        .and_then(|p| Some(m["elapsed_s"].as_f64()? - p["elapsed_s"].as_f64()?))
        .filter(|d| *d > 0.0);
    let _ = writeln!(
        o,
        "neuropipe top — {addr} — {} — {:.1} s",
        m["state"].as_str().unwrap_or("?"),
        m["elapsed_s"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        o,
        "\n{:<14} {:<18} {:<9} {:>9} {:>10} {:>10} {:>8} {:>7} {:>7}",
        "STAGE", "TYPE", "STATE", "FRAMES/S", "LAT p50", "LAT p99", "QUEUE", "DROPS", "CPU"
    );
    let empty = vec![];
    let links = m["links"].as_array().unwrap_or(&empty);
    for s in m["stages"].as_array().unwrap_or(&empty) {
        let id = s["id"].as_str().unwrap_or("");
        let old = prev.and_then(|p| {
            p["stages"]
                .as_array()?
                .iter()
                .find(|x| x["id"] == s["id"])
                .cloned()
        });
        let frames = |x: &Value| {
            let f = x["frames_out"].as_u64().unwrap_or(0);
            if f > 0 {
                f
            } else {
                x["frames_in"].as_u64().unwrap_or(0)
            }
        };
        let (rate, cpu) = match (&old, dt) {
            (Some(old), Some(dt)) => (
                format!("{:.0}", (frames(s).saturating_sub(frames(old))) as f64 / dt),
                format!(
                    "{:.1}%",
                    s["busy_ns"]
                        .as_u64()
                        .unwrap_or(0)
                        .saturating_sub(old["busy_ns"].as_u64().unwrap_or(0))
                        as f64
                        / 1e9
                        / dt
                        * 100.0
                ),
            ),
            _ => ("–".into(), "–".into()),
        };
        let stage_of = |e: &Value| e.as_str().unwrap_or("").split('.').next() == Some(id);
        let queue: Vec<String> = links
            .iter()
            .filter(|l| stage_of(&l["to"]))
            .map(|l| format!("{}/{}", l["depth"], l["capacity"]))
            .collect();
        let drops: u64 = links
            .iter()
            .filter(|l| stage_of(&l["from"]))
            .map(|l| l["dropped"].as_u64().unwrap_or(0))
            .sum();
        let _ = writeln!(
            o,
            "{:<14} {:<18} {:<9} {:>9} {:>10} {:>10} {:>8} {:>7} {:>7}",
            id,
            s["type"].as_str().unwrap_or(""),
            s["state"].as_str().unwrap_or(""),
            rate,
            ns(&s["latency_p50_ns"]),
            ns(&s["latency_p99_ns"]),
            if queue.is_empty() {
                "–".into()
            } else {
                queue.join(" ")
            },
            drops,
            cpu
        );
    }
    let _ = writeln!(
        o,
        "\n{:<12} {:>8} {:>10} {:>8} {:>11}",
        "POOL", "IN USE", "HIGH WATER", "WAITS", "EXHAUSTIONS"
    );
    for p in m["pools"].as_array().unwrap_or(&empty) {
        let _ = writeln!(
            o,
            "{:<12} {:>8} {:>10} {:>8} {:>11}",
            p["name"].as_str().unwrap_or(""),
            format!("{}/{}", p["in_use"], p["count"]),
            p["high_water"].to_string(),
            p["waits"].to_string(),
            p["exhaustions"].to_string()
        );
    }
    o
}

/// Runs `neuropipe top`.
pub fn main(args: TopArgs) -> ExitCode {
    let token = match args.token.resolve() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if !(args.interval.is_finite() && (0.05..=3600.0).contains(&args.interval)) {
        eprintln!("--interval must be between 0.05 and 3600 s");
        return ExitCode::from(2);
    }
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
    rt.block_on(async {
        let mut prev: Option<Value> = None;
        let mut shown = 0u64;
        loop {
            let r = client::request(&args.addr, "GET", "/api/metrics", token.as_deref(), None).await;
            let m = match r {
                Ok(r) if r.is_success() => r.json(),
                Ok(r) => {
                    let e = r.json();
                    eprintln!("error ({}): {}", r.status, e["error"].as_str().unwrap_or(&r.body));
                    return ExitCode::from(1);
                }
                Err(e) if prev.is_some() => {
                    eprintln!("connection to {} closed ({e}): the pipeline ended", args.addr);
                    return ExitCode::SUCCESS;
                }
                Err(e) => {
                    eprintln!("error: cannot reach neuropipe at {}: {e} (is `neuropipe run --serve` running?)", args.addr);
                    return ExitCode::from(1);
                }
            };
            let view = render(&args.addr, &m, prev.as_ref());
            if args.count.is_some() {
                println!("{view}");
            } else {
                print!("\x1b[H\x1b[2J{view}");
                let _ = std::io::Write::flush(&mut std::io::stdout());
            }
            shown += 1;
            if args.count.is_some_and(|n| shown >= n) {
                return ExitCode::SUCCESS;
            }
            prev = Some(m);
            tokio::time::sleep(Duration::from_secs_f64(args.interval)).await;
        }
    })
}
