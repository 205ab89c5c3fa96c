//! `CytonSource`: an OpenBCI Cyton board (8 channels, 250 Hz) on a serial port.
//!
//! * **Output: raw ADS1299 counts** (`i32`, unit `counts`), like `SimulatedEeg`: follow it
//!   with `RawToVoltage`, whose `gain` must equal this stage's `gain` (the same scale,
//!   4.5 V / (2²³ − 1) / gain per count).
//! * The port is opened when the pipeline is built to run (or by `neuropipe validate --probe`;
//!   plain `validate` never touches it): a missing port is then an error on `params.port`
//!   (`cannot open serial port /dev/…: …`). When the pipeline starts, a
//!   dedicated thread resets the board (`v`, waiting for `$$$` up to `reset_timeout_s`), sets
//!   the gain of every channel when it is not the default 24, turns on the lead-off current
//!   when `leadoff` is set (an impedance check: `z<ch>10Z` per channel, measured by
//!   `SignalQuality` with `impedance`), and starts streaming (`b`); at
//!   the end the board is stopped (`s`). Reads never block the async runtime (see the reader
//!   thread in `cyton_reader`); a port that fails while running (unplugged) is `Fatal`.
//! * Lost packets (the sample counter skipped values) are never filled: the next packet's
//!   `first_frame` moves on by the number missing, it carries [`FLAG_LOST_SAMPLES`] with
//!   `lost_frames`, and a [`EventKind::LostSamples`] event is published. Bytes that are not
//!   part of a packet are skipped and counted.
//! * Timestamps: the board has no clock, so a packet is stamped with the time its last
//!   sample was read from the port minus the packet's duration (never earlier than the
//!   previous packet).
//! * Pause: the board keeps streaming and the data are discarded; after resume, frame
//!   indices continue and the first packet carries [`FLAG_DISCONTINUITY`].
//! * At a stop, data already read are parsed and sent before the stage ends.

use super::cyton_reader::{Msg, Reader, ReaderConfig};
use crate::simulated::default_labels;
use neuropipe_core::{
    BoxedStage, BuildError, ControlMsg, DataPlaneStage, DriftMeter, EventKind, Handled, MemoryPool,
    Output, Packet, PayloadKind, PortSpec, RawEegPacket, Readouts, StageBuilder, StageContext,
    StageError, StageParams, StageSpec, StreamInfo, FLAG_DISCONTINUITY, FLAG_LOST_SAMPLES,
};
use neuropipe_io::cyton::{CytonEvent, CytonParser, Gain, BAUD_RATE, CHANNELS, SAMPLE_RATE};
use serialport::SerialPort;
use std::collections::VecDeque;
use std::time::Duration;

