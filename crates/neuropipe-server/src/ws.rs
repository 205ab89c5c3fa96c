//! Request helpers shared by the WebSocket and query-string routes: rejections as JSON
//! errors, sending text, noticing a closed client.

use crate::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::Query;
use axum::http::StatusCode;

/// The common rejection of WebSocket routes: not an upgrade request → 400 JSON.
pub(crate) fn upgrade(
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    ws.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("this is a WebSocket endpoint: {}", e.body_text()),
        )
    })
}

/// Maps a query-string rejection to a 400 JSON error.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad query string: {}", e.body_text()),
        )
    })
}

/// Sends `text`; false if the client is gone.
pub(crate) async fn send_text(socket: &mut WebSocket, text: String) -> bool {
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// Whether the client closed the socket (or it failed).
pub(crate) fn client_gone(msg: Option<Result<Message, axum::Error>>) -> bool {
    matches!(msg, None | Some(Err(_)) | Some(Ok(Message::Close(_))))
}
