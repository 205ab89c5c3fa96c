//! `LslOutlet`: publishes an f32 stream on the Lab Streaming Layer.
//!
//! * Metadata: stream name (default: the input stream's name), type (default `EEG`), source id
//!   (default `neuropipe-<stage id>`), nominal rate, and `desc/channels/channel/{label,unit,
//!   type}` from the input stream info; the device's `desc/manufacturer` and its source id
//!   as `desc/upstream_source_id` (the outlet keeps its own source id: an inlet re-resolving
//!   the device by its id must never connect to this relay instead).
//! * Data: each packet is pushed as one chunk (`lsl_push_chunk_ftp`, push-through), stamped
//!   with the packet's capture time mapped onto the LSL clock: `lsl = pipeline_s + offset`,
//!   `offset = local_clock() − pipeline_now` measured when the stage is built.
//! * Threading: liblsl outlets are not `Send` and pushes may block, so a
//!   [`BlockingWorker`] thread creates, uses and drops the outlet. `run` hands it the packets
//!   themselves (zero copy; the buffer returns to its pool when the thread has pushed it); at
//!   most `DATA_SLOTS` packets are in flight (an async semaphore the thread refills), the rest
//!   of the job channel is kept for markers: a slow thread is backpressure, never an
//!   allocation or a dropped packet.
//! * `markers: true` adds a one-channel string outlet `<name>-markers` (type `Markers`,
//!   irregular rate) publishing every pipeline event (markers as their text; other events as
//!   `<kind> <stage>: <text>`), stamped with the event time.
//! * `wait_for_consumer_s` > 0: the thread waits up to that long for an inlet before pushing
//!   the first chunk (meanwhile packets queue up and backpressure reaches the source, whose
//!   timestamps stay those of acquisition), so a consumer started together with the pipeline
//!   receives every sample.
//! * End of stream: the thread pushes what is queued, then — if inlets are connected — keeps
//!   the outlet open for `linger_s` (liblsl discards data still queued for a consumer when an
//!   outlet is destroyed), then drops it.

use crate::ffi::{self, ChannelMeta, Format};
use neuropipe_core::blocking::{BlockingWorker, TrySend, WorkerLink};
use neuropipe_core::prelude::*;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Packets in flight between `run` and the outlet thread.
const DATA_SLOTS: usize = 4;
/// Extra channel room for marker messages (dropped, with a warning, beyond that).
const MARKER_SLOTS: usize = 256;

/// Parameters of `LslOutlet`.
#[derive(StageParams)]
pub struct LslOutletParams {
    /// LSL stream name (default: the input stream's name)
    pub name: Option<String>,
    /// LSL content type
    #[param(name = "type", default = "EEG")]
    pub kind: String,
    /// LSL source id, lets inlets reconnect after a restart (default: `neuropipe-<stage id>`)
    pub source_id: Option<String>,
    /// also publish pipeline events on a string outlet `<name>-markers` (type Markers)
    #[param(default = false)]
    pub markers: bool,
    /// wait up to this long for an inlet before pushing the first chunk (data queues meanwhile, with backpressure)
    #[param(default = 0.0, min = 0.0, max = 3600.0)]
    pub wait_for_consumer_s: f64,
    /// at end of stream, keep the outlet open this long (when consumers are connected) so they receive the last chunks
    #[param(default = 0.5, min = 0.0, max = 60.0)]
    pub linger_s: f64,
    /// seconds of data liblsl buffers per consumer that falls behind
    #[param(default = 360, min = 1, max = 3600)]
    pub max_buffered_s: i32,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "LslOutlet",
        "Sink publishing the f32 stream (and optionally pipeline events) on the Lab Streaming Layer",
        build,
    )
    .input(PortSpec::of("in", PayloadKind::F32).doc("samples to publish (e.g. µV)"))
    .params::<LslOutletParams>()
}

