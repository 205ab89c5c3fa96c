//! [`serve_isolated`]: the server on a runtime of its own, so that observing never slows the
//! data plane.
//!
//! The pipeline's stages run on the host's runtime. Served from that same runtime, a flood of
//! HTTP clients would compete with the stages for its worker threads (50 clients polling
//! `GET /api/pipeline` once raised a sink's p99 latency from 0.46 ms to 238 ms). Here the
//! server gets its own single-threaded-worker runtime whose threads run at a lower scheduling
//! priority (nice +10 on Linux and other Unix systems; elsewhere the default), so under load
//! the OS gives the CPU to the stages first. Requests reach the pipeline only through the
//! [`PipelineHandle`]: atomics for metrics, bounded channels for control messages, leaky taps
//! for signals — nothing a stage waits on.

use crate::{serve, ServerError, ServerHandle, ServerOptions};
use neuropipe_core::PipelineHandle;
use std::net::SocketAddr;
use std::time::Duration;

/// Niceness of the server's threads: below the pipeline's, never above.
const SERVER_NICE: i32 = 10;

/// A server running on its own runtime at a lower priority (see [`serve_isolated`]).
pub struct IsolatedServer {
    rt: tokio::runtime::Runtime,
    handle: ServerHandle,
}

/// Starts the server for `pipeline` on `addr` on a runtime of its own. Call it outside any
/// async context (it blocks until the server listens); stop it with
/// [`IsolatedServer::shutdown`].
pub fn serve_isolated(
    pipeline: PipelineHandle,
    addr: SocketAddr,
    opts: ServerOptions,
) -> Result<IsolatedServer, ServerError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(2)
        .thread_name("neuropipe-http")
        .on_thread_start(lower_priority)
        .enable_all()
        .build()?;
    let handle = rt.block_on(serve(pipeline, addr, opts))?;
    Ok(IsolatedServer { rt, handle })
}

impl IsolatedServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// The token clients must present, if any.
    pub fn token(&self) -> Option<&str> {
        self.handle.token()
    }

    /// Whether the token was generated (so the caller should show it).
    pub fn token_generated(&self) -> bool {
        self.handle.token_generated()
    }

    /// Stops the server (closing its WebSockets) and its runtime. Call it outside any async
    /// context.
    pub fn shutdown(self) {
        let IsolatedServer { rt, handle } = self;
        rt.block_on(handle.shutdown());
        rt.shutdown_timeout(Duration::from_secs(2));
    }
}

/// Lowers the calling thread's scheduling priority to [`SERVER_NICE`] (best effort: a
/// failure leaves the default priority).
fn lower_priority() {
    #[cfg(unix)]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), SERVER_NICE) {
            tracing::debug!("server thread priority unchanged: {e}");
        }
    }
}
