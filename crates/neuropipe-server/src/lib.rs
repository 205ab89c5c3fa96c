//! # neuropipe-server
//!
//! The control plane of a running neuropipe pipeline over HTTP and WebSocket, and the live web
//! dashboard, served by one [axum](https://docs.rs/axum) server. [`serve`] runs it on the
//! caller's tokio runtime; [`serve_isolated`] (what `neuropipe run --serve` uses) on a runtime
//! of its own at a lower scheduling priority, so that no number of clients slows the stages:
//!
//! * a JSON API to describe the pipeline, pause / resume stages, set live parameters, replace
//!   coefficients and stop the pipeline gracefully (every error is `{"error": "..."}` with a
//!   4xx status, or 504 when a stage does not answer in time);
//! * metrics as JSON (`/api/metrics`) and in Prometheus text format (`/metrics`);
//! * WebSocket streams of a signal decimated for display (`/api/ws/signal`), of pipeline
//!   events (`/api/ws/events`) and of metrics (`/api/ws/metrics`) — observers never slow the
//!   pipeline: signals come through the core's leaky [`SignalTap`](neuropipe_core::SignalTap),
//!   shared between clients by a broadcast channel whose slow receivers skip packets;
//! * the OpenAPI 3 document ([`OPENAPI`], served at `/api/openapi.json`);
//! * the dashboard page at `/` (HTML, CSS and JS embedded in the binary).
//!
//! Security: loopback by default. A non-loopback address (or [`ServerOptions::require_token`])
//! requires a bearer token, given or generated, checked on every request and WebSocket
//! (`Authorization: Bearer T` or `?token=T`). Request bodies are limited
//! ([`ServerOptions::body_limit`]); no CORS headers are sent, cross-origin requests carrying an
//! `Origin` header are refused, and without a token only loopback `Host` names are accepted
//! (DNS-rebinding defence).
#![warn(unreachable_pub)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod api;
mod auth;
pub mod client;
mod dashboard;
mod error;
mod hubs;
mod isolated;
mod prometheus;
mod recording;
mod signal;
mod state;
mod ws;

use neuropipe_core::PipelineHandle;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use api::route_table;
pub use isolated::{serve_isolated, IsolatedServer};

/// The address `neuropipe run --serve` uses when none is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// The OpenAPI 3 document of the server (also served at `GET /api/openapi.json`).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Options of [`serve`].
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The bearer token clients must present. `None`: no token on a loopback address, a
    /// generated one otherwise (see [`ServerHandle::token`]).
    pub token: Option<String>,
    /// Require a token even on a loopback address (generated if [`token`](Self::token) is
    /// `None`).
    pub require_token: bool,
    /// A second, read-only token: it may watch (every `GET`, the WebSockets, the dashboard)
    /// but not control (`POST`: 403). Setting it requires a token; the control token is
    /// generated if none is given.
    pub read_token: Option<String>,
    /// Largest accepted request body in bytes (larger: 413).
    pub body_limit: usize,
    /// How long to wait for a stage to answer a control message (then 504).
    pub control_timeout: Duration,
    /// Interval of `/api/ws/metrics` updates.
    pub metrics_interval: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            token: None,
            require_token: false,
            read_token: None,
            body_limit: 64 * 1024,
            control_timeout: Duration::from_secs(5),
            metrics_interval: Duration::from_millis(500),
        }
    }
}

/// Why the server could not start.
#[derive(thiserror::Error, Debug)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The token given is unusable.
    #[error("invalid token: {0}")]
    BadToken(String),
    /// Another I/O problem (e.g. no randomness for a token, or no threads for the server's
    /// runtime).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A usable token: not blank, no spaces or control characters.
fn check_token(t: &str, what: &str) -> Result<(), ServerError> {
    if t.trim().is_empty() {
        return Err(ServerError::BadToken(format!("the {what} is empty")));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ServerError::BadToken(format!(
            "the {what} must not contain spaces or control characters"
        )));
    }
    Ok(())
}

/// A running server: its address and token; [`shutdown`](Self::shutdown) stops it.
pub struct ServerHandle {
    addr: SocketAddr,
    token: Option<String>,
    token_generated: bool,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl ServerHandle {
    /// The address the server listens on (with the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The token clients must present, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
    /// Whether the token was generated by [`serve`] (so the caller should show it).
    pub fn token_generated(&self) -> bool {
        self.token_generated
    }
    /// Stops accepting connections, closes WebSocket streams and waits (at most 3 s) for open
    /// requests to finish.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(3), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Starts the control server for `handle` on `addr`, on the current tokio runtime, and returns
/// once it listens. Bind errors are returned (not logged and ignored).
pub async fn serve(
    handle: PipelineHandle,
    addr: SocketAddr,
    opts: ServerOptions,
) -> Result<ServerHandle, ServerError> {
    let need_token = opts.require_token || opts.read_token.is_some() || !addr.ip().is_loopback();
    if let Some(t) = &opts.read_token {
        check_token(t, "read-only token")?;
    }
    let (token, token_generated) = match &opts.token {
        Some(t) => {
            check_token(t, "token")?;
            (Some(t.clone()), false)
        }
        None if need_token => (Some(auth::generate_token()?), true),
        None => (None, false),
    };
    if opts.read_token.is_some() && opts.read_token == token {
        return Err(ServerError::BadToken(
            "the read-only token must differ from the control token".into(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let state = state::AppState::new(handle, opts, token.clone(), shutdown.clone());
    let app = api::router(state);
    let sd = shutdown.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { sd.cancelled().await })
            .await
    });
    tracing::debug!(%local, "control server listening");
    Ok(ServerHandle {
        addr: local,
        token,
        token_generated,
        shutdown,
        task,
    })
}
