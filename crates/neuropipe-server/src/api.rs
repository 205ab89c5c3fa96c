//! Routes, handlers and JSON errors of the control API.

use crate::error::ApiError;
use crate::state::AppState;
use crate::ws::{client_gone, send_text, upgrade};
use crate::{auth, prometheus, signal};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use neuropipe_core::{ControlMsg, PipelineDescription};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

type ApiResult = Result<Json<Value>, ApiError>;

type Route = (&'static str, Method, MethodRouter<AppState>);

/// Every route: path (axum syntax), method and handler. The router is built from this table,
/// and a test checks each appears in the OpenAPI document.
fn routes() -> Vec<Route> {
    vec![
        ("/", Method::GET, get(index)),
        ("/api/pipeline", Method::GET, get(get_pipeline)),
        ("/api/stages/{id}/pause", Method::POST, post(pause)),
        ("/api/stages/{id}/resume", Method::POST, post(resume)),
        ("/api/stages/{id}/params", Method::POST, post(set_param)),
        (
            "/api/stages/{id}/coefficients",
            Method::POST,
            post(set_coefficients),
        ),
        ("/api/stop", Method::POST, post(stop)),
        ("/api/markers", Method::POST, post(mark)),
        (
            "/api/recording",
            Method::GET,
            get(crate::recording::get_recording),
        ),
        (
            "/api/recording",
            Method::POST,
            post(crate::recording::set_recording),
        ),
        ("/api/metrics", Method::GET, get(metrics_json)),
        ("/metrics", Method::GET, get(metrics_prometheus)),
        ("/api/openapi.json", Method::GET, get(openapi)),
        ("/api/ws/signal", Method::GET, get(signal::ws_signal)),
        ("/api/ws/events", Method::GET, get(ws_events)),
        ("/api/ws/metrics", Method::GET, get(ws_metrics)),
    ]
}

/// `(method, path)` of every route the server answers, paths in OpenAPI syntax (`{id}`).
pub fn route_table() -> Vec<(String, String)> {
    routes()
        .into_iter()
        .map(|(p, m, _)| (m.to_string(), p.to_string()))
        .collect()
}

pub(crate) fn router(state: AppState) -> Router {
    let mut r: Router<AppState> = Router::new();
    for (path, _, handler) in routes() {
        r = r.route(path, handler);
    }
    r.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.0.opts.body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check,
        ))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {method} {} (see GET /api/openapi.json)",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    let allowed: Vec<String> = routes()
        .iter()
        .filter(|(p, _, _)| path_matches(p, uri.path()))
        .map(|(_, m, _)| m.to_string())
        .collect();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {method} not allowed on {} (allowed: {})",
            uri.path(),
            allowed.join(", ")
        ),
    )
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let (a, b): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(p, s)| p.starts_with('{') || p == s)
}

async fn index(State(s): State<AppState>) -> Html<String> {
    Html(s.0.index_html.clone())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response()
}

async fn get_pipeline(State(s): State<AppState>) -> Json<PipelineDescription> {
    Json(s.0.handle.describe())
}

fn stage_id(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

impl AppState {
    pub(crate) async fn control(&self, stage: &str, msg: ControlMsg) -> Result<Value, ApiError> {
        let t = self.0.opts.control_timeout;
        match tokio::time::timeout(t, self.0.handle.control(stage, msg)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "stage `{stage}` did not answer within {:.1} s (is the pipeline running?)",
                    t.as_secs_f64()
                ),
            )),
        }
    }
}

async fn pause(State(s): State<AppState>, p: Result<Path<String>, PathRejection>) -> ApiResult {
    let id = stage_id(p)?;
    let v = s.control(&id, ControlMsg::Pause).await?;
    Ok(Json(json!({ "stage": id, "applied": v })))
}

async fn resume(State(s): State<AppState>, p: Result<Path<String>, PathRejection>) -> ApiResult {
    let id = stage_id(p)?;
    let v = s.control(&id, ControlMsg::Resume).await?;
    Ok(Json(json!({ "stage": id, "applied": v })))
}

