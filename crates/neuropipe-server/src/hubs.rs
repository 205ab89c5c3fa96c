//! [`Hubs`]: one broadcast of tap packets per tapped output, shared by its dashboard clients.

use neuropipe_core::TapPacket;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Open hubs by canonical endpoint (`stage.port`).
#[derive(Default)]
pub(crate) struct Hubs(pub(crate) Mutex<HashMap<String, broadcast::Sender<Arc<TapPacket>>>>);