/// What the outlet thread needs to create its outlets.
#[derive(Clone, Debug)]
struct OutletSetup {
    stage: String,
    name: String,
    kind: String,
    source_id: String,
    /// `desc/manufacturer` (the upstream device's; empty: none written).
    manufacturer: String,
    /// `desc/upstream_source_id`: the source id of the device the stream comes from (the
    /// outlet keeps its own id, so an inlet re-resolving the device never finds this relay).
    upstream: String,
    rate: f64,
    channels: Vec<ChannelMeta>,
    markers: bool,
    wait_for_consumer_s: f64,
    linger_s: f64,
    max_buffered_s: i32,
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let info = b.input_stream("in")?.clone();
    let LslOutletParams {
        name,
        kind,
        source_id,
        markers,
        wait_for_consumer_s,
        linger_s,
        max_buffered_s,
    } = b.parse_params()?;
    let name = name.unwrap_or_else(|| info.name.clone());
    if name.is_empty() {
        return Err(BuildError::param(
            "name",
            "the LSL stream name must not be empty",
        ));
    }
    let source_id = source_id.unwrap_or_else(|| format!("neuropipe-{}", b.id()));
    for (k, v) in [("name", &name), ("source_id", &source_id)] {
        if v.contains('\0') {
            return Err(BuildError::param(k, "must not contain NUL bytes"));
        }
    }
    if info.sample_rate <= 0.0 {
        return Err(BuildError::stage(
            "the input stream has no nominal sample rate; LslOutlet publishes regular-rate streams",
        ));
    }
    let setup = OutletSetup {
        stage: b.id().to_string(),
        name,
        kind,
        source_id,
        manufacturer: info.manufacturer.clone(),
        upstream: info.source_id.clone(),
        rate: info.sample_rate,
        channels: info
            .channels
            .iter()
            .map(|c| ChannelMeta {
                label: c.label.clone(),
                unit: c.unit.clone(),
                kind: c.kind.clone(),
            })
            .collect(),
        markers,
        wait_for_consumer_s,
        linger_s,
        max_buffered_s,
    };
    let events = setup.markers.then(|| b.events());
    let input = b.input::<VoltageEegPacket>("in")?;
    let offset_s = crate::clock_offset_s(&b.clock());
    Ok(BoxedStage::new(LslOutlet {
        input,
        setup,
        offset_s,
        events,
        worker: None,
    }))
}

/// Messages to the outlet thread.
enum ToOutlet {
    /// A packet to push; its capture time on the LSL clock.
    Data(Packet<VoltageEegPacket>, f64),
    /// A marker string and its LSL time.
    Marker(String, f64),
}

/// The outlet thread, seen from the stage.
struct Worker {
    worker: BlockingWorker<ToOutlet, ()>,
    /// Data packets that may still be queued (the thread gives a slot back after a push;
    /// closed when the thread ends).
    slots: Arc<Semaphore>,
}

/// Closes the data slots when the thread's body ends, on every path, so that a `run`
/// waiting for a slot wakes up and finds the thread gone.
struct CloseSlots(Arc<Semaphore>);

impl Drop for CloseSlots {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The `LslOutlet` stage.
pub struct LslOutlet {
    input: Input<VoltageEegPacket>,
    setup: OutletSetup,
    offset_s: f64,
    events: Option<EventReceiver>,
    /// Started on the first `run` (validating a pipeline builds it but publishes nothing).
    worker: Option<Worker>,
}

impl LslOutlet {
    fn start(&mut self) -> Result<(), StageError> {
        crate::warn_if_unconfigured(&self.setup.stage);
        let slots = Arc::new(Semaphore::new(DATA_SLOTS));
        let setup = self.setup.clone();
        let thread_slots = slots.clone();
        // Names the thread and prefixes its errors.
        let name = format!("LSL outlet `{}`", setup.name);
        let worker = BlockingWorker::spawn(name, DATA_SLOTS + MARKER_SLOTS, 1, move |link| {
            let close = CloseSlots(thread_slots);
            let r = outlet_thread(&setup, link, &close.0);
            if let Err(e) = &r {
                tracing::error!(stage = setup.stage, "LSL outlet: {e}");
            }
            r.map_err(Into::into)
        })?;
        self.worker = Some(Worker { worker, slots });
        Ok(())
    }

    /// The thread's error once it has ended (or an error saying it ended).
    async fn thread_failed(&mut self) -> StageError {
        let outcome = match self.worker.as_mut() {
            Some(w) => w.worker.finish().await,
            None => Ok(()),
        };
        match outcome {
            Err(e) => e,
            Ok(()) => StageError::fatal(format!(
                "LSL outlet `{}`: the thread ended unexpectedly",
                self.setup.name
            )),
        }
    }

