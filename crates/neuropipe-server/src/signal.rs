//! `/api/ws/signal`: one [`SignalTap`](neuropipe_core::SignalTap) per output, shared by every
//! client through a broadcast channel (a lagging client skips packets, never blocks anyone),
//! decimated per client to the display rate it asked for.

use crate::error::ApiError;
use crate::state::AppState;
use crate::ws::{client_gone, query, send_text, upgrade};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use neuropipe_core::{StreamInfo, TapError, TapPacket};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Tap packets buffered per output for slow clients before they skip.
const HUB_DEPTH: usize = 64;
/// Longest a client's decimated frames wait before being sent.
const FLUSH: Duration = Duration::from_millis(40);

#[derive(Deserialize)]
pub(crate) struct SignalQuery {
    output: Option<String>,
    rate: Option<f64>,
}

/// Resolves `stage.port` or `stage` to a canonical endpoint and its stream.
fn resolve(s: &AppState, output: Option<&str>) -> Result<(String, StreamInfo), ApiError> {
    let h = &s.0.handle;
    let outputs = h.outputs();
    let not_found = |what: String| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{what} (outputs: {})", outputs.join(", ")),
        )
    };
    let endpoint = match output {
        None => outputs
            .last()
            .cloned()
            .ok_or_else(|| not_found("the pipeline has no outputs".into()))?,
        Some(o) if outputs.iter().any(|x| x == o) => o.to_string(),
        Some(o) => {
            let mut m = outputs
                .iter()
                .filter(|x| x.split('.').next() == Some(o) && !o.contains('.'));
            match (m.next(), m.next()) {
                (Some(x), None) => x.clone(),
                _ => return Err(not_found(format!("no output `{o}`"))),
            }
        }
    };
    let stage = endpoint.split('.').next().unwrap_or("");
    let index = outputs
        .iter()
        .filter(|x| x.split('.').next() == Some(stage))
        .position(|x| *x == endpoint)
        .unwrap_or(0);
    let info = h
        .output_streams(stage)
        .and_then(|v| v.into_iter().nth(index))
        .ok_or_else(|| not_found(format!("no stream information for `{endpoint}`")))?;
    Ok((endpoint, info))
}

/// Subscribes to the hub of `endpoint`, opening its tap if nobody listens yet.
fn subscribe(
    s: &AppState,
    endpoint: &str,
) -> Result<broadcast::Receiver<Arc<TapPacket>>, ApiError> {
    let mut hubs = s.0.hubs.0.lock().map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "signal hub lock poisoned",
        )
    })?;
    if let Some(tx) = hubs.get(endpoint) {
        return Ok(tx.subscribe());
    }
    let mut tap = s.0.handle.tap(endpoint).map_err(|e| {
        let status = match e {
            TapError::UnknownOutput { .. } => StatusCode::NOT_FOUND,
            TapError::AlreadyTapped { .. } => StatusCode::CONFLICT,
        };
        ApiError::new(status, e.to_string())
    })?;
    let (tx, rx) = broadcast::channel(HUB_DEPTH);
    hubs.insert(endpoint.to_string(), tx.clone());
    let st = s.clone();
    let key = endpoint.to_string();
    tokio::spawn(async move {
        loop {
            let p = tokio::select! {
                _ = st.0.shutdown.cancelled() => break,
                p = tap.next() => p,
            };
            let Some(p) = p else { break };
            if tx.send(Arc::new(p)).is_err() {
                // Nobody listens any more: close the tap unless a client subscribed meanwhile.
                if let Ok(mut hubs) = st.0.hubs.0.lock() {
                    if tx.receiver_count() == 0 {
                        hubs.remove(&key);
                        drop(tap); // closed before another client can open it again
                        return;
                    }
                }
            }
        }
        if let Ok(mut hubs) = st.0.hubs.0.lock() {
            hubs.remove(&key);
            drop(tap);
        }
    });
    Ok(rx)
}

pub(crate) async fn ws_signal(
    State(s): State<AppState>,
    q: Result<Query<SignalQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let rate = q.rate.unwrap_or(250.0);
    if !(rate.is_finite() && rate > 0.0 && rate <= 100_000.0) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`rate` must be a number of frames per second in (0, 100000], got {rate}"),
        ));
    }
    let (endpoint, info) = resolve(&s, q.output.as_deref())?;
    let ws = upgrade(ws)?;
    let rx = subscribe(&s, &endpoint)?;
    let shutdown = s.0.shutdown.clone();
    Ok(ws.on_upgrade(move |socket| async move {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = stream(socket, rx, endpoint, info, rate) => {}
        }
    }))
}

struct Pending {
    first_frame: u64,
    timestamp_ns: u64,
    frames: Vec<Vec<f64>>,
}

async fn stream(
    mut socket: WebSocket,
    mut rx: broadcast::Receiver<Arc<TapPacket>>,
    endpoint: String,
    info: StreamInfo,
    rate: f64,
) {
    use broadcast::error::RecvError;
    let sr = info.sample_rate;
    let k = ((sr / rate).round() as u64).max(1);
    let labels: Vec<&str> = info.labels();
    let units: Vec<&str> = info.channels.iter().map(|c| c.unit.as_str()).collect();
    let mut skipped: u64 = 0;
    let mut pending: Option<Pending> = None;
    let mut last_flush = Instant::now();
    let mut tick = tokio::time::interval(FLUSH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let pkt = tokio::select! {
            m = socket.recv() => if client_gone(m) { break } else { continue },
            _ = tick.tick() => None,
            p = rx.recv() => match p {
                Ok(p) => Some(p),
                Err(RecvError::Lagged(n)) => { skipped += n; continue }
                Err(RecvError::Closed) => break,
            },
        };
        if let Some(p) = pkt {
            let ch = (p.header.channels as usize).max(1);
            let n = p.samples.len() / ch;
            for i in 0..n {
                let f = p.header.first_frame + i as u64;
                if !f.is_multiple_of(k) {
                    continue;
                }
                let pend = pending.get_or_insert_with(|| Pending {
                    first_frame: f,
                    timestamp_ns: p.header.timestamp + (i as f64 * 1e9 / sr) as u64,
                    frames: Vec::new(),
                });
                pend.frames.push(
                    p.samples[i * ch..(i + 1) * ch]
                        .iter()
                        .map(|x| (x * 1000.0).round() / 1000.0)
                        .collect(),
                );
            }
        }
        if last_flush.elapsed() < FLUSH {
            continue;
        }
        if let Some(pend) = pending.take() {
            last_flush = Instant::now();
            let msg = json!({
                "output": endpoint,
                "first_frame": pend.first_frame,
                "timestamp_ns": pend.timestamp_ns,
                "sample_rate": sr / k as f64,
                "source_rate": sr,
                "decimation": k,
                "channels": labels.len(),
                "labels": labels,
                "units": units,
                "skipped": skipped,
                "frames": pend.frames,
            });
            if !send_text(&mut socket, msg.to_string()).await {
                return;
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