/// Parses a JSON request body into `T`, with readable 400/413 messages.
pub(crate) fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    expected: &str,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!("request body too large: the limit is {limit} bytes"),
            )
        } else {
            ApiError::new(
                status,
                format!("cannot read the request body: {}", e.body_text()),
            )
        }
    })?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the request body is empty: expected JSON {expected}"),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "invalid request",
            _ => "malformed JSON",
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{what}: {e} (expected {expected})"),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetParam {
    key: String,
    value: Value,
}

async fn set_param(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = stage_id(p)?;
    let req: SetParam = parse_body(body, r#"{"key": "...", "value": ...}"#, s.0.opts.body_limit)?;
    let v = s
        .control(&id, ControlMsg::UpdateParam(req.key.clone(), req.value))
        .await?;
    Ok(Json(json!({ "stage": id, "key": req.key, "applied": v })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetCoefficients {
    coefficients: Vec<f64>,
}

async fn set_coefficients(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = stage_id(p)?;
    let req: SetCoefficients =
        parse_body(body, r#"{"coefficients": [numbers]}"#, s.0.opts.body_limit)?;
    let n = req.coefficients.len();
    if n == 0 {
        // An empty update is Fatal for a FIR stage (it cannot filter with nothing): refuse it
        // here rather than let one request stop the pipeline.
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "coefficients: at least one coefficient is required (an empty update would stop the stage)",
        ));
    }
    let v = s
        .control(&id, ControlMsg::UpdateCoefficients(req.coefficients.into()))
        .await?;
    Ok(Json(json!({ "stage": id, "count": n, "applied": v })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mark {
    text: String,
}

/// An operator's marker, stamped at arrival; 422 if its text cannot be recorded as given.
async fn mark(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let req: Mark = parse_body(body, r#"{"text": "..."}"#, s.0.opts.body_limit)?;
    let ev =
        s.0.handle
            .mark(&req.text)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    Ok(Json(json!({ "text": ev.text, "time_ns": ev.time_ns })))
}

async fn stop(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    let h = &s.0.handle;
    h.stop();
    (
        StatusCode::ACCEPTED,
        Json(json!({ "stopping": true, "state": h.state() })),
    )
}

async fn metrics_json(State(s): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(s.0.handle.snapshot()).unwrap_or(Value::Null))
}

async fn metrics_prometheus(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        prometheus::render(&s.0.handle.snapshot()),
    )
        .into_response()
}

async fn ws_events(
    State(s): State<AppState>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = upgrade(ws)?;
    let mut rx = s.0.handle.events();
    let shutdown = s.0.shutdown.clone();
    Ok(ws.on_upgrade(move |mut socket| async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let text = tokio::select! {
                _ = shutdown.cancelled() => break,
                m = socket.recv() => if client_gone(m) { break } else { continue },
                ev = rx.recv() => match ev {
                    Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
                    Err(RecvError::Lagged(n)) => json!({
                        "kind": "lagged", "stage": "", "time_ns": 0,
                        "text": format!("this client was slow: {n} events skipped"),
                    }).to_string(),
                    Err(RecvError::Closed) => break,
                },
            };
            if !send_text(&mut socket, text).await {
                break;
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    }))
}

async fn ws_metrics(
    State(s): State<AppState>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = upgrade(ws)?;
    let st = s.clone();
    Ok(ws.on_upgrade(move |mut socket| async move {
        let mut tick = tokio::time::interval(st.0.opts.metrics_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = st.0.shutdown.cancelled() => break,
                m = socket.recv() => if client_gone(m) { break } else { continue },
                _ = tick.tick() => {}
            }
            let snap = st.0.handle.snapshot();
            let text = serde_json::to_string(&snap).unwrap_or_default();
            if !send_text(&mut socket, text).await {
                break;
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    }))
}
