//! Cost of the simulated EEG signal per channel-sample (`SimulatedEeg`'s generator alone):
//! `cargo run --release -p neuropipe-stages --example sim_bench [-- CHANNELS SECONDS]`.
//! Prints one JSON line: channels, frames, ns per channel-sample (best of 7).

use neuropipe_stages::simulated::{default_labels, Generator, SignalModel};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let channels: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let seconds: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60.0);
    let model = SignalModel {
        rate: 1000.0,
        alpha_uv: 20.0,
        alpha_hz: 10.0,
        line_hz: 50.0,
        line_uv: 10.0,
        noise_uv: 8.0,
        drift_uv: 30.0,
        blink_interval_s: 6.0,
        blink_uv: 150.0,
        dc_offset_uv: 20_000.0,
    };
    let labels = default_labels(channels);
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let frames = (seconds * model.rate) as u64;
    let mut out = vec![0.0; channels];
    let mut best = f64::INFINITY;
    let mut check = 0.0;
    for _ in 0..7 {
        let mut g = Generator::new(model.clone(), &refs, 42);
        let t0 = Instant::now();
        for f in 0..frames {
            g.frame(f, &mut out);
            check += out[f as usize % channels];
        }
        let ns = t0.elapsed().as_nanos() as f64 / (frames as f64 * channels as f64);
        best = best.min(ns);
    }
    println!(
        "{{\"channels\": {channels}, \"frames\": {frames}, \"ns_per_sample\": {best:.2}, \"checksum\": {check:.3}}}"
    );
}