/// Parsed items waiting to be packed; preallocated (a read buffer yields at most ~16
/// samples, plus gap and garbage reports).
const ITEMS: usize = 256;
/// Read timeout of the port: how quickly the reader thread notices a stop.
const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// Parameters of `CytonSource`.
#[derive(StageParams)]
pub struct CytonSourceParams {
    /// serial port of the dongle, e.g. /dev/ttyUSB0
    pub port: String,
    /// ADS1299 PGA gain set on every channel (1, 2, 4, 6, 8, 12 or 24); RawToVoltage's gain must match
    #[param(default = 24, min = 1, max = 24)]
    pub gain: i64,
    /// frames per packet
    #[param(default = 10, min = 1, max = 4096)]
    pub frames: usize,
    /// impedance check: drive the ADS1299's 6 nA AC lead-off current (31.25 Hz) into every channel's electrode (z1 1 0 Z …); measure it with SignalQuality's `impedance`. Not for recording EEG: the drive is in the signal
    #[param(default = false)]
    pub leadoff: bool,
    /// how long to wait for the board's answer to the reset command
    #[param(default = 5.0, min = 0.05, max = 60.0)]
    pub reset_timeout_s: f64,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "CytonSource",
        "OpenBCI Cyton on a serial port: 8 channels at 250 Hz, raw ADS1299 counts",
        build,
    )
    .output(
        PortSpec::of("out", PayloadKind::I32)
            .doc("raw counts, frame-major; convert with RawToVoltage (same gain)"),
    )
    .with_stream_info()
    .params::<CytonSourceParams>()
    .with_pool()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: CytonSourceParams = b.parse_params()?;
    let port_name = p.port;
    let factor = p.gain;
    let gain = u32::try_from(factor)
        .ok()
        .and_then(Gain::from_factor)
        .ok_or_else(|| {
            BuildError::param(
                "gain",
                format!("{factor} is not an ADS1299 gain (1, 2, 4, 6, 8, 12 or 24)"),
            )
        })?;
    let frames = p.frames;
    let reset_timeout = Duration::from_secs_f64(p.reset_timeout_s);
    let mut info = StreamInfo::new(
        "OpenBCI Cyton",
        SAMPLE_RATE,
        CHANNELS,
        "counts",
        frames,
        PayloadKind::I32,
    );
    for (c, l) in info.channels.iter_mut().zip(default_labels(CHANNELS)) {
        c.label = l;
        c.range = Some(crate::util::ADS1299_RANGE);
    }
    info.adc_gain = Some(factor as f64);
    info.source_id = format!("cyton@{port_name}");
    info.manufacturer = "OpenBCI".to_string();
    let info = b.source_stream(info)?;
    // `neuropipe validate` never touches the port (another program may hold it); running,
    // or `validate --probe`, opens it.
    let port = if b.validating() {
        None
    } else {
        let port = serialport::new(&port_name, BAUD_RATE)
            .timeout(READ_TIMEOUT)
            .open()
            .map_err(|e| {
                BuildError::param("port", format!("cannot open serial port {port_name}: {e}"))
            })?;
        Some(port)
    };
    let pool = b.pool::<RawEegPacket>(frames, CHANNELS)?;
    let out = b.output::<RawEegPacket>("out", info)?;
    let gain_code = Gain::ALL
        .iter()
        .position(|&g| g == gain)
        .filter(|_| gain != Gain::X24)
        .map(|i| i as u8);
    Ok(BoxedStage::new(CytonSource {
        port,
        config: Some(ReaderConfig {
            name: port_name,
            gain_code,
            leadoff: p.leadoff,
            reset_timeout,
            clock: b.clock(),
        }),
        reader: None,
        parser: CytonParser::new(gain),
        items: VecDeque::with_capacity(ITEMS),
        pool,
        out,
        frames,
        cur: None,
        filled: 0,
        cur_first: 0,
        cur_last_ns: 0,
        cur_lost: 0,
        cur_flags: 0,
        ready: None,
        next_frame: 0,
        sequence: 0,
        last_ts: 0,
        pending_lost: 0,
        discontinuity: false,
        lost_total: 0,
        garbage_total: 0,
        drift: DriftMeter::new(SAMPLE_RATE),
        readouts: b.readouts(&DriftMeter::COLUMNS, vec!["board".to_string()]),
    }))
}

/// A parsed piece of the stream, in order.
#[derive(Clone, Copy, Debug)]
enum Item {
    /// A sample's counts and the clock time its bytes were read.
    Sample([i32; CHANNELS], u64),
    /// Packets missing before the next sample.
    Gap(u32),
    /// Bytes skipped.
    Garbage(usize),
    /// The stage was paused here.
    Paused,
    /// Data resume here.
    Resumed,
}

/// The `CytonSource` stage.
pub struct CytonSource {
    /// The opened port, until the reader thread takes it.
    port: Option<Box<dyn SerialPort>>,
    config: Option<ReaderConfig>,
    reader: Option<Reader>,
    parser: CytonParser,
    items: VecDeque<Item>,
    pool: MemoryPool<RawEegPacket>,
    out: Output<RawEegPacket>,
    frames: usize,
    /// The packet being filled and its state.
    cur: Option<Packet<RawEegPacket>>,
    filled: usize,
    cur_first: u64,
    cur_last_ns: u64,
    cur_lost: u64,
    cur_flags: u32,
    /// A complete packet to send.
    ready: Option<Packet<RawEegPacket>>,
    next_frame: u64,
    sequence: u64,
    last_ts: u64,
    /// Frames lost before the next packet.
    pending_lost: u64,
    /// The next packet follows a pause.
    discontinuity: bool,
    lost_total: u64,
    garbage_total: u64,
    /// The board's rate on the host's clock (readouts `rate`, `drift`).
    drift: DriftMeter,
    readouts: Readouts,
}

