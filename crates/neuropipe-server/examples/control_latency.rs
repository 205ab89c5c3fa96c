//! Control round-trip latency: HTTP request → runtime check → stage applies the parameter →
//! reply, measured from a client on loopback (a new TCP connection per request, as `neuropipe
//! ctl` does) against a running 64 ch × 1 kHz pipeline.
//!
//! `cargo run --release -p neuropipe-server --example control_latency [-- REQUESTS]`

use neuropipe_core::{Pipeline, PipelineConfig};
use neuropipe_server::{client, serve, ServerOptions};
use std::time::Instant;

const PIPELINE: &str = r#"{
  "name": "latency",
  "stages": [
    { "id": "eeg", "type": "SimulatedEeg", "params": { "channels": 64, "sample_rate": 1000, "frames": 10 } },
    { "id": "volts", "type": "RawToVoltage" },
    { "id": "gain", "type": "Gain" },
    { "id": "check", "type": "ContinuityCheck" }
  ],
  "links": [ "eeg.out -> volts.in", "volts.out -> gain.in", "gain.out -> check.in" ]
}"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let cfg = PipelineConfig::parse(PIPELINE)?;
    let p = Pipeline::build(&cfg, &neuropipe_stages::registry())?;
    let h = p.handle();
    let server = serve(h.clone(), "127.0.0.1:0".parse()?, ServerOptions::default()).await?;
    let addr = server.addr().to_string();
    let run = tokio::spawn(p.run());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut http = Vec::with_capacity(n);
    let mut direct = Vec::with_capacity(n);
    for i in 0..n {
        let body = format!(r#"{{"key":"gain","value":{}}}"#, 1.0 + (i % 7) as f64);
        let t = Instant::now();
        let r =
            client::request(&addr, "POST", "/api/stages/gain/params", None, Some(&body)).await?;
        http.push(t.elapsed().as_secs_f64() * 1e6);
        if r.status != 200 {
            return Err(format!("unexpected reply {}: {}", r.status, r.body).into());
        }
        let t = Instant::now();
        h.set_param("gain", "gain", serde_json::json!(1.0)).await?;
        direct.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        format!(
            "median {:7.1} µs  p99 {:7.1} µs  max {:7.1} µs",
            q(0.5),
            q(0.99),
            q(1.0)
        )
    };
    println!("{n} parameter updates on a running 64 ch × 1 kHz pipeline:");
    println!(
        "  HTTP round trip (new TCP connection each): {}",
        stats(&mut http)
    );
    println!(
        "  PipelineHandle::set_param (no HTTP):       {}",
        stats(&mut direct)
    );
    h.stop();
    run.await?;
    server.shutdown().await;
    Ok(())
}
