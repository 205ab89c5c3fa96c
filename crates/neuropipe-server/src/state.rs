//! [`AppState`]: what every handler shares (the pipeline handle, options, token, shutdown,
//! signal hubs, the dashboard page).

use crate::hubs::Hubs;
use crate::{dashboard, ServerOptions};
use neuropipe_core::PipelineHandle;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Shared state of every handler.
#[derive(Clone)]
pub(crate) struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) handle: PipelineHandle,
    pub(crate) opts: ServerOptions,
    pub(crate) token: Option<String>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) hubs: Hubs,
    pub(crate) index_html: String,
}

impl AppState {
    pub(crate) fn new(
        handle: PipelineHandle,
        opts: ServerOptions,
        token: Option<String>,
        shutdown: CancellationToken,
    ) -> Self {
        AppState(Arc::new(Inner {
            handle,
            opts,
            token,
            shutdown,
            hubs: Hubs::default(),
            index_html: dashboard::index_html(),
        }))
    }
}
