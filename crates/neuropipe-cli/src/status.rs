//! The live one-line status on a terminal and the summary table at exit.

use neuropipe_core::{PipelineHandle, PipelineSnapshot};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// Whether stderr is a terminal (the status line is only drawn there).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Erases the status line.
pub fn clear_line() {
    eprint!("\r\x1b[2K");
}

fn ms(ns: Option<u64>) -> String {
    ns.map_or("-".into(), |n| format!("{:.2}", n as f64 / 1e6))
}

/// Redraws a one-line status every second: source rate, sink latency, drops, pool pressure.
pub async fn live_status(handle: PipelineHandle) {
    let mut prev: Option<(f64, u64)> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = handle.stopping() => {
                clear_line();
                return;
            }
        }
        let s = handle.snapshot();
        let src_frames: u64 = s
            .stages
            .iter()
            .filter(|st| st.packets_in == 0)
            .map(|st| st.frames_out)
            .sum();
        let rate = match prev {
            Some((t, f)) if s.elapsed_s > t => (src_frames - f) as f64 / (s.elapsed_s - t),
            _ => 0.0,
        };
        prev = Some((s.elapsed_s, src_frames));
        let worst = s
            .stages
            .iter()
            .filter(|st| st.latency_count > 0)
            .max_by_key(|st| st.latency_p99_ns);
        let lat = worst.map_or("latency -".into(), |w| {
            format!(
                "latency p50 {} ms p99 {} ms",
                ms(w.latency_p50_ns),
                ms(w.latency_p99_ns)
            )
        });
        let waits: u64 = s.pools.iter().map(|p| p.waits + p.exhaustions).sum();
        eprint!(
            "\r\x1b[2K{:>7.1}s  {:>8.1} frames/s  {}  drops {}  pool waits {}  [{}]",
            s.elapsed_s,
            rate,
            lat,
            s.total_dropped(),
            waits,
            s.state
        );
        let _ = std::io::stderr().flush();
    }
}

/// Per-stage, per-link and per-pool table printed when the pipeline ends.
pub fn summary_table(s: &PipelineSnapshot) -> String {
    let mut o = String::new();
    let secs = s.elapsed_s.max(1e-9);
    let _ = writeln!(o, "\npipeline ran {:.2} s — {}", s.elapsed_s, s.state);
    let _ = writeln!(
        o,
        "{:<14} {:<16} {:<9} {:>9} {:>9} {:>10} {:>10} {:>6} {:>9} {:>9} {:>9}",
        "stage",
        "type",
        "state",
        "pkts in",
        "pkts out",
        "frames in",
        "frames out",
        "busy%",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    for st in &s.stages {
        let _ = writeln!(
            o,
            "{:<14} {:<16} {:<9} {:>9} {:>9} {:>10} {:>10} {:>6.2} {:>9} {:>9} {:>9}",
            st.id,
            st.kind,
            st.state,
            st.packets_in,
            st.packets_out,
            st.frames_in,
            st.frames_out,
            st.busy_ns as f64 / 1e9 / secs * 100.0,
            ms(st.latency_p50_ns),
            ms(st.latency_p99_ns),
            ms(st.latency_max_ns),
        );
    }
    let _ = writeln!(
        o,
        "{:<28} {:<11} {:>9} {:>8} {:>9} {:>10}",
        "link", "policy", "sent", "dropped", "max depth", "send waits"
    );
    for l in &s.links {
        let _ = writeln!(
            o,
            "{:<28} {:<11} {:>9} {:>8} {:>6}/{:<3} {:>9}",
            format!("{} -> {}", l.from, l.to),
            l.policy,
            l.sent,
            l.dropped,
            l.high_water,
            l.capacity,
            l.send_waits
        );
    }
    let _ = writeln!(
        o,
        "{:<14} {:>6} {:>10} {:>12} {:>6}",
        "pool", "count", "max in use", "exhaustions", "waits"
    );
    for p in &s.pools {
        let _ = writeln!(
            o,
            "{:<14} {:>6} {:>10} {:>12} {:>6}",
            p.name, p.count, p.high_water, p.exhaustions, p.waits
        );
    }
    // What stages report in their own words (epochs cut and dropped, the file recorded).
    for st in &s.stages {
        if let Some(r) = st.readouts.as_ref().filter(|r| !r.status.is_empty()) {
            let _ = writeln!(o, "{}: {}", st.id, r.status);
        }
    }
    o
}
