//! A headless stand-in for one dashboard: subscribes to the same WebSocket streams the page
//! opens (signal at 250 frames/s, metrics, events) and reads them for SECONDS. Used by
//! `scripts/dashboard_cpu.sh` to measure what serving a dashboard costs the pipeline process.
//!
//! `cargo run --release -p neuropipe-server --example dashboard_client -- ADDR SECONDS [OUTPUT]`

use futures::StreamExt;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7878".into());
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let output = args
        .next()
        .map(|o| format!("output={o}&"))
        .unwrap_or_default();
    let (mut sig, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/ws/signal?{output}rate=250"))
            .await?;
    let (mut met, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/ws/metrics")).await?;
    let (mut ev, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/ws/events")).await?;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let (mut msgs, mut bytes, mut frames) = (0u64, 0u64, 0u64);
    loop {
        let m = tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => break,
            m = sig.next() => m,
            m = met.next() => m,
            m = ev.next() => m,
        };
        let Some(Ok(m)) = m else { break };
        msgs += 1;
        bytes += m.len() as u64;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(m.to_text().unwrap_or("")) {
            frames += v["frames"].as_array().map_or(0, |f| f.len() as u64);
        }
    }
    println!(
        "dashboard client: {msgs} messages, {:.0} KiB/s, {:.0} display frames/s",
        bytes as f64 / 1024.0 / secs,
        frames as f64 / secs
    );
    Ok(())
}
