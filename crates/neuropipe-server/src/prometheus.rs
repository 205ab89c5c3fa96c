//! `/metrics`: the pipeline snapshot in Prometheus text exposition format 0.0.4.

use neuropipe_core::{PipelineSnapshot, PipelineState, StageState};
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        let _ = writeln!(self.0, "{name}{{{}}} {v}", l.join(","));
    }
}

/// Renders `snap` as Prometheus text.
pub(crate) fn render(snap: &PipelineSnapshot) -> String {
    let mut o = Out(String::new());
    pipeline(&mut o, snap);
    stages(&mut o, snap);
    readouts(&mut o, snap);
    links(&mut o, snap);
    pools(&mut o, snap);
    o.0
}

/// `neuropipe_pipeline_*`: state and elapsed time.
fn pipeline(o: &mut Out, snap: &PipelineSnapshot) {
    o.family(
        "neuropipe_pipeline_up",
        "gauge",
        "1 while the pipeline runs, by state",
    );
    for st in PipelineState::ALL {
        let v = if snap.state == st { 1.0 } else { 0.0 };
        o.sample("neuropipe_pipeline_up", &[("state", st.name())], v);
    }
    o.family(
        "neuropipe_pipeline_elapsed_seconds",
        "gauge",
        "seconds since the pipeline started",
    );
    o.sample("neuropipe_pipeline_elapsed_seconds", &[], snap.elapsed_s);
}

/// `neuropipe_stage_*`: counters, busy time, pause state and sink latency per stage.
fn stages(o: &mut Out, snap: &PipelineSnapshot) {
    type StageField = fn(&neuropipe_core::StageSnapshot) -> u64;
    let stage_counters: [(&str, &str, StageField); 7] = [
        ("packets_in", "packets received", |s| s.packets_in),
        ("frames_in", "frames received", |s| s.frames_in),
        ("packets_out", "packets sent", |s| s.packets_out),
        ("frames_out", "frames sent", |s| s.frames_out),
        ("runs", "calls of the stage's run", |s| s.runs),
        ("bad_params", "rejected control messages", |s| s.bad_params),
        ("latency_count", "packets with a recorded latency", |s| {
            s.latency_count
        }),
    ];
    for (name, help, f) in stage_counters {
        let full = format!("neuropipe_stage_{name}_total");
        o.family(&full, "counter", help);
        for s in &snap.stages {
            o.sample(&full, &[("stage", &s.id), ("type", &s.kind)], f(s) as f64);
        }
    }
    o.family(
        "neuropipe_stage_busy_seconds_total",
        "counter",
        "time spent inside run, not counting waits",
    );
    for s in &snap.stages {
        o.sample(
            "neuropipe_stage_busy_seconds_total",
            &[("stage", &s.id), ("type", &s.kind)],
            s.busy_ns as f64 / 1e9,
        );
    }
    o.family(
        "neuropipe_stage_paused",
        "gauge",
        "1 if the stage is paused",
    );
    for s in &snap.stages {
        o.sample(
            "neuropipe_stage_paused",
            &[("stage", &s.id), ("state", s.state.name())],
            if s.state == StageState::Paused {
                1.0
            } else {
                0.0
            },
        );
    }
    o.family(
        "neuropipe_stage_latency_seconds",
        "gauge",
        "end-to-end latency from source emission to this sink, by quantile",
    );
    for s in &snap.stages {
        for (q, v) in [
            ("0.5", s.latency_p50_ns),
            ("0.99", s.latency_p99_ns),
            ("1", s.latency_max_ns),
        ] {
            if let Some(v) = v {
                o.sample(
                    "neuropipe_stage_latency_seconds",
                    &[("stage", &s.id), ("quantile", q)],
                    v as f64 / 1e9,
                );
            }
        }
    }
}

