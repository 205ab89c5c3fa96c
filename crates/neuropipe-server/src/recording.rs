//! `GET`/`POST /api/recording`: the pipeline's recorders, started and stopped at run time.
//!
//! A recorder is a stage with a live `recording` parameter (`EdfRecorder`, `BdfRecorder`,
//! `CsvRecorder`, and the one `neuropipe run --record FILE` attaches). Starting makes a new file
//! each time (named from the recorder's path template); stopping completes and closes it. The
//! state of each (file, duration, size) comes from the recorder's readouts.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use neuropipe_core::{ControlMsg, PipelineHandle};
use serde::Deserialize;
use serde_json::{json, Value};

/// Ids of the stages that can record on demand.
fn recorders(h: &PipelineHandle) -> Vec<String> {
    h.describe()
        .stages
        .into_iter()
        .filter(|s| {
            s.param_specs
                .iter()
                .any(|p| p.name == "recording" && p.live)
        })
        .map(|s| s.id)
        .collect()
}

/// Each recorder's state: `{stage, recording, file, duration_s, size_bytes, files}`.
fn status(h: &PipelineHandle, ids: &[String]) -> Vec<Value> {
    let snap = h.snapshot();
    ids.iter()
        .map(|id| {
            let r = snap
                .stages
                .iter()
                .find(|s| &s.id == id)
                .and_then(|s| s.readouts.clone());
            let v = |col: &str| r.as_ref().and_then(|r| r.value("file", col));
            json!({
                "stage": id,
                "recording": v("recording") == Some(1.0),
                "file": r.as_ref().map(|r| r.status.clone()).filter(|f| !f.is_empty()),
                "duration_s": v("duration"),
                "size_bytes": v("size"),
                "files": v("files"),
            })
        })
        .collect()
}

fn no_recorder() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "the pipeline has no recorder: run it with --record FILE (add --record-idle to start without recording), or add an EdfRecorder/BdfRecorder/CsvRecorder stage",
    )
}

/// `GET /api/recording`.
pub(crate) async fn get_recording(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let ids = recorders(&s.0.handle);
    Ok(Json(json!({ "recorders": status(&s.0.handle, &ids) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRecording {
    recording: bool,
    #[serde(default)]
    stage: Option<String>,
}

/// `POST /api/recording` `{"recording": true|false, "stage"?: id}`: starts (a new file) or
/// stops every recorder, or the one named.
pub(crate) async fn set_recording(
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let req: SetRecording = crate::api::parse_body(
        body,
        r#"{"recording": true|false, "stage": "id" (optional)}"#,
        s.0.opts.body_limit,
    )?;
    let all = recorders(&s.0.handle);
    if all.is_empty() {
        return Err(no_recorder());
    }
    let ids = match req.stage {
        Some(id) if all.contains(&id) => vec![id],
        Some(id) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "`{id}` is not a recorder (recorders: {}){}",
                    all.join(", "),
                    neuropipe_core::suggestion(&id, all.iter().map(String::as_str))
                ),
            ))
        }
        None => all,
    };
    let mut replies = vec![];
    for id in &ids {
        let msg = ControlMsg::UpdateParam("recording".into(), Value::Bool(req.recording));
        let v = s.control(id, msg).await?;
        replies.push(json!({ "stage": id, "applied": v }));
    }
    Ok(Json(json!({ "recorders": replies })))
}