    /// Forwards pending pipeline events to the marker outlet (never waits).
    fn forward_events(&mut self) {
        let (Some(rx), Some(w)) = (self.events.as_mut(), self.worker.as_ref()) else {
            return;
        };
        loop {
            let ev = match rx.try_recv() {
                Ok(ev) => ev,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                    tracing::warn!(
                        stage = self.setup.stage,
                        "{n} pipeline events not published"
                    );
                    continue;
                }
                Err(_) => return,
            };
            let text = if ev.kind == EventKind::Marker {
                ev.text
            } else {
                let kind = serde_json::to_value(ev.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                format!("{kind} {}: {}", ev.stage, ev.text)
                    .trim_end_matches([' ', ':'])
                    .to_string()
            };
            let ts = ev.time_ns as f64 / 1e9 + self.offset_s;
            if let Err(TrySend::Full(_)) = w.worker.try_send(ToOutlet::Marker(text, ts)) {
                tracing::warn!(
                    stage = self.setup.stage,
                    "marker outlet busy: event dropped"
                );
            }
        }
    }
}

impl DataPlaneStage for LslOutlet {
    async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        if self.worker.is_none() {
            self.start()?;
        }
        self.forward_events();
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let ts = pkt.header.timestamp as f64 / 1e9 + self.offset_s;
        let Some(slots) = self.worker.as_ref().map(|w| w.slots.clone()) else {
            return Err(self.thread_failed().await);
        };
        // A slot is a place in the channel: waiting for one is backpressure.
        let acquired = match slots.acquire().await {
            Ok(permit) => {
                permit.forget(); // given back by the thread after the push
                true
            }
            Err(_) => false,
        };
        if !acquired {
            return Err(self.thread_failed().await);
        }
        let sent = match self.worker.as_ref() {
            Some(w) => w.worker.try_send(ToOutlet::Data(pkt, ts)),
            None => return Err(self.thread_failed().await),
        };
        match sent {
            Ok(()) => Ok(()),
            Err(TrySend::Full(_)) => Err(StageError::fatal(
                "LSL outlet channel full despite a free slot (bug)",
            )),
            Err(TrySend::Ended(_)) => Err(self.thread_failed().await),
        }
    }

    async fn finish(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        self.forward_events();
        let Some(mut w) = self.worker.take() else {
            return Ok(());
        };
        // The thread pushes what is queued, lingers if asked, then drops the outlets.
        w.worker.finish().await
    }
}

/// The outlet thread: creates the outlet(s), pushes until the channel closes.
fn outlet_thread(
    s: &OutletSetup,
    mut link: WorkerLink<ToOutlet, ()>,
    slots: &Semaphore,
) -> Result<(), String> {
    let n = s.channels.len();
    let mut info = ffi::Info::new(&s.name, &s.kind, n, s.rate, Format::Float32, &s.source_id)?;
    ffi::write_channels(&mut info, &s.channels);
    if !s.manufacturer.is_empty() {
        info.append_desc_value("manufacturer", &s.manufacturer);
    }
    if !s.upstream.is_empty() {
        info.append_desc_value("upstream_source_id", &s.upstream);
    }
    let outlet = ffi::Outlet::new(&info, s.max_buffered_s)?;
    let markers = if s.markers {
        // One channel, one string per marker: the type allows no other shape.
        Some(ffi::MarkerOutlet::new(
            &format!("{}-markers", s.name),
            "Markers",
            &format!("{}-markers", s.source_id),
            &ChannelMeta {
                label: "Marker".into(),
                unit: String::new(),
                kind: "Markers".into(),
            },
            s.max_buffered_s,
        )?)
    } else {
        None
    };
    tracing::info!(
        stage = s.stage,
        name = s.name,
        source_id = s.source_id,
        channels = n,
        rate = s.rate,
        markers = s.markers,
        "LSL outlet published"
    );
    let mut waited = s.wait_for_consumer_s <= 0.0;
    let period = 1.0 / s.rate;
    loop {
        let Some(msg) = link.recv() else {
            break; // the stage finished: the channel is drained
        };
        match msg {
            ToOutlet::Data(pkt, first_ts) => {
                if !waited {
                    waited = true;
                    if !outlet.wait_for_consumers(s.wait_for_consumer_s) {
                        tracing::warn!(
                            stage = s.stage,
                            "no LSL consumer after {} s: pushing anyway",
                            s.wait_for_consumer_s
                        );
                    }
                }
                let frames = pkt.header.frames();
                if frames > 0 && pkt.header.channels as usize == n {
                    let last_ts = first_ts + (frames - 1) as f64 * period;
                    let r = outlet.push_chunk_f32(pkt.samples(), last_ts);
                    drop(pkt);
                    slots.add_permits(1);
                    r?;
                } else {
                    drop(pkt);
                    slots.add_permits(1);
                }
            }
            ToOutlet::Marker(text, ts) => {
                if let Some(m) = &markers {
                    m.push(&text, ts)?;
                }
            }
        }
    }
    // liblsl drops what is still queued for a consumer when the outlet is destroyed: give
    // connected inlets time to receive the last chunks.
    if s.linger_s > 0.0 && outlet.have_consumers() {
        std::thread::sleep(std::time::Duration::from_secs_f64(s.linger_s));
    }
    Ok(())
}
