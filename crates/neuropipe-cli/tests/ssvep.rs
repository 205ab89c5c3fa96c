//! The SSVEP pipeline as a user runs it (`pipelines/ssvep.json`, simulated session, no
//! training): CCA and filter-bank CCA pick the cued target far above chance with the
//! response on, at chance (1 in 4) with it off; the run summary says how many were right.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// Runs the repository's SSVEP pipeline on `seconds` of simulated signal as fast as possible,
/// with the response at `uv`; the decoders' (labelled, right) counts.
fn run(uv: f64, seconds: f64) -> Vec<(String, f64, f64)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("pipelines/ssvep.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let p = &mut v["stages"][0]["params"];
    p["ssvep_uv"] = uv.into();
    p["realtime"] = false.into();
    p["duration_s"] = seconds.into();
    let dir = std::env::temp_dir().join(format!("neuropipe-ssvep-{}-{uv}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pipe = dir.join("ssvep.json");
    std::fs::write(&pipe, v.to_string()).unwrap();
    let stats = dir.join("stats.json");
    let out = bin()
        .args([
            "run",
            pipe.to_str().unwrap(),
            "--stats-json",
            stats.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("labelled epochs right"), "{stderr}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|st| st["id"] == "cca" || st["id"] == "fbcca")
        .map(|st| {
            let r = &st["readouts"];
            let rows: Vec<&str> = r["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            let at = |name: &str| {
                r["values"][rows.iter().position(|x| *x == name).unwrap()][0]
                    .as_f64()
                    .unwrap()
            };
            (
                st["id"].as_str().unwrap().to_string(),
                at("(labelled)"),
                at("(right)"),
            )
        })
        .collect()
}

#[test]
fn ssvep_targets_are_found_far_above_chance_and_at_chance_without_a_response() {
    // 300 s: a cue every 6 s from 2 s, epochs ending 4 s after it: 49 trials. Seeded:
    // CCA 100 %, FBCCA 94 % at 3 µV; 20 % and 27 % at 0 µV (chance: 25 %).
    for (uv, lo, hi) in [(3.0, 0.85, 1.0), (0.0, 0.05, 0.45)] {
        let got = run(uv, 300.0);
        assert_eq!(got.len(), 2);
        for (id, labelled, right) in got {
            assert_eq!(labelled, 49.0, "{id}: every trial decoded");
            let acc = right / labelled;
            assert!((lo..=hi).contains(&acc), "{id} at {uv} µV: {acc}");
        }
    }
}