impl CytonSource {
    fn start(&mut self) -> Result<(), StageError> {
        let (Some(port), Some(cfg)) = (self.port.take(), self.config.take()) else {
            return Err(StageError::fatal("the serial port was already released"));
        };
        self.reader = Some(Reader::start(port, cfg)?);
        Ok(())
    }

    /// Parses a message from the reader thread into items.
    fn accept(&mut self, msg: Msg) -> Result<(), StageError> {
        let items = &mut self.items;
        match msg {
            Msg::Data { buf, len, read_ns } => {
                self.parser.push(&buf[..len], &mut |e| {
                    items.push_back(match e {
                        CytonEvent::Sample(s) => Item::Sample(s.raw, read_ns),
                        CytonEvent::Gap { missing } => Item::Gap(missing),
                        CytonEvent::Garbage { bytes } => Item::Garbage(bytes),
                    })
                });
                if let Some(r) = &self.reader {
                    r.recycle(buf);
                }
            }
            Msg::Paused => {
                let last_ns = self.cur_last_ns;
                self.parser.flush(&mut |e| {
                    items.push_back(match e {
                        CytonEvent::Sample(s) => Item::Sample(s.raw, last_ns),
                        CytonEvent::Gap { missing } => Item::Gap(missing),
                        CytonEvent::Garbage { bytes } => Item::Garbage(bytes),
                    })
                });
                items.push_back(Item::Paused);
            }
            Msg::Resumed => {
                // The board's counter moved on during the pause: not a loss.
                self.parser.reset();
                items.push_back(Item::Resumed);
            }
        }
        Ok(())
    }

    /// Completes the packet being filled.
    fn finalize(&mut self) -> Option<Packet<RawEegPacket>> {
        let mut pkt = self.cur.take()?;
        let n = std::mem::take(&mut self.filled);
        if pkt.set_shape(n, CHANNELS).is_err() {
            return None; // cannot happen: n ≤ frames, the pool's packet size
        }
        let span = ((n.max(1) - 1) as f64 * 1e9 / SAMPLE_RATE) as u64;
        let ts = self.cur_last_ns.saturating_sub(span).max(self.last_ts);
        let h = &mut pkt.header;
        h.sequence = self.sequence;
        h.first_frame = self.cur_first;
        h.timestamp = ts;
        h.flags = self.cur_flags;
        h.lost_frames = self.cur_lost.min(u64::from(u32::MAX)) as u32;
        self.sequence += 1;
        self.last_ts = ts;
        // The board's crystal against the host's clock (read times: jittery, so measured
        // over seconds). A pause starts a new stretch.
        if self.cur_flags & FLAG_DISCONTINUITY != 0 {
            self.drift.restart();
        }
        if let Some((rate, ppm)) = self.drift.record(self.cur_first, ts) {
            self.readouts.set(0, 0, rate);
            self.readouts.set(0, 1, ppm);
        }
        Some(pkt)
    }

    /// Packs queued items until a packet is complete (returned) or the queue is empty.
    async fn step(
        &mut self,
        ctx: &StageContext,
    ) -> Result<Option<Packet<RawEegPacket>>, StageError> {
        if let Some(p) = self.ready.take() {
            return Ok(Some(p));
        }
        while let Some(&item) = self.items.front() {
            match item {
                Item::Sample(raw, read_ns) => {
                    if self.cur.is_none() {
                        let mut p = self.pool.acquire().await;
                        p.set_shape(self.frames, CHANNELS)?;
                        self.cur = Some(p);
                        self.cur_first = self.next_frame;
                        self.cur_lost = std::mem::take(&mut self.pending_lost);
                        self.cur_flags = 0;
                        if self.cur_lost > 0 {
                            self.cur_flags |= FLAG_LOST_SAMPLES;
                        }
                        if std::mem::take(&mut self.discontinuity) {
                            self.cur_flags |= FLAG_DISCONTINUITY;
                        }
                    }
                    self.items.pop_front();
                    let f = self.filled;
                    if let Some(p) = &mut self.cur {
                        p.samples_mut()[f * CHANNELS..(f + 1) * CHANNELS].copy_from_slice(&raw);
                    }
                    self.filled += 1;
                    self.next_frame += 1;
                    self.cur_last_ns = read_ns;
                    if self.filled == self.frames {
                        return Ok(self.finalize());
                    }
                }
                Item::Gap(missing) => {
                    self.items.pop_front();
                    let done = self.finalize();
                    self.next_frame += u64::from(missing);
                    self.pending_lost += u64::from(missing);
                    self.lost_total += u64::from(missing);
                    ctx.emit_event(EventKind::LostSamples, format!("lost {missing} samples"));
                    if done.is_some() {
                        return Ok(done);
                    }
                }
                Item::Garbage(bytes) => {
                    self.items.pop_front();
                    self.garbage_total += bytes as u64;
                    tracing::debug!(stage = ctx.id(), bytes, "skipped bytes between packets");
                }
                Item::Paused => {
                    self.items.pop_front();
                    if let Some(done) = self.finalize() {
                        return Ok(Some(done));
                    }
                }
                Item::Resumed => {
                    self.items.pop_front();
                    self.discontinuity = true;
                }
            }
        }
        Ok(None)
    }
}

