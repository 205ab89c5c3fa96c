//! What the control plane reports about a filter matches what it does: `Pause` bypasses it
//! (`enabled` reads false), `Resume` filters again (`enabled` reads true).

use neuropipe_core::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_of_a_filter_show_in_enabled() {
    let cfg = PipelineConfig::from_value(&json!({
        "stages": [
            {"id": "eeg", "type": "SimulatedEeg"},
            {"id": "volts", "type": "RawToVoltage"},
            {"id": "bp", "type": "Bandpass"},
            {"id": "check", "type": "ContinuityCheck"}
        ],
        "links": ["eeg -> volts", "volts -> bp", "bp -> check"]
    }))
    .unwrap();
    let p = Pipeline::build(&cfg, &neuropipe_stages::registry()).unwrap();
    let h = p.handle();
    let run = tokio::spawn(p.run());
    let enabled = |h: &PipelineHandle| {
        let d = serde_json::to_value(h.describe()).unwrap();
        let bp = d["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "bp")
            .unwrap()
            .clone();
        (bp["params"]["enabled"].clone(), bp["state"].clone())
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.pause("bp").await, Ok(json!("bypassed")));
    assert_eq!(
        enabled(&h),
        (json!(false), json!("running")),
        "bypassing, still running"
    );
    assert_eq!(h.resume("bp").await, Ok(json!("filtering")));
    assert_eq!(enabled(&h).0, json!(true));
    assert_eq!(
        h.set_param("bp", "enabled", json!(false)).await,
        Ok(json!(false))
    );
    assert_eq!(enabled(&h).0, json!(false));
    assert_eq!(h.resume("bp").await, Ok(json!("filtering")));
    assert_eq!(enabled(&h).0, json!(true));
    h.stop();
    assert_eq!(run.await.unwrap().outcome, Outcome::Finished);
}