/// `neuropipe_readout_*`: the figures stages publish (e.g. `neuropipe_readout_rms` per
/// channel of a `SignalQuality` stage), one family per column name, labelled by stage and
/// row; a column of flags gives one 0/1 sample per flag (label `flag`). Unmeasured values are
/// left out.
fn readouts(o: &mut Out, snap: &PipelineSnapshot) {
    // Column name → (help, samples), so that stages sharing a column share one family.
    type Samples = Vec<(Vec<(String, String)>, f64)>;
    let mut families: std::collections::BTreeMap<String, (String, Samples)> = Default::default();
    for s in &snap.stages {
        let Some(r) = &s.readouts else { continue };
        for (c, col) in r.columns.iter().enumerate() {
            let help = if col.unit.is_empty() {
                col.doc.to_string()
            } else {
                format!("{} ({})", col.doc, col.unit)
            };
            let fam = families
                .entry(format!("neuropipe_readout_{}", col.name))
                .or_insert_with(|| (help, vec![]));
            for (row, values) in r.rows.iter().zip(&r.values) {
                let Some(v) = values.get(c).copied().flatten() else {
                    continue;
                };
                let base = vec![
                    ("stage".to_string(), s.id.clone()),
                    ("type".to_string(), s.kind.clone()),
                    ("row".to_string(), row.clone()),
                ];
                if col.flags.is_empty() {
                    fam.1.push((base, v));
                } else {
                    let set = col.flag_names(v);
                    for f in col.flags {
                        let mut l = base.clone();
                        l.push(("flag".to_string(), f.to_string()));
                        fam.1.push((l, if set.contains(f) { 1.0 } else { 0.0 }));
                    }
                }
            }
        }
    }
    for (name, (help, samples)) in families {
        o.family(&name, "gauge", &help);
        for (labels, v) in samples {
            let l: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (&**k, &**v)).collect();
            o.sample(&name, &l, v);
        }
    }
}

/// `neuropipe_link_*`: queue counters and gauges per link.
fn links(o: &mut Out, snap: &PipelineSnapshot) {
    type LinkField = fn(&neuropipe_core::LinkSnapshot) -> u64;
    let link_metrics: [(&str, &str, &str, LinkField); 6] = [
        ("sent_total", "counter", "packets enqueued", |l| l.sent),
        (
            "received_total",
            "counter",
            "packets taken by the consumer",
            |l| l.received,
        ),
        (
            "dropped_total",
            "counter",
            "packets dropped by a leaky policy",
            |l| l.dropped,
        ),
        (
            "send_waits_total",
            "counter",
            "sends that waited for room",
            |l| l.send_waits,
        ),
        ("depth", "gauge", "packets queued now", |l| l.depth as u64),
        ("high_water", "gauge", "deepest the queue has been", |l| {
            l.high_water as u64
        }),
    ];
    for (name, kind, help, f) in link_metrics {
        let full = format!("neuropipe_link_{name}");
        o.family(&full, kind, help);
        for l in &snap.links {
            o.sample(
                &full,
                &[("from", &l.from), ("to", &l.to), ("policy", &l.policy)],
                f(l) as f64,
            );
        }
    }
    o.family(
        "neuropipe_link_capacity",
        "gauge",
        "queue capacity in packets",
    );
    for l in &snap.links {
        o.sample(
            "neuropipe_link_capacity",
            &[("from", &l.from), ("to", &l.to), ("policy", &l.policy)],
            l.capacity as f64,
        );
    }
}

/// `neuropipe_pool_*`: lease counters per memory pool.
fn pools(o: &mut Out, snap: &PipelineSnapshot) {
    type PoolField = fn(&neuropipe_core::PoolSnapshot) -> u64;
    let pool_metrics: [(&str, &str, &str, PoolField); 6] = [
        ("packets", "gauge", "packets in the pool", |p| {
            p.count as u64
        }),
        ("in_use", "gauge", "packets leased now", |p| p.in_use as u64),
        ("high_water", "gauge", "most packets leased at once", |p| {
            p.high_water as u64
        }),
        ("acquired_total", "counter", "total leases", |p| p.acquired),
        (
            "exhaustions_total",
            "counter",
            "try_acquire calls finding it empty",
            |p| p.exhaustions,
        ),
        ("waits_total", "counter", "acquire calls that waited", |p| {
            p.waits
        }),
    ];
    for (name, kind, help, f) in pool_metrics {
        let full = format!("neuropipe_pool_{name}");
        o.family(&full, kind, help);
        for p in &snap.pools {
            o.sample(&full, &[("pool", &p.name)], f(p) as f64);
        }
    }
}