impl DataPlaneStage for CytonSource {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        if self.reader.is_none() {
            self.start()?;
        }
        loop {
            if let Some(pkt) = self.step(ctx).await? {
                return self.out.send(pkt).await;
            }
            let Some(reader) = &mut self.reader else {
                return Err(StageError::fatal("the serial reader is gone"));
            };
            // Waiting for the serial thread counts as waiting, not busy, in the metrics.
            let woke = ctx
                .waiting(async {
                    tokio::select! {
                        biased;
                        _ = ctx.control_pending() => None,
                        m = reader.worker.recv() => Some(m),
                    }
                })
                .await;
            let Some(msg) = woke else {
                return Ok(());
            };
            match msg {
                Some(m) => self.accept(m)?,
                // The thread ended: the port failed or the board did not answer.
                None => {
                    return Err(match reader.worker.finish().await {
                        Err(e) => e,
                        Ok(()) => StageError::fatal("the serial reader thread ended"),
                    })
                }
            }
        }
    }

    fn control(
        &mut self,
        msg: &ControlMsg,
        _ctx: &mut StageContext,
    ) -> Result<Handled, StageError> {
        if let Some(r) = &self.reader {
            match msg {
                ControlMsg::Pause => r.set_paused(true),
                ControlMsg::Resume => r.set_paused(false),
                _ => {}
            }
        }
        Ok(Handled::Default)
    }

    async fn finish(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(mut reader) = self.reader.take() else {
            return Ok(()); // never started: the board was not touched
        };
        reader.worker.stop();
        if let Err(e) = reader.worker.finish().await {
            // After a stop request (e.g. during the reset): nothing to report.
            tracing::debug!(stage = ctx.id(), "after stop: {e}");
        }
        // Deliver what was read before the stop.
        while let Ok(Some(m)) = reader.worker.try_recv() {
            match m {
                Msg::Data { buf, len, read_ns } => {
                    self.parser.push(&buf[..len], &mut |e| {
                        self.items.push_back(match e {
                            CytonEvent::Sample(s) => Item::Sample(s.raw, read_ns),
                            CytonEvent::Gap { missing } => Item::Gap(missing),
                            CytonEvent::Garbage { bytes } => Item::Garbage(bytes),
                        })
                    });
                }
                Msg::Paused | Msg::Resumed => {}
            }
        }
        let last_ns = self.cur_last_ns;
        self.parser.flush(&mut |e| {
            if let CytonEvent::Sample(s) = e {
                self.items.push_back(Item::Sample(s.raw, last_ns));
            }
        });
        self.items.push_back(Item::Paused); // completes the last partial packet
        while let Some(pkt) = self.step(ctx).await? {
            if self.out.send(pkt).await.is_err() {
                break; // every consumer is gone
            }
        }
        let stats = self.parser.stats();
        tracing::info!(
            stage = ctx.id(),
            packets = stats.packets,
            lost = self.lost_total,
            skipped_bytes = self.garbage_total,
            overflow_bytes = reader.overflow_bytes(),
            "Cyton stopped"
        );
        Ok(())
    }
}
